import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { clearAuction, type Order } from '../../../host-tools/market/auction';
import { clearHubInterval, canonicalJson } from '../../../host-tools/market/hub';

// Few participants and a narrow price range, so ties and partial fills are common.
const orderArb = fc.record({
  participant: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
  side: fc.constantFrom('buy' as const, 'sell' as const),
  wh: fc.integer({ min: 1, max: 60 }),
  priceMicroPerKwh: fc.integer({ min: -20, max: 40 }).map((p) => p * 10_000),
});
const ordersArb = fc.array(orderArb, { maxLength: 14 }).map((os) => os.map((o, i): Order => ({ ...o, id: `${o.participant}/${i}` })));

function demand(orders: Order[], p: number): number {
  return orders.filter((o) => o.side === 'buy' && o.priceMicroPerKwh >= p).reduce((t, o) => t + o.wh, 0);
}
function supply(orders: Order[], p: number): number {
  return orders.filter((o) => o.side === 'sell' && o.priceMicroPerKwh <= p).reduce((t, o) => t + o.wh, 0);
}

test('budget balance: Wh bought = Wh sold = volume, so money paid = money received at one price', () => {
  fc.assert(fc.property(ordersArb, (orders) => {
    const r = clearAuction(orders, 'salt');
    const bought = r.fills.filter((f) => f.side === 'buy').reduce((t, f) => t + f.wh, 0);
    const sold = r.fills.filter((f) => f.side === 'sell').reduce((t, f) => t + f.wh, 0);
    assert.is(bought, r.volumeWh);
    assert.is(sold, r.volumeWh);
    assert.is(r.priceMicroPerKwh === null, r.volumeWh === 0);
  }), { numRuns: 500 });
});

test('no order trades against its limit, none beyond its size (individual rationality)', () => {
  fc.assert(fc.property(ordersArb, (orders) => {
    const r = clearAuction(orders, 'salt');
    const byId = Object.fromEntries(orders.map((o) => [o.id, o]));
    for (const f of r.fills) {
      const o = byId[f.id];
      assert.ok(f.wh >= 1 && f.wh <= o.wh, `${f.id} filled ${f.wh} of ${o.wh}`);
      if (o.side === 'buy') assert.ok(o.priceMicroPerKwh >= r.priceMicroPerKwh!, `buyer ${f.id} at ${o.priceMicroPerKwh} pays ${r.priceMicroPerKwh}`);
      else assert.ok(o.priceMicroPerKwh <= r.priceMicroPerKwh!, `seller ${f.id} at ${o.priceMicroPerKwh} gets ${r.priceMicroPerKwh}`);
    }
  }), { numRuns: 500 });
});

test('maximal matched volume, reached at the clearing price; orders better than the price are filled in full', () => {
  fc.assert(fc.property(ordersArb, (orders) => {
    const r = clearAuction(orders, 'salt');
    let best = 0;
    for (const o of orders) best = Math.max(best, Math.min(demand(orders, o.priceMicroPerKwh), supply(orders, o.priceMicroPerKwh)));
    assert.is(r.volumeWh, best);
    if (r.priceMicroPerKwh === null) return;
    const p = r.priceMicroPerKwh;
    assert.is(Math.min(demand(orders, p), supply(orders, p)), r.volumeWh);
    assert.ok(r.interval!.lo <= p && p <= r.interval!.hi);
    const filled = Object.fromEntries(r.fills.map((f) => [f.id, f.wh]));
    for (const o of orders) {
      const better = o.side === 'buy' ? o.priceMicroPerKwh > p : o.priceMicroPerKwh < p;
      if (better) assert.is(filled[o.id], o.wh, `${o.id} (${o.side} at ${o.priceMicroPerKwh}) is better than ${p} but not filled in full`);
    }
  }), { numRuns: 500 });
});

test('determinism: the same orders in any order clear to the same bytes', () => {
  fc.assert(fc.property(ordersArb.chain((os) => fc.tuple(fc.constant(os), fc.shuffledSubarray(os, { minLength: os.length, maxLength: os.length }))), ([a, b]) => {
    assert.is(canonicalJson(clearAuction(b, 's')), canonicalJson(clearAuction(a, 's')));
  }), { numRuns: 300 });
});

