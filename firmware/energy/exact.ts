// Exact integer accumulator: a running total kept as (units, remainder) so that adding
// any number of fine-grained amounts loses nothing to rounding. Used by the meter with
// 1 mWh = 3,600,000,000 nJ (mV x mA x ms) and 1 mAh = 3,600,000 uC (mA x ms).
//
// Why not one double: 10 years at 10 kW is 3.2e21 nJ, far above 2^53 (9.0e15), where
// doubles stop being exact. Splitting into whole units (mWh, < 2^53 for any real bike:
// 10 kW for 10 years is 8.8e11 mWh) and a remainder in fine units (< 3.6e9 < 2^32)
// keeps every intermediate value an exact integer in a double, with no bitwise operator
// on large values and no Math.pow (inexact on Espruino, see firmware/README.md).
//
// Public API
//   createAccumulator(unitSize)   unitSize: fine units per whole unit, integer 1..2^32
//     add(fine)                   fine: integer, |fine| <= 2^52 (may be negative)
//     units()                     whole units, floor of the exact total (signed)
//     remainder()                 fine units past units(): 0 <= r < unitSize
//     setUnits(u)                 restore whole units after a reboot (remainder -> 0)
//   divFloor(x, d)                exact floor(x / d) for integers |x| < 2^53, 0 < d < 2^33
import { MAX_SAFE } from '../../protocol/bytes';

/** Largest |fine| one add() accepts: 2^52, so fine + remainder stays below 2^53. */
export var ADD_MAX = 4503599627370496;

/**
 * floor(x / d) exactly. `%` on doubles is exact (IEEE fmod, in Espruino as in ES5), so
 * x - r is an exact multiple of d and dividing it is exact too. A rounded quotient times d
 * is not: near 2^53 that product leaves the exact range (-9007199254740985 / 11).
 */
export function divFloor(x: number, d: number): number {
  var r = x % d;
  var q = (x - r) / d;
  if (r < 0) q -= 1;
  return q;
}

export interface Accumulator {
  add(fine: number): void;
  units(): number;
  remainder(): number;
  setUnits(u: number): void;
}

export function createAccumulator(unitSize: number): Accumulator {
  if (typeof unitSize !== 'number' || unitSize !== Math.floor(unitSize) || unitSize < 1 || unitSize > 4294967296) {
    throw new Error('createAccumulator: "unitSize" expected integer 1..2^32, got ' + unitSize);
  }
  var whole = 0;
  var rem = 0;
  return {
    add: function (fine: number) {
      if (typeof fine !== 'number' || fine !== Math.floor(fine) || fine > ADD_MAX || fine < -ADD_MAX) {
        throw new Error('accumulator.add: "fine" expected integer with |fine| <= 2^52, got ' + fine);
      }
      var t = rem + fine;
      var q = divFloor(t, unitSize);
      rem = t - q * unitSize;
      whole += q;
      if (whole > MAX_SAFE || whole < -MAX_SAFE) throw new Error('accumulator: total left the exact range (2^53 units)');
    },
    units: function () { return whole; },
    remainder: function () { return rem; },
    setUnits: function (u: number) {
      if (typeof u !== 'number' || u !== Math.floor(u) || u > MAX_SAFE || u < -MAX_SAFE) {
        throw new Error('accumulator.setUnits: expected integer, got ' + u);
      }
      whole = u;
      rem = 0;
    },
  };
}
