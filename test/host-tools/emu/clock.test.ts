import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualClock } from '../../../host-tools/emu/clock';

test('timers fire in time order, intervals repeat, clear stops them', async () => {
  const c = new VirtualClock();
  const log: string[] = [];
  c.setTimeout(() => log.push(`b@${c.now()}`), 20);
  c.setTimeout(() => log.push(`a@${c.now()}`), 10);
  const iv = c.setInterval(() => log.push(`i@${c.now()}`), 15);
  await c.advance(40);
  assert.equal(log, ['a@10', 'i@15', 'b@20', 'i@30']);
  c.clear(iv);
  await c.advance(100);
  assert.equal(log.length, 4);
  assert.is(c.now(), 140);
});

test('followers move with time, never by more than maxStepMs, and stop at their own events', async () => {
  const c = new VirtualClock({ maxStepMs: 50 });
  const steps: number[] = [];
  let nextEvent = 7;
  c.addFollower({
    advance(ms) { steps.push(ms); nextEvent -= ms; if (nextEvent <= 0) nextEvent = 1000; },
    msUntilNextEvent: () => nextEvent,
  });
  await c.advance(120);
  assert.is(steps.reduce((a, b) => a + b, 0), 120);
  assert.ok(steps.every((s) => s <= 50));
  assert.is(steps[0], 7, 'stops at the follower event');
});

test('a timer callback that throws goes to onError with its owner, others still run', async () => {
  const c = new VirtualClock();
  const owner = {};
  const errs: unknown[] = [];
  c.onError = (e, o) => errs.push([String(e), o === owner]);
  let ran = false;
  c.setTimeout(() => { throw new Error('boom'); }, 1, owner);
  c.setTimeout(() => { ran = true; }, 2);
  await c.advance(5);
  assert.equal(errs, [['Error: boom', true]]);
  assert.ok(ran);
});

test('clearOwner drops only that owner timers (a device losing power)', async () => {
  const c = new VirtualClock();
  const a = {}, b = {};
  let fa = 0, fb = 0;
  c.setInterval(() => fa++, 10, a);
  c.setInterval(() => fb++, 10, b);
  await c.advance(30);
  c.clearOwner(a);
  await c.advance(30);
  assert.is(fa, 3);
  assert.is(fb, 6);
  assert.is(c.pendingTimers(a), 0);
});

test('real async work settles before the next timer fires (zero virtual time)', async () => {
  const c = new VirtualClock();
  let pending: Promise<void> | undefined;
  let replyAt = -1;
  c.addSettleHook(() => pending);
  c.setTimeout(() => {
    pending = new Promise<void>((r) => setTimeout(r, 20)).then(() => {
      pending = undefined;
      c.setTimeout(() => { replyAt = c.now(); }, 0);
    });
  }, 10);
  await c.advance(11);
  assert.is(replyAt, 10);
});

test('advance rejects bad input and overlapping calls', async () => {
  const c = new VirtualClock();
  let bad = false;
  try { await c.advance(-1); } catch (e) { bad = /"ms"/.test(String(e)); }
  assert.ok(bad);
  const p = c.advance(10);
  let threw = false;
  try { await c.advance(1); } catch { threw = true; }
  await p;
  assert.ok(threw);
  assert.ok(await c.runUntil(() => c.now() >= 50, 100, 7));
  assert.not.ok(await c.runUntil(() => false, 20));
});

test.run();
