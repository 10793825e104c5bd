// Batches and their anchoring, in the node's SQLite file (migration 2 of sqlite.ts).
//
// A batch takes the accepted reports in accept order (reports.id), the first N after the
// previous batch's last one, so every accepted report lands in exactly one batch and each
// device's part of a batch is one run of consecutive seqs (a device's reports are accepted
// in seq order). A batch row is never rewritten (a trigger refuses UPDATE and DELETE);
// what the publisher learns about its anchoring goes to anchor_txs and batch_anchors.
import type { DevicePlan } from '../ledger/batch';
import type Database from 'better-sqlite3';
import type { BatchLeaf, BatchPlan } from '../ledger/batch';

export const BATCH_MIGRATION = {
  version: 2,
  name: 'batches (RFC 9162 roots over accepted reports), per-device runs, anchoring transactions, owner bindings',
  sql: `
    CREATE TABLE batches (
      id INTEGER PRIMARY KEY,
      root BLOB NOT NULL,
      size INTEGER NOT NULL,
      first_report INTEGER NOT NULL,
      last_report INTEGER NOT NULL,
      created_at INTEGER NOT NULL
    ) STRICT;
    CREATE TRIGGER batches_never_updated BEFORE UPDATE ON batches BEGIN SELECT RAISE(ABORT, 'a batch is never rewritten'); END;
    CREATE TRIGGER batches_never_deleted BEFORE DELETE ON batches BEGIN SELECT RAISE(ABORT, 'a batch is never deleted'); END;
    CREATE TABLE batch_devices (
      batch_id INTEGER NOT NULL REFERENCES batches(id),
      device_id TEXT NOT NULL,
      first_seq INTEGER NOT NULL,
      last_seq INTEGER NOT NULL,
      first_leaf INTEGER NOT NULL,
      grid_to_pack_mwh INTEGER NOT NULL,
      pack_to_grid_mwh INTEGER NOT NULL,
      pack_to_motor_mwh INTEGER NOT NULL,
      regen_to_pack_mwh INTEGER NOT NULL,
      PRIMARY KEY (batch_id, device_id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX batch_devices_run ON batch_devices(device_id, first_seq);
    CREATE TABLE anchor_txs (
      hash TEXT PRIMARY KEY,
      batch_id INTEGER NOT NULL REFERENCES batches(id),
      chain_id INTEGER NOT NULL,
      contract TEXT NOT NULL,
      sender TEXT NOT NULL,
      nonce INTEGER NOT NULL,
      gas_price TEXT NOT NULL,
      raw BLOB NOT NULL,
      sent_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX anchor_txs_batch ON anchor_txs(batch_id);
    CREATE TABLE batch_anchors (
      batch_id INTEGER PRIMARY KEY REFERENCES batches(id),
      chain_id INTEGER NOT NULL,
      contract TEXT NOT NULL,
      tx_hash TEXT NOT NULL,
      block_number INTEGER NOT NULL,
      block_hash TEXT NOT NULL,
      gas_used INTEGER NOT NULL,
      confirmed_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE owner_bindings (
      device_id TEXT PRIMARY KEY,
      public_key BLOB NOT NULL,
      owner TEXT NOT NULL,
      challenge BLOB NOT NULL,
      signature TEXT NOT NULL,
      requested_at INTEGER NOT NULL,
      bound_tx TEXT,
      bound_block INTEGER,
      failed TEXT
    ) STRICT;
    CREATE TABLE owner_txs (
      hash TEXT PRIMARY KEY,
      device_id TEXT NOT NULL REFERENCES owner_bindings(device_id),
      nonce INTEGER NOT NULL,
      gas_price TEXT NOT NULL,
      raw BLOB NOT NULL,
      sent_at INTEGER NOT NULL
    ) STRICT;
  `,
};

/** A rider's signed request to own a device, kept until it is on chain. */
export interface OwnerBinding {
  device: string;
  publicKey: Uint8Array;
  owner: string;
  challenge: Uint8Array;
  signature: string;
  requestedAt: number;
  boundTx: string | null;
  boundBlock: number | null;
  failed: string | null;
}

export interface OwnerTx {
  hash: string;
  device: string;
  nonce: number;
  gasPrice: bigint;
  raw: string;
  sentAt: number;
}

/** A device's run in a stored batch: the plan without its grid records. */
export type BatchDeviceRow = Omit<DevicePlan, 'grid'>;

export interface BatchRow {
  id: number;
  root: Uint8Array;
  size: number;
  /** The batch holds the accepted reports with firstReport <= reports.id <= lastReport. */
  firstReport: number;
  lastReport: number;
  createdAt: number;
}

