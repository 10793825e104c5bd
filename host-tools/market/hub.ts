// One hub's local grid for one interval (protocol/MARKET.md §3-4): the bikes' and the hub's
// own orders meet in the double auction (auction.ts) inside the utility's band, and the
// residual is balanced against the utility:
// - the utility sells any quantity at the retail price and buys any quantity at the
//   feed-in price (the hub's tariffs, from the price file), so nobody needs to pay more
//   than retail or to take less than feed-in: a bid above retail enters the auction at
//   retail, an offer below feed-in at feed-in. The clearing price therefore always lies in
//   [feed-in, retail], which is what makes the market at least as good as the utility for
//   every participant;
// - what a bid at (clipped to) retail did not get locally it buys from the utility at
//   retail, what an offer at (clipped to) feed-in did not sell locally it sells to the
//   utility at feed-in. Other unmatched orders stay unmatched.
// Money is in nano-units (Wh × micro-units/kWh = 10^-9 units), exact integers.
import { clearAuction, validateOrder, OrderError, MAX_PRICE_MICRO, type Order } from './auction';

export interface HubIntervalInput {
  hub: string;
  /** Interval start, epoch seconds (UTC); the interval is [startS, startS + durationS). */
  startS: number;
  durationS: number;
  /** The utility's prices for this interval, micro-units per kWh. */
  retailMicroPerKwh: number;
  feedInMicroPerKwh: number;
  orders: Order[];
}

export interface ParticipantResult {
  participant: string;
  /** Wh bought from / sold to other participants at the clearing price. */
  boughtWh: number;
  soldWh: number;
  /** Wh bought from the utility at retail / sold to it at feed-in. */
  fromUtilityWh: number;
  toUtilityWh: number;
  /** Energy into the participant, Wh: bought + fromUtility − sold − toUtility. */
  netWh: number;
  /** What the participant receives (negative: pays) for its matched energy, nano-units. */
  amountNano: number;
}

export interface IntervalResult {
  hub: string;
  startS: number;
  durationS: number;
  retailMicroPerKwh: number;
  feedInMicroPerKwh: number;
  /** Local clearing price, micro-units per kWh; null when nothing traded locally. */
  priceMicroPerKwh: number | null;
  /** Wh traded between participants. */
  tradedWh: number;
  /** The utility's side: Wh it sold and bought, and what it receives (nano-units). */
  utility: { soldWh: number; boughtWh: number; amountNano: number };
  /** Every participant with an order, sorted by id. */
  participants: ParticipantResult[];
}

/** Σ Wh of one interval's orders: keeps every money sum below 2^53 nano-units with |price| <= MAX_PRICE_MICRO. */
export const MAX_INTERVAL_WH = 4_000_000;

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The auction's salt: the interval's identity, so ties rotate between intervals and hubs. */
export function intervalSalt(hub: string, startS: number): string {
  return `${hub}@${startS}`;
}

export function clearHubInterval(input: HubIntervalInput): IntervalResult {
  const { hub, startS, durationS, retailMicroPerKwh: retail, feedInMicroPerKwh: feedIn } = input;
  if (typeof hub !== 'string' || hub.length === 0) throw new OrderError('hub', `expected a non-empty string, got ${JSON.stringify(hub)}`);
  const where = `${hub}@${startS}`;
  if (!Number.isSafeInteger(startS) || startS < 0) throw new OrderError(where, `startS expected an integer >= 0, got ${JSON.stringify(startS)}`);
  if (!Number.isSafeInteger(durationS) || durationS < 1) throw new OrderError(where, `durationS expected an integer >= 1, got ${JSON.stringify(durationS)}`);
  for (const [name, v] of [['retailMicroPerKwh', retail], ['feedInMicroPerKwh', feedIn]] as const) {
    if (!Number.isSafeInteger(v) || Math.abs(v) > MAX_PRICE_MICRO) throw new OrderError(where, `${name} expected an integer in [-${MAX_PRICE_MICRO}, ${MAX_PRICE_MICRO}], got ${JSON.stringify(v)}`);
  }
  if (feedIn > retail) throw new OrderError(where, `feed-in price ${feedIn} is above the retail price ${retail}: the utility would trade with itself`);
  if (!Array.isArray(input.orders)) throw new OrderError(where, 'orders expected an array');
  const orders = input.orders.map((o, i) => validateOrder(o, `${where} orders[${i}]`));
  const totalWh = orders.reduce((t, o) => t + o.wh, 0);
  if (totalWh > MAX_INTERVAL_WH) throw new OrderError(where, `orders hold ${totalWh} Wh, more than the ${MAX_INTERVAL_WH} Wh one interval may hold (money sums must stay exact)`);

  const clipped = orders.map((o): Order => ({
    ...o,
    priceMicroPerKwh: o.side === 'buy' ? Math.min(o.priceMicroPerKwh, retail) : Math.max(o.priceMicroPerKwh, feedIn),
  }));
  const auction = clearAuction(clipped, intervalSalt(hub, startS));
  const price = auction.priceMicroPerKwh;
  const filled: Record<string, number> = {};
  for (const f of auction.fills) filled[f.id] = f.wh;

  const byParticipant: Record<string, ParticipantResult> = {};
  const utility = { soldWh: 0, boughtWh: 0, amountNano: 0 };
  for (const o of clipped) {
    const r = (byParticipant[o.participant] ??= { participant: o.participant, boughtWh: 0, soldWh: 0, fromUtilityWh: 0, toUtilityWh: 0, netWh: 0, amountNano: 0 });
    const local = filled[o.id] ?? 0;
    const rest = o.wh - local;
    if (o.side === 'buy') {
      r.boughtWh += local;
      r.amountNano -= local * (price ?? 0);
      if (rest > 0 && o.priceMicroPerKwh === retail) {
        r.fromUtilityWh += rest;
        r.amountNano -= rest * retail;
        utility.soldWh += rest;
        utility.amountNano += rest * retail;
      }
    } else {
      r.soldWh += local;
      r.amountNano += local * (price ?? 0);
      if (rest > 0 && o.priceMicroPerKwh === feedIn) {
        r.toUtilityWh += rest;
        r.amountNano += rest * feedIn;
        utility.boughtWh += rest;
        utility.amountNano -= rest * feedIn;
      }
    }
  }
  const participants = Object.values(byParticipant).sort((a, b) => cmp(a.participant, b.participant));
  for (const r of participants) r.netWh = r.boughtWh + r.fromUtilityWh - r.soldWh - r.toUtilityWh;
  return {
    hub, startS, durationS, retailMicroPerKwh: retail, feedInMicroPerKwh: feedIn,
    priceMicroPerKwh: price, tradedWh: auction.volumeWh, utility, participants,
  };
}

/**
 * Canonical JSON (MARKET.md §6): object keys sorted by UTF-16 code units, no whitespace,
 * integers only (no floats, so every implementation prints the same digits).
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new TypeError(`canonical JSON holds safe integers only, got ${v}`);
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort(cmp);
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot hold a ${typeof v}`);
}
