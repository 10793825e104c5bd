// The ingest pipeline: verify in worker threads, apply the per-device chain rules and
// commit many reports in one durable transaction (group commit), then answer.
//
//   HTTP request --split--> hash lookup (duplicates answered from the store)
//                 --> worker pool (COSE + Ed25519 + payload checks, both cores)
//                 --> commit queue --> one transaction per flush: chain rules, inserts, fsync
//                 --> answers resolved only after the transaction returned.
//
// A flush takes everything queued when it starts. While a commit's fsync runs, workers keep
// verifying and the next flush takes all of it: one fsync covers many reports when busy,
// and a lone report is committed at once when idle.
import { createHash, randomBytes } from 'node:crypto';
import type { Awaitable, Store, StoredReport, DeviceRecord } from './store';
import type { Logger } from './log';
import type { Pool } from './pool';
import type { IngestMetrics } from './metrics';
import type { ReportAnswer, Verdict } from './types';
import { REJECT, type RejectReason } from '../../protocol/reasons';
import { bytesEqual, toHex } from '../../protocol/bytes';
import { decodeSign1 } from '../../protocol/cose';
import { decodeReport, type EnergyReport } from '../../protocol/report';
import { checkChain, type ChainView, type VerifiedReport } from '../verify';
import { LogThrottle } from './limits';
import { ownHead, unpackVerdicts, type PackedVerdicts } from './verdicts';

/** Checks a pairing proof: the device's signature over the node's challenge. */
export type PairingCheck = (
  proof: Uint8Array,
  challenge: Uint8Array,
) => { ok: true; deviceId: string; publicKey: Uint8Array } | { ok: false; detail: string };

export interface IngestOptions {
  store: Store;
  pool: Pool;
  pairing: PairingCheck;
  logger: Logger;
  metrics: IngestMetrics;
  now?: () => number;
  /** Reports per worker message: large enough to amortize messaging, small enough to spread. */
  chunk?: number;
  /** How far beyond head+1 a report may be held pending (further: rejected as gap). */
  maxAhead?: number;
  /** Pending reports held per device at most (more: rejected as gap). */
  maxPending?: number;
  challengeTtlMs?: number;
  /** Fork reports kept as evidence per device; the ones after are counted, not kept. */
  maxForkEvidence?: number;
  /** A kind of rejection is logged once per device (or once for all unattributed) per interval. */
  logIntervalMs?: number;
  /**
   * Longest time a verified report waits for reports still being verified to join its
   * commit, ms (default 10). 0: commit whatever is verified at once.
   */
  commitDelayMs?: number;
  /** A commit starts without waiting once this many reports are verified (default 4000). */
  commitReports?: number;
  /**
   * With at least `backlogReports` reports still being verified (default 1000, ~75 ms of
   * verification on two cores: the node is behind its load), verified ones wait up to this
   * long instead, ms (default 30): see scheduleFlush.
   */
  backlogCommitDelayMs?: number;
  backlogReports?: number;
}

interface QueuedItem {
  index: number;
  bytes: Uint8Array;
  receivedAt: number;
  verdict: Verdict;
}

interface QueuedRequest {
  items: QueuedItem[];
  answers: ReportAnswer[];
  resolve: (a: ReportAnswer[]) => void;
  reject: (e: Error) => void;
}

/** The node could not process a request (storage or verify workers failing): 503, resend. */
export class StorageError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'StorageError';
  }
}