test('the k = 1/2 price sits in the middle of the competitive interval', () => {
  const r = clearAuction([
    { id: 'b1', participant: 'b', side: 'buy', wh: 10, priceMicroPerKwh: 300_000 },
    { id: 'b2', participant: 'c', side: 'buy', wh: 10, priceMicroPerKwh: 150_000 },
    { id: 's1', participant: 's', side: 'sell', wh: 10, priceMicroPerKwh: 100_000 },
  ], 'x');
  // b2 at 0.15 is the first Wh left out: the interval is [0.15, 0.30], the price 0.225.
  assert.equal(r.interval, { lo: 150_000, hi: 300_000 });
  assert.is(r.priceMicroPerKwh, 225_000);
  assert.equal(r.fills.map((f) => [f.id, f.wh]), [['b1', 10], ['s1', 10]]);
});

test('a surplus at the same price sets the price to the sellers\' price', () => {
  const r = clearAuction([
    { id: 'bike/extra', participant: 'bike', side: 'buy', wh: 40, priceMicroPerKwh: 100_000 },
    { id: 'hub/pv', participant: 'hub/pv', side: 'sell', wh: 500, priceMicroPerKwh: 42_000 },
  ], 'x');
  assert.is(r.priceMicroPerKwh, 42_000);
  assert.is(r.volumeWh, 40);
});

test('equal prices are rationed in tie-break order, which depends on the salt, not on the input order', () => {
  const orders: Order[] = [
    { id: 'x/need', participant: 'x', side: 'buy', wh: 10, priceMicroPerKwh: 200_000 },
    { id: 'y/need', participant: 'y', side: 'buy', wh: 10, priceMicroPerKwh: 200_000 },
    { id: 'pv', participant: 'pv', side: 'sell', wh: 10, priceMicroPerKwh: 50_000 },
  ];
  const winners = new Set<string>();
  for (let k = 0; k < 12; k++) {
    const r = clearAuction(orders, `salt${k}`);
    const buys = r.fills.filter((f) => f.side === 'buy');
    assert.is(buys.length, 1);
    assert.equal(clearAuction([...orders].reverse(), `salt${k}`), r);
    winners.add(buys[0].participant);
  }
  assert.equal([...winners].sort(), ['x', 'y']);
});

test('bad orders are refused with the index and the field', () => {
  assert.throws(() => clearAuction([{ id: 'a', participant: 'a', side: 'buy', wh: 0, priceMicroPerKwh: 1 }], 's'), /orders\[0\]: \.wh expected an integer in \[1, 1000000\], got 0/);
  assert.throws(() => clearAuction([{ id: 'a', participant: 'a', side: 'buy', wh: 1, priceMicroPerKwh: 1.5 }], 's'), /orders\[0\]: \.priceMicroPerKwh/);
  assert.throws(() => clearAuction([
    { id: 'a', participant: 'a', side: 'buy', wh: 1, priceMicroPerKwh: 1 },
    { id: 'a', participant: 'b', side: 'sell', wh: 1, priceMicroPerKwh: 1 },
  ], 's'), /orders\[1\]: \.id "a" appears twice/);
  assert.throws(() => clearAuction([{ id: 'a', participant: 'a', side: 'hold', wh: 1, priceMicroPerKwh: 1 } as unknown as Order], 's'), /\.side expected "buy" or "sell"/);
});

// The hub: the same properties with the utility as the residual counterparty.
const hubArb = fc.record({
  feedIn: fc.integer({ min: 0, max: 20 }).map((p) => p * 10_000),
  spread: fc.integer({ min: 0, max: 20 }).map((p) => p * 10_000),
  orders: ordersArb,
});

test('hub: budget balance with the utility, prices within [feed-in, retail], nobody worse than its limit', () => {
  fc.assert(fc.property(hubArb, ({ feedIn, spread, orders }) => {
    const retail = feedIn + spread;
    const r = clearHubInterval({ hub: 'h', startS: 900, durationS: 900, retailMicroPerKwh: retail, feedInMicroPerKwh: feedIn, orders });
    assert.is(r.participants.reduce((t, p) => t + p.amountNano, 0) + r.utility.amountNano, 0);
    assert.is(r.participants.reduce((t, p) => t + p.netWh, 0), r.utility.soldWh - r.utility.boughtWh);
    if (r.priceMicroPerKwh !== null) assert.ok(feedIn <= r.priceMicroPerKwh && r.priceMicroPerKwh <= retail);
    for (const p of r.participants) {
      const mine = orders.filter((o) => o.participant === p.participant);
      // Each Wh bought cost at most its order's limit, each Wh sold paid at least its limit.
      let floorNano = 0;
      const bestBuy = Math.max(-Infinity, ...mine.filter((o) => o.side === 'buy').map((o) => o.priceMicroPerKwh));
      const worstSell = Math.min(Infinity, ...mine.filter((o) => o.side === 'sell').map((o) => o.priceMicroPerKwh));
      if (p.boughtWh + p.fromUtilityWh > 0) floorNano -= (p.boughtWh + p.fromUtilityWh) * bestBuy;
      if (p.soldWh + p.toUtilityWh > 0) floorNano += (p.soldWh + p.toUtilityWh) * worstSell;
      assert.ok(p.amountNano >= floorNano, `${p.participant}: ${p.amountNano} < ${floorNano}`);
      // The market is never worse than the utility alone for the same energy.
      const utilityOnly = (p.soldWh + p.toUtilityWh) * feedIn - (p.boughtWh + p.fromUtilityWh) * retail;
      assert.ok(p.amountNano >= utilityOnly, `${p.participant}: ${p.amountNano} < utility-only ${utilityOnly}`);
    }
  }), { numRuns: 500 });
});

