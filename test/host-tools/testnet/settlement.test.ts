import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { parsePrices, DAY_S } from '../../../host-tools/testnet/prices';
import { settle, divRoundHalfEven, valueFlowPico, type GridFlowRecord } from '../../../host-tools/testnet/settlement';

const series = parsePrices('start,import,export\n00:00,0.20,0.05\n12:00,0.40,0.30\n');
const D = 20500 * DAY_S;

function rec(device: string, seq: number, startS: number, g2p: number, p2g: number, synced = true, len = 60): GridFlowRecord {
  return { device, seq, startS, endS: startS + len, synced, gridToPackMwh: g2p, packToGridMwh: p2g };
}

test('divRoundHalfEven rounds to nearest, ties to even, both signs', () => {
  assert.is(divRoundHalfEven(5n, 2n), 2n);
  assert.is(divRoundHalfEven(7n, 2n), 4n);
  assert.is(divRoundHalfEven(-5n, 2n), -2n);
  assert.is(divRoundHalfEven(-7n, 2n), -4n);
  assert.is(divRoundHalfEven(10n, 3n), 3n);
  assert.is(divRoundHalfEven(11n, 3n), 4n);
  assert.throws(() => divRoundHalfEven(1n, 0n), /"d" expected > 0/);
});

test('1 kWh bought at 0.20 costs 0.200000; sold at 0.30 pays 0.300000', () => {
  const [b] = settle(series, [rec('bike1', 0, D + 3600, 1_000_000, 0), rec('bike1', 1, D + 13 * 3600, 0, 1_000_000)]);
  assert.is(b.costPico, 200_000n * 1_000_000n);
  assert.is(b.revenuePico, 300_000n * 1_000_000n);
  assert.is(b.balanceMicro, 100_000n);
  assert.is(b.importMwh, 1_000_000);
  assert.is(b.exportMwh, 1_000_000);
});

test('a window straddling a price change is valued at its time-weighted price', () => {
  // 60 s window, 20 s at 0.20 and 40 s at 0.40: 1000 mWh -> 1000 * (0.2*20 + 0.4*40)/60 µ... in pico.
  const v = valueFlowPico(series, 1000, D + 12 * 3600 - 20, D + 12 * 3600 + 40, 'import')!;
  assert.is(v, divRoundHalfEven(1000n * (200000n * 20n + 400000n * 40n), 60n));
  assert.is(v, 333_333_333n); // 1 Wh at 0.3333.. /kWh = 0.000333333 units
});

test('unsynced reports are never priced, only counted', () => {
  const [b] = settle(series, [rec('b', 0, 100, 5000, 7000, false), rec('b', 1, D, 1000, 0)]);
  assert.is(b.unpricedImportMwh, 5000);
  assert.is(b.unpricedExportMwh, 7000);
  assert.is(b.importMwh, 1000);
  assert.is(b.reports, 2);
  const abs = parsePrices('start,import\n2026-11-25T00:00Z,0.1\n2026-11-25T01:00Z,0.1\n');
  const [c] = settle(abs, [rec('c', 0, Date.UTC(2026, 10, 24) / 1000, 10, 0)]);
  assert.is(c.unpricedImportMwh, 10);
  assert.is(c.costPico, 0n);
});

test('balances are per device, sorted, and independent of report order', () => {
  const recs = fc.sample(fc.record({
    device: fc.constantFrom('a', 'b', 'c'),
    startS: fc.integer({ min: D, max: D + 2 * DAY_S }),
    g: fc.integer({ min: 0, max: 200_000 }),
    p: fc.integer({ min: 0, max: 200_000 }),
    synced: fc.boolean(),
  }), { numRuns: 300, seed: 7 }).map((r, i) => rec(r.device, i, r.startS, r.g, r.p, r.synced));
  const one = settle(series, recs);
  const two = settle(series, [...recs].reverse());
  assert.equal(one, two);
  assert.equal(one.map((b) => b.device), ['a', 'b', 'c']);
  // Conservation: priced + unpriced energy equals the input energy.
  for (const b of one) {
    const mine = recs.filter((r) => r.device === b.device);
    assert.is(b.importMwh + b.unpricedImportMwh, mine.reduce((s, r) => s + r.gridToPackMwh, 0));
    assert.is(b.exportMwh + b.unpricedExportMwh, mine.reduce((s, r) => s + r.packToGridMwh, 0));
    assert.is(b.balanceMicro, divRoundHalfEven(b.revenuePico - b.costPico, 1_000_000n));
  }
});

test('rejects negative or fractional energy', () => {
  assert.throws(() => valueFlowPico(series, -1, D, D + 60, 'import'), /"mwh" expected a safe integer >= 0, got -1/);
  assert.throws(() => valueFlowPico(series, 1.5, D, D + 60, 'import'), /got 1.5/);
});

test.run();
