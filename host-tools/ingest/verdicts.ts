// Verify workers' answers in a flat form: what crosses the worker boundary per report.
//
// postMessage's structured clone of a verdict object (the report, its facts, ten flow
// objects, three byte arrays) cost 9 us to write in the worker and 18 us to read on the main
// thread per report, more than everything else the main thread does for it. Accepted
// verdicts travel instead as numbers in one Float64Array and bytes in one Uint8Array, both
// transferred (moved, not copied); the main thread builds the objects it needs from them.
// Every integer of a report is below 2^53 (protocol/report.ts MAX_SAFE), so a double holds
// it exactly. Rejections are rare and carry text: they travel as the objects they are.
import { REPORT_VERSION, type EnergyReport, type PackEnergy } from '../../protocol/report';
import { ReportRecord } from './facts';
import type { Verdict } from './types';

type Rejected = Extract<Verdict, { ok: false }>;
/** What a worker has of a report it accepted: the facts are made on the main thread. */
export type WorkerVerdict = { ok: true; report: EnergyReport; hash: Uint8Array; micros: number } | Rejected;

/** Doubles per verdict: a header, then PACK_SLOTS per pack (at most MAX_PACKS). */
const HEAD_SLOTS = 12;
const PACK_SLOTS = 10;
const MAX_PACKS = 4;
const SLOTS = HEAD_SLOTS + PACK_SLOTS * MAX_PACKS;
/** Bytes per verdict: kid (8), prev (32), hash (32). */
const KID = 8;
const BYTES = KID + 32 + 32;

export interface PackedVerdicts {
  count: number;
  numbers: Float64Array;
  bytes: Uint8Array;
  /** [index, verdict] of every rejected report. */
  rejected: Array<[number, Rejected]>;
}

/** The verdicts in flat form; `transfer` lists the buffers postMessage may move. */
export function packVerdicts(verdicts: WorkerVerdict[]): { packed: PackedVerdicts; transfer: ArrayBuffer[] } {
  const n = verdicts.length;
  const numbers = new Float64Array(n * SLOTS);
  const bytes = new Uint8Array(n * BYTES);
  const rejected: Array<[number, Rejected]> = [];
  for (let i = 0; i < n; i++) {
    const v = verdicts[i];
    if (!v.ok) {
      rejected.push([i, v]);
      continue;
    }
    const r = v.report;
    if (r.kid.length !== KID || r.packs.length > MAX_PACKS) throw new RangeError(`verdict ${i}: a report outside the protocol's limits cannot be packed`);
    const o = i * SLOTS;
    numbers[o] = 1;
    numbers[o + 1] = v.micros;
    numbers[o + 2] = r.seq;
    numbers[o + 3] = r.clock;
    numbers[o + 4] = r.startS;
    numbers[o + 5] = r.durationS;
    numbers[o + 6] = r.firmware;
    numbers[o + 7] = r.faults.vesc;
    numbers[o + 8] = r.faults.bms;
    numbers[o + 9] = r.faults.device;
    // -1: no gap record (a present one has non-negative counts).
    numbers[o + 10] = r.gap ? r.gap.mergedWindows : -1;
    numbers[o + 11] = r.gap ? r.gap.lostS : -1;
    for (let k = 0; k < r.packs.length; k++) {
      const p = r.packs[k];
      const q = o + HEAD_SLOTS + k * PACK_SLOTS;
      numbers[q] = p.canId;
      numbers[q + 1] = p.gridToPackMwh;
      numbers[q + 2] = p.packToGridMwh;
      numbers[q + 3] = p.packToMotorMwh;
      numbers[q + 4] = p.regenToPackMwh;
      numbers[q + 5] = p.chargeMah;
      numbers[q + 6] = p.lifetime.gridToPackMwh;
      numbers[q + 7] = p.lifetime.packToGridMwh;
      numbers[q + 8] = p.lifetime.packToMotorMwh;
      numbers[q + 9] = p.lifetime.regenToPackMwh;
    }
    // Packs beyond the report's: canId -1 marks the end.
    if (r.packs.length < MAX_PACKS) numbers[o + HEAD_SLOTS + r.packs.length * PACK_SLOTS] = -1;
    const b = i * BYTES;
    bytes.set(r.kid, b);
    bytes.set(r.prev, b + KID);
    bytes.set(v.hash, b + KID + 32);
  }
  return { packed: { count: n, numbers, bytes, rejected }, transfer: [numbers.buffer, bytes.buffer] };
}

