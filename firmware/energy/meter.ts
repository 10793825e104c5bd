// The exact energy meter: integrates each pack's power from (voltage, current, elapsed
// time) samples into integer mWh per flow, and net charge into integer mAh, with the
// sub-unit remainder carried forever (firmware/energy/exact.ts), so that no energy is
// created or lost by rounding or by cutting windows: for every pack and flow,
//   sum of window deltas == lifetime counter, to the last mWh, over any number of windows,
// and lifetime * 3.6e9 + remainder == the exact sum of mV * mA * ms over all samples.
//
// Integration rule: a sample at time t stands for the interval since the previous sample
// (t_prev, t] (right Riemann sum). This matches the VESC's "average since last read"
// currents and makes a window end exactly at its last sample: energy of a later interval
// belongs to the next window. The first sample after boot only sets the time base.
//
// Units and ranges (all integers; stated so every product stays exact below 2^53):
//   packMv     pack voltage in mV, 0 .. 131071 (2^17 - 1, i.e. up to 131 V)
//   packMa     pack current in mA, |packMa| <= 524287 (2^19 - 1, 524 A);
//              SIGN: > 0 = discharge (current out of the pack), < 0 = charge into the pack
//              (the BMS convention, vesc_bms_fw bms_if.c "i_in > 0 = discharge")
//   dtMs       0 .. holdMaxMs <= 65535
//   mV * |mA| * dt <= 2^17 * 2^19 * 2^16 = 2^52 nJ per sample, + remainder (< 3.6e9)
//   lifetime mWh < 2^53: 131 V x 524 A (68.7 kW) for 100 years is 6.0e13 mWh.
//   10 years at 100 V, 100 A: 3.16e12 J = 8.77e11 mWh (tested in meter.test.ts).
//
// Flows (per pack, per sample; D's simulator README gives the same signals):
//   discharge (packMa > 0): exportMode ? pack->grid : pack->motor
//   charge    (packMa < 0): chargerConnected ? grid->pack : regen->pack
// A pack whose reading is missing (null: BMS silent/stale) integrates nothing for that
// interval; the time is counted in lostMs (reported as gap.lostS), never guessed.
// A gap between samples longer than holdMaxMs integrates only holdMaxMs (raising
// SAMPLE_GAP) and counts the rest as lost: a stale value is never stretched over minutes.
//
// Public API
//   createMeter({ packs: [{canId}], holdMaxMs?=2000, faults?, xcheck? }) -> Meter
//     sample({ tMs, packs: [{mv, ma} | null], chargerConnected, exportMode }) -> 0 | SAMPLE_*
//     cut() -> MeterWindow     deltas since the previous cut + lifetime counters at the cut
//     lifetime(i) -> FlowEnergy     current lifetime mWh of pack i
//     remainderNj(i, flow) / chargeRemainderUc(i)   sub-unit remainders (tests, diagnostics)
//     restore([{gridToPackMwh,...}], chargeMah[]?)  lifetime counters after a reboot
//     observeVesc(whConsumedMwh, whChargedMwh)     VESC's own counters (cross-check)
//     observeBms(i, chgTotalMwh, disTotalMwh)       BMS i's own totals (cross-check)
//   FLOW_GRID_TO_PACK 0, FLOW_PACK_TO_GRID 1, FLOW_PACK_TO_MOTOR 2, FLOW_REGEN_TO_PACK 3
//   NJ_PER_MWH 3600000000, UC_PER_MAH 3600000
import { createAccumulator, Accumulator } from './exact';
import { createCrossCheck, CrossCheck } from './xcheck';
import { FAULT, FaultLog } from '../app/faults';

export var NJ_PER_MWH = 3600000000;
export var UC_PER_MAH = 3600000;
export var PACK_MV_MAX = 131071;
export var PACK_MA_MAX = 524287;
export var HOLD_MAX_LIMIT_MS = 65535;

export var FLOW_GRID_TO_PACK = 0;
export var FLOW_PACK_TO_GRID = 1;
export var FLOW_PACK_TO_MOTOR = 2;
export var FLOW_REGEN_TO_PACK = 3;

