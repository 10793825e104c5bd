// Cross-check of the meter against an independent cumulative counter (the VESC's
// watt_hours / watt_hours_charged, a BMS's wh_chg_total / wh_dis_total). The reference
// NEVER changes the reading: the meter's integers are the measurement; a disagreement
// beyond tolerance only raises a fault so that a wiring or sensor problem is visible.
//
// Each observe() gives the reference counter and the meter's matching lifetime counter,
// both in mWh. Over a span (from the anchor to now) the two increases must agree within
//   |dMeter - dRef| <= absTolMwh + dRef * relTolPermille / 1000.
// A span is judged once either side has moved by at least minSpanMwh (shorter spans are
// dominated by the reference's quantisation and by sampling phase), then re-anchored.
// A reference that goes DOWN is a reboot of that controller (its counters restart at 0):
// the fault `resetCode` is raised and the anchor moves to the new values, so neither a
// jump nor a false mismatch follows.
//
// Defaults: absTolMwh 200 (0.2 Wh: the VESC's float counters and the BMS's float32 totals
// are only ~1 mWh exact near 10 kWh and the two sides sample at different instants),
// relTolPermille 50 (5 %: typical shunt/hall current sensor spread between a VESC and a
// BMS), minSpanMwh 5000 (5 Wh).
//
// Public API
//   XCHECK_IDLE 0, XCHECK_OK 1, XCHECK_MISMATCH 2, XCHECK_RESET 3
//   createCrossCheck({ faults?, mismatchCode, resetCode, label, absTolMwh?, relTolPermille?, minSpanMwh? })
//     observe(refMwh, meterMwh) -> one of the XCHECK_* results
//     mismatches()              how many spans failed
import type { FaultLog } from '../app/faults';

export var XCHECK_IDLE = 0;
export var XCHECK_OK = 1;
export var XCHECK_MISMATCH = 2;
export var XCHECK_RESET = 3;

export interface CrossCheckOptions {
  faults?: FaultLog;
  mismatchCode: number;
  resetCode: number;
  /** Short text put in the fault detail, e.g. 'vesc out' or 'p1 chg'. */
  label: string;
  absTolMwh?: number;
  relTolPermille?: number;
  minSpanMwh?: number;
}

export interface CrossCheck {
  observe(refMwh: number, meterMwh: number): number;
  mismatches(): number;
}

function intOpt(v: number | undefined, def: number, name: string): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || v !== Math.floor(v) || v < 0) throw new Error('createCrossCheck: "' + name + '" expected integer >= 0, got ' + v);
  return v;
}

export function createCrossCheck(opts: CrossCheckOptions): CrossCheck {
  var absTol = intOpt(opts.absTolMwh, 200, 'absTolMwh');
  var relTol = intOpt(opts.relTolPermille, 50, 'relTolPermille');
  var minSpan = intOpt(opts.minSpanMwh, 5000, 'minSpanMwh');
  var faults = opts.faults;
  var anchored = false;
  var ref0 = 0;
  var meter0 = 0;
  var lastRef = 0;
  var bad = 0;

  function observe(refMwh: number, meterMwh: number): number {
    if (typeof refMwh !== 'number' || refMwh !== refMwh || typeof meterMwh !== 'number' || meterMwh !== meterMwh) {
      throw new Error('crossCheck.observe: numbers expected, got ' + refMwh + ', ' + meterMwh);
    }
    if (!anchored) {
      anchored = true;
      ref0 = refMwh; meter0 = meterMwh; lastRef = refMwh;
      return XCHECK_IDLE;
    }
    if (refMwh < lastRef) {
      if (faults) faults.raise(opts.resetCode, opts.label + ' ' + lastRef + '->' + refMwh);
      ref0 = refMwh; meter0 = meterMwh; lastRef = refMwh;
      return XCHECK_RESET;
    }
    lastRef = refMwh;
    var dRef = refMwh - ref0;
    var dMeter = meterMwh - meter0;
    if (dRef < minSpan && dMeter < minSpan) return XCHECK_IDLE;
    ref0 = refMwh; meter0 = meterMwh;
    var diff = dMeter - dRef;
    var tol = absTol + Math.floor(dRef * relTol / 1000);
    if (diff > tol || -diff > tol) {
      bad++;
      if (faults) faults.raise(opts.mismatchCode, opts.label + ' m' + Math.round(dMeter) + ' r' + Math.round(dRef));
      return XCHECK_MISMATCH;
    }
    return XCHECK_OK;
  }

  return { observe: observe, mismatches: function () { return bad; } };
}
