// Merkle hash tree of RFC 9162 §2.1 (Certificate Transparency v2; the same tree as RFC 6962):
// SHA-256, leaf hash = H(0x00 || data), interior node = H(0x01 || left || right), and a list
// of n > 1 leaves splits at k = the largest power of two smaller than n. The 0x00/0x01
// prefixes keep a leaf from ever passing for an interior node (second-preimage attacks).
//
// The tree is built bottom-up: at each level pairs are hashed left to right and a lone last
// node moves up unchanged. That gives exactly the RFC's recursive split (the left subtree of
// every node is a perfect tree of 2^j leaves) with n + log n work and no recursion, and keeps
// every level in memory so that audit paths are read off, not recomputed.
import { createHash } from 'node:crypto';
import { sha256Into } from '../verify/report';

export const HASH_BYTES = 32;

// The ingest node hashes two of these per report it batches: the prefixed bytes are written
// into one reused buffer and hashed in one shot (sha256Into), not fed to a Hash in parts.
let scratch = Buffer.allocUnsafe(1024);

/** SHA-256(prefix || a || b), written to out[at..at + 32). */
function prefixedSha256Into(prefix: number, a: Uint8Array, b: Uint8Array | undefined, out: Uint8Array, at: number): void {
  const n = 1 + a.length + (b ? b.length : 0);
  if (n > scratch.length) scratch = Buffer.allocUnsafe(n * 2);
  scratch[0] = prefix;
  scratch.set(a, 1);
  if (b) scratch.set(b, 1 + a.length);
  sha256Into(scratch.subarray(0, n), out, at);
}

function prefixedSha256(prefix: number, a: Uint8Array, b?: Uint8Array): Uint8Array {
  const out = new Uint8Array(HASH_BYTES);
  prefixedSha256Into(prefix, a, b, out, 0);
  return out;
}

/** MTH({}) = SHA-256 of the empty string (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Uint8Array = new Uint8Array(createHash('sha256').digest());

/** The hash of a leaf: SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Uint8Array {
  return prefixedSha256(0x00, data);
}

/** The hash of an interior node: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return prefixedSha256(0x01, left, right);
}

function checkHash(h: Uint8Array, what: string): void {
  if (!(h instanceof Uint8Array) || h.length !== HASH_BYTES) {
    throw new TypeError(`${what} expected ${HASH_BYTES} bytes, got ${h instanceof Uint8Array ? h.length + ' bytes' : typeof h}`);
  }
}

export class MerkleTree {
  /**
   * levels[0] holds the leaf hashes, each level above the hashes of the one below, the last
   * level the root alone: each level one flat buffer of 32-byte hashes. A node's own array
   * each was two allocations per leaf that a busy node's recent trees kept alive.
   */
  private readonly levels: Uint8Array[];
  readonly size: number;

  /**
   * A tree over leaf hashes (each SHA-256(0x00 || data)), given one array each or (from
   * fromLeaves) side by side in one buffer of 32-byte hashes.
   */
  constructor(leafHashes: readonly Uint8Array[] | Uint8Array) {
    let leaves: Uint8Array;
    if (leafHashes instanceof Uint8Array) {
      if (leafHashes.length % HASH_BYTES) throw new TypeError(`leaf hashes expected a multiple of ${HASH_BYTES} bytes, got ${leafHashes.length}`);
      leaves = leafHashes;
    } else {
      leafHashes.forEach((h, i) => checkHash(h, `leaf hash ${i}`));
      leaves = new Uint8Array(leafHashes.length * HASH_BYTES);
      leafHashes.forEach((h, i) => leaves.set(h, i * HASH_BYTES));
    }
    this.size = leaves.length / HASH_BYTES;
    this.levels = [leaves];
    let level = leaves;
    for (let n = this.size; n > 1; n = (n + 1) >> 1) {
      const up = new Uint8Array(((n + 1) >> 1) * HASH_BYTES);
      // Siblings are adjacent: SHA-256(0x01 || left || right) over one 64-byte run.
      for (let i = 0; i + 1 < n; i += 2) prefixedSha256Into(0x01, level.subarray(i * HASH_BYTES, (i + 2) * HASH_BYTES), undefined, up, (i >> 1) * HASH_BYTES);
      if (n % 2 === 1) up.set(level.subarray((n - 1) * HASH_BYTES, n * HASH_BYTES), (n >> 1) * HASH_BYTES);
      this.levels.push(up);
      level = up;
    }
  }

  /** A tree over the leaves' data (hashed here with the leaf prefix). */
  static fromLeaves(leaves: readonly Uint8Array[]): MerkleTree {
    // Hashed straight into the leaf level: a batch closes every few hundred ms under load.
    const flat = new Uint8Array(leaves.length * HASH_BYTES);
    for (let i = 0; i < leaves.length; i++) prefixedSha256Into(0x00, leaves[i], undefined, flat, i * HASH_BYTES);
    return new MerkleTree(flat);
  }

  /** Hash `i` of a level, as a copy (the tree's buffers stay its own). */
  private hashAt(level: number, i: number): Uint8Array {
    return this.levels[level].slice(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  leafHash(index: number): Uint8Array {
    this.checkIndex(index);
    return this.hashAt(0, index);
  }

  /** MTH(D[n]); the empty tree's root is SHA-256(""). */
  root(): Uint8Array {
    if (this.size === 0) return EMPTY_ROOT;
    return this.hashAt(this.levels.length - 1, 0);
  }

  /**
   * PATH(m, D[n]) of RFC 9162 §2.1.3.1: the sibling hashes from the leaf up to the root,
   * the leaf's own sibling first. A node without a sibling on its level (the lone last one)
   * moves up and contributes nothing, exactly as in the recursive definition.
   */
  auditPath(index: number): Uint8Array[] {
    this.checkIndex(index);
    const path: Uint8Array[] = [];
    let i = index;
    for (let l = 0; l < this.levels.length - 1; l++) {
      const sibling = i ^ 1;
      if (sibling < this.levels[l].length / HASH_BYTES) path.push(this.hashAt(l, sibling));
      i >>= 1;
    }
    return path;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(`leaf index expected an integer in [0, ${this.size - 1}], got ${index}`);
    }
  }
}