export var SAMPLE_OK = 0;
export var SAMPLE_BAD_TIME = 1;
export var SAMPLE_BAD_VALUE = 2;

export interface FlowMwh {
  gridToPackMwh: number;
  packToGridMwh: number;
  packToMotorMwh: number;
  regenToPackMwh: number;
}

export interface PackWindow extends FlowMwh {
  canId: number;
  /** Net charge into the pack during the window (negative when it discharged), mAh. */
  chargeMah: number;
  lifetime: FlowMwh;
  /** Milliseconds of this window without a reading for this pack. */
  lostMs: number;
}

export interface MeterWindow {
  /** Monotonic ms of the sample that started the window (end of the previous one). */
  startMs: number;
  /** Monotonic ms of the last sample integrated. */
  endMs: number;
  /** Largest per-pack lostMs. */
  lostMs: number;
  packs: PackWindow[];
}

export interface PackReading {
  mv: number;
  ma: number;
}

export interface MeterSample {
  tMs: number;
  packs: (PackReading | null | undefined)[];
  chargerConnected: boolean;
  exportMode: boolean;
}

export interface MeterOptions {
  packs: { canId: number }[];
  holdMaxMs?: number;
  faults?: FaultLog;
  /** Tolerances of the cross-checks (see xcheck.ts). */
  xcheck?: { absTolMwh?: number; relTolPermille?: number; minSpanMwh?: number };
}

export interface Meter {
  sample(s: MeterSample): number;
  cut(): MeterWindow;
  lifetime(i: number): FlowMwh;
  remainderNj(i: number, flow: number): number;
  chargeRemainderUc(i: number): number;
  lifetimeChargeMah(i: number): number;
  restore(lifetimes: FlowMwh[], chargeMah?: number[]): void;
  observeVesc(whConsumedMwh: number, whChargedMwh: number): void;
  observeBms(i: number, chgTotalMwh: number, disTotalMwh: number): void;
}

interface PackState {
  canId: number;
  flows: Accumulator[];
  charge: Accumulator;
  /** Lifetime units at the last cut. */
  cutFlows: number[];
  cutCharge: number;
  lostMs: number;
  xChg: CrossCheck;
  xDis: CrossCheck;
}

function isInt(v: unknown): boolean {
  return typeof v === 'number' && v === Math.floor(v) && v - v === 0;
}

