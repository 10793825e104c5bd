import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestnetMarket, CHARGE_LIMIT_W, type MarketBike } from '../../../host-tools/testnet/market';
import { loadPrices, DAY_S } from '../../../host-tools/testnet/prices';
import { DEFAULT_POLICY } from '../../../host-tools/market/policy';

const series = loadPrices();
const DAY = 20_500 * DAY_S;
const bike = (name: string, hub: string | undefined, energyWh: number, leavesInMs?: number): MarketBike => ({
  name, device: `${name}-id`, hub, leavesInMs, energyWh, capacityWh: 1200,
});

test('midday: a bike with room buys PV at feed-in, a bike far below target and leaving soon buys at retail', async () => {
  const m = new TestnetMarket(series, ['hub-1', 'hub-2'], async () => DEFAULT_POLICY);
  const noon = DAY + 12 * 3600;
  const powers = await m.clear(noon, [
    bike('relaxed', 'hub-1', 800, 3 * 3600_000),
    bike('late', 'hub-2', 300, 1800_000),
    bike('riding', undefined, 500),
  ]);
  const [h1, h2] = m.results;
  assert.is(h1.priceMicroPerKwh, h1.feedInMicroPerKwh, 'PV surplus: the price is feed-in');
  assert.is(h1.participants.find((p) => p.participant === 'relaxed-id')!.boughtWh, 45);
  assert.is(powers.relaxed, CHARGE_LIMIT_W);
  // hub-2 has less PV; the late bike's need bid sits at retail and the PV covers it first.
  const late = h2.participants.find((p) => p.participant === 'late-id')!;
  assert.is(late.netWh, 45);
  assert.is(powers.late, CHARGE_LIMIT_W);
  assert.is(powers.riding, undefined);
  assert.is(m.totals().intervals, 2);
});

test('night, no PV: a relaxed bike below target waits; at the evening peak a full bike sells', async () => {
  const m = new TestnetMarket(series, ['hub-1'], async () => DEFAULT_POLICY);
  const p = await m.clear(DAY + 2 * 3600, [bike('b', 'hub-1', 600, 10 * 3600_000)]);
  assert.is(p.b, 0);
  const q = await m.clear(DAY + 18 * 3600, [bike('b', 'hub-1', 1000, 3600_000)]);
  assert.ok(q.b < 0, `exports at the evening peak: ${q.b} W`);
  const r = m.results[1].participants.find((x) => x.participant === 'b-id')!;
  assert.is(r.toUtilityWh, 75);
});

test('a bike that leaves below what it could have reached counts as short', async () => {
  const m = new TestnetMarket(series, ['hub-1'], async () => DEFAULT_POLICY);
  await m.clear(DAY + 2 * 3600, [bike('b', 'hub-1', 600, 900_000)]);
  m.observe([bike('b', 'hub-1', 610, 600_000)]);
  m.observe([bike('b', undefined, 610)]);
  // Owed min(720, 600 + 45) = 645 Wh; left with 610 (slack 12 Wh).
  assert.is(m.totals().ridersShort, 1);
  assert.match(m.totals().shortDetail[0], /b left hub-1 with 610 Wh, below 645 Wh/);
});

test.run();
