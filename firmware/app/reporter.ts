// The reporter: one signed EnergyReport per interval (default 60 s), chained, queued.
//
// Each tick: cut the meter's window and merge it into the pending window; build the
// EnergyReport (protocol/report) with the next seq and prev = SHA-256 of the previous
// report's complete COSE bytes; sign it with the stepped signer, ONE STEP PER TIMER
// CALLBACK (setTimeout 0), so the bus drivers keep running between steps; append the COSE
// bytes to the flash queue; then hand it to the uplink (onReport).
//
// Nothing is lost, nothing is forged:
// - A window with under one whole second, or no new sample, is not reported: it stays
//   pending and the next tick's window is merged into it (meter deltas add exactly).
// - QUEUE_FULL / a failed flash write: the signed report is dropped BEFORE it was
//   committed (so it was never sent), seq and prev are not advanced, the window stays
//   pending and keeps merging (no new signature is attempted until the uplink removed a
//   report from the queue, or 10 ticks passed); when a report finally goes in, gap.mergedWindows says how
//   many ticks it covers beyond the first. Lifetime counters add up throughout.
// - Signing slower than the interval: the next tick is due at the next multiple of the
//   interval after signing ended (ticks are never stacked), so windows get longer, never
//   overlap; REPORT_LATE is raised with the signing time.
// - Clock: the window start and end are stamped by firmware/app/clock at report time,
//   epoch seconds once SNTP synced, uptime seconds and the unsynced flag before.
//   durationS = end second - start second, so synced reports tile time without overlap.
// - After a reboot, start() restores seq, prev and the per-pack lifetime counters from
//   the newest committed report in the queue (queue.last()); call it before the first
//   meter sample (it resets the meter's lifetime counters). Energy measured after that
//   report and before the power loss was in RAM only and is gone (the next window starts
//   at the first sample of the new boot).
//
// Public API
//   createReporter({ meter, queue, signer, clock, timers, firmware, faults?, intervalMs?=60000,
//                    faultTotals?, onReport? }) -> Reporter
//     start()        restore the chain from the queue, schedule the first tick
//     stop()         cancel (a signing in progress is abandoned: nothing was committed)
//     tick()         run one report cycle now (tests, console); ignored while signing
//     status()       { nextSeq, state, reports, merged, late, lastSignMs, maxStepMs, steps, intervalMs }
//   faultTotals: () => { vesc, bms, device }, cumulative counts; reports carry the increase.
//   The meter's sample times (tMs), the clock's and the timers' now() are one monotonic clock.
import type { Timers } from '../hal/io';
import type { Meter, MeterWindow, PackWindow } from '../energy/meter';
import type { Queue } from '../queue/queue';
import { QUEUE_OK } from '../queue/queue';
import type { Clock } from './clock';
import { FAULT, FaultLog } from './faults';
import { CLOCK_SYNCED, EnergyReport, FaultCounts, PackEnergy, REPORT_VERSION, decodeReport, encodeReport } from '../../protocol/report';
import { decodeSign1, sign1Stepped, SteppedSignature } from '../../protocol/cose';
import { sha256 } from '../../protocol/sha256';

export interface ReporterSigner {
  kid(): Uint8Array;
  signSteps(message: Uint8Array): SteppedSignature;
}

export interface ReporterOptions {
  meter: Meter;
  queue: Queue;
  signer: ReporterSigner;
  clock: Clock;
  timers: Timers;
  /** protocol/report firmwareVersion(). */
  firmware: number;
  faults?: FaultLog;
  intervalMs?: number;
  faultTotals?: () => FaultCounts;
  onReport?: (seq: number, cose: Uint8Array) => void;
}

export interface ReporterStatus {
  nextSeq: number;
  /** 'stopped' | 'waiting' | 'signing' */
  state: string;
  reports: number;
  /** Ticks merged into a later report (queue full, window too short). */
  merged: number;
  /** Ticks that came late because signing outlasted the interval. */
  late: number;
  /** Last report: sum of the steps' durations (CPU), from first step to result (wall). */
  lastSignMs: number;
  lastSignWallMs: number;
  /** Longest single step seen: the longest the event loop was held by signing. */
  maxStepMs: number;
  steps: number;
  intervalMs: number;
}

export interface Reporter {
  start(): void;
  stop(): void;
  tick(): void;
  /** A new report interval (ms, 1000..86400000), from the next report on. */
  setIntervalMs(ms: number): void;
  status(): ReporterStatus;
}

interface Pending {
  startMs: number;
  endMs: number;
  lostMs: number;
  ticks: number;
  packs: PackWindow[];
}

function mergeWindow(p: Pending | undefined, w: MeterWindow): Pending {
  var span = w.endMs > w.startMs ? 1 : 0;
  if (!p || p.endMs <= p.startMs) {
    // Nothing measured yet (no time passed): the window starts with the first real one.
    return { startMs: w.startMs, endMs: w.endMs, lostMs: w.lostMs + (p ? p.lostMs : 0), ticks: span, packs: p ? mergePacks(p.packs, w.packs) : w.packs };
  }
  return { startMs: p.startMs, endMs: w.endMs, lostMs: p.lostMs + w.lostMs, ticks: p.ticks + span, packs: mergePacks(p.packs, w.packs) };
}

