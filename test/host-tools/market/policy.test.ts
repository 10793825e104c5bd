import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ordersFor, validatePolicy, urgencyPrice, DEFAULT_POLICY, type PluggedBike, type TariffView } from '../../../host-tools/market/policy';
import { pvEnergyWh, defaultPv } from '../../../host-tools/market/pv';

const tariff: TariffView = { retailMicroPerKwh: 300_000, feedInMicroPerKwh: 100_000, dayMaxFeedInMicroPerKwh: 200_000, dayMeanFeedInMicroPerKwh: 90_000 };
const bike = (energyWh: number, departureS: number): PluggedBike => ({ device: 'd1', energyWh, capacityWh: 1000, chargeLimitW: 200, exportLimitW: 300, departureS });

test('a bike below its target bids for what it misses, and more urgently as departure nears', () => {
  let last = -Infinity;
  for (const leaveInS of [36_000, 18_000, 9000, 5400, 3600, 1800]) {
    const [need] = ordersFor(bike(500, leaveInS), DEFAULT_POLICY, tariff, 0, 900);
    assert.is(need.id, 'd1/need');
    assert.is(need.wh, 50); // 200 W for 900 s
    assert.ok(need.priceMicroPerKwh >= last, `price fell from ${last} to ${need.priceMicroPerKwh} with less time`);
    last = need.priceMicroPerKwh;
  }
  // 100 Wh missing with 1800 s left, 900 s after this interval (50 Wh reachable then): u >= 1, the retail price.
  assert.is(last, 300_000);
  // Far from departure: feed-in + (retail − feed-in) · 2·100·3600 / (200·36000) = 0.12.
  assert.is(urgencyPrice(100, 36_000, 200, 100_000, 300_000), 120_000);
  // The last interval before departure: the maximum, whatever is missing.
  assert.is(urgencyPrice(1, 0, 200, 100_000, 300_000), 300_000);
});

test('a bike that waits in whole intervals still reaches its target: waiting leaves at least twice the need reachable', () => {
  // Walk a bike through its stay: each interval it gets its need bid filled only when that
  // bid is at the maximum (no cheap seller at all), yet it leaves at its target.
  fc.assert(fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 899 }), (missing, intervals, early) => {
    const leave = intervals * 900 - early;
    let e = 600 - missing;
    let couldGet = 0;
    for (let t = 0; t < leave; t += 900) {
      couldGet += Math.floor((200 * Math.min(900, leave - t)) / 3600);
      const need = ordersFor(bike(e, leave), DEFAULT_POLICY, tariff, t, 900).find((o) => o.id === 'd1/need');
      if (need && need.priceMicroPerKwh >= tariff.retailMicroPerKwh) e += need.wh;
    }
    assert.ok(e >= Math.min(600, 600 - missing + couldGet), `${missing} Wh missing, ${leave} s: left with ${e}, could have had ${600 - missing + couldGet}`);
  }), { numRuns: 300 });
});

test('above target: offers the surplus at 3/4 of the day\'s best feed-in, and fills up only cheaply', () => {
  const os = ordersFor(bike(800, 36_000), DEFAULT_POLICY, tariff, 0, 900);
  assert.equal(os, [
    { id: 'd1/extra', participant: 'd1', side: 'buy', wh: 50, priceMicroPerKwh: 90_000 },
    { id: 'd1/sell', participant: 'd1', side: 'sell', wh: 75, priceMicroPerKwh: 150_000 },
  ]);
  // Below the reserve nothing is offered whatever the policy's target.
  const low = ordersFor(bike(380, 36_000), { ...DEFAULT_POLICY, targetPermille: 0 }, tariff, 0, 900);
  assert.equal(low.map((o) => [o.id, o.wh]), [['d1/need', 20], ['d1/extra', 30]]);
  // A rider's own limits: sells from 0.25, never pays more than 0.15.
  const own = ordersFor(bike(500, 1800), { ...DEFAULT_POLICY, minSellMicroPerKwh: 250_000, maxBuyMicroPerKwh: 150_000 }, tariff, 0, 900);
  assert.is(own[0].priceMicroPerKwh, 150_000);
});

test('never orders more than the charger or inverter can move before the rider leaves', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: -900, max: 20_000 }), (e, leave) => {
    const os = ordersFor(bike(e, leave), DEFAULT_POLICY, tariff, 0, 900);
    const plugS = Math.max(0, Math.min(900, leave));
    const buy = os.filter((o) => o.side === 'buy').reduce((t, o) => t + o.wh, 0);
    const sell = os.filter((o) => o.side === 'sell').reduce((t, o) => t + o.wh, 0);
    assert.ok(buy <= Math.floor((200 * plugS) / 3600));
    assert.ok(sell <= Math.floor((300 * plugS) / 3600));
    assert.ok(e - sell >= 600 || sell === 0, 'sold below the target');
    const bidPrices = os.filter((o) => o.side === 'buy').map((o) => o.priceMicroPerKwh);
    for (const p of bidPrices) for (const s of os.filter((o) => o.side === 'sell')) assert.ok(p < s.priceMicroPerKwh, 'a bike bids at or above its own offer');
  }), { numRuns: 300 });
});

test('policies are checked field by field', () => {
  assert.equal(validatePolicy({ targetPermille: 700 }), { ...DEFAULT_POLICY, targetPermille: 700 });
  assert.throws(() => validatePolicy({ targetPermille: 1001 }), /policy\.targetPermille expected an integer in \[0, 1000\], got 1001/);
  assert.throws(() => validatePolicy({ departure: '25:00' }), /policy\.departure expected null or "HH:MM"/);
  assert.throws(() => validatePolicy({ minSell: 1 }), /policy\.minSell is not a policy field/);
  assert.throws(() => validatePolicy([]), /policy expected a JSON object/);
  assert.equal(validatePolicy({ maxBuyMicroPerKwh: null, departure: '07:30' }).departure, '07:30');
});

test('PV: nothing at night, clipped at the inverter at noon', () => {
  const pv = defaultPv(0);
  assert.is(pvEnergyWh(pv, 0, 900), 0);
  assert.is(pvEnergyWh(pv, 11 * 3600 + 1800, 900), Math.floor((pv.inverterW * 900) / 3600));
});

test.run();