export interface AnchorTx {
  hash: string;
  batchId: number;
  chainId: number;
  contract: string;
  sender: string;
  nonce: number;
  gasPrice: bigint;
  raw: string;
  sentAt: number;
}

export interface BatchAnchor {
  batchId: number;
  chainId: number;
  contract: string;
  txHash: string;
  blockNumber: number;
  blockHash: string;
  gasUsed: number;
  confirmedAt: number;
}

export interface BatchStore {
  last(): BatchRow | undefined;
  get(id: number): BatchRow | undefined;
  devices(id: number): BatchDeviceRow[];
  /** The batch and leaf index of a device's report, if it is in a batch. */
  locate(device: string, seq: number): { batch: BatchRow; leafIndex: number } | undefined;
  /** Accepted reports not in a batch yet: how many, and when the oldest was accepted. */
  unbatched(): { count: number; afterReport: number; oldestAcceptedAt: number | null };
  /**
   * The next `limit` accepted reports after row `afterReport`, as batch leaves (flows summed
   * over the packs), in row order, with their row ids. What closing a batch reads, and no more.
   */
  unbatchedLeaves(afterReport: number, limit: number): (BatchLeaf & { rowId: number; acceptedAt: number })[];
  /** Stores a new batch (id = last + 1) over reports (afterReport, lastReport]. */
  insert(plan: BatchPlan, afterReport: number, lastReport: number, createdAt: number): BatchRow;
  /** The batch's leaves: reports' COSE bytes in (device, seq) order. */
  leaves(id: number): Uint8Array[];

  addTx(tx: AnchorTx): void;
  txsOf(batchId: number): AnchorTx[];
  setAnchored(a: BatchAnchor): void;
  anchorOf(batchId: number): BatchAnchor | undefined;
  /** The lowest batch id without a confirmed anchor (none: undefined). */
  firstUnanchored(): BatchRow | undefined;
  lastAnchored(): BatchAnchor | undefined;

  /** Records a binding request (a device has one: a later request replaces an unsent one). */
  requestOwner(b: Omit<OwnerBinding, 'boundTx' | 'boundBlock' | 'failed'>): void;
  ownerBinding(device: string): OwnerBinding | undefined;
  /** Bindings neither on chain nor failed, oldest first. */
  pendingOwners(): OwnerBinding[];
  addOwnerTx(tx: OwnerTx): void;
  ownerTxs(device: string): OwnerTx[];
  setOwnerBound(device: string, tx: string, block: number): void;
  setOwnerFailed(device: string, reason: string): void;
}

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

type TailLeaf = BatchLeaf & { rowId: number; acceptedAt: number };

/**
 * The accepted reports not in a batch yet, kept in memory as the store inserts them, so that
 * closing a batch does not read back what was just written (at thousands of reports a second
 * that read-back was a tenth of the main thread's time). It holds every report row with
 * id > `from`: rows accepted before the store was opened (a backlog after a restart) are
 * read from the database until they are batched. Rows of a transaction that rolls back are
 * dropped with it. Bounded (~80 MB at the default): past `max` rows (no batcher running, or
 * batches larger than that) it lets go of them and
 * starts again after the last.
 */
export class UnbatchedTail {
  private rows: TailLeaf[] = [];
  /** Index of the first row still unbatched. */
  private head = 0;
  private from: number;
  private mark = -1;

  constructor(lastRowId: number, private readonly max = 200_000) {
    this.from = lastRowId;
  }

  push(leaf: TailLeaf): void {
    if (this.rows.length - this.head >= this.max) this.reset(this.rows[this.rows.length - 1].rowId);
    this.rows.push(leaf);
  }

  /** A transaction began: rows pushed from now on go if it rolls back. */
  begin(): void {
    this.mark = this.rows.length;
  }

  rollback(): void {
    if (this.mark >= 0 && this.mark <= this.rows.length) this.rows.length = this.mark;
    // Rows before the mark may have been batched meanwhile (head moved past the mark).
    if (this.head > this.rows.length) this.reset(this.rows.length ? this.rows[this.rows.length - 1].rowId : this.from);
    this.mark = -1;
  }

  commit(): void {
    this.mark = -1;
  }

