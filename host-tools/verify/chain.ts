// Chain rules per device key (SPEC.md "Chain"): seq starts at 0 and rises by exactly 1;
// prev is the SHA-256 of the previous report's bytes; lifetime counters continue exactly.
// The rules read the ledger through a ChainView, so the in-memory chain of the CLI and
// the SQLite store of the ingest node (with its pending out-of-order reports) share them.
import { bytesEqual, toHex } from '../../protocol/bytes';
import { CLOCK_SYNCED, type EnergyReport } from '../../protocol/report';
import { reject, REJECT, type Rejection } from './reasons';
import type { VerifiedReport } from './report';

export interface ChainHead {
  seq: number;
  /** SHA-256 of the head report's bytes. */
  hash: Uint8Array;
  report: EnergyReport;
}

/** Read access to what a ledger already accepted for one key (keys by kid bytes). */
export interface ChainView {
  /** The accepted report with the highest seq such that 0..seq are all accepted; undefined if none. */
  head(kid: Uint8Array): ChainHead | undefined;
  /** SHA-256 of the accepted report's bytes at `seq`, undefined if none is known there. */
  hashAt(kid: Uint8Array, seq: number): Uint8Array | undefined;
}

/** Synced windows may overlap the previous one by this much (an SNTP step). */
export const CLOCK_SLACK_S = 60;

export type ChainVerdict = { ok: true; status: 'accept' | 'duplicate' } | Rejection;

/**
 * Where a verified report stands in its chain:
 *   accept     seq = head.seq + 1 (or 0 on an empty chain), prev = head hash, counters continue;
 *   duplicate  these exact bytes were accepted already (a resend: success, store nothing);
 *   fork       other bytes for an accepted seq, or prev not the head's hash;
 *   replay     seq at or below the head whose accepted bytes are no longer known;
 *   gap        seq beyond head + 1 (keep it pending until the gap fills);
 *   implausible lifetime counters or times that do not continue the head's.
 */
export function checkChain(v: VerifiedReport, view: ChainView): ChainVerdict {
  const r = v.report;
  const known = view.hashAt(v.kid, r.seq);
  if (known) {
    if (bytesEqual(known, v.hash)) return { ok: true, status: 'duplicate' };
    return reject(REJECT.FORK, `seq ${r.seq} already accepted with other bytes (${toHex(known).slice(0, 16)}…)`, 'seq');
  }
  const head = view.head(v.kid);
  const expected = head ? head.seq + 1 : 0;
  if (r.seq < expected) return reject(REJECT.REPLAY, `seq ${r.seq} is behind the chain head ${expected - 1}`, 'seq');
  if (r.seq > expected) return reject(REJECT.GAP, `seq ${r.seq} but the chain expects ${expected}: ${r.seq - expected} report(s) missing`, 'seq');
  if (!head) return { ok: true, status: 'accept' };
  if (!bytesEqual(r.prev, head.hash)) {
    return reject(REJECT.FORK, `prev does not match the SHA-256 of accepted report ${head.seq}`, 'prev');
  }
  const bad = checkContinuity(head.report, r);
  return bad ?? { ok: true, status: 'accept' };
}

const LIFETIME_KEYS = ['gridToPackMwh', 'packToGridMwh', 'packToMotorMwh', 'regenToPackMwh'] as const;

/** Lifetime counters and synced times of `r` continue those of its predecessor `h`. */
export function checkContinuity(h: EnergyReport, r: EnergyReport): Rejection | null {
  // Plain loops: the ingest node runs this on every report it accepts.
  for (let i = 0; i < r.packs.length; i++) {
    const p = r.packs[i];
    let q: EnergyReport['packs'][number] | undefined;
    for (let j = 0; j < h.packs.length && !q; j++) if (h.packs[j].canId === p.canId) q = h.packs[j];
    if (!q) continue; // a pack (re)appearing: its counters are checked against its own window only
    for (let n = 0; n < LIFETIME_KEYS.length; n++) {
      const k = LIFETIME_KEYS[n];
      if (q.lifetime[k] + p[k] !== p.lifetime[k]) {
        return reject(
          REJECT.IMPLAUSIBLE,
          `packs[${i}].lifetime.${k}: ${q.lifetime[k]} + ${p[k]} != ${p.lifetime[k]} (counters must add up, seq ${h.seq} -> ${r.seq})`,
          `packs[${i}].lifetime.${k}`,
        );
      }
    }
  }
  if (h.clock === CLOCK_SYNCED && r.clock === CLOCK_SYNCED && r.startS + CLOCK_SLACK_S < h.startS + h.durationS) {
    return reject(REJECT.IMPLAUSIBLE, `window starts at ${r.startS}, before the previous one ended (${h.startS + h.durationS})`, 'startS');
  }
  return null;
}

/** A ChainView in memory, with apply() for accepted reports (the CLI and tests use it). */
export class MemoryChain implements ChainView {
  private chains = new Map<string, { head?: ChainHead; hashes: Map<number, Uint8Array> }>();

  private chain(kid: Uint8Array) {
    const k = toHex(kid);
    let c = this.chains.get(k);
    if (!c) {
      c = { hashes: new Map() };
      this.chains.set(k, c);
    }
    return c;
  }

  head(kid: Uint8Array): ChainHead | undefined {
    return this.chains.get(toHex(kid))?.head;
  }

  hashAt(kid: Uint8Array, seq: number): Uint8Array | undefined {
    return this.chains.get(toHex(kid))?.hashes.get(seq);
  }

  /** Records an accepted report (only call after checkChain said 'accept'). */
  apply(v: VerifiedReport): void {
    const c = this.chain(v.kid);
    c.hashes.set(v.report.seq, v.hash);
    c.head = { seq: v.report.seq, hash: v.hash, report: v.report };
  }
}