export function createMeter(opts: MeterOptions): Meter {
  if (!opts || !(opts.packs instanceof Array) || opts.packs.length < 1 || opts.packs.length > 4) {
    throw new Error('createMeter: "packs" expected 1..4 packs');
  }
  var holdMaxMs = opts.holdMaxMs === undefined ? 2000 : opts.holdMaxMs;
  if (!isInt(holdMaxMs) || holdMaxMs < 1 || holdMaxMs > HOLD_MAX_LIMIT_MS) {
    throw new Error('createMeter: "holdMaxMs" expected integer 1..' + HOLD_MAX_LIMIT_MS + ', got ' + holdMaxMs);
  }
  var faults = opts.faults;
  var xo = opts.xcheck || {};
  var packs: PackState[] = [];
  for (var i = 0; i < opts.packs.length; i++) {
    var id = opts.packs[i].canId;
    if (!isInt(id) || id < 0 || id > 254) throw new Error('createMeter: packs[' + i + '].canId expected integer 0..254, got ' + id);
    for (var j = 0; j < i; j++) if (packs[j].canId === id) throw new Error('createMeter: two packs with CAN id ' + id);
    packs.push({
      canId: id,
      flows: [createAccumulator(NJ_PER_MWH), createAccumulator(NJ_PER_MWH), createAccumulator(NJ_PER_MWH), createAccumulator(NJ_PER_MWH)],
      charge: createAccumulator(UC_PER_MAH),
      cutFlows: [0, 0, 0, 0],
      cutCharge: 0,
      lostMs: 0,
      xChg: createCrossCheck({ faults: faults, mismatchCode: FAULT.XCHECK_BMS, resetCode: FAULT.BMS_COUNTER_RESET, label: 'p' + id + ' chg',
        absTolMwh: xo.absTolMwh, relTolPermille: xo.relTolPermille, minSpanMwh: xo.minSpanMwh }),
      xDis: createCrossCheck({ faults: faults, mismatchCode: FAULT.XCHECK_BMS, resetCode: FAULT.BMS_COUNTER_RESET, label: 'p' + id + ' dis',
        absTolMwh: xo.absTolMwh, relTolPermille: xo.relTolPermille, minSpanMwh: xo.minSpanMwh }),
    });
  }
  var xVescOut = createCrossCheck({ faults: faults, mismatchCode: FAULT.XCHECK_VESC, resetCode: FAULT.VESC_COUNTER_RESET, label: 'vesc out',
    absTolMwh: xo.absTolMwh, relTolPermille: xo.relTolPermille, minSpanMwh: xo.minSpanMwh });
  var xVescIn = createCrossCheck({ faults: faults, mismatchCode: FAULT.XCHECK_VESC, resetCode: FAULT.VESC_COUNTER_RESET, label: 'vesc in',
    absTolMwh: xo.absTolMwh, relTolPermille: xo.relTolPermille, minSpanMwh: xo.minSpanMwh });

  var lastT = -1;
  var cutT = -1;

  function reject(code: number, detail: string): number {
    if (faults) faults.raise(FAULT.SAMPLE_REJECTED, detail);
    return code;
  }

  function sample(s: MeterSample): number {
    if (!s || !(s.packs instanceof Array)) throw new Error('meter.sample: expected { tMs, packs: [] }');
    if (s.packs.length !== packs.length) throw new Error('meter.sample: expected ' + packs.length + ' pack readings, got ' + s.packs.length);
    var t = s.tMs;
    if (!isInt(t) || t < 0 || t < lastT) return reject(SAMPLE_BAD_TIME, 't ' + t + ' after ' + lastT);
    var k: number;
    for (k = 0; k < packs.length; k++) {
      var r = s.packs[k];
      if (r === null || r === undefined) continue;
      if (!isInt(r.mv) || r.mv < 0 || r.mv > PACK_MV_MAX) return reject(SAMPLE_BAD_VALUE, 'p' + packs[k].canId + ' mV ' + r.mv);
      if (!isInt(r.ma) || r.ma > PACK_MA_MAX || r.ma < -PACK_MA_MAX) return reject(SAMPLE_BAD_VALUE, 'p' + packs[k].canId + ' mA ' + r.ma);
    }
    if (lastT < 0) {
      lastT = t;
      if (cutT < 0) cutT = t;
      return SAMPLE_OK;
    }
    var dt = t - lastT;
    lastT = t;
    var lost = 0;
    if (dt > holdMaxMs) {
      lost = dt - holdMaxMs;
      dt = holdMaxMs;
      if (faults) faults.raise(FAULT.SAMPLE_GAP, lost + dt + ' ms');
    }
    for (k = 0; k < packs.length; k++) {
      var p = packs[k];
      var rd = s.packs[k];
      if (rd === null || rd === undefined) {
        p.lostMs += lost + dt;
        continue;
      }
      p.lostMs += lost;
      if (dt === 0 || rd.ma === 0) continue;
      var flow: number;
      var mag: number;
      if (rd.ma > 0) {
        flow = s.exportMode ? FLOW_PACK_TO_GRID : FLOW_PACK_TO_MOTOR;
        mag = rd.ma;
      } else {
        flow = s.chargerConnected ? FLOW_GRID_TO_PACK : FLOW_REGEN_TO_PACK;
        mag = -rd.ma;
      }
      // Exact: mv * mag <= 2^36 and * dt <= 2^52 (see header).
      p.flows[flow].add(rd.mv * mag * dt);
      // Net charge INTO the pack: minus the discharge current.
      p.charge.add(-rd.ma * dt);
    }
    return SAMPLE_OK;
  }

  function flowsOf(p: PackState): FlowMwh {
    return {
      gridToPackMwh: p.flows[FLOW_GRID_TO_PACK].units(),
      packToGridMwh: p.flows[FLOW_PACK_TO_GRID].units(),
      packToMotorMwh: p.flows[FLOW_PACK_TO_MOTOR].units(),
      regenToPackMwh: p.flows[FLOW_REGEN_TO_PACK].units(),
    };
  }

  function cut(): MeterWindow {
    var out: PackWindow[] = [];
    var lostMax = 0;
    for (var k = 0; k < packs.length; k++) {
      var p = packs[k];
      var life = flowsOf(p);
      var now = [life.gridToPackMwh, life.packToGridMwh, life.packToMotorMwh, life.regenToPackMwh];
      var ch = p.charge.units();
      out.push({
        canId: p.canId,
        gridToPackMwh: now[0] - p.cutFlows[0],
        packToGridMwh: now[1] - p.cutFlows[1],
        packToMotorMwh: now[2] - p.cutFlows[2],
        regenToPackMwh: now[3] - p.cutFlows[3],
        chargeMah: ch - p.cutCharge,
        lifetime: life,
        lostMs: p.lostMs,
      });
      if (p.lostMs > lostMax) lostMax = p.lostMs;
      p.cutFlows = now;
      p.cutCharge = ch;
      p.lostMs = 0;
    }
    var w: MeterWindow = { startMs: cutT < 0 ? 0 : cutT, endMs: lastT < 0 ? 0 : lastT, lostMs: lostMax, packs: out };
    cutT = lastT;
    return w;
  }

  function packAt(i: number, who: string): PackState {
    if (!isInt(i) || i < 0 || i >= packs.length) throw new Error(who + ': pack index expected 0..' + (packs.length - 1) + ', got ' + i);
    return packs[i];
  }

  function restore(lifetimes: FlowMwh[], chargeMah?: number[]) {
    if (!(lifetimes instanceof Array) || lifetimes.length !== packs.length) throw new Error('meter.restore: expected ' + packs.length + ' lifetime records');
    for (var k = 0; k < packs.length; k++) {
      var l = lifetimes[k];
      var v = [l.gridToPackMwh, l.packToGridMwh, l.packToMotorMwh, l.regenToPackMwh];
      for (var f = 0; f < 4; f++) {
        if (!isInt(v[f]) || v[f] < 0) throw new Error('meter.restore: packs[' + k + '] flow ' + f + ' expected integer >= 0, got ' + v[f]);
      }
      for (f = 0; f < 4; f++) packs[k].flows[f].setUnits(v[f]);
      packs[k].cutFlows = v;
      var c = chargeMah ? chargeMah[k] : 0;
      packs[k].charge.setUnits(c);
      packs[k].cutCharge = c;
    }
  }

  return {
    sample: sample,
    cut: cut,
    lifetime: function (i: number) { return flowsOf(packAt(i, 'meter.lifetime')); },
    remainderNj: function (i: number, flow: number) { return packAt(i, 'meter.remainderNj').flows[flow].remainder(); },
    chargeRemainderUc: function (i: number) { return packAt(i, 'meter.chargeRemainderUc').charge.remainder(); },
    lifetimeChargeMah: function (i: number) { return packAt(i, 'meter.lifetimeChargeMah').charge.units(); },
    restore: restore,
    observeVesc: function (whConsumedMwh: number, whChargedMwh: number) {
      // The VESC sees the sum of both packs at its input: consumed = motor, charged = regen.
      var out = 0;
      var inn = 0;
      for (var k = 0; k < packs.length; k++) {
        out += packs[k].flows[FLOW_PACK_TO_MOTOR].units();
        inn += packs[k].flows[FLOW_REGEN_TO_PACK].units();
      }
      xVescOut.observe(whConsumedMwh, out);
      xVescIn.observe(whChargedMwh, inn);
    },
    observeBms: function (i: number, chgTotalMwh: number, disTotalMwh: number) {
      var p = packAt(i, 'meter.observeBms');
      p.xChg.observe(chgTotalMwh, p.flows[FLOW_GRID_TO_PACK].units() + p.flows[FLOW_REGEN_TO_PACK].units());
      p.xDis.observe(disTotalMwh, p.flows[FLOW_PACK_TO_MOTOR].units() + p.flows[FLOW_PACK_TO_GRID].units());
    },
  };
}
