// The testnet's local energy market: at every interval boundary each hub collects the
// orders of the bikes plugged in (from their riders' policies) and of its own PV, clears
// them (host-tools/market), and sets each bike's charger/inverter to the matched power for
// the interval. Results are kept in order for the node to publish and for settlement.
import { clearHubInterval, ordersFor, pvEnergyWh, defaultPv, DEFAULT_POLICY, type IntervalResult, type HubIntervalInput, type RiderPolicy, type PvArray, type TariffView, type Order } from '../market/index';
import { priceSeconds, DAY_S, type PriceSeries } from './prices';

/** The hub's charger and inverter limits per bike, W: below the bike charger's 4 A CC (about 190 W at 48 V). */
export const CHARGE_LIMIT_W = 180;
export const EXPORT_LIMIT_W = 300;
export const DEFAULT_INTERVAL_S = 900;

/** A bike as the hub sees it at a boundary. */
export interface MarketBike {
  name: string;
  device: string;
  hub: string | undefined;
  /** Plugged: ms until the rider leaves. */
  leavesInMs: number | undefined;
  energyWh: number;
  capacityWh: number;
}

export interface MarketTotals {
  intervals: number;
  tradedWh: number;
  /** Volume-weighted mean of the local clearing prices, micro-units/kWh (floor); null when nothing traded. */
  avgPriceMicroPerKwh: number | null;
  /** Riders who left a hub below their target (capped by what full power could reach). */
  ridersShort: number;
  shortDetail: string[];
  /** The bikes' matched energy by time of day (UTC): what they bought and sold, and for how much (nano-units). */
  byTimeOfDay: { block: string; boughtWh: number; paidNano: number; soldWh: number; earnedNano: number }[];
}

/** Blocks of the day for the summary, hours UTC: the sample tariff's shape. */
export const DAY_BLOCKS: { block: string; fromH: number; toH: number }[] = [
  { block: '00-06 night', fromH: 0, toH: 6 },
  { block: '06-10 morning peak', fromH: 6, toH: 10 },
  { block: '10-15 midday (PV)', fromH: 10, toH: 15 },
  { block: '15-21 evening peak', fromH: 15, toH: 21 },
  { block: '21-24 late', fromH: 21, toH: 24 },
];

interface Visit {
  hub: string;
  device: string;
  /** max(target, reserve) of the rider's policy, permille of capacity. */
  keepPermille: number;
  startWh: number;
  /** Wh the hub's charger could have moved in the intervals the bike was in. */
  reachableWh: number;
  lastWh: number;
  /** At the last sample: capacity at the packs' voltage then (it moves with the voltage, so the target is taken at departure). */
  capacityWh: number;
}

/** The utility's prices of [startS, startS + lenS): time-weighted means, floored. */
export function tariffOf(series: PriceSeries, startS: number, lenS: number): { retailMicroPerKwh: number; feedInMicroPerKwh: number } | undefined {
  const ps = priceSeconds(series, startS, startS + lenS);
  if (!ps) return undefined;
  const div = (v: bigint) => Number(v >= 0n ? v / BigInt(lenS) : -((-v + BigInt(lenS) - 1n) / BigInt(lenS)));
  return { retailMicroPerKwh: div(ps.importMicroS), feedInMicroPerKwh: div(ps.exportMicroS) };
}

export class TestnetMarket {
  readonly results: IntervalResult[] = [];
  /** Every interval's input as cleared, for replay (test/vectors/market-day). */
  readonly inputs: HubIntervalInput[] = [];
  private readonly visits: Record<string, Visit> = {};
  private readonly short: string[] = [];
  readonly pv: Record<string, PvArray>;

  constructor(
    private readonly series: PriceSeries,
    private readonly hubs: string[],
    private readonly policyOf: (device: string) => Promise<RiderPolicy>,
    readonly intervalS = DEFAULT_INTERVAL_S,
  ) {
    this.pv = Object.fromEntries(hubs.map((h, i) => [h, defaultPv(i)]));
  }

  private tariffView(startS: number): TariffView {
    const t = tariffOf(this.series, startS, this.intervalS);
    const day = Math.floor(startS / DAY_S) * DAY_S;
    const d = tariffOf(this.series, day, DAY_S);
    if (!t || !d) throw new Error(`the price file ${this.series.source} has no price for the market interval at ${new Date(startS * 1000).toISOString()}`);
    let dayMax = -Infinity;
    for (let s = day; s < day + DAY_S; s += this.intervalS) dayMax = Math.max(dayMax, tariffOf(this.series, s, this.intervalS)!.feedInMicroPerKwh);
    return { ...t, dayMaxFeedInMicroPerKwh: dayMax, dayMeanFeedInMicroPerKwh: d.feedInMicroPerKwh };
  }

