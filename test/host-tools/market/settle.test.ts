import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { apportion, settleMarket, type MeasuredWindow } from '../../../host-tools/market/settle';
import { clearHubInterval, type IntervalResult } from '../../../host-tools/market/hub';

const tariff = () => ({ retailMicroPerKwh: 300_000, feedInMicroPerKwh: 100_000 });

test('apportion: a window straddling a boundary is split by time, exactly', () => {
  const w: MeasuredWindow = { device: 'd', startS: 870, endS: 930, gridToPackMwh: 1001, packToGridMwh: 7 };
  const a = apportion([w], 900);
  assert.equal(a.d, { 0: { inMwh: 500, outMwh: 3 }, 900: { inMwh: 501, outMwh: 4 } });
  fc.assert(fc.property(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 0, max: 10 ** 7 }), (s, len, e) => {
    const out = apportion([{ device: 'x', startS: s, endS: s + len, gridToPackMwh: e, packToGridMwh: 0 }], 900).x;
    assert.is(Object.values(out).reduce((t, v) => t + v.inMwh, 0), e);
  }));
});

function result(startS: number, participant: string, netWh: number, amountNano: number): IntervalResult {
  return {
    hub: 'h', startS, durationS: 900, retailMicroPerKwh: 300_000, feedInMicroPerKwh: 100_000, priceMicroPerKwh: 100_000, tradedWh: 0,
    utility: { soldWh: 0, boughtWh: 0, amountNano: 0 },
    participants: [{ participant, boughtWh: Math.max(0, netWh), soldWh: Math.max(0, -netWh), fromUtilityWh: 0, toUtilityWh: 0, netWh, amountNano }],
  };
}

test('matched energy at the cleared price, the excess at retail, a shortfall costs nothing', () => {
  // 40 Wh matched at 0.10; 45 Wh measured: 40 at 0.10 + 5 at 0.30 (imbalance).
  const [s] = settleMarket([result(0, 'd', 40, -40 * 100_000)], { d: { 0: { inMwh: 45_000, outMwh: 0 } } }, tariff);
  assert.is(s.marketPico, -(40_000n * 100_000n + 5_000n * 300_000n));
  assert.is(s.imbalancePico, -5_000n * 300_000n);
  assert.equal([s.matchedMwh, s.measuredMwh, s.atMarketMwh, s.imbalanceMwh], [40_000, 45_000, 40_000, 5_000]);
  assert.is(s.baselinePico, -45_000n * 300_000n);
  // 30 Wh measured of 40 matched: 30 at 0.10, nothing for the 10 that did not flow.
  const [short] = settleMarket([result(0, 'd', 40, -40 * 100_000)], { d: { 0: { inMwh: 30_000, outMwh: 0 } } }, tariff);
  assert.is(short.marketPico, -30_000n * 100_000n);
  assert.is(short.imbalanceMwh, 10_000);
  // A seller that exported more than matched: the excess at feed-in.
  const [sell] = settleMarket([result(0, 'd', -20, 20 * 200_000)], { d: { 0: { inMwh: 0, outMwh: 25_000 } } }, tariff);
  assert.is(sell.marketPico, 20_000n * 200_000n + 5_000n * 100_000n);
  // Measured with no result at all: the net energy of the interval at the utility's price
  // (1 Wh net export at feed-in); the baseline prices both directions apart.
  const [none] = settleMarket([], { d: { 900: { inMwh: 1000, outMwh: 2000 } } }, tariff);
  assert.is(none.marketPico, 1000n * 100_000n);
  assert.is(none.baselinePico, 2000n * 100_000n - 1000n * 300_000n);
});

test('for any cleared interval and any measured energy the market is never below the utility-only baseline', () => {
  const orderArb = fc.record({ side: fc.constantFrom('buy' as const, 'sell' as const), wh: fc.integer({ min: 1, max: 60 }), price: fc.integer({ min: 0, max: 40 }) });
  fc.assert(fc.property(fc.array(orderArb, { minLength: 1, maxLength: 8 }), fc.array(fc.record({ inMwh: fc.integer({ min: 0, max: 80_000 }), outMwh: fc.integer({ min: 0, max: 80_000 }) }), { minLength: 8, maxLength: 8 }), (os, measured) => {
    const r = clearHubInterval({
      hub: 'h', startS: 0, durationS: 900, retailMicroPerKwh: 300_000, feedInMicroPerKwh: 100_000,
      orders: os.map((o, i) => ({ id: `p${i}/o`, participant: `p${i}`, side: o.side, wh: o.wh, priceMicroPerKwh: o.price * 10_000 })),
    });
    const m = Object.fromEntries(os.map((_, i) => [`p${i}`, { 0: measured[i] }]));
    for (const s of settleMarket([r], m, tariff)) assert.ok(s.marketPico >= s.baselinePico, `${s.device}: ${s.marketPico} < ${s.baselinePico}`);
  }), { numRuns: 300 });
});

test.run();
