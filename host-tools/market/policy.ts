// Riders' policies and the orders a plugged bike derives from them (protocol/MARKET.md §2).
// The rider states limits (reserve, target charge by departure, minimum sell and maximum
// buy price); the bike turns them into at most three orders per interval:
// - "need": the energy still missing to reach max(target, reserve) by departure, bid at a
//   price that rises with urgency (below);
// - "extra": room up to 95 % charge, bid only at a cheap price (the day's mean feed-in
//   price, never at or above the bike's own minimum sell price, so a bike never buys what
//   it would sell in the same interval);
// - "sell": the energy above max(target, reserve), offered at the minimum sell price.
// Urgency: with N Wh missing, A seconds plugged in *after* this interval and the charger's
// limit P W, the later intervals could still deliver P·A/3600 Wh. u = 2·N·3600 / (P·A)
// (u = 1: waiting past this interval would leave only twice what is missing; u = ∞ in the
// last interval before departure). The need bid's price is
//     feedIn + floor((maxBuy − feedIn) · u)  when u < 1,   maxBuy  when u >= 1,
// so a bike that must leave soon bids up to its maximum, which by default is the utility's
// retail price: from there on it is always served (by the utility if nobody cheaper sells).
// Counting only the time after this interval is what makes waiting safe in whole
// intervals: a bike that waits has at least twice its need still reachable at the next
// boundary. All integers; the product is computed exactly (BigInt) before the floor.
import { MAX_PRICE_MICRO, type Order } from './auction';

export interface RiderPolicy {
  /** Never sell below this charge, permille of the bike's capacity. */
  reservePermille: number;
  /** Charge to have when leaving, permille of capacity. */
  targetPermille: number;
  /** The usual departure, "HH:MM" UTC, when the rider announces none on plugging in; null: none. */
  departure: string | null;
  /** Least price to sell at, micro-units/kWh; null: 3/4 of the day's highest feed-in price. */
  minSellMicroPerKwh: number | null;
  /** Most to pay, micro-units/kWh; null: the utility's retail price of the interval. */
  maxBuyMicroPerKwh: number | null;
}

/**
 * What a rider who sets nothing gets. The simulated bikes' two packs hold about 1.2 kWh;
 * the longest trip of 12 seeded market days took 0.30 kWh (pack→motor − regen), so a 40 %
 * reserve covers the next ride, and leaving at 60 % covers it with a margin.
 */
export const DEFAULT_POLICY: RiderPolicy = {
  reservePermille: 400,
  targetPermille: 600,
  departure: null,
  minSellMicroPerKwh: null,
  maxBuyMicroPerKwh: null,
};

/** Room the "extra" bid fills up to, permille of capacity. */
export const EXTRA_UP_TO_PERMILLE = 950;

export class PolicyError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'PolicyError';
  }
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Checks a (partial) policy; every error names the field. Fields left out keep `base`'s. */
export function validatePolicy(p: unknown, base: RiderPolicy = DEFAULT_POLICY): RiderPolicy {
  if (!p || typeof p !== 'object' || Array.isArray(p)) throw new PolicyError('policy expected a JSON object');
  const x = p as Record<string, unknown>;
  const known = Object.keys(DEFAULT_POLICY);
  for (const k of Object.keys(x)) if (!known.includes(k)) throw new PolicyError(`policy.${k} is not a policy field (known: ${known.join(', ')})`);
  const out: RiderPolicy = { ...base };
  for (const k of ['reservePermille', 'targetPermille'] as const) {
    if (x[k] === undefined) continue;
    const v = x[k];
    if (!Number.isSafeInteger(v) || (v as number) < 0 || (v as number) > 1000) throw new PolicyError(`policy.${k} expected an integer in [0, 1000], got ${JSON.stringify(v)}`);
    out[k] = v as number;
  }
  for (const k of ['minSellMicroPerKwh', 'maxBuyMicroPerKwh'] as const) {
    if (x[k] === undefined) continue;
    const v = x[k];
    if (v !== null && (!Number.isSafeInteger(v) || Math.abs(v as number) > 1_000_000_000)) throw new PolicyError(`policy.${k} expected null or an integer in [-1000000000, 1000000000] (micro-units per kWh), got ${JSON.stringify(v)}`);
    out[k] = v as number | null;
  }
  if (x.departure !== undefined) {
    if (x.departure !== null && (typeof x.departure !== 'string' || !HHMM.test(x.departure))) throw new PolicyError(`policy.departure expected null or "HH:MM" (UTC), got ${JSON.stringify(x.departure)}`);
    out.departure = x.departure as string | null;
  }
  return out;
}