  /** Clears every hub for the interval starting at `startS`; returns each plugged bike's power, W. */
  async clear(startS: number, bikes: MarketBike[]): Promise<Record<string, number>> {
    if (startS % this.intervalS !== 0) throw new Error(`market interval start ${startS} is not a multiple of ${this.intervalS} s`);
    const tv = this.tariffView(startS);
    const powers: Record<string, number> = {};
    for (const hub of this.hubs) {
      const here = bikes.filter((b) => b.hub === hub && b.leavesInMs !== undefined);
      const orders: Order[] = [];
      const pvWh = pvEnergyWh(this.pv[hub], startS, this.intervalS);
      if (pvWh > 0) orders.push({ id: `${hub}/pv`, participant: `${hub}/pv`, side: 'sell', wh: pvWh, priceMicroPerKwh: tv.feedInMicroPerKwh });
      const plugS: Record<string, number> = {};
      for (const b of here) {
        const departureS = startS + Math.floor(b.leavesInMs! / 1000);
        const policy = await this.policyOf(b.device);
        const pb = { device: b.device, energyWh: Math.floor(b.energyWh), capacityWh: Math.floor(b.capacityWh), chargeLimitW: CHARGE_LIMIT_W, exportLimitW: EXPORT_LIMIT_W, departureS };
        orders.push(...ordersFor(pb, policy, tv, startS, this.intervalS));
        plugS[b.device] = Math.min(this.intervalS, departureS - startS);
        const v = this.visits[b.name];
        const reach = Math.floor((CHARGE_LIMIT_W * Math.max(0, plugS[b.device])) / 3600);
        if (!v || v.hub !== hub) this.visits[b.name] = { hub, device: b.device, keepPermille: Math.max(policy.targetPermille, policy.reservePermille), startWh: b.energyWh, reachableWh: reach, lastWh: b.energyWh, capacityWh: b.capacityWh };
        else v.reachableWh += reach;
      }
      const input: HubIntervalInput = { hub, startS, durationS: this.intervalS, retailMicroPerKwh: tv.retailMicroPerKwh, feedInMicroPerKwh: tv.feedInMicroPerKwh, orders };
      const result = clearHubInterval(input);
      this.inputs.push(input);
      this.results.push(result);
      for (const b of here) {
        const p = result.participants.find((x) => x.participant === b.device);
        const s = plugS[b.device];
        powers[b.name] = p && s > 0 ? (p.netWh * 3600) / s : 0;
      }
    }
    return powers;
  }

  /**
   * Follows each bike between boundaries: while plugged its energy is noted; when it has
   * left, it counts as short if it left below its target, capped by what the hub's
   * charger could have given it at full power since it was first in the market (1 % of
   * its capacity allowed for the last sample's lag and the charger's ramp).
   */
  observe(bikes: MarketBike[]): void {
    for (const b of bikes) {
      const v = this.visits[b.name];
      if (!v) continue;
      if (b.hub === v.hub && b.leavesInMs !== undefined) {
        v.lastWh = b.energyWh;
        v.capacityWh = b.capacityWh;
        continue;
      }
      delete this.visits[b.name];
      const owed = Math.min((v.capacityWh * v.keepPermille) / 1000, v.startWh + v.reachableWh);
      if (v.lastWh < owed - v.capacityWh / 100) this.short.push(`${b.name} left ${v.hub} with ${Math.round(v.lastWh)} Wh, below ${Math.round(owed)} Wh`);
    }
  }

  totals(): MarketTotals {
    let traded = 0, value = 0n;
    for (const r of this.results) {
      traded += r.tradedWh;
      if (r.priceMicroPerKwh !== null) value += BigInt(r.tradedWh) * BigInt(r.priceMicroPerKwh);
    }
    const blocks = DAY_BLOCKS.map((b) => ({ block: b.block, boughtWh: 0, paidNano: 0, soldWh: 0, earnedNano: 0 }));
    for (const r of this.results) {
      const h = Math.floor((((r.startS % DAY_S) + DAY_S) % DAY_S) / 3600);
      const blk = blocks[DAY_BLOCKS.findIndex((b) => h >= b.fromH && h < b.toH)];
      // The hub's own PV is `hub/pv`; every other participant is a bike.
      for (const p of r.participants) {
        if (p.participant.includes('/')) continue;
        if (p.netWh > 0) { blk.boughtWh += p.netWh; blk.paidNano -= p.amountNano; }
        if (p.netWh < 0) { blk.soldWh -= p.netWh; blk.earnedNano += p.amountNano; }
      }
    }
    return {
      byTimeOfDay: blocks,
      intervals: this.results.length, tradedWh: traded,
      avgPriceMicroPerKwh: traded > 0 ? Number(value / BigInt(traded)) : null,
      ridersShort: this.short.length, shortDetail: [...this.short],
    };
  }
}

export { DEFAULT_POLICY };