export type PathResult = { ok: true; root: Uint8Array } | { ok: false; reason: 'index_out_of_range' | 'path_too_short' | 'path_too_long'; detail: string };

/**
 * The root an audit path leads to (RFC 9162 §2.1.3.2, steps 1-5): or why the path cannot
 * belong to a tree of `treeSize` leaves at all. Compare the root with the anchored one.
 */
export function rootFromAuditPath(leaf: Uint8Array, index: number, treeSize: number, path: readonly Uint8Array[]): PathResult {
  checkHash(leaf, 'leaf hash');
  path.forEach((h, i) => checkHash(h, `audit path element ${i}`));
  if (!Number.isSafeInteger(treeSize) || treeSize < 1 || !Number.isSafeInteger(index) || index < 0 || index >= treeSize) {
    return { ok: false, reason: 'index_out_of_range', detail: `leaf index ${index} is not in a tree of ${treeSize} leaves` };
  }
  // fn and sn walk up the tree as the RFC's bit operations; JS bit operators stop at 2^31,
  // so halve with Math.floor (tree sizes stay far below 2^53).
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (let k = 0; k < path.length; k++) {
    if (sn === 0) return { ok: false, reason: 'path_too_long', detail: `audit path has ${path.length} elements, a leaf at ${index} of ${treeSize} needs ${k}` };
    const p = path[k];
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      // A right-edge node without a sibling on lower levels: skip those levels.
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) return { ok: false, reason: 'path_too_short', detail: `audit path has ${path.length} elements, too few for leaf ${index} of ${treeSize}` };
  return { ok: true, root: r };
}

/** True when `path` proves that `leaf` is leaf `index` of the tree of `treeSize` leaves with `root`. */
export function verifyInclusion(leaf: Uint8Array, index: number, treeSize: number, path: readonly Uint8Array[], root: Uint8Array): boolean {
  checkHash(root, 'root');
  const r = rootFromAuditPath(leaf, index, treeSize, path);
  return r.ok && Buffer.compare(r.root, root) === 0;
}
