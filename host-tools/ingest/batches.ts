// The ingest node's batches (protocol/SPEC.md §6): it closes a batch over the reports it
// accepted when `maxReports` are waiting, or when the oldest waiting report has waited
// `intervalMs`; leaves are the reports' exact COSE_Sign1 bytes in (device, seq) order. It
// answers inclusion proofs: GET /v1/reports/{device}/{seq}/proof.
import { planBatch, type BatchLeaf } from '../ledger/batch';
import { MerkleTree } from '../ledger/merkle';
import type { Logger } from './log';
import type { SqliteStore } from './sqlite';
import type { BatchRow, BatchStore } from './sqlite-batches';

export interface BatchOptions {
  /** Longest time an accepted report waits for its batch, ms (default 60 000). */
  intervalMs?: number;
  /** Most reports in one batch (default 1000): a batch closes as soon as this many wait. */
  maxReports?: number;
}

/** What the anchoring side knows of a batch, for proofs (undefined: not anchored yet). */
export interface AnchorInfo {
  chainId: number;
  contract: string;
  tx: string;
  block: number;
  blockHash: string;
  confirmations: number;
  confirmed: boolean;
}

export interface ProofBody {
  device: string;
  seq: number;
  batch: number;
  leafIndex: number;
  treeSize: number;
  root: string;
  leafHash: string;
  auditPath: string[];
  /** The COSE_Sign1 bytes of the report (base64), the leaf itself. */
  cose: string;
  anchor: (AnchorInfo & { state: 'confirmed' | 'mined' }) | { state: 'pending'; chainId: number | null; contract: string | null };
}

export type ProofAnswer = { status: 200; body: ProofBody } | { status: 404; error: string };

export interface Batcher {
  /** Closes every batch that is due at `now`; returns them. */
  closeDue(now?: number): BatchRow[];
  proof(device: string, seq: number): ProofAnswer;
  /** Checks for due batches every `everyMs` until stop(). */
  start(everyMs?: number): void;
  stop(): void;
  readonly intervalMs: number;
  readonly maxReports: number;
  /** Merkle trees kept in memory for proofs (at most TREES_HELD). */
  treesHeld(): number;
}

/** Trees of the most recent batches closed or asked about: a proof is usually for one of those. */
const TREES_HELD = 8;

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');


export function createBatcher(
  store: SqliteStore,
  opts: BatchOptions & { logger: Logger; now?: () => number; anchorInfo?: (batchId: number) => AnchorInfo | undefined; chain?: () => { chainId: number; contract: string } | undefined; onBatch?: (b: BatchRow) => void },
): Batcher {
  const batches: BatchStore | undefined = store.batches;
  if (!batches) throw new TypeError('this store keeps no batches (store.batches is missing)');
  const intervalMs = opts.intervalMs ?? 60_000;
  const maxReports = opts.maxReports ?? 1000;
  if (!Number.isInteger(intervalMs) || intervalMs < 1) throw new RangeError(`"intervalMs" expected an integer >= 1, got ${intervalMs}`);
  if (!Number.isInteger(maxReports) || maxReports < 1) throw new RangeError(`"maxReports" expected an integer >= 1, got ${maxReports}`);
  const now = opts.now ?? Date.now;
  const trees = new Map<number, MerkleTree>();
  // Bounded: a busy node closes several batches a second, and keeping every tree it built
  // grew the heap without end (and every garbage collection with it).
  const keepTree = (id: number, t: MerkleTree) => {
    trees.delete(id);
    trees.set(id, t);
    if (trees.size > TREES_HELD) trees.delete(trees.keys().next().value!);
  };
  let timer: NodeJS.Timeout | undefined;

  function treeOf(b: BatchRow): MerkleTree {
    let t = trees.get(b.id);
    if (!t) {
      t = MerkleTree.fromLeaves(batches!.leaves(b.id));
      if (t.size !== b.size || Buffer.compare(t.root(), b.root) !== 0) {
        // The stored reports no longer give the stored root: never serve a proof from it.
        throw new Error(`batch ${b.id}: its reports give root ${hex(t.root())} over ${t.size} leaves, the batch says ${hex(b.root)} over ${b.size}`);
      }
      keepTree(b.id, t);
    }
    return t;
  }

  function closeOne(at: number): BatchRow | undefined {
    const u = batches!.unbatched();
    if (u.count === 0) return undefined;
    let n = 0;
    if (u.count >= maxReports) n = maxReports;
    else if (u.oldestAcceptedAt !== null && at - u.oldestAcceptedAt >= intervalMs) n = u.count;
    if (!n) return undefined;
    const rows = batches!.unbatchedLeaves(u.afterReport, n);
    const plan = planBatch(rows);
    const b = store.transactionSync(() => batches!.insert(plan, u.afterReport, rows[rows.length - 1].rowId, at));
    keepTree(b.id, plan.tree);
    opts.logger.info('batch closed', { batch: b.id, reports: b.size, devices: plan.devices.length, root: hex(b.root) });
    opts.onBatch?.(b);
    return b;
  }

  const batcher: Batcher = {
    intervalMs,
    maxReports,
    treesHeld: () => trees.size,
    closeDue(at = now()) {
      const out: BatchRow[] = [];
      for (let b = closeOne(at); b; b = closeOne(at)) out.push(b);
      return out;
    },
    proof(device, seq) {
      const loc = batches!.locate(device, seq);
      if (!loc) {
        const row = store.getAccepted(device, seq);
        if (!row) return { status: 404, error: `no accepted report seq ${seq} of device ${device}` };
        return { status: 404, error: `seq ${seq} of device ${device} is accepted but not in a batch yet (a batch closes within ${intervalMs} ms or at ${maxReports} reports)` };
      }
      const tree = treeOf(loc.batch);
      const leaf = tree.leafHash(loc.leafIndex);
      const row = store.getAccepted(device, seq)!;
      const info = opts.anchorInfo?.(loc.batch.id);
      const chain = opts.chain?.();
      return {
        status: 200,
        body: {
          device, seq, batch: loc.batch.id, leafIndex: loc.leafIndex, treeSize: loc.batch.size,
          root: hex(loc.batch.root), leafHash: hex(leaf), auditPath: tree.auditPath(loc.leafIndex).map(hex),
          cose: Buffer.from(row.bytes).toString('base64'),
          anchor: info ? { ...info, state: info.confirmed ? 'confirmed' : 'mined' } : { state: 'pending', chainId: chain?.chainId ?? null, contract: chain?.contract ?? null },
        },
      };
    },
    // Every 100 ms: at thousands of reports a second a batch of 1,000 is due several times a
    // second, and closing them as they come keeps each hold on the event loop short (a 1 s
    // tick closed nine in a row, ~35 ms during which no answer went out). The check is an
    // in-memory count (sqlite-batches.ts UnbatchedTail).
    start(everyMs = Math.min(100, intervalMs)) {
      if (timer) return;
      let closing = false;
      // One batch per event-loop turn: under load several are due at each tick, and closing
      // them all at once would hold every request's answer for as long.
      const closeNext = () => {
        let more = false;
        try {
          more = closeOne(now()) !== undefined;
        } catch (err) {
          // The store may be failing; the reports stay unbatched and the next tick retries.
          opts.logger.error('cannot close a batch', { err: err as Error });
        }
        if (more && timer) setImmediate(closeNext);
        else closing = false;
      };
      timer = setInterval(() => {
        if (closing) return;
        closing = true;
        closeNext();
      }, everyMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
  return batcher;
}