/** A bike plugged at a hub, as the hub's charger sees it at the start of an interval. */
export interface PluggedBike {
  device: string;
  /** Energy stored now and the packs' capacity, Wh. */
  energyWh: number;
  capacityWh: number;
  /** The hub's charger and inverter limits for this bike, W. */
  chargeLimitW: number;
  exportLimitW: number;
  /** When the rider leaves, epoch seconds. */
  departureS: number;
}

/** The utility's prices the bike sees: this interval's and the day's. */
export interface TariffView {
  retailMicroPerKwh: number;
  feedInMicroPerKwh: number;
  dayMaxFeedInMicroPerKwh: number;
  dayMeanFeedInMicroPerKwh: number;
}

export function effectiveMinSell(p: RiderPolicy, t: TariffView): number {
  return p.minSellMicroPerKwh ?? Math.floor((t.dayMaxFeedInMicroPerKwh * 3) / 4);
}

export function effectiveMaxBuy(p: RiderPolicy, t: TariffView): number {
  return p.maxBuyMicroPerKwh ?? t.retailMicroPerKwh;
}

/** Wh the bike keeps: max(target, reserve) of its capacity, rounded up. */
export function keepWh(b: PluggedBike, p: RiderPolicy): number {
  return Math.ceil((b.capacityWh * Math.max(p.targetPermille, p.reservePermille)) / 1000);
}

/** The need bid's price for `needWh` missing with `secondsAfter` plugged in after this interval (see the header). */
export function urgencyPrice(needWh: number, secondsAfter: number, chargeLimitW: number, feedIn: number, maxBuy: number): number {
  if (maxBuy <= feedIn || secondsAfter <= 0) return maxBuy;
  const num = BigInt(2 * needWh) * 3600n;
  const den = BigInt(chargeLimitW) * BigInt(secondsAfter);
  if (num >= den) return maxBuy;
  return feedIn + Number((BigInt(maxBuy - feedIn) * num) / den);
}

/** The bike's orders for the interval [startS, startS + durationS). */
export function ordersFor(b: PluggedBike, p: RiderPolicy, t: TariffView, startS: number, durationS: number): Order[] {
  const secondsLeft = b.departureS - startS;
  const plugS = Math.min(durationS, secondsLeft);
  if (plugS <= 0) return [];
  const maxIn = Math.floor((b.chargeLimitW * plugS) / 3600);
  const maxOut = Math.floor((b.exportLimitW * plugS) / 3600);
  const keep = keepWh(b, p);
  const minSell = effectiveMinSell(p, t);
  const maxBuy = effectiveMaxBuy(p, t);
  const out: Order[] = [];
  const need = Math.max(0, keep - b.energyWh);
  const needQ = Math.min(need, maxIn);
  if (needQ > 0) {
    out.push({ id: `${b.device}/need`, participant: b.device, side: 'buy', wh: needQ, priceMicroPerKwh: urgencyPrice(need, secondsLeft - plugS, b.chargeLimitW, t.feedInMicroPerKwh, maxBuy) });
  }
  const room = Math.floor((b.capacityWh * EXTRA_UP_TO_PERMILLE) / 1000) - Math.max(b.energyWh, keep);
  const extraQ = Math.min(room, maxIn - needQ);
  const extraPrice = Math.max(-MAX_PRICE_MICRO, Math.min(maxBuy, t.dayMeanFeedInMicroPerKwh, minSell - 1));
  if (extraQ > 0) out.push({ id: `${b.device}/extra`, participant: b.device, side: 'buy', wh: extraQ, priceMicroPerKwh: extraPrice });
  const sellQ = Math.min(b.energyWh - keep, maxOut);
  if (sellQ > 0) out.push({ id: `${b.device}/sell`, participant: b.device, side: 'sell', wh: sellQ, priceMicroPerKwh: minSell });
  return out;
}
