// Settlement of measured energy against the market's results (protocol/MARKET.md §5). The
// ledger stays the truth: what a device measured (its verified reports) is what it pays
// for or is paid for; the market's result decides at which price.
// Per device and interval, with m the matched net energy (result's netWh × 1000, mWh,
// > 0 into the bike) and x the measured net energy (grid→pack − pack→grid, mWh):
// - d = x clamped to [min(0, m), max(0, m)]: the measured energy that was matched. It is
//   paid at the participant's matched average price: amountNano × d / m (pico-units);
// - e = x − d, energy measured beyond what was matched (or against its direction), is the
//   imbalance: bought at retail when e > 0, sold at feed-in when e < 0. Matched energy that
//   did not flow is neither paid nor charged: the utility balanced it for the hub;
// - the imbalance volume shown is |x − m|.
// The utility-only baseline values the same measured flows at the utility's prices only:
// grid→pack at retail, pack→grid at feed-in, per interval.
// Measured energy reaches intervals from report windows: a window's energy is spread evenly
// over it, and its share of intervals k = 1..n is floor(E × c_k / L) − floor(E × c_{k−1} / L),
// c_k the seconds of the window up to the end of interval k, L its length: integers that
// add up to E exactly. Pico-units (10^-12) are exact; each device's day is rounded once to
// micro-units, ties to even.
import { divRoundHalfEven } from '../testnet/settlement';
import type { IntervalResult } from './hub';

export interface MeasuredWindow {
  device: string;
  /** Report window [startS, endS), epoch seconds, from a synced clock. */
  startS: number;
  endS: number;
  gridToPackMwh: number;
  packToGridMwh: number;
}

export interface IntervalEnergy {
  inMwh: number;
  outMwh: number;
}

/** mWh per device and interval start (epoch s) from report windows. */
export function apportion(windows: Iterable<MeasuredWindow>, intervalS: number): Record<string, Record<number, IntervalEnergy>> {
  const out: Record<string, Record<number, IntervalEnergy>> = {};
  for (const w of windows) {
    const per = (out[w.device] ??= {});
    const end = w.endS > w.startS ? w.endS : w.startS + 1;
    const len = BigInt(end - w.startS);
    let prevIn = 0n, prevOut = 0n;
    for (let k = Math.floor(w.startS / intervalS) * intervalS; k < end; k += intervalS) {
      const upTo = BigInt(Math.min(end, k + intervalS) - w.startS);
      const cumIn = (BigInt(w.gridToPackMwh) * upTo) / len;
      const cumOut = (BigInt(w.packToGridMwh) * upTo) / len;
      const e = (per[k] ??= { inMwh: 0, outMwh: 0 });
      e.inMwh += Number(cumIn - prevIn);
      e.outMwh += Number(cumOut - prevOut);
      prevIn = cumIn;
      prevOut = cumOut;
    }
  }
  return out;
}

export interface DeviceSettlement {
  device: string;
  /** Matched and measured net energy into the bike, mWh (signed). */
  matchedMwh: number;
  measuredMwh: number;
  /** Measured energy paid at the market's price, mWh (signed), and Σ|measured − matched|. */
  atMarketMwh: number;
  imbalanceMwh: number;
  /** Exact day totals, pico-units; and rounded to micro-units (ties to even). */
  marketPico: bigint;
  imbalancePico: bigint;
  baselinePico: bigint;
  marketMicro: bigint;
  baselineMicro: bigint;
}

/**
 * §5 for one device and interval: the value (pico-units, > 0 paid to the rider) of a net
 * measured energy `xMwh` against the device's result (none: all of it is imbalance) and
 * the prices its imbalance settles at. The one place the rule is written: settleMarket
 * applies it to a day's totals, the Fabric chaincode to each report's share of an interval
 * (as v(x + dx) − v(x), which adds up to v of the interval's total).
 */
export function marketValuePico(
  xMwh: number,
  result: { netWh: number; amountNano: number } | undefined,
  tariff: { retailMicroPerKwh: number; feedInMicroPerKwh: number },
): { atMarketMwh: number; matchedPico: bigint; imbalancePico: bigint } {
  const m = result ? result.netWh * 1000 : 0;
  const d = Math.min(Math.max(xMwh, Math.min(0, m)), Math.max(0, m));
  const rest = xMwh - d;
  const matchedPico = m !== 0 ? divRoundHalfEven(BigInt(result!.amountNano) * BigInt(d), BigInt(Math.abs(result!.netWh))) * BigInt(Math.sign(m)) : 0n;
  const imbalancePico = rest > 0 ? -BigInt(rest) * BigInt(tariff.retailMicroPerKwh) : -BigInt(rest) * BigInt(tariff.feedInMicroPerKwh);
  return { atMarketMwh: d, matchedPico, imbalancePico };
}

/** The utility's prices of an interval (for intervals in which a device had no result). */
export type TariffAt = (startS: number) => { retailMicroPerKwh: number; feedInMicroPerKwh: number } | undefined;

export function settleMarket(results: readonly IntervalResult[], measured: Record<string, Record<number, IntervalEnergy>>, tariffAt: TariffAt): DeviceSettlement[] {
  // A device is plugged at one hub at a time: its result per interval start.
  const mine: Record<string, Record<number, { netWh: number; amountNano: number; retail: number; feedIn: number }>> = {};
  for (const r of results) {
    for (const p of r.participants) {
      const at = (mine[p.participant] ??= {});
      if (at[r.startS]) throw new Error(`${p.participant} appears in two results for the interval at ${r.startS}`);
      at[r.startS] = { netWh: p.netWh, amountNano: p.amountNano, retail: r.retailMicroPerKwh, feedIn: r.feedInMicroPerKwh };
    }
  }
  const out: DeviceSettlement[] = [];
  for (const device of Object.keys(measured).sort()) {
    const s: DeviceSettlement = { device, matchedMwh: 0, measuredMwh: 0, atMarketMwh: 0, imbalanceMwh: 0, marketPico: 0n, imbalancePico: 0n, baselinePico: 0n, marketMicro: 0n, baselineMicro: 0n };
    const starts = new Set<number>([...Object.keys(measured[device]).map(Number), ...Object.keys(mine[device] ?? {}).map(Number)]);
    for (const k of [...starts].sort((a, b) => a - b)) {
      const e = measured[device][k] ?? { inMwh: 0, outMwh: 0 };
      const res = mine[device]?.[k];
      const tariff = res ? { retailMicroPerKwh: res.retail, feedInMicroPerKwh: res.feedIn } : tariffAt(k);
      if (!tariff) throw new Error(`no utility price for the interval at ${k} (device ${device})`);
      const x = e.inMwh - e.outMwh;
      const m = res ? res.netWh * 1000 : 0;
      const { atMarketMwh, matchedPico, imbalancePico } = marketValuePico(x, res, tariff);
      s.matchedMwh += m;
      s.measuredMwh += x;
      s.atMarketMwh += atMarketMwh;
      s.imbalanceMwh += Math.abs(x - m);
      s.marketPico += matchedPico + imbalancePico;
      s.imbalancePico += imbalancePico;
      s.baselinePico += BigInt(e.outMwh) * BigInt(tariff.feedInMicroPerKwh) - BigInt(e.inMwh) * BigInt(tariff.retailMicroPerKwh);
    }
    s.marketMicro = divRoundHalfEven(s.marketPico, 1_000_000n);
    s.baselineMicro = divRoundHalfEven(s.baselinePico, 1_000_000n);
    out.push(s);
  }
  return out;
}
