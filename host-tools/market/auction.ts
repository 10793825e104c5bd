// The uniform-price double auction of one hub's local grid for one interval
// (protocol/MARKET.md §3). Integer arithmetic only: energy in whole Wh, prices in integer
// micro-units of the currency per kWh, so energy × price is in nano-units (10^-9).
//
// Rule: a k-double auction with k = 1/2 over divisible orders.
// 1. Volume: V = the largest quantity that can trade, max over p of min(D(p), S(p)), where
//    D(p) is the Wh bid at a price >= p and S(p) the Wh offered at a price <= p.
// 2. Price interval: line every Wh of the bids up by price, highest first, and every Wh of
//    the offers by price, lowest first (equal prices in tie-break order). With b_V / a_V
//    the prices of the V-th Wh of each line and b_V+1 / a_V+1 those of the first Wh left
//    out (absent when the line ends), every price in
//        [lo, hi] = [max(a_V, b_V+1), min(b_V, a_V+1)]
//    trades exactly V and leaves nobody out who would trade at it at a better price than
//    the one marked (the competitive, "Walrasian" interval; it is never empty because V is
//    maximal, so b_V+1 < a_V+1).
// 3. Price: p = floor((lo + hi) / 2), k = 1/2: the surplus at the margin splits evenly
//    between buyers and sellers, which is why this rule and not a pay-as-bid one: nobody
//    gains by shading a price that is not the marginal one, and the only lever left (the
//    marginal order's price) moves the price by half as much (Satterthwaite & Williams).
// 4. Allocation: the first V Wh of each line trade at p. Only orders priced exactly p can
//    be cut short, and among equal prices the tie-break order decides: ascending
//    SHA-256(salt || "\n" || order id) (hex), then id. The salt is the interval's identity,
//    so no participant is first at every tie, and the same orders in any order clear the
//    same way.
import { createHash } from 'node:crypto';

export interface Order {
  /** Unique within the auction; its participant's id plus a suffix (MARKET.md §2). */
  id: string;
  participant: string;
  side: 'buy' | 'sell';
  /** Energy, Wh, integer 1..MAX_ORDER_WH. */
  wh: number;
  /** Limit price, micro-units per kWh: the most a buyer pays, the least a seller takes. */
  priceMicroPerKwh: number;
}

export interface Fill {
  id: string;
  participant: string;
  side: 'buy' | 'sell';
  wh: number;
}

export interface AuctionResult {
  /** Clearing price, micro-units per kWh; null when nothing trades. */
  priceMicroPerKwh: number | null;
  /** Wh traded (bought = sold). */
  volumeWh: number;
  /** The price interval every price of which clears the same volume; null when nothing trades. */
  interval: { lo: number; hi: number } | null;
  /** Matched Wh per order, orders with 0 left out, sorted by id. */
  fills: Fill[];
}

export const MAX_ORDER_WH = 1_000_000;
/** |price| bound: 1000 units per kWh, so Wh × price stays a safe integer (< 2^53) in any sum of one interval. */
export const MAX_PRICE_MICRO = 1_000_000_000;

export class OrderError extends Error {
  constructor(where: string, detail: string) {
    super(`${where}: ${detail}`);
    this.name = 'OrderError';
  }
}