/**
 * A number read back from the doubles as the small integer it is. V8 keeps an object field
 * whose values are all small integers untagged; one stored as a double makes the field hold
 * a boxed number, and every keyed read of it (the chain rules' counters, the store's pack
 * slots) allocated a new box.
 */
const int = (x: number): number => (x === (x | 0) ? x | 0 : x);

/**
 * The verdicts of reports `reports[from..]`, received at `receivedAt`, with their records
 * (facts.ts ReportRecord). Their kid, prev and hash are views into the message's bytes, not
 * copies: a copy of 8 or 32 bytes is a typed array kept inside the V8 heap, and the SQLite
 * binding that reads it first moves it out to a buffer of its own (a malloc per array, two
 * per report). The one report per device and commit that stays in memory as its chain's
 * head is copied then (ownHead), so no head keeps a whole message's buffer alive.
 */
export function unpackVerdicts(p: PackedVerdicts, reports: readonly Uint8Array[], from: number, receivedAt: number): Verdict[] {
  const out = new Array<Verdict>(p.count);
  for (const [i, v] of p.rejected) out[i] = v;
  const { numbers: f, bytes } = p;
  for (let i = 0; i < p.count; i++) {
    if (out[i]) continue;
    const o = i * SLOTS;
    const b = i * BYTES;
    const packs: PackEnergy[] = [];
    for (let k = 0; k < MAX_PACKS; k++) {
      const q = o + HEAD_SLOTS + k * PACK_SLOTS;
      if (f[q] < 0) break;
      packs.push({
        canId: int(f[q]),
        gridToPackMwh: int(f[q + 1]),
        packToGridMwh: int(f[q + 2]),
        packToMotorMwh: int(f[q + 3]),
        regenToPackMwh: int(f[q + 4]),
        chargeMah: int(f[q + 5]),
        lifetime: { gridToPackMwh: int(f[q + 6]), packToGridMwh: int(f[q + 7]), packToMotorMwh: int(f[q + 8]), regenToPackMwh: int(f[q + 9]) },
      });
    }
    const report: EnergyReport = {
      version: REPORT_VERSION,
      kid: bytes.subarray(b, b + KID),
      seq: int(f[o + 2]),
      prev: bytes.subarray(b + KID, b + KID + 32),
      clock: int(f[o + 3]),
      startS: f[o + 4],
      durationS: int(f[o + 5]),
      packs,
      faults: { vesc: int(f[o + 7]), bms: int(f[o + 8]), device: int(f[o + 9]) },
      firmware: int(f[o + 6]),
    };
    if (f[o + 10] >= 0) report.gap = { mergedWindows: int(f[o + 10]), lostS: int(f[o + 11]) };
    out[i] = { ok: true, micros: f[o + 1], report, facts: new ReportRecord(report, bytes.subarray(b + KID + 32, b + BYTES), reports[from + i], receivedAt) };
  }
  return out;
}

/**
 * A chain head that stays in memory, with byte arrays of its own: an unpacked verdict's
 * kid, prev and hash are views into its message's buffer (unpackVerdicts).
 */
export function ownHead(report: EnergyReport, hash: Uint8Array): { report: EnergyReport; hash: Uint8Array } {
  return { report: { ...report, kid: report.kid.slice(), prev: report.prev.slice() }, hash: hash.slice() };
}
