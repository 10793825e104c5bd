// A hub's own generation: a PV array behind an inverter. The market only sees the Wh the
// hub offers each interval (an input of the clearing, recorded with the bids), so this
// model may use floats: it is the weather, not the rule.
import { DAY_S } from '../testnet/prices';

export interface PvArray {
  /** DC peak at solar noon, W. */
  peakW: number;
  /** The inverter's AC limit, W: generation above it is clipped. */
  inverterW: number;
  /** Sunrise and sunset, seconds after midnight UTC. */
  sunriseS: number;
  sunsetS: number;
}

/** A winter day in central Europe (UTC): light from 07:00 to 16:30. */
export function defaultPv(hubIndex: number): PvArray {
  // Hubs differ so that their markets differ: 4 kWp behind 3 kW, 2.5 kWp behind 2 kW, ...
  const peakW = Math.max(1000, 4000 - 1500 * hubIndex);
  return { peakW, inverterW: Math.round(peakW * 0.75), sunriseS: 7 * 3600, sunsetS: 16 * 3600 + 1800 };
}

/** AC power at second `s` of the day, W (clear-sky half sine, clipped at the inverter). */
export function pvPowerW(a: PvArray, s: number): number {
  const d = ((s % DAY_S) + DAY_S) % DAY_S;
  if (d <= a.sunriseS || d >= a.sunsetS) return 0;
  const dc = a.peakW * Math.sin((Math.PI * (d - a.sunriseS)) / (a.sunsetS - a.sunriseS));
  return Math.min(dc, a.inverterW);
}

/** Wh generated over [startS, startS + durationS) (epoch or day seconds), whole Wh, by minute steps. */
export function pvEnergyWh(a: PvArray, startS: number, durationS: number): number {
  let ws = 0;
  for (let t = 0; t < durationS; t += 60) {
    const dt = Math.min(60, durationS - t);
    ws += pvPowerW(a, startS + t + dt / 2) * dt;
  }
  return Math.floor(ws / 3600);
}