export interface DeviceView {
  id: string;
  publicKey: string;
  registeredAt: string;
  revokedAt: string | null;
  head: { seq: number; hash: string } | null;
  lastSeenAt: string | null;
  fork: { count: number; firstSeq: number | null } | null;
  gap: { from: number; to: number; pending: number; highestPending: number; since: string } | null;
  faults: Record<string, unknown> | null;
  rejections: Record<string, number>;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
export const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

export async function deviceView(store: Store, d: DeviceRecord): Promise<DeviceView> {
  const p = await store.pendingSummary(d.id);
  return {
    id: d.id,
    publicKey: toHex(d.publicKey),
    registeredAt: iso(d.registeredAt)!,
    revokedAt: iso(d.revokedAt),
    head: d.headHash ? { seq: d.headSeq, hash: toHex(d.headHash) } : null,
    lastSeenAt: iso(d.lastSeenAt),
    fork: d.forks ? { count: d.forks, firstSeq: d.firstForkSeq } : null,
    gap:
      p.count && p.minSeq !== null
        ? { from: d.headSeq + 1, to: p.minSeq - 1, pending: p.count, highestPending: p.maxSeq!, since: iso(p.since)! }
        : null,
    faults: d.faults,
    rejections: d.rejections,
  };
}

export interface Ingest {
  /** Verifies, chains and durably commits the reports; answers per report, in order. */
  submit(reports: Uint8Array[], receivedAt?: number): Promise<ReportAnswer[]>;
  /** A fresh single-use pairing challenge. */
  challenge(): Promise<{ challenge: Uint8Array; expiresAt: number }>;
  register(challenge: Uint8Array, proof: Uint8Array): Promise<{ ok: true; device: DeviceView } | { ok: false; status: number; error: string }>;
  revoke(id: string): Promise<DeviceView | undefined>;
  device(id: string): Promise<DeviceView | undefined>;
  /** Reports received and not yet answered. */
  queueDepth(): number;
  /** Devices whose chain has a gap that is still open. */
  openGaps(): Promise<DeviceView[]>;
  close(): Promise<void>;
}

export function createIngest(opts: IngestOptions): Ingest {
  const { store, pool, logger, metrics } = opts;
  const now = opts.now ?? Date.now;
  const chunk = opts.chunk ?? 256;
  const maxAhead = opts.maxAhead ?? 100_000;
  const maxPending = opts.maxPending ?? 10_000;
  const challengeTtlMs = opts.challengeTtlMs ?? 5 * 60_000;
  const maxForkEvidence = opts.maxForkEvidence ?? 16;
  const logThrottle = new LogThrottle(opts.logIntervalMs ?? 60_000, now);
  const commitDelayMs = opts.commitDelayMs ?? 10;
  const backlogCommitDelayMs = opts.backlogCommitDelayMs ?? 30;
  const backlogReports = opts.backlogReports ?? 1000;
  const commitReports = opts.commitReports ?? 4000;
  // The SQLite store answers every call at once: most reports need no promise (acceptInOrder).
  const syncStore = store.kind === 'sqlite';
  let queue: QueuedRequest[] = [];
  /** Reports in `queue`, and when the oldest of them was queued (performance.now()). */
  let queued = 0;
  let queuedSince = 0;
  /** Reports in the running commit. */
  let committing = 0;
  let depth = 0;
  let flushScheduled = false;
  let delayTimer: NodeJS.Timeout | undefined;
  // A commit is running: the next flush starts when it is done (and takes all that queued
  // meanwhile), so the chain state below is changed by one commit at a time.
  let flushing = false;
  let closed = false;

  function scheduleFlush(): void {
    if (flushScheduled || flushing || !queue.length) return;
    // Group commit sizing: the cost of a commit (fsync, and the index pages it rewrites) is
    // paid per commit, so under load a commit should carry many reports. While reports are
    // still being verified, the verified ones wait for them, up to commitDelayMs; an idle
    // node (nothing else in verification) commits at once.
    // Behind its load, a node answers late anyway, and every commit it saves is CPU for
    // verification: there it waits longer, and commits carry about three times as many
    // reports (measured on 2 cores: ~3 us less main-thread CPU per report).
    const verifying = depth - queued - committing;
    const waited = performance.now() - queuedSince;
    const delay = verifying >= backlogReports ? backlogCommitDelayMs : commitDelayMs;
    if (verifying > 0 && queued < commitReports && waited < delay) {
      if (!delayTimer) {
        delayTimer = setTimeout(() => {
          delayTimer = undefined;
          scheduleFlush();
        }, Math.max(1, Math.ceil(delay - waited)));
      }
      return;
    }
    if (delayTimer) {
      clearTimeout(delayTimer);
      delayTimer = undefined;
    }
    flushScheduled = true;
    // setImmediate runs after the I/O callbacks of this loop turn: every worker answer that
    // has arrived meanwhile joins this commit.
    setImmediate(runFlush);
  }

  function runFlush(): void {
    flushScheduled = false;
    flushing = true;
    flush().finally(() => {
      flushing = false;
      committing = 0;
      scheduleFlush();
    });
  }

  async function flush(): Promise<void> {
    const batch = queue;
    queue = [];
    committing = queued;
    queued = 0;
    if (!batch.length) return;
    const t0 = process.hrtime.bigint();
    const counts = { accepted: 0, pending: 0, duplicate: 0, rejected: new Map<string, number>() };
    try {
      await store.transaction(async () => {
        if (store.shared) await lockDevices(batch);
        const promoted = new Map<string, ReportAnswer & { status: 'accepted' }>();
        for (const req of batch) {
          for (const item of req.items) {
            req.answers[item.index] = (syncStore && acceptInOrder(item, counts)) || (await apply(item, promoted, counts));
          }
        }
        // One head write per device and commit, however many of its reports went in.
        for (const [id, h] of moved) {
          await store.setHead(id, h.seq, h.hash, h.lastSeenAt, h.faults);
          keepHead(chains.get(id));
        }
        moved.clear();
      });
    } catch (err) {
      // Nothing of this batch is committed (the transaction rolled back): every request in
      // it fails as a whole, and the device will resend.
      chains.clear();
      moved.clear();
      try {
        pendingDevices = new Set(await store.devicesWithPending());
      } catch (e) {
        // The store is down: assume every device may hold pending reports until it is back.
        pendingDevices = null;
        logger.error('store unreadable after a failed commit', { err: e as Error });
      }
      logger.error('commit failed', { err: err as Error, reports: batch.reduce((n, r) => n + r.items.length, 0) });
      for (const req of batch) {
        depth -= req.items.length;
        req.reject(new StorageError('storage unavailable: nothing of this request was committed, resend it', err));
      }
      return;
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    metrics.commitSeconds.observe(seconds);
    metrics.commits.inc();
    metrics.accepted.inc({}, counts.accepted);
    metrics.pending.inc({}, counts.pending);
    metrics.duplicate.inc({}, counts.duplicate);
    for (const [reason, n] of counts.rejected) metrics.rejected.inc({ reason }, n);
    let n = 0;
    for (const req of batch) {
      n += req.items.length;
      depth -= req.items.length;
      req.resolve(req.answers);
    }
    logger.debug('commit', { reports: n, requests: batch.length, ms: Math.round(seconds * 1e6) / 1000 });
  }

  type Counts = { accepted: number; pending: number; duplicate: number; rejected: Map<string, number> };
  type Answers = Map<string, ReportAnswer & { status: 'accepted' }>;

  // What the chain rules need of each device, read from the store once and then kept up to
  // date by the commits: key, revocation, head (with its decoded report, so continuity needs
  // no decoding). With SQLite this node is the store's only writer (it holds the file's
  // exclusive lock), so the cache is the truth. With a shared store (PostgreSQL, several
  // nodes) it is only a hint: every commit first locks its devices' rows and re-reads them
  // (lockDevices), and an entry that differs from the database is replaced before any rule
  // runs. Changed only inside the commit transaction or by register and revoke; cleared
  // when a commit rolls back. Bounded: the oldest entries are dropped.
  interface ChainState {
    publicKey: Uint8Array;
    revokedAt: number | null;
    /** -1 before the first report. */
    seq: number;
    hash: Uint8Array;
    /** Decoded head report, loaded when first needed. */
    report: EnergyReport | undefined;
  }
  const chains = new Map<string, ChainState>();
  const maxChains = 200_000;
  // Heads moved in the running commit, written once per device before it commits.
  const moved = new Map<string, { seq: number; hash: Uint8Array; lastSeenAt: number; faults: Record<string, unknown> | null }>();

  function remember(id: string, c: ChainState): ChainState {
    if (chains.size >= maxChains) {
      for (const k of chains.keys()) {
        if (chains.size < maxChains * 0.9) break;
        if (!moved.has(k)) chains.delete(k);
      }
    }
    chains.set(id, c);
    return c;
  }

  async function chainOf(id: string): Promise<ChainState | undefined> {
    const cached = chains.get(id);
    if (cached) return cached;
    const d = await store.deviceState(id);
    // Absence is not kept: the device may register in a moment.
    if (!d) return undefined;
    const h = (await store.headOf(id))!;
    return remember(id, { publicKey: d.publicKey, revokedAt: d.revokedAt, seq: h.seq, hash: h.hash, report: undefined });
  }

  /**
   * Shared store: locks the rows of every device this commit may change, in id order (two
   * nodes locking overlapping sets wait for each other, never in a cycle), and makes the
   * cache agree with what the database holds under the lock. Until the commit ends no
   * other node can move these heads or their pending reports.
   */
  async function lockDevices(batch: QueuedRequest[]): Promise<void> {
    // Devices whose rows the commit writes: chains moved, and rejections counted against a
    // device (those rows' foreign keys would otherwise wait on other nodes' locks midway).
    const ids = new Set<string>();
    for (const req of batch) {
      for (const { verdict: v } of req.items) {
        if (v.ok) ids.add(v.facts.deviceId);
        else if (v.signed && v.deviceId) ids.add(v.deviceId);
      }
    }
    if (!ids.size) return;
    const sorted = [...ids].sort();
    const rows = await store.lockHeads!(sorted);
    const found = new Set(rows.map((r) => r.id));
    for (const id of sorted) if (!found.has(id)) chains.delete(id);
    for (const r of rows) {
      const c = chains.get(r.id);
      if (!c || c.seq !== r.seq || c.revokedAt !== r.revokedAt || !bytesEqual(c.hash, r.hash)) {
        // Another node moved the head (or revoked the key) since this node last saw it.
        remember(r.id, { publicKey: r.publicKey, revokedAt: r.revokedAt, seq: r.seq, hash: r.hash, report: undefined });
      }
      if (r.hasPending) pendingDevices?.add(r.id);
      else pendingDevices?.delete(r.id);
    }
  }
  // Devices holding pending reports: only their accepts look for successors to promote.
  // null: unknown (the store failed), so every accept looks. A shared store sets each
  // device's membership from the database when the commit locks it.
  let pendingDevices: Set<string> | null = null;
  const pendingLoaded = (async () => {
    try {
      pendingDevices = new Set(await store.devicesWithPending());
    } catch (err) {
      logger.error('store unreadable: every accept will look for pending successors', { err: err as Error });
    }
  })();

  /** Bytes stored by this node were verified on arrival: decoding them again is enough. */
  function decodeStored(bytes: Uint8Array): EnergyReport {
    return decodeReport(decodeSign1(bytes).payload);
  }

  // The chain rules (checkChain) read the ledger synchronously; the store may not answer
  // at once. So before each check, prepare() reads what the check will ask about the one
  // device it concerns (`current`): the decoded head report when the report continues
  // the chain, the stored hash at its seq when it is behind the head.
  let current: ChainState | undefined;
  let probe: { seq: number; hash: Uint8Array | undefined } | undefined;

  async function prepare(id: string, c: ChainState, seq: number): Promise<void> {
    current = c;
    probe = undefined;
    if (seq === c.seq + 1 && c.seq >= 0 && !c.report) c.report = decodeStored((await store.getAccepted(id, c.seq))!.bytes);
    else if (seq < c.seq) probe = { seq, hash: await store.hashAt(id, seq) };
  }

  /** The chain rules' view of the ledger: the store, read inside the commit transaction. */
  const view: ChainView = {
    head() {
      const c = current!;
      if (c.seq < 0) return undefined;
      // Only a report at seq head+1 reaches the continuity check that reads `report`.
      return { seq: c.seq, hash: c.hash, report: c.report! };
    },
    hashAt(_kid, seq) {
      // Accepted reports are exactly seq 0..head: beyond the head there is nothing to read.
      const c = current!;
      if (seq > c.seq) return undefined;
      if (seq === c.seq) return c.hash;
      if (probe?.seq !== seq) throw new Error(`chain view: hash at seq ${seq} was not prepared`);
      return probe.hash;
    },
  };

  function verified(report: EnergyReport, hash: Uint8Array, bytes: Uint8Array, publicKey: Uint8Array): VerifiedReport {
    return { ok: true, report, publicKey, kid: report.kid, alg: 0, hash, bytes };
  }

  /** Chain rules (host-tools/verify checkChain) plus the pending store, for one report. */
  /**
   * Answers `item` as rejected. `signed`: the device's key signed what is rejected, so the
   * rejection is the device's doing and counts against it. Anything else may be anyone's:
   * counted apart. (Not a closure in apply(): that would be one more allocation per report.)
   */
  async function rejectItem(item: QueuedItem, counts: Counts, reason: RejectReason, detail: string, deviceId: string | undefined, seq: number | undefined, signed: boolean): Promise<ReportAnswer> {
    counts.rejected.set(reason, (counts.rejected.get(reason) ?? 0) + 1);
    if (signed && deviceId) await store.countRejection(deviceId, reason, item.receivedAt);
    else metrics.unattributed.inc({ reason });
    const logged = logThrottle.admit(`${signed ? deviceId : 'unattributed'}/${reason}`);
    if (logged) logger.info('report rejected', { device: deviceId, seq, reason, detail, ...(signed ? {} : { unattributed: true }), ...logged });
    return { index: item.index, status: 'rejected', reason, detail, device: deviceId, seq };
  }

  /** The same bytes as a stored report: a resend (the device lost our answer). Success.
   *  Liveness stays: the stored bytes are public, anyone can post them again. */
  function duplicateItem(item: QueuedItem, counts: Counts, deviceId: string, seq: number, state: 'committed' | 'pending'): ReportAnswer {
    counts.duplicate++;
    return { index: item.index, status: 'duplicate', device: deviceId, seq, state };
  }

  async function apply(item: QueuedItem, answers: Answers, counts: Counts): Promise<ReportAnswer> {
    const v = item.verdict;
    if (!v.ok) return rejectItem(item, counts, v.reason, v.detail, v.deviceId, v.seq, v.signed && !!v.deviceId && !!(await chainOf(v.deviceId)));
    const f = v.facts;
    const dev = await chainOf(f.deviceId);
    // Registration and revocation can race with verification in the workers: the store,
    // read inside this transaction, has the last word.
    if (!dev) return rejectItem(item, counts, REJECT.UNKNOWN_KEY, `no registered key with kid ${f.deviceId}`, f.deviceId, f.seq, false);
    if (dev.revokedAt !== null) return rejectItem(item, counts, REJECT.UNKNOWN_KEY, `the key of kid ${f.deviceId} was revoked at ${iso(dev.revokedAt)}`, f.deviceId, f.seq, true);
    const report: StoredReport = f;
    await prepare(f.deviceId, dev, f.seq);
    const verdict = checkChain(verified(v.report, f.hash, item.bytes, dev.publicKey), view);
    if (verdict.ok && verdict.status === 'duplicate') return duplicateItem(item, counts, f.deviceId, f.seq, 'committed');
    if (verdict.ok) {
      await commitAccepted(report, v.report, dev);
      counts.accepted++;
      if (!pendingDevices || pendingDevices.has(f.deviceId)) await promote(report, dev, answers, counts);
      return { index: item.index, status: 'accepted', device: f.deviceId, seq: f.seq, state: 'committed' };
    }
    if (verdict.reason === REJECT.FORK) {
      // A second history signed by the same key. Never overwrite: keep the evidence, flag the device.
      await store.recordFork(f.deviceId, f.seq, f.hash, item.bytes, item.receivedAt, maxForkEvidence);
      const logged = logThrottle.admit(`${f.deviceId}/fork-warning`);
      if (logged) logger.warn('fork', { device: f.deviceId, seq: f.seq, head: dev.seq, detail: verdict.detail, ...logged });
      return rejectItem(item, counts, REJECT.FORK, verdict.detail, f.deviceId, f.seq, true);
    }
    if (verdict.reason !== REJECT.GAP) return rejectItem(item, counts, verdict.reason, verdict.detail, f.deviceId, f.seq, true);
    // seq beyond head + 1: hold it durably, answer it, and chain it once the gap fills.
    if (f.seq - dev.seq > maxAhead) {
      return rejectItem(item, counts, REJECT.GAP, `seq ${f.seq} is more than ${maxAhead} ahead of the chain head ${dev.seq}`, f.deviceId, f.seq, true);
    }
    const held = await store.getPending(f.deviceId, f.seq);
    if (held && bytesEqual(held.hash, f.hash)) return duplicateItem(item, counts, f.deviceId, f.seq, 'pending');
    if (held) {
      await store.recordFork(f.deviceId, f.seq, f.hash, item.bytes, item.receivedAt, maxForkEvidence);
      const logged = logThrottle.admit(`${f.deviceId}/fork-warning`);
      if (logged) logger.warn('fork', { device: f.deviceId, seq: f.seq, pending: true, ...logged });
      return rejectItem(item, counts, REJECT.FORK, `seq ${f.seq} is already held pending with other bytes`, f.deviceId, f.seq, true);
    }
    if ((await store.pendingSummary(f.deviceId)).count >= maxPending) {
      return rejectItem(item, counts, REJECT.GAP, `${maxPending} reports already wait for seq ${dev.seq + 1}; send the missing ones first`, f.deviceId, f.seq, true);
    }
    await store.insertPending(report);
    pendingDevices?.add(f.deviceId);
    await store.touchDevice(f.deviceId, item.receivedAt);
    counts.pending++;
    const answer: ReportAnswer & { status: 'accepted' } = { index: item.index, status: 'accepted', device: f.deviceId, seq: f.seq, state: 'pending' };
    answers.set(`${f.deviceId}/${f.seq}`, answer);
    return answer;
  }

  /** Writes an accepted report and moves its chain's head; a promise only when the store answers with one. */
  function commitAccepted(r: StoredReport, decoded: EnergyReport, c: ChainState): Awaitable<void> {
    const written = store.insertAccepted(r, now());
    const m = moved.get(r.deviceId);
    if (!m) moved.set(r.deviceId, { seq: r.seq, hash: r.hash, lastSeenAt: r.receivedAt, faults: r.faults });
    else [m.seq, m.hash, m.lastSeenAt, m.faults] = [r.seq, r.hash, r.receivedAt, r.faults];
    c.seq = r.seq;
    c.hash = r.hash;
    c.report = decoded;
    return written;
  }

  /** The head a chain keeps after a commit, made independent of its message (verdicts.ts). */
  function keepHead(c: ChainState | undefined): void {
    if (!c?.report) return;
    const own = ownHead(c.report, c.hash);
    c.report = own.report;
    c.hash = own.hash;
  }

  /**
   * The common case without a promise: a verified report that continues its device's
   * chain (head cached, no pending successors), on a store that answers at once (SQLite).
   * Anything else, including a report the chain rules refuse, is left to apply() (undefined):
   * nothing has changed then.
   */
  function acceptInOrder(item: QueuedItem, counts: Counts): ReportAnswer | undefined {
    const v = item.verdict;
    if (!v.ok) return undefined;
    const f = v.facts;
    const dev = chains.get(f.deviceId);
    if (!dev || dev.revokedAt !== null || f.seq !== dev.seq + 1 || (dev.seq >= 0 && !dev.report)) return undefined;
    if (!pendingDevices || pendingDevices.has(f.deviceId)) return undefined;
    current = dev;
    probe = undefined;
    const verdict = checkChain(verified(v.report, f.hash, item.bytes, dev.publicKey), view);
    if (!verdict.ok || verdict.status !== 'accept') return undefined;
    // A synchronous store: the write is done when this returns.
    if (commitAccepted(f, v.report, dev)) throw new Error('acceptInOrder: the store answered with a promise');
    counts.accepted++;
    return { index: item.index, status: 'accepted', device: f.deviceId, seq: f.seq, state: 'committed' };
  }

  /** After a report was accepted, moves its pending successors into the chain while they link. */
  async function promote(head: StoredReport, dev: ChainState, answers: Answers, counts: Counts): Promise<void> {
    for (let seq = head.seq + 1; ; seq++) {
      const next = await store.getPending(head.deviceId, seq);
      if (!next) {
        if (!(await store.pendingSummary(head.deviceId)).count) pendingDevices?.delete(head.deviceId);
        return;
      }
      await store.deletePending(next.deviceId, next.seq);
      const decoded = decodeStored(next.bytes);
      await prepare(next.deviceId, dev, next.seq);
      const verdict = checkChain(verified(decoded, next.hash, next.bytes, dev.publicKey), view);
      if (!verdict.ok) {
        // It was answered as pending, but it does not continue the chain that filled the
        // gap (the device signed two histories, or its counters do not add up). Keep the
        // bytes as evidence, count it, flag the device; the chain stays at its head.
        if (verdict.reason === REJECT.FORK) await store.recordFork(next.deviceId, next.seq, next.hash, next.bytes, now(), maxForkEvidence);
        await store.countRejection(next.deviceId, verdict.reason, now());
        counts.rejected.set(verdict.reason, (counts.rejected.get(verdict.reason) ?? 0) + 1);
        const answer = answers.get(`${next.deviceId}/${next.seq}`);
        if (answer) Object.assign(answer, { status: 'rejected', reason: verdict.reason, detail: verdict.detail, state: undefined });
        logger.warn('pending report does not link', { device: next.deviceId, seq: next.seq, reason: verdict.reason, detail: verdict.detail });
        return;
      }
      await commitAccepted(next, decoded, dev);
      counts.accepted++;
      const answer = answers.get(`${next.deviceId}/${next.seq}`);
      if (answer) answer.state = 'committed';
      logger.debug('pending promoted', { device: next.deviceId, seq: next.seq });
    }
  }

  async function verifyAll(reports: Uint8Array[], receivedAt: number): Promise<Verdict[]> {
    const jobs: Promise<PackedVerdicts>[] = [];
    // Even shares across the workers (a batch of 100 on 2 cores: 50 + 50), at most `chunk`
    // per message so that a huge batch still interleaves with other requests.
    const share = Math.min(chunk, Math.max(1, Math.ceil(reports.length / pool.size)));
    for (let i = 0; i < reports.length; i += share) {
      jobs.push(pool.run<PackedVerdicts>({ type: 'verify', items: reports.slice(i, i + share), receivedAt }));
    }
    const verdicts = (await Promise.all(jobs)).flatMap((p, k) => unpackVerdicts(p, reports, k * share, receivedAt));
    for (const v of verdicts) metrics.verifySeconds.observe(v.micros / 1e6);
    return verdicts;
  }

  /**
   * Shared store: a device registered through another node is unknown to this node's
   * workers. Reports rejected for an unknown key whose key the database holds teach the
   * workers that key and are verified again.
   */
  async function learnKeys(reports: Uint8Array[], verdicts: Verdict[], receivedAt: number): Promise<Verdict[]> {
    const retry: number[] = [];
    const known = new Map<string, boolean>();
    for (let i = 0; i < verdicts.length; i++) {
      const v = verdicts[i];
      if (v.ok || v.reason !== REJECT.UNKNOWN_KEY || !v.deviceId) continue;
      let ok = known.get(v.deviceId);
      if (ok === undefined) {
        const d = await store.deviceState(v.deviceId);
        ok = !!d && d.revokedAt === null;
        known.set(v.deviceId, ok);
        if (ok) pool.broadcast({ type: 'key_add', deviceId: v.deviceId, publicKey: d!.publicKey });
      }
      if (ok) retry.push(i);
    }
    if (!retry.length) return verdicts;
    const again = await verifyAll(retry.map((i) => reports[i]), receivedAt);
    const out = verdicts.slice();
    retry.forEach((i, k) => (out[i] = again[k]));
    return out;
  }

  return {
    async submit(reports, receivedAt = now()) {
      if (closed) throw new StorageError('ingest node is shutting down');
      depth += reports.length;
      let verdicts: Verdict[];
      try {
        await pendingLoaded;
        verdicts = await verifyAll(reports, receivedAt);
        if (store.shared) verdicts = await learnKeys(reports, verdicts, receivedAt);
      } catch (err) {
        // A verify worker died under this request (it is replaced), or the store could not
        // say whether a key is registered: answer 503, the device resends.
        depth -= reports.length;
        logger.error('verification failed', { err: err as Error, reports: reports.length });
        throw new StorageError(`verification unavailable (${(err as Error).message}): nothing of this request was committed, resend it`, err);
      }
      return new Promise<ReportAnswer[]>((resolve, reject) => {
        const items = verdicts.map((verdict, index) => ({ index, bytes: reports[index], receivedAt, verdict }));
        if (!queued) queuedSince = performance.now();
        queue.push({ items, answers: new Array(items.length), resolve, reject });
        queued += items.length;
        scheduleFlush();
      });
    },

    async challenge() {
      const challenge = new Uint8Array(randomBytes(32));
      const expiresAt = now() + challengeTtlMs;
      await store.insertChallenge(challenge, expiresAt);
      return { challenge, expiresAt };
    },

    async register(challenge, proof) {
      // Check the proof first, then burn the challenge: a challenge is single-use whether the
      // proof was good or not, so a failed attempt cannot be retried against it.
      const check = opts.pairing(proof, challenge);
      const state = await store.transaction(() => store.consumeChallenge(challenge, now()));
      if (state === 'unknown') return { ok: false, status: 400, error: 'unknown or already used challenge' };
      if (state === 'expired') return { ok: false, status: 400, error: 'challenge expired' };
      if (!check.ok) {
        logger.warn('pairing proof rejected', { detail: check.detail });
        return { ok: false, status: 400, error: `bad pairing proof: ${check.detail}` };
      }
      const existing = await store.getDevice(check.deviceId);
      if (!existing) {
        // Ignored if the same kid was registered meanwhile (another request, another node):
        // what is stored then is judged below like any existing registration.
        await store.transaction(() => store.insertDevice({ id: check.deviceId, publicKey: check.publicKey, registeredAt: now() }));
      }
      const d = (await store.getDevice(check.deviceId))!;
      if (Buffer.compare(d.publicKey, check.publicKey) !== 0) {
        return { ok: false, status: 409, error: `kid ${check.deviceId} is registered with another public key` };
      }
      if (d.revokedAt !== null) return { ok: false, status: 409, error: `device ${check.deviceId} was revoked; a revoked key stays revoked` };
      if (!existing) {
        // Workers learn the key before this answer goes out, so the device's first report
        // (sent after the answer) finds it. postMessage order is kept per worker.
        pool.broadcast({ type: 'key_add', deviceId: check.deviceId, publicKey: check.publicKey });
        logger.info('device registered', { device: check.deviceId });
      }
      return { ok: true, device: await deviceView(store, d) };
    },

    async revoke(id) {
      const d = await store.getDevice(id);
      if (!d) return undefined;
      if (d.revokedAt === null) {
        await store.transaction(() => store.revokeDevice(id, now()));
        chains.delete(id);
        pool.broadcast({ type: 'key_remove', deviceId: id });
        logger.warn('device revoked', { device: id });
      }
      return deviceView(store, (await store.getDevice(id))!);
    },

    async device(id) {
      const d = await store.getDevice(id);
      return d ? deviceView(store, d) : undefined;
    },

    queueDepth: () => depth,

    async openGaps() {
      const out: DeviceView[] = [];
      for (const id of await store.devicesWithPending()) {
        const d = await store.getDevice(id);
        if (d) out.push(await deviceView(store, d));
      }
      return out;
    },

    async close() {
      closed = true;
      // Let the flush that may be scheduled run, so nothing verified is left unanswered.
      while (queue.length || flushScheduled || flushing || depth > 0) await new Promise((r) => setTimeout(r, 5));
    },
  };
}