test('hub: determinism under reordering of the same orders', () => {
  fc.assert(fc.property(hubArb.chain((h) => fc.tuple(fc.constant(h), fc.shuffledSubarray(h.orders, { minLength: h.orders.length, maxLength: h.orders.length }))), ([h, shuffled]) => {
    const input = { hub: 'h', startS: 0, durationS: 900, retailMicroPerKwh: h.feedIn + h.spread, feedInMicroPerKwh: h.feedIn };
    assert.is(canonicalJson(clearHubInterval({ ...input, orders: shuffled })), canonicalJson(clearHubInterval({ ...input, orders: h.orders })));
  }), { numRuns: 300 });
});

test('hub: a bid above retail is served by the utility at retail, an offer below feed-in sells at feed-in', () => {
  const r = clearHubInterval({
    hub: 'h', startS: 0, durationS: 900, retailMicroPerKwh: 300_000, feedInMicroPerKwh: 100_000,
    orders: [
      { id: 'a/need', participant: 'a', side: 'buy', wh: 50, priceMicroPerKwh: 900_000 },
      { id: 'b/sell', participant: 'b', side: 'sell', wh: 20, priceMicroPerKwh: 0 },
      { id: 'c/sell', participant: 'c', side: 'sell', wh: 10, priceMicroPerKwh: 250_000 },
    ],
  });
  const short = clearHubInterval({
    hub: 'h', startS: 0, durationS: 900, retailMicroPerKwh: 300_000, feedInMicroPerKwh: 100_000,
    orders: [
      { id: 'a/need', participant: 'a', side: 'buy', wh: 10, priceMicroPerKwh: 280_000 },
      { id: 'c/sell', participant: 'c', side: 'sell', wh: 30, priceMicroPerKwh: 0 },
    ],
  });
  // Supply left over at feed-in (c's 11th Wh is the first left out): the price is feed-in,
  // and c sells the rest to the utility at the same price.
  assert.is(short.priceMicroPerKwh, 100_000);
  assert.equal(short.participants.map((p) => [p.participant, p.netWh, p.amountNano]), [['a', 10, -10 * 100_000], ['c', -30, 30 * 100_000]]);
  // b and c both sell to a: 30 Wh. a still wants more at retail (its 31st Wh is the first
  // left out, at 0.30), so the competitive price is retail: local sellers get what the
  // utility would have charged, and the rest of a's bid goes to the utility.
  assert.is(r.tradedWh, 30);
  assert.is(r.priceMicroPerKwh, 300_000);
  const a = r.participants.find((p) => p.participant === 'a')!;
  assert.equal([a.boughtWh, a.fromUtilityWh, a.netWh], [30, 20, 50]);
  assert.is(a.amountNano, -50 * 300_000);
  assert.is(r.participants.find((p) => p.participant === 'b')!.amountNano, 20 * 300_000);
  assert.equal(r.utility, { soldWh: 20, boughtWh: 0, amountNano: 20 * 300_000 });
  assert.throws(() => clearHubInterval({ hub: 'h', startS: 0, durationS: 900, retailMicroPerKwh: 1, feedInMicroPerKwh: 2, orders: [] }), /h@0: feed-in price 2 is above the retail price 1/);
});

test('canonical JSON sorts keys and refuses non-integers', () => {
  assert.is(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 0, y: -3 } }), '{"a":[true,null,"x"],"b":1,"c":{"y":-3,"z":0}}');
  assert.throws(() => canonicalJson({ a: 0.5 }), /safe integers only/);
});

test.run();