  /**
   * Lets go of the rows up to `afterReport` (batched); false when the tail does not hold
   * every row after it.
   */
  private seek(afterReport: number): boolean {
    if (afterReport < this.from) return false;
    let i = this.head;
    while (i < this.rows.length && this.rows[i].rowId <= afterReport) i++;
    // Batched rows are let go; compacting only now and then keeps this O(1) per row.
    this.head = i;
    if (this.head > 4096 && this.head * 2 > this.rows.length) {
      this.rows = this.rows.slice(this.head);
      if (this.mark >= 0) this.mark = Math.max(0, this.mark - this.head);
      this.head = 0;
    }
    return true;
  }

  /** The first `limit` rows after `afterReport`, or undefined when the tail does not hold all of them. */
  after(afterReport: number, limit = Infinity): TailLeaf[] | undefined {
    if (!this.seek(afterReport)) return undefined;
    return this.rows.slice(this.head, Math.min(this.rows.length, this.head + limit));
  }

  /** How many rows follow `afterReport` and when the first was accepted (undefined as after()). */
  pending(afterReport: number): { count: number; oldestAcceptedAt: number | null } | undefined {
    if (!this.seek(afterReport)) return undefined;
    const count = this.rows.length - this.head;
    return { count, oldestAcceptedAt: count ? this.rows[this.head].acceptedAt : null };
  }

  private reset(lastRowId: number): void {
    this.rows = [];
    this.head = 0;
    this.mark = -1;
    this.from = lastRowId;
  }
}

/**
 * Copies of report bytes for the unbatched tail, packed into shared 64 KiB buffers: one
 * allocation per ~300 reports instead of one per report (each a backing store the garbage
 * collector tracks apart). The tail lets go of its rows in order, so a buffer is freed once
 * its last report is batched.
 */
export class ByteSlab {
  private buf = new Uint8Array(0);
  private used = 0;

  constructor(private readonly size = 65536) {}

  /** A copy of `b` that holds no reference to b's buffer. */
  copy(b: Uint8Array): Uint8Array {
    if (b.length > this.size >> 4) return b.slice();
    if (this.used + b.length > this.buf.length) {
      this.buf = new Uint8Array(this.size);
      this.used = 0;
    }
    const out = this.buf.subarray(this.used, this.used + b.length);
    out.set(b);
    this.used += b.length;
    return out;
  }
}

interface BatchSqlRow {
  id: number;
  root: Buffer;
  size: number;
  first_report: number;
  last_report: number;
  created_at: number;
}

function batchRow(r: BatchSqlRow | undefined): BatchRow | undefined {
  return r && { id: r.id, root: u8(r.root), size: r.size, firstReport: r.first_report, lastReport: r.last_report, createdAt: r.created_at };
}

