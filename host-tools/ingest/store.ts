// The storage seam of the ingest node. The node's chain logic talks only to this interface:
// the embedded SQLite store (sqlite.ts) and the PostgreSQL store (postgres.ts) implement it
// with the same transactional meaning.
//
// Contract: a method may answer at once (SQLite) or with a promise (PostgreSQL): callers
// await both. `transaction(fn)` runs fn atomically and durably (when its promise resolves,
// everything fn wrote survives a power cut); the store calls fn makes, awaited inside it,
// are part of the transaction and see its own writes. The chain rules rely on exactly that.
// A store that other nodes write too (`shared`) also offers lockHeads(): the chain rules
// then take the device rows' locks in the database and judge against what they read there.

import type { BatchStore } from './sqlite-batches';
import type { PackEnergy } from '../../protocol/report';

export interface DeviceRecord {
  /** Key id (COSE kid), lower-case hex. Also the device id in URLs. */
  id: string;
  /** Raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  registeredAt: number;
  revokedAt: number | null;
  /** Highest seq of the contiguous accepted chain, -1 before the first report. */
  headSeq: number;
  /** SHA-256 of the complete COSE bytes of the head report (null before the first report). */
  headHash: Uint8Array | null;
  lastSeenAt: number | null;
  /** Number of fork attempts seen (same seq, other bytes); > 0 flags the device. */
  forks: number;
  firstForkSeq: number | null;
  /** Fault counters carried by the last accepted report (JSON object), null before any. */
  faults: Record<string, unknown> | null;
  /** Rejections counted per typed reason. */
  rejections: Record<string, number>;
}

/** One energy figure of a report: pack (BMS CAN id), flow name, integer amount in `unit`. */
export interface FlowAmount {
  pack: number;
  flow: string;
  unit: string;
  amount: number;
}

export interface StoredReport {
  deviceId: string;
  seq: number;
  /** SHA-256 of `bytes`: what the next report's `prev` must be. */
  hash: Uint8Array;
  prev: Uint8Array;
  /** The COSE_Sign1 bytes exactly as received. */
  bytes: Uint8Array;
  receivedAt: number;
  /** Window in epoch seconds, null when the device clock was not synced. */
  windowStart: number | null;
  windowEnd: number | null;
  flows: FlowAmount[];
  /** Fault counters of the report (JSON), for the device view. */
  faults: Record<string, unknown> | null;
  /** A report just verified (facts.ts ReportRecord): its packs, the source of `flows`. */
  readonly packs?: readonly PackEnergy[];
}

export interface AcceptedRow extends StoredReport {
  /** Position in the node's accept order (export cursor). */
  rowId: number;
  acceptedAt: number;
}

export interface EnergyRow {
  /** Bucket start, epoch seconds (null for the bucket of reports with unsynced clocks). */
  bucket: number | null;
  pack: number;
  flow: string;
  unit: string;
  total: number;
  reports: number;
}

/** A value now, or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

/** A device's row as read under its lock (lockHeads). */
export interface LockedHead {
  id: string;
  publicKey: Uint8Array;
  revokedAt: number | null;
  seq: number;
  hash: Uint8Array;
  /** The device holds pending reports. */
  hasPending: boolean;
}

/** The store, every method answering at once: what SQLite is (the batcher relies on it). */
export interface SyncStore {
  readonly schemaVersion: number;
  /** Batches of accepted reports and their anchoring (host-tools/ingest/sqlite-batches.ts). */
  readonly batches?: BatchStore;
  close(): void;

  /** Does nothing when the id is registered already (the caller reads what is stored). */
  insertDevice(d: { id: string; publicKey: Uint8Array; registeredAt: number }): void;
  getDevice(id: string): DeviceRecord | undefined;
  /** The fields the chain rules need, without the counters of getDevice (hot path). */
  deviceState(id: string): { publicKey: Uint8Array; revokedAt: number | null; headSeq: number } | undefined;
  /** Chain head of a registered device (seq -1 and an empty hash before its first report). */
  headOf(id: string): { seq: number; hash: Uint8Array } | undefined;
  listDevices(): DeviceRecord[];
  /** Key id and public key of every device not revoked (what the verify workers hold). */
  activeKeys(): Array<[string, Uint8Array]>;
  /** How many devices are not revoked (read at every metrics scrape: a count, not a list). */
  activeDevices(): number;
  revokeDevice(id: string, at: number): void;
  setHead(id: string, seq: number, hash: Uint8Array, lastSeenAt: number, faults: Record<string, unknown> | null): void;
  touchDevice(id: string, lastSeenAt: number): void;
  /**
   * Counts a fork attempt (same seq, other bytes) and keeps its bytes as evidence while the
   * device has fewer than `keep` kept; an attempt already kept (same seq and hash) is not
   * counted again. Bounded so that a key holder cannot fill the disk with its own forks.
   */
  recordFork(id: string, seq: number, hash: Uint8Array, bytes: Uint8Array, at: number, keep: number): void;
  /** The fork evidence kept for a device, oldest first. */
  forkEvidence(id: string): { seq: number; hash: Uint8Array; bytes: Uint8Array; seenAt: number }[];
  countRejection(id: string, reason: string, at: number): void;

  insertChallenge(nonce: Uint8Array, expiresAt: number): void;
  /** Deletes the challenge (single use) and says whether it existed and was still valid at `now`. */
  consumeChallenge(nonce: Uint8Array, now: number): 'ok' | 'unknown' | 'expired';

  getAccepted(deviceId: string, seq: number): AcceptedRow | undefined;
  /** SHA-256 of the accepted report at seq. */
  hashAt(deviceId: string, seq: number): Uint8Array | undefined;
  insertAccepted(r: StoredReport, acceptedAt: number): void;
  insertPending(r: StoredReport): void;
  getPending(deviceId: string, seq: number): StoredReport | undefined;
  deletePending(deviceId: string, seq: number): void;
  /** Pending seqs of a device, ascending, with the time the first of them arrived. */
  pendingSummary(deviceId: string): { count: number; minSeq: number | null; maxSeq: number | null; since: number | null };
  /** Devices that hold pending reports. */
  devicesWithPending(): string[];

  listAccepted(deviceId: string, afterSeq: number, limit: number): AcceptedRow[];
  exportAccepted(afterRowId: number, limit: number): AcceptedRow[];
  energy(deviceId: string, from: number, to: number, bucketS: number): EnergyRow[];
}

type Async<S> = { [K in keyof S]: S[K] extends (...a: infer A) => infer R ? (...a: A) => Awaitable<R> : S[K] };

export interface Store extends Async<SyncStore> {
  /** 'sqlite': this node alone writes the file; 'postgres': other nodes may write the same database. */
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Other nodes write the same database: nothing read before a transaction may decide
   * anything inside it, and the chain rules lock the device rows first (lockHeads).
   */
  readonly shared: boolean;
  /** Runs fn in one durable transaction; transactions of one store never interleave. */
  transaction<T>(fn: () => Awaitable<T>): Promise<T>;
  /**
   * Inside a transaction: locks the rows of these devices until it ends (in this order:
   * callers pass ids sorted, so that two nodes never wait on each other in a cycle) and
   * reads them. Devices not registered are absent from the answer. Shared stores only.
   */
  lockHeads?(ids: string[]): Promise<LockedHead[]>;
}
