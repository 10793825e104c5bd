// protocol/MARKET.md §6: recorded orders cleared again give the published results byte for byte.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearHubInterval, canonicalJson, type HubIntervalInput } from '../../../host-tools/market/index';

const vectors = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../vectors');
const read = (f: string) => readFileSync(path.join(vectors, f), 'utf8');

for (const name of ['market-day', 'market-edge']) {
  test(`${name}: every interval cleared again gives ${name}-results.json byte for byte`, () => {
    const day = JSON.parse(read(`${name}.json`)) as { intervalS: number; inputs: HubIntervalInput[] };
    const published = read(`${name}-results.json`);
    const again = canonicalJson(day.inputs.map(clearHubInterval)) + '\n';
    if (again !== published) {
      const a = JSON.parse(again) as unknown[], b = JSON.parse(published) as unknown[];
      const k = a.findIndex((x, i) => canonicalJson(x) !== canonicalJson(b[i]));
      assert.equal(a[k], b[k], `first difference at interval ${k}`);
    }
    assert.is(createHash('sha256').update(again).digest('hex'), createHash('sha256').update(published).digest('hex'));
  });
}

test('the recorded day has a midday PV surplus bought by bikes at feed-in and bikes selling in the evening', () => {
  const results = JSON.parse(read('market-day-results.json')) as { startS: number; priceMicroPerKwh: number | null; feedInMicroPerKwh: number; participants: { participant: string; netWh: number; boughtWh: number }[] }[];
  const hour = (s: number) => Math.floor((s % 86400) / 3600);
  const middayLocal = results.filter((r) => hour(r.startS) >= 10 && hour(r.startS) < 15)
    .flatMap((r) => r.participants.filter((p) => !p.participant.includes('/') && p.boughtWh > 0).map(() => r.priceMicroPerKwh === r.feedInMicroPerKwh));
  assert.ok(middayLocal.length > 0 && middayLocal.every(Boolean), 'bikes buy PV at midday at the feed-in price');
  const eveningSold = results.filter((r) => hour(r.startS) >= 15 && hour(r.startS) < 21)
    .reduce((t, r) => t + r.participants.filter((p) => !p.participant.includes('/') && p.netWh < 0).reduce((a, p) => a - p.netWh, 0), 0);
  assert.ok(eveningSold > 100, `bikes sold ${eveningSold} Wh in the evening`);
});

test('a changed order changes the bytes (the comparison can fail)', () => {
  const day = JSON.parse(read('market-edge.json')) as { inputs: HubIntervalInput[] };
  const published = read('market-edge-results.json');
  day.inputs[3].orders[2].wh += 1; // one more PV Wh: 16 traded
  assert.is.not(canonicalJson(day.inputs.map(clearHubInterval)) + '\n', published);
});

test.run();
