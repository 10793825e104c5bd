import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { createHash } from 'node:crypto';
import { EMPTY_ROOT, MerkleTree, leafHash, nodeHash, rootFromAuditPath, verifyInclusion } from '../../../host-tools/ledger/merkle';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const H = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

// The RFC 9162 §2.1.1 and §2.1.3.1 definitions, literally: recursive split at the largest
// power of two below n. Slow and obviously right; the tree under test must agree with it.
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return H();
  if (d.length === 1) return H(new Uint8Array([0]), d[0]);
  const k = splitPoint(d.length);
  return H(new Uint8Array([1]), mth(d.slice(0, k)), mth(d.slice(k)));
}
function path(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length === 1) return [];
  const k = splitPoint(d.length);
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}

// Certificate Transparency's reference vectors (RFC 6962 tree = RFC 9162 §2.1 tree), as used
// by the C++ and Go CT implementations and trillian: leaf inputs, the root of the first n
// leaves for n = 1..8, and audit paths.
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const CT_PATHS: [number, number, string[]][] = [
  [0, 1, []],
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

test('empty tree root is SHA-256 of the empty string', () => {
  assert.is(hex(new MerkleTree([]).root()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.is(hex(EMPTY_ROOT), hex(H()));
});

test('leaf and node hashes carry the 0x00 / 0x01 prefixes', () => {
  assert.is(hex(leafHash(new Uint8Array(0))), CT_ROOTS[0]);
  const a = leafHash(CT_LEAVES[0]), b = leafHash(CT_LEAVES[1]);
  assert.is(hex(nodeHash(a, b)), CT_ROOTS[1]);
  assert.is.not(hex(nodeHash(b, a)), CT_ROOTS[1]);
});

test('roots of the first n CT leaves match the reference vectors', () => {
  for (let n = 1; n <= 8; n++) assert.is(hex(MerkleTree.fromLeaves(CT_LEAVES.slice(0, n)).root()), CT_ROOTS[n - 1], `n=${n}`);
});

test('audit paths match the CT reference vectors and verify against the roots', () => {
  for (const [m, n, want] of CT_PATHS) {
    const t = MerkleTree.fromLeaves(CT_LEAVES.slice(0, n));
    assert.equal(t.auditPath(m).map(hex), want, `leaf ${m} of ${n}`);
    assert.ok(verifyInclusion(leafHash(CT_LEAVES[m]), m, n, want.map(unhex), unhex(CT_ROOTS[n - 1])), `verify ${m} of ${n}`);
  }
});

const leavesArb = fc.array(fc.uint8Array({ maxLength: 12 }), { minLength: 1, maxLength: 70 });

test('root and every audit path equal the recursive RFC definition (fast-check)', () => {
  fc.assert(
    fc.property(leavesArb, (leaves) => {
      const t = MerkleTree.fromLeaves(leaves);
      if (hex(t.root()) !== hex(mth(leaves))) return false;
      for (let m = 0; m < leaves.length; m++) {
        const p = t.auditPath(m);
        if (p.map(hex).join() !== path(m, leaves).map(hex).join()) return false;
        if (!verifyInclusion(leafHash(leaves[m]), m, leaves.length, p, t.root())) return false;
      }
      return true;
    }),
    { numRuns: 300, seed: 9162 },
  );
});

test('a path for another leaf or index, or with a flipped bit never verifies (fast-check)', () => {
  fc.assert(
    fc.property(leavesArb, fc.nat(), fc.nat(), fc.nat(255), (leaves, mi, bi, bit) => {
      const n = leaves.length;
      const t = MerkleTree.fromLeaves(leaves);
      const m = mi % n;
      const leaf = leafHash(leaves[m]);
      const p = t.auditPath(m);
      const root = t.root();
      // Another leaf's data at this index (distinct data only: equal leaves hash equally).
      const other = leafHash(new Uint8Array([...leaves[m], 0x5a]));
      if (verifyInclusion(other, m, n, p, root)) return false;
      // Another index with the same path. (The tree size is not tested the same way: it is
      // stored beside the root on chain, because a path for n leaves can also fold to the
      // root under another size whose shape uses the same number of steps.)
      for (let j = 0; j < n; j++) if (j !== m && hex(leafHash(leaves[j])) !== hex(leaf) && verifyInclusion(leaf, j, n, p, root)) return false;
      // One bit of one path element flipped.
      if (p.length) {
        const q = p.map((h) => h.slice());
        q[bi % q.length][bit >> 3] ^= 1 << (bit & 7);
        if (verifyInclusion(leaf, m, n, q, root)) return false;
      }
      // A path one element short or long.
      if (p.length && verifyInclusion(leaf, m, n, p.slice(1), root)) return false;
      if (verifyInclusion(leaf, m, n, [...p, root], root)) return false;
      return true;
    }),
    { numRuns: 300, seed: 6962 },
  );
});

test('rootFromAuditPath names what is wrong with a path', () => {
  const t = MerkleTree.fromLeaves(CT_LEAVES.slice(0, 5));
  const p = t.auditPath(1);
  const leaf = t.leafHash(1);
  assert.equal(rootFromAuditPath(leaf, 5, 5, p), { ok: false, reason: 'index_out_of_range', detail: 'leaf index 5 is not in a tree of 5 leaves' });
  const short = rootFromAuditPath(leaf, 1, 5, p.slice(0, 2));
  assert.is(short.ok, false);
  assert.is(!short.ok && short.reason, 'path_too_short');
  const long = rootFromAuditPath(leaf, 1, 5, [...p, p[0]]);
  assert.is(!long.ok && long.reason, 'path_too_long');
  assert.throws(() => rootFromAuditPath(leaf.subarray(1), 1, 5, p), /leaf hash expected 32 bytes, got 31 bytes/);
  assert.throws(() => t.auditPath(5), /leaf index expected an integer in \[0, 4\], got 5/);
  assert.throws(() => new MerkleTree([new Uint8Array(3)]), /leaf hash 0 expected 32 bytes/);
});

test('a large tree: 100 000 leaves, paths of length 17, built in well under a second', () => {
  const leaves = Array.from({ length: 100_000 }, (_, i) => leafHash(new Uint8Array([i & 255, (i >> 8) & 255, i >> 16])));
  const t0 = performance.now();
  const t = new MerkleTree(leaves);
  const ms = performance.now() - t0;
  assert.ok(ms < 1000, `${ms} ms`);
  for (const m of [0, 1, 65535, 65536, 99_999]) {
    const p = t.auditPath(m);
    assert.ok(p.length >= 6 && p.length <= 17, `leaf ${m}: ${p.length}`);
    assert.ok(verifyInclusion(leaves[m], m, 100_000, p, t.root()));
  }
});

test.run();
