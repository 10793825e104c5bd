import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createClock, CLOCK_SYNCED, CLOCK_UNSYNCED } from '../../../firmware/app/clock';
import { CLOCK_SYNCED as R_SYNCED, CLOCK_UNSYNCED as R_UNSYNCED } from '../../../protocol/report';
import { createFaultLog, FAULT } from '../../../firmware/app/faults';

const T2026 = Date.UTC(2026, 10, 25, 12, 0, 0);

test('flags agree with the report schema', () => {
  assert.is(CLOCK_SYNCED, R_SYNCED);
  assert.is(CLOCK_UNSYNCED, R_UNSYNCED);
});

test('unsynced: uptime seconds and the unsynced flag, never 1970', () => {
  let t = 0;
  const c = createClock({ now: () => t });
  t = 125_999;
  assert.equal(c.stamp(t), { clock: CLOCK_UNSYNCED, s: 125 });
  assert.is(c.epochMs(), undefined);
  assert.not.ok(c.synced());
});

test('after sync: epoch seconds, also for instants before the sync', () => {
  let t = 50_000;
  const c = createClock({ now: () => t });
  assert.ok(c.sync(T2026));
  assert.equal(c.stamp(50_000), { clock: CLOCK_SYNCED, s: T2026 / 1000 });
  assert.equal(c.stamp(52_500), { clock: CLOCK_SYNCED, s: T2026 / 1000 + 2 });
  t = 60_000;
  assert.is(c.epochMs(), T2026 + 10_000);
  assert.is(c.epochMs(10_000), T2026 - 40_000);
});

test('implausible SNTP answers are rejected with a fault', () => {
  const faults = createFaultLog({ now: () => 0 });
  const c = createClock({ now: () => 1000, faults });
  assert.not.ok(c.sync(0));
  assert.not.ok(c.sync(Date.UTC(2101, 0, 1)));
  assert.not.ok(c.sync(NaN));
  assert.is(faults.count(FAULT.CLOCK_REJECTED), 3);
  assert.not.ok(c.synced());
  assert.is(c.stamp(1000).clock, CLOCK_UNSYNCED);
});

test('a resync moves the mapping; stamp is a pure function of the instant', () => {
  let t = 0;
  const c = createClock({ now: () => t });
  c.sync(T2026);
  t = 120_000;
  const a = c.stamp(t);
  assert.equal(c.stamp(t), a, 'asking again gives the same stamp');
  c.sync(T2026 + 120_000 - 30_000); // the clock was 30 s fast
  assert.is(c.stamp(t).s, a.s - 30);
  assert.throws(() => c.stamp(-1), /monoMs/);
});

test.run();
