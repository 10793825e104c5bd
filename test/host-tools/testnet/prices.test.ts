import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  parsePrices, loadPrices, parseMicro, formatMicro, priceAt, priceSeconds, PriceFileError, DAY_S,
} from '../../../host-tools/testnet/prices';

function fails(text: string, line: number, column: number, re: RegExp) {
  try {
    parsePrices(text, 'p.csv');
  } catch (e) {
    assert.instance(e, PriceFileError);
    const err = e as PriceFileError;
    assert.is(err.line, line, `line of: ${err.message}`);
    assert.is(err.column, column, `column of: ${err.message}`);
    assert.match(err.message, re);
    assert.ok(err.message.startsWith(`p.csv:${line}:${column}: `), err.message);
    return;
  }
  assert.unreachable(`accepted: ${JSON.stringify(text)}`);
}

test('the bundled sample is a full daily profile in EUR', () => {
  const s = loadPrices();
  assert.is(s.kind, 'daily');
  assert.is(s.currency, 'EUR');
  assert.is(s.intervals.length, 24);
  assert.is(s.intervals[0].startS, 0);
  assert.is(s.intervals[23].endS, DAY_S);
  for (let i = 1; i < 24; i++) assert.is(s.intervals[i].startS, s.intervals[i - 1].endS);
  assert.is(s.intervals[18].importMicroPerKwh, 362000);
  assert.is(s.intervals[18].exportMicroPerKwh, 208000);
});

test('decimal prices parse to exact micro-units without floats', () => {
  assert.is(parseMicro('0.2150'), 215000);
  assert.is(parseMicro('-0.000001'), -1);
  assert.is(parseMicro('+12'), 12000000);
  assert.is(parseMicro('999999.999999'), 999999999999);
  // 0.1 + 0.2 style traps: the text is taken digit by digit.
  assert.is(parseMicro('0.3'), 300000);
  for (const bad of ['', '.5', '1.', '1.2345678', '1e3', '0x10', '1,5', '1234567', ' 1']) assert.is(parseMicro(bad), undefined, bad);
  assert.is(formatMicro(-1500), '-0.001500');
  assert.is(formatMicro(215000n), '0.215000');
  fc.assert(fc.property(fc.integer({ min: -999999999999, max: 999999999999 }), (m) => parseMicro(formatMicro(m)) === m), { numRuns: 300 });
});

test('header, export column optional, comments and CRLF', () => {
  const s = parsePrices('# currency: CHF\r\nstart,import\r\n00:00,0.30\r\n\r\n12:00:30,0.10\r\n', 'x');
  assert.is(s.currency, 'CHF');
  assert.equal(s.intervals, [
    { startS: 0, endS: 43230, importMicroPerKwh: 300000, exportMicroPerKwh: 300000 },
    { startS: 43230, endS: DAY_S, importMicroPerKwh: 100000, exportMicroPerKwh: 100000 },
  ]);
});

test('absolute series: last row lasts as long as the one before', () => {
  const s = parsePrices('start,import,export\n2026-11-25T00:00Z,0.2,0.1\n2026-11-25T00:15:00Z,0.3,0.15\n');
  const t0 = Date.UTC(2026, 10, 25) / 1000;
  assert.is(s.kind, 'absolute');
  assert.equal(s.intervals.map((i) => [i.startS - t0, i.endS - t0]), [[0, 900], [900, 1800]]);
  assert.is(priceAt(s, t0 - 1), undefined);
  assert.is(priceAt(s, t0 + 1799)!.exportMicroPerKwh, 150000);
  assert.is(priceAt(s, t0 + 1800), undefined);
  assert.is(priceSeconds(s, t0 + 1790, t0 + 1810), undefined);
});

test('errors name the line and column of the culprit', () => {
  fails('start,import,export\n00:00,0.2,abc\n', 2, 11, /export price must be a decimal/);
  fails('start,price\n00:00,0.2\n', 1, 7, /header column 2 must be "import", got "price"/);
  fails('# hi\n\nstart,import\n00:00,0.2\n01:00,0.2,0.1\n', 5, 11, /expected 2 fields/);
  fails('start,import,export\n00:00,0.2\n', 2, 10, /expected 3 fields/);
  fails('start,import\n01:00,0.2\n', 2, 1, /daily profile must start at 00:00/);
  fails('start,import\n00:00,0.2\n02:00,0.2\n01:00,0.2\n', 4, 1, /later than the previous row's \(line 3\)/);
  fails('start,import\n00:00,0.2\n24:00,0.2\n', 3, 1, /out of range/);
  fails('start,import\n00:00,0.2\n2026-11-25T01:00Z,0.2\n', 3, 1, /mixes a UTC instant into a daily series/);
  fails('start,import\n2026-02-30T00:00Z,0.2\n2026-03-01T00:00Z,0.2\n', 2, 1, /no such UTC instant/);
  fails('start,import\n2026-02-01T00:00Z,0.2\n', 2, 1, /at least two rows/);
  fails('start,import\n  noon ,0.2\n', 2, 3, /expected a time of day/);
  fails('# currency: euro\nstart,import\n00:00,1\n', 1, 13, /ISO 4217/);
  fails('start,import\n', 1, 1, /no price rows/);
  fails('# only a comment\n', 2, 1, /no header line/);
});

test('loadPrices reads a CSV file and reports unreadable ones', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'deep-prices-'));
  const f = path.join(dir, 'p.csv');
  writeFileSync(f, 'start,import,export\n00:00,0.25,0.05\n');
  assert.is(loadPrices(f).intervals[0].exportMicroPerKwh, 50000);
  assert.throws(() => loadPrices(path.join(dir, 'missing.csv')), /cannot read price file .*missing\.csv: ENOENT/);
  writeFileSync(f, 'start,import\n00:00,x\n');
  assert.throws(() => loadPrices(f), (e: Error) => e.message.startsWith(`${f}:2:7: `));
});

test('priceSeconds splits a window across intervals and days exactly', () => {
  const s = parsePrices('start,import,export\n00:00,1,0.5\n23:59,2,1\n');
  const day = 20000 * DAY_S;
  // 30 s before midnight at price 2, 30 s after at price 1.
  const ps = priceSeconds(s, day - 30, day + 30)!;
  assert.is(ps.importMicroS, 2000000n * 30n + 1000000n * 30n);
  assert.is(ps.exportMicroS, 1000000n * 30n + 500000n * 30n);
  // Summing any split of a window gives the whole window's figure (no second lost or doubled).
  fc.assert(fc.property(fc.integer({ min: 0, max: 3 * DAY_S }), fc.integer({ min: 1, max: 7200 }), fc.integer({ min: 0, max: 7200 }), (a, len, cut) => {
    const b = a + len, c = a + Math.min(cut, len);
    const whole = priceSeconds(s, a, b)!, left = priceSeconds(s, a, c)!, right = priceSeconds(s, c, b)!;
    return whole.importMicroS === left.importMicroS + right.importMicroS && whole.exportMicroS === left.exportMicroS + right.exportMicroS;
  }), { numRuns: 200 });
});

test.run();