export function validateOrder(o: unknown, where: string): Order {
  if (!o || typeof o !== 'object') throw new OrderError(where, 'expected an order object');
  const x = o as Record<string, unknown>;
  if (typeof x.id !== 'string' || x.id.length === 0 || x.id.length > 200) throw new OrderError(where, `.id expected a non-empty string (at most 200 characters), got ${JSON.stringify(x.id)}`);
  if (typeof x.participant !== 'string' || x.participant.length === 0) throw new OrderError(where, `.participant expected a non-empty string, got ${JSON.stringify(x.participant)}`);
  if (x.side !== 'buy' && x.side !== 'sell') throw new OrderError(where, `.side expected "buy" or "sell", got ${JSON.stringify(x.side)}`);
  if (!Number.isSafeInteger(x.wh) || (x.wh as number) < 1 || (x.wh as number) > MAX_ORDER_WH) throw new OrderError(where, `.wh expected an integer in [1, ${MAX_ORDER_WH}], got ${JSON.stringify(x.wh)}`);
  const p = x.priceMicroPerKwh;
  if (!Number.isSafeInteger(p) || Math.abs(p as number) > MAX_PRICE_MICRO) throw new OrderError(where, `.priceMicroPerKwh expected an integer in [-${MAX_PRICE_MICRO}, ${MAX_PRICE_MICRO}], got ${JSON.stringify(p)}`);
  return { id: x.id, participant: x.participant, side: x.side, wh: x.wh as number, priceMicroPerKwh: p as number };
}

/** The tie-break key of an order: equal prices trade in ascending key order. */
export function tieKey(salt: string, id: string): string {
  return createHash('sha256').update(`${salt}\n${id}`, 'utf8').digest('hex');
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Price of the `n`-th Wh (1-based) of a line of orders, or undefined past its end. */
function priceOfUnit(line: Order[], n: number): number | undefined {
  let cum = 0;
  for (const o of line) {
    cum += o.wh;
    if (cum >= n) return o.priceMicroPerKwh;
  }
  return undefined;
}

export function clearAuction(orders: readonly Order[], salt: string): AuctionResult {
  const seen = new Set<string>();
  const checked = orders.map((o, i) => {
    const v = validateOrder(o, `orders[${i}]`);
    if (seen.has(v.id)) throw new OrderError(`orders[${i}]`, `.id "${v.id}" appears twice; order ids must be unique`);
    seen.add(v.id);
    return v;
  });
  const key: Record<string, string> = {};
  for (const o of checked) key[o.id] = tieKey(salt, o.id);
  const tie = (a: Order, b: Order): number => byCodeUnits(key[a.id], key[b.id]) || byCodeUnits(a.id, b.id);
  const bids = checked.filter((o) => o.side === 'buy').sort((a, b) => b.priceMicroPerKwh - a.priceMicroPerKwh || tie(a, b));
  const asks = checked.filter((o) => o.side === 'sell').sort((a, b) => a.priceMicroPerKwh - b.priceMicroPerKwh || tie(a, b));

  // V: walk both lines together; Wh trade while the next bid's price is >= the next ask's.
  let volume = 0;
  {
    let i = 0, j = 0, leftB = bids[0]?.wh ?? 0, leftA = asks[0]?.wh ?? 0;
    while (i < bids.length && j < asks.length && bids[i].priceMicroPerKwh >= asks[j].priceMicroPerKwh) {
      const q = Math.min(leftB, leftA);
      volume += q;
      leftB -= q;
      leftA -= q;
      if (leftB === 0 && ++i < bids.length) leftB = bids[i].wh;
      if (leftA === 0 && ++j < asks.length) leftA = asks[j].wh;
    }
  }
  if (volume === 0) return { priceMicroPerKwh: null, volumeWh: 0, interval: null, fills: [] };

  const bV = priceOfUnit(bids, volume)!;
  const aV = priceOfUnit(asks, volume)!;
  const bNext = priceOfUnit(bids, volume + 1);
  const aNext = priceOfUnit(asks, volume + 1);
  const lo = bNext === undefined ? aV : Math.max(aV, bNext);
  const hi = aNext === undefined ? bV : Math.min(bV, aNext);
  const price = Math.floor((lo + hi) / 2);

  const fills: Fill[] = [];
  for (const line of [bids, asks]) {
    let left = volume;
    for (const o of line) {
      if (left === 0) break;
      const q = Math.min(o.wh, left);
      left -= q;
      fills.push({ id: o.id, participant: o.participant, side: o.side, wh: q });
    }
  }
  fills.sort((a, b) => byCodeUnits(a.id, b.id));
  return { priceMicroPerKwh: price, volumeWh: volume, interval: { lo, hi }, fills };
}