function mergePacks(ps: PackWindow[], ws: PackWindow[]): PackWindow[] {
  var packs: PackWindow[] = [];
  for (var i = 0; i < ws.length; i++) {
    var a = ps[i];
    var b = ws[i];
    packs.push({
      canId: b.canId,
      gridToPackMwh: a.gridToPackMwh + b.gridToPackMwh,
      packToGridMwh: a.packToGridMwh + b.packToGridMwh,
      packToMotorMwh: a.packToMotorMwh + b.packToMotorMwh,
      regenToPackMwh: a.regenToPackMwh + b.regenToPackMwh,
      chargeMah: a.chargeMah + b.chargeMah,
      lifetime: b.lifetime,
      lostMs: a.lostMs + b.lostMs,
    });
  }
  return packs;
}

/** While the queue stays full, a report is still attempted every this many ticks. */
var FULL_RETRY_TICKS = 10;

export function createReporter(opts: ReporterOptions): Reporter {
  if (!opts || !opts.meter || !opts.queue || !opts.signer || !opts.clock || !opts.timers) {
    throw new Error('createReporter: expected { meter, queue, signer, clock, timers, firmware }');
  }
  function checkInterval(ms: number, who: string): number {
    if (typeof ms !== 'number' || ms !== Math.floor(ms) || ms < 1000 || ms > 86400000) {
      throw new Error(who + ': "intervalMs" expected integer 1000..86400000, got ' + ms);
    }
    return ms;
  }
  var intervalMs = checkInterval(opts.intervalMs === undefined ? 60000 : opts.intervalMs, 'createReporter');
  var meter = opts.meter;
  var queue = opts.queue;
  var signer = opts.signer;
  var clock = opts.clock;
  var timers = opts.timers;
  var faults = opts.faults;
  var faultTotals = opts.faultTotals || function () { return { vesc: 0, bms: 0, device: faults ? faults.total() : 0 }; };

  var nextSeq = 0;
  var prev: Uint8Array = new Uint8Array(32);
  /** End (startS + durationS) of the last committed synced report, -1 when none. */
  var lastSyncedEndS = -1;
  var pending: Pending | undefined;
  var faultBase: FaultCounts = { vesc: 0, bms: 0, device: 0 };
  var state = 'stopped';
  var timer = 0;
  var hasTimer = false;
  var nextDue = 0;
  var reports = 0;
  var mergedTicks = 0;
  var late = 0;
  var lastSignMs = 0;
  var lastSignWallMs = 0;
  var maxStepMs = 0;
  var steps = 0;
  var generation = 0;
  /** queue.pending() when an append last failed, -1 when none: signing is skipped until
   *  the uplink has removed something (or every FULL_RETRY_TICKS ticks), as a signature
   *  costs seconds of CPU on the device. */
  var fullAtPending = -1;
  var fullSkips = 0;

  function fault(code: number, detail: string) { if (faults) faults.raise(code, detail); }

  function restore() {
    var last = queue.last();
    if (!last) return;
    nextSeq = last.seq + 1;
    prev = sha256(last.payload);
    var r: EnergyReport;
    try {
      r = decodeReport(decodeSign1(last.payload).payload);
    } catch (e) {
      // CRC-checked bytes that we signed ourselves: only a firmware change of the format
      // gets here. The chain continues; the lifetime counters cannot.
      fault(FAULT.REPORT_FAILED, 'restore: ' + ((e as Error).message || String(e)));
      return;
    }
    if (r.seq !== last.seq) fault(FAULT.REPORT_FAILED, 'restore: queue seq ' + last.seq + ' report seq ' + r.seq);
    if (r.clock === CLOCK_SYNCED) lastSyncedEndS = r.startS + r.durationS;
    // Map lifetimes by CAN id onto the meter's packs (a pack not in the report starts at 0).
    var w = meter.cut();
    var lifetimes = [];
    for (var i = 0; i < w.packs.length; i++) {
      var l = { gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 0, regenToPackMwh: 0 };
      for (var k = 0; k < r.packs.length; k++) if (r.packs[k].canId === w.packs[i].canId) l = r.packs[k].lifetime;
      lifetimes.push(l);
    }
    meter.restore(lifetimes);
  }

  function schedule() {
    var now = timers.now();
    nextDue += intervalMs;
    if (nextDue <= now) {
      var missed = 0;
      while (nextDue <= now) { nextDue += intervalMs; missed++; }
      late += missed;
      fault(FAULT.REPORT_LATE, 'sign ' + lastSignWallMs + ' ms');
    }
    if (hasTimer) timers.clearTimeout(timer);
    hasTimer = true;
    timer = timers.setTimeout(function () { hasTimer = false; tick(); }, nextDue - now);
  }

  function buildReport(p: Pending): EnergyReport | undefined {
    var a = clock.stamp(p.startMs);
    var b = clock.stamp(p.endMs);
    // Never overlap the previous synced window (a clock stepped back by a resync, or a
    // reboot): start where it ended; the report waits until a whole second remains.
    if (a.clock === CLOCK_SYNCED && a.s < lastSyncedEndS) a = { clock: a.clock, s: lastSyncedEndS };
    var durationS = b.s - a.s;
    if (a.clock !== b.clock || durationS < 1) return undefined;
    var packs: PackEnergy[] = [];
    for (var i = 0; i < p.packs.length; i++) {
      var q = p.packs[i];
      packs.push({
        canId: q.canId,
        gridToPackMwh: q.gridToPackMwh, packToGridMwh: q.packToGridMwh,
        packToMotorMwh: q.packToMotorMwh, regenToPackMwh: q.regenToPackMwh,
        chargeMah: q.chargeMah, lifetime: q.lifetime,
      });
    }
    packs.sort(function (x, y) { return x.canId - y.canId; });
    var totals = faultTotals();
    var r: EnergyReport = {
      version: REPORT_VERSION,
      kid: signer.kid(),
      seq: nextSeq,
      prev: prev,
      clock: a.clock,
      startS: a.s,
      durationS: durationS,
      packs: packs,
      faults: {
        vesc: Math.max(0, totals.vesc - faultBase.vesc),
        bms: Math.max(0, totals.bms - faultBase.bms),
        device: Math.max(0, totals.device - faultBase.device),
      },
      firmware: opts.firmware,
    };
    var lostS = Math.min(durationS, Math.floor(p.lostMs / 1000));
    if (p.ticks > 1 || lostS > 0) r.gap = { mergedWindows: p.ticks - 1, lostS: lostS };
    return r;
  }

  function tick() {
    if (state === 'signing' || state === 'stopped') return;
    pending = mergeWindow(pending, meter.cut());
    if (fullAtPending >= 0) {
      if (queue.pending() < fullAtPending || fullSkips >= FULL_RETRY_TICKS) {
        fullAtPending = -1;
        fullSkips = 0;
      } else {
        fullSkips++;
        mergedTicks++;
        schedule();
        return;
      }
    }
    var r = buildReport(pending);
    if (!r) {
      mergedTicks++;
      schedule();
      return;
    }
    var payload: Uint8Array;
    try {
      payload = encodeReport(r);
    } catch (e) {
      fault(FAULT.REPORT_FAILED, (e as Error).message || String(e));
      mergedTicks++;
      schedule();
      return;
    }
    var report = r;
    var totals = faultTotals();
    var sg = sign1Stepped(payload, report.kid, signer.signSteps);
    var gen = generation;
    var cpu = 0;
    var n = 0;
    var t0 = timers.now();
    state = 'signing';
    function step() {
      if (gen !== generation) return;
      var s0 = timers.now();
      var done = sg.step();
      var d = timers.now() - s0;
      cpu += d;
      n++;
      if (d > maxStepMs) maxStepMs = d;
      if (!done) { timers.setTimeout(step, 0); return; }
      lastSignMs = Math.round(cpu);
      lastSignWallMs = Math.round(timers.now() - t0);
      steps = n;
      finish(report, sg.result(), totals);
    }
    timers.setTimeout(step, 0);
  }

  function finish(r: EnergyReport, cose: Uint8Array, totals: FaultCounts) {
    state = 'waiting';
    var rc = queue.append(r.seq, cose);
    if (rc === QUEUE_OK) {
      prev = sha256(cose);
      nextSeq = r.seq + 1;
      if (r.clock === CLOCK_SYNCED) lastSyncedEndS = r.startS + r.durationS;
      pending = undefined;
      faultBase = totals;
      reports++;
      if (opts.onReport) opts.onReport(r.seq, cose);
    } else {
      // Not committed, never sent: keep the window (it merges on), reuse the seq.
      mergedTicks++;
      fullAtPending = queue.pending();
      fullSkips = 0;
    }
    schedule();
  }

  return {
    start: function () {
      if (state !== 'stopped') return;
      restore();
      state = 'waiting';
      nextDue = timers.now();
      schedule();
    },
    stop: function () {
      generation++;
      if (hasTimer) timers.clearTimeout(timer);
      hasTimer = false;
      state = 'stopped';
    },
    tick: function () {
      if (state !== 'waiting') return;
      if (hasTimer) { timers.clearTimeout(timer); hasTimer = false; }
      nextDue = timers.now();
      tick();
    },
    setIntervalMs: function (ms: number) {
      intervalMs = checkInterval(ms, 'reporter.setIntervalMs');
      // A shorter interval applies now: the report being measured ends one new interval
      // from now at the latest.
      if (state === 'waiting' && hasTimer && nextDue - timers.now() > intervalMs) {
        nextDue = timers.now();
        schedule();
      }
    },
    status: function () {
      return { nextSeq: nextSeq, state: state, reports: reports, merged: mergedTicks, late: late, lastSignMs: lastSignMs,
        lastSignWallMs: lastSignWallMs, maxStepMs: maxStepMs, steps: steps, intervalMs: intervalMs };
    },
  };
}
