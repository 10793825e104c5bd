// Physical plausibility of one report on its own (SPEC.md "Plausibility"). The limits are
// generous for an e-bike: they catch corrupted or forged figures, not a strong rider.
import { CLOCK_SYNCED, type EnergyReport } from '../../protocol/report';
import { reject, REJECT, type Rejection } from './reasons';

/** Power no pack can move in any flow combination, in W. */
export const MAX_PACK_POWER_W = 10_000;
/** Current no pack can carry, in A (bounds the mAh figure). */
export const MAX_PACK_CURRENT_A = 500;
/** Synced window starts before 2024-01-01T00:00:00Z cannot be real (the device never stamps 1970). */
export const MIN_EPOCH_S = 1_704_067_200;
/** How far in the future (s) a synced window may end relative to the verifier's clock. */
export const MAX_FUTURE_S = 300;

export interface PlausibilityOptions {
  /** The verifier's clock in epoch seconds; omit to skip the "from the future" check. */
  nowS?: number;
}

export function checkPlausible(r: EnergyReport, opts: PlausibilityOptions = {}): Rejection | null {
  // mWh a pack may move in the window at MAX_PACK_POWER_W: W * s / 3600 * 1000, compared
  // as integers: sumMwh * 36 <= W * s * 10.
  const maxTimes36 = MAX_PACK_POWER_W * r.durationS * 10;
  for (let i = 0; i < r.packs.length; i++) {
    const p = r.packs[i];
    const f = `packs[${i}]`;
    const sum = p.gridToPackMwh + p.packToGridMwh + p.packToMotorMwh + p.regenToPackMwh;
    if (sum * 36 > maxTimes36) {
      return reject(REJECT.IMPLAUSIBLE, `${f}: ${sum} mWh in ${r.durationS} s exceeds ${MAX_PACK_POWER_W} W`, f);
    }
    // |mAh| <= A * s / 3.6  <=>  |mAh| * 36 <= A * s * 10
    if (Math.abs(p.chargeMah) * 36 > MAX_PACK_CURRENT_A * r.durationS * 10) {
      return reject(REJECT.IMPLAUSIBLE, `${f}.chargeMah: ${p.chargeMah} mAh in ${r.durationS} s exceeds ${MAX_PACK_CURRENT_A} A`, `${f}.chargeMah`);
    }
    for (const k of ['gridToPackMwh', 'packToGridMwh', 'packToMotorMwh', 'regenToPackMwh'] as const) {
      if (p.lifetime[k] < p[k]) {
        return reject(REJECT.IMPLAUSIBLE, `${f}.lifetime.${k}: lifetime ${p.lifetime[k]} mWh below this window's ${p[k]} mWh`, `${f}.lifetime.${k}`);
      }
    }
  }
  if (r.clock === CLOCK_SYNCED) {
    if (r.startS < MIN_EPOCH_S) return reject(REJECT.IMPLAUSIBLE, `startS ${r.startS} is before 2024: not a real synced time`, 'startS');
    if (opts.nowS !== undefined && r.startS + r.durationS > opts.nowS + MAX_FUTURE_S) {
      return reject(REJECT.IMPLAUSIBLE, `window ends at ${r.startS + r.durationS}, ${r.startS + r.durationS - opts.nowS} s in the future`, 'startS');
    }
  }
  return null;
}