export function openBatchStore(db: Database.Database, tail?: UnbatchedTail): BatchStore {
  const st = {
    last: db.prepare('SELECT * FROM batches ORDER BY id DESC LIMIT 1'),
    get: db.prepare('SELECT * FROM batches WHERE id = ?'),
    devices: db.prepare('SELECT * FROM batch_devices WHERE batch_id = ? ORDER BY first_leaf'),
    locate: db.prepare('SELECT * FROM batch_devices WHERE device_id = ? AND first_seq <= ? AND last_seq >= ?'),
    unbatched: db.prepare('SELECT count(*) AS n, min(accepted_at) AS oldest FROM reports WHERE id > ?'),
    insBatch: db.prepare('INSERT INTO batches (id, root, size, first_report, last_report, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
    insDevice: db.prepare(
      `INSERT INTO batch_devices (batch_id, device_id, first_seq, last_seq, first_leaf, grid_to_pack_mwh, pack_to_grid_mwh, pack_to_motor_mwh, regen_to_pack_mwh)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    leaves: db.prepare('SELECT r.bytes FROM reports r JOIN devices d ON d.num = r.device_num WHERE r.id >= ? AND r.id <= ? ORDER BY d.id, r.seq'),
    unbatchedLeaves: db.prepare(
      `SELECT r.id, r.accepted_at, d.id AS device_id, seq, bytes, window_start, window_end,
              coalesce(p0_grid_to_pack_mwh, 0) + coalesce(p1_grid_to_pack_mwh, 0) + coalesce(p2_grid_to_pack_mwh, 0) + coalesce(p3_grid_to_pack_mwh, 0) AS g2p,
              coalesce(p0_pack_to_grid_mwh, 0) + coalesce(p1_pack_to_grid_mwh, 0) + coalesce(p2_pack_to_grid_mwh, 0) + coalesce(p3_pack_to_grid_mwh, 0) AS p2g,
              coalesce(p0_pack_to_motor_mwh, 0) + coalesce(p1_pack_to_motor_mwh, 0) + coalesce(p2_pack_to_motor_mwh, 0) + coalesce(p3_pack_to_motor_mwh, 0) AS p2m,
              coalesce(p0_regen_to_pack_mwh, 0) + coalesce(p1_regen_to_pack_mwh, 0) + coalesce(p2_regen_to_pack_mwh, 0) + coalesce(p3_regen_to_pack_mwh, 0) AS r2p
       FROM reports r JOIN devices d ON d.num = r.device_num WHERE r.id > ? ORDER BY r.id LIMIT ?`,
    ),
    insTx: db.prepare(
      'INSERT INTO anchor_txs (hash, batch_id, chain_id, contract, sender, nonce, gas_price, raw, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    txsOf: db.prepare('SELECT * FROM anchor_txs WHERE batch_id = ? ORDER BY sent_at, hash'),
    setAnchored: db.prepare(
      `INSERT INTO batch_anchors (batch_id, chain_id, contract, tx_hash, block_number, block_hash, gas_used, confirmed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    anchorOf: db.prepare('SELECT * FROM batch_anchors WHERE batch_id = ?'),
    firstUnanchored: db.prepare('SELECT * FROM batches WHERE id NOT IN (SELECT batch_id FROM batch_anchors) ORDER BY id LIMIT 1'),
    lastAnchored: db.prepare('SELECT * FROM batch_anchors ORDER BY batch_id DESC LIMIT 1'),
    reqOwner: db.prepare(
      `INSERT INTO owner_bindings (device_id, public_key, owner, challenge, signature, requested_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET owner = excluded.owner, challenge = excluded.challenge, signature = excluded.signature,
         requested_at = excluded.requested_at, failed = NULL
       WHERE bound_tx IS NULL AND NOT EXISTS (SELECT 1 FROM owner_txs t WHERE t.device_id = excluded.device_id)`,
    ),
    ownerBinding: db.prepare('SELECT * FROM owner_bindings WHERE device_id = ?'),
    pendingOwners: db.prepare('SELECT * FROM owner_bindings WHERE bound_tx IS NULL AND failed IS NULL ORDER BY requested_at, device_id'),
    addOwnerTx: db.prepare('INSERT INTO owner_txs (hash, device_id, nonce, gas_price, raw, sent_at) VALUES (?, ?, ?, ?, ?, ?)'),
    ownerTxs: db.prepare('SELECT * FROM owner_txs WHERE device_id = ? ORDER BY sent_at, hash'),
    ownerBound: db.prepare('UPDATE owner_bindings SET bound_tx = ?, bound_block = ? WHERE device_id = ?'),
    ownerFailed: db.prepare('UPDATE owner_bindings SET failed = ? WHERE device_id = ?'),
  };

  const binding = (r: Record<string, unknown> | undefined): OwnerBinding | undefined =>
    r && {
      device: r.device_id as string, publicKey: u8(r.public_key as Buffer), owner: r.owner as string, challenge: u8(r.challenge as Buffer),
      signature: r.signature as string, requestedAt: r.requested_at as number, boundTx: r.bound_tx as string | null,
      boundBlock: r.bound_block as number | null, failed: r.failed as string | null,
    };

  const anchor = (r: Record<string, unknown> | undefined): BatchAnchor | undefined =>
    r && {
      batchId: r.batch_id as number, chainId: r.chain_id as number, contract: r.contract as string, txHash: r.tx_hash as string,
      blockNumber: r.block_number as number, blockHash: r.block_hash as string, gasUsed: r.gas_used as number, confirmedAt: r.confirmed_at as number,
    };

  const store: BatchStore = {
    last: () => batchRow(st.last.get() as BatchSqlRow | undefined),
    get: (id) => batchRow(st.get.get(id) as BatchSqlRow | undefined),
    devices: (id) =>
      (st.devices.all(id) as Record<string, number | string>[]).map((r) => ({
        device: r.device_id as string, firstSeq: r.first_seq as number, lastSeq: r.last_seq as number, firstLeaf: r.first_leaf as number,
        gridToPackMwh: r.grid_to_pack_mwh as number, packToGridMwh: r.pack_to_grid_mwh as number,
        packToMotorMwh: r.pack_to_motor_mwh as number, regenToPackMwh: r.regen_to_pack_mwh as number,
      })),
    locate(device, seq) {
      const r = st.locate.get(device, seq, seq) as { batch_id: number; first_seq: number; first_leaf: number } | undefined;
      if (!r) return undefined;
      return { batch: store.get(r.batch_id)!, leafIndex: r.first_leaf + (seq - r.first_seq) };
    },
    unbatched() {
      const afterReport = store.last()?.lastReport ?? 0;
      const held = tail?.pending(afterReport);
      if (held) return { count: held.count, afterReport, oldestAcceptedAt: held.oldestAcceptedAt };
      const r = st.unbatched.get(afterReport) as { n: number; oldest: number | null };
      return { count: r.n, afterReport, oldestAcceptedAt: r.oldest };
    },
    insert(plan, afterReport, lastReport, createdAt) {
      const id = (store.last()?.id ?? 0) + 1;
      st.insBatch.run(id, plan.root, plan.size, afterReport + 1, lastReport, createdAt);
      for (const d of plan.devices) {
        st.insDevice.run(id, d.device, d.firstSeq, d.lastSeq, d.firstLeaf, d.gridToPackMwh, d.packToGridMwh, d.packToMotorMwh, d.regenToPackMwh);
      }
      return store.get(id)!;
    },
    unbatchedLeaves(afterReport, limit) {
      const rows = tail?.after(afterReport, limit);
      if (rows) return rows;
      type Row = { id: number; accepted_at: number; device_id: string; seq: number; bytes: Buffer; window_start: number | null; window_end: number | null; g2p: number; p2g: number; p2m: number; r2p: number };
      return (st.unbatchedLeaves.all(afterReport, limit) as Row[]).map((r) => {
        const synced = r.window_start !== null && r.window_end !== null;
        return {
          rowId: r.id, acceptedAt: r.accepted_at, device: r.device_id, seq: r.seq, bytes: u8(r.bytes), synced,
          startS: synced ? r.window_start! : 0, durationS: synced ? r.window_end! - r.window_start! : 0,
          gridToPackMwh: r.g2p, packToGridMwh: r.p2g, packToMotorMwh: r.p2m, regenToPackMwh: r.r2p,
        };
      });
    },
    leaves(id) {
      const b = store.get(id);
      if (!b) return [];
      return (st.leaves.all(b.firstReport, b.lastReport) as { bytes: Buffer }[]).map((r) => u8(r.bytes));
    },
    addTx(tx) {
      st.insTx.run(tx.hash, tx.batchId, tx.chainId, tx.contract, tx.sender, tx.nonce, tx.gasPrice.toString(), Buffer.from(tx.raw.slice(2), 'hex'), tx.sentAt);
    },
    txsOf: (batchId) =>
      (st.txsOf.all(batchId) as Record<string, unknown>[]).map((r) => ({
        hash: r.hash as string, batchId: r.batch_id as number, chainId: r.chain_id as number, contract: r.contract as string,
        sender: r.sender as string, nonce: r.nonce as number, gasPrice: BigInt(r.gas_price as string),
        raw: `0x${(r.raw as Buffer).toString('hex')}`, sentAt: r.sent_at as number,
      })),
    setAnchored(a) {
      st.setAnchored.run(a.batchId, a.chainId, a.contract, a.txHash, a.blockNumber, a.blockHash, a.gasUsed, a.confirmedAt);
    },
    anchorOf: (batchId) => anchor(st.anchorOf.get(batchId) as Record<string, unknown> | undefined),
    firstUnanchored: () => batchRow(st.firstUnanchored.get() as BatchSqlRow | undefined),
    lastAnchored: () => anchor(st.lastAnchored.get() as Record<string, unknown> | undefined),
    requestOwner(b) {
      st.reqOwner.run(b.device, b.publicKey, b.owner, b.challenge, b.signature, b.requestedAt);
    },
    ownerBinding: (device) => binding(st.ownerBinding.get(device) as Record<string, unknown> | undefined),
    pendingOwners: () => (st.pendingOwners.all() as Record<string, unknown>[]).map((r) => binding(r)!),
    addOwnerTx(tx) {
      st.addOwnerTx.run(tx.hash, tx.device, tx.nonce, tx.gasPrice.toString(), Buffer.from(tx.raw.slice(2), 'hex'), tx.sentAt);
    },
    ownerTxs: (device) =>
      (st.ownerTxs.all(device) as Record<string, unknown>[]).map((r) => ({
        hash: r.hash as string, device: r.device_id as string, nonce: r.nonce as number, gasPrice: BigInt(r.gas_price as string),
        raw: `0x${(r.raw as Buffer).toString('hex')}`, sentAt: r.sent_at as number,
      })),
    setOwnerBound(device, tx, block) {
      st.ownerBound.run(tx, block, device);
    },
    setOwnerFailed(device, reason) {
      st.ownerFailed.run(reason, device);
    },
  };
  return store;
}
