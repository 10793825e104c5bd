import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LiveView, renderScreen, renderLine, wh, clock, zeroFlows, type Snapshot } from '../../../host-tools/testnet/view';

function snap(wallMs: number): Snapshot {
  return {
    simMs: 3_723_000, simEpochMs: Date.UTC(2026, 10, 25, 18, 5, 9), wallMs, durationMs: 7_446_000, phase: 'riding',
    bikes: [
      { name: 'bike1', state: 'charging@hub1', packs: [{ id: 10, socPermille: 815 }, { id: 11, socPermille: 1000 }], flowsMwh: { ...zeroFlows(), gridToPack: 12345, packToMotor: 7 }, reports: { made: 62, sent: 61, acked: 60, queued: 2 }, faults: 1, online: true },
      { name: 'bike2', state: 'riding', packs: [{ id: 20, socPermille: 5 }, { id: 21, socPermille: 999 }], flowsMwh: zeroFlows(), reports: { made: 3, sent: 0, acked: 0, queued: 3 }, faults: 0, online: false },
    ],
    hubs: [{ name: 'hub1', inMwh: 12500, outMwh: 0, plugged: ['bike1'] }, { name: 'hub2', inMwh: 0, outMwh: 999, plugged: [] }],
    node: { accepted: 60, duplicates: 2, rejected: 0, reportsPerS10: 123 },
  };
}

test('formats energy in Wh with exact mWh, and clocks', () => {
  assert.is(wh(12345), '12.345');
  assert.is(wh(7), '0.007');
  assert.is(wh(-1500), '-1.500');
  assert.is(clock(3_723_000), '01:02:03');
});

test('screen shows per bike state, SOC, flows, report counts, faults; hubs; node', () => {
  const lines = renderScreen(snap(1000));
  const text = lines.join('\n');
  assert.match(lines[0], /sim 01:02:03 \(time of day 18:05:09 UTC, 50%\)/);
  const b1 = lines.find((l) => l.startsWith('bike1'))!;
  assert.match(b1, /charging@hub1\s+up\s+81\.5%\/100\.0%\s+12\.345\s+0\.000\s+0\.007\s+0\.000\s+62\s+61\s+60\s+2\s+1$/);
  assert.match(lines.find((l) => l.startsWith('bike2'))!, /riding\s+DOWN\s+0\.5%\/99\.9%/);
  assert.match(lines.find((l) => l.startsWith('hub1'))!, /12\.500\s+0\.000\s+bike1/);
  assert.match(lines.find((l) => l.startsWith('hub2'))!, /0\.999\s+-$/);
  assert.match(text, /accepted 60 {2}duplicates 2 {2}rejected 0 {2}12\.3 reports\/s/);
  assert.not.match(text, /\x1b/);
  // Columns line up: every bike row is as wide as the header (right-aligned numbers).
  const header = lines.find((l) => l.startsWith('bike '))!;
  assert.is(b1.length, header.length);
});

test('the market: each hub\'s last interval with its prices, volumes and bikes, on screen and in the plain line', () => {
  const s: Snapshot = { ...snap(1000), market: [
    { hub: 'hub1', startMs: Date.UTC(2026, 10, 25, 12, 0), priceMicroPerKwh: 42_000, retailMicroPerKwh: 187_000, feedInMicroPerKwh: 42_000, tradedWh: 90, fromUtilityWh: 0, toUtilityWh: 610, bikes: [{ name: 'bike1', netWh: 45 }, { name: 'bike2', netWh: -20 }] },
    { hub: 'hub2', startMs: Date.UTC(2026, 10, 25, 12, 0), priceMicroPerKwh: null, retailMicroPerKwh: 187_000, feedInMicroPerKwh: 42_000, tradedWh: 0, fromUtilityWh: 0, toUtilityWh: 0, bikes: [] },
  ] };
  const lines = renderScreen(s);
  assert.match(lines.find((l) => l.startsWith('market '))!, /interval\s+price\s+retail\s+feed-in\s+traded Wh/);
  assert.match(lines.find((l) => l.startsWith('hub1 ') && l.includes('12:00'))!, /12:00\s+0\.0420\s+0\.1870\s+0\.0420\s+90\s+0\s+610\s+bike1 \+45, bike2 -20$/);
  assert.match(lines.find((l) => l.startsWith('hub2 ') && l.includes('12:00'))!, /12:00\s+-\s+0\.1870/);
  assert.match(renderLine(s), /market hub1@12:00 price=0\.0420 traded_wh=90 utility_wh=\+0\/-610 bike1=\+45 bike2=-20;/);
});

test('TTY output redraws in place, throttled; plain output has no escapes', () => {
  const tty: string[] = [];
  const v = new LiveView({ write: (t: string) => tty.push(t), isTTY: true }, { ttyEveryMs: 100 });
  assert.ok(v.update(snap(0)));
  assert.not.ok(v.update(snap(50)));
  assert.ok(v.update(snap(100)));
  assert.ok(v.update(snap(101), true));
  assert.is(tty.length, 3);
  assert.ok(tty[0].startsWith('\x1b[2J\x1b[H'));
  assert.ok(tty[1].startsWith('\x1b[H') && !tty[1].includes('\x1b[2J'));
  assert.ok(tty[1].endsWith('\n\x1b[J'));

  const plain: string[] = [];
  const p = new LiveView({ write: (t: string) => plain.push(t), isTTY: false }, { plainEveryMs: 5000 });
  p.update(snap(0));
  p.update(snap(4999));
  p.update(snap(5000));
  assert.is(plain.length, 2);
  for (const l of plain) {
    assert.not.match(l, /\x1b/);
    assert.ok(l.endsWith('\n') && l.indexOf('\n') === l.length - 1);
  }
  assert.is(plain[0], renderLine(snap(0)) + '\n');
  assert.match(plain[0], /bike2:riding\(offline\) soc=0\.5%\/99\.9% acked=0\/3 queued=3/);
});

test.run();
