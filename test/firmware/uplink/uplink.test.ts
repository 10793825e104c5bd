import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decode } from 'cbor-x';
import { EmuFlash } from '../../../host-tools/emu/flash';
import { createQueue, type Queue } from '../../../firmware/queue/queue';
import { createUplink, encodeBatch, type UplinkNet } from '../../../firmware/uplink/uplink';
import { createFaultLog, FAULT } from '../../../firmware/app/faults';
import { virtualTimers } from '../_timers';

type Reply = { err?: string; status?: number; body?: unknown } | ((items: unknown[]) => { err?: string; status?: number; body?: unknown });

/** A network whose answers come from a script, always asynchronously (after 50 ms). */
function fakeNet(timers: ReturnType<typeof virtualTimers>, replies: Reply[]) {
  const calls: { url: string; type: string; items: Uint8Array[] }[] = [];
  let online = true;
  const net: UplinkNet & { setOnline(v: boolean): void } = {
    online: () => online,
    setOnline: (v) => { online = v; },
    request(method, url, body, type, _timeout, cb) {
      assert.is(method, 'POST');
      const items = (decode(Buffer.from(body!)) as Uint8Array[]).map((x) => new Uint8Array(x));
      calls.push({ url, type, items });
      let r = replies.shift() ?? { status: 200, body: { results: items.map((_, i) => ({ index: i, status: 'accepted' })) } };
      if (typeof r === 'function') r = r(items);
      const rr = r;
      timers.setTimeout(() => {
        const b = rr.body === undefined ? undefined : new Uint8Array(Buffer.from(typeof rr.body === 'string' ? rr.body : JSON.stringify(rr.body)));
        cb(rr.err ?? null, rr.err ? 0 : rr.status ?? 200, b);
      }, 50);
    },
  };
  return { net, calls };
}

/** Queue items are CBOR byte strings (any CBOR item is fine for the batch framing). */
function item(seq: number): Uint8Array {
  const p = new Uint8Array(10 + (seq % 5));
  p[0] = 0x40 + p.length - 1;
  for (let i = 1; i < p.length; i++) p[i] = seq;
  return p;
}

function setup(n: number, replies: Reply[], extra: Partial<Parameters<typeof createUplink>[0]> = {}) {
  const flash = new EmuFlash({ size: 65536, pageSize: 4096 });
  const queue: Queue = createQueue({ flash });
  queue.recover();
  for (let s = 0; s < n; s++) queue.append(s, item(s));
  const timers = virtualTimers();
  const { net, calls } = fakeNet(timers, replies);
  const faults = createFaultLog({ now: timers.now });
  const up = createUplink({ queue, net, timers, faults, url: () => 'http://ingest.local/v1/reports', rand: () => 0.5, batchMax: 4, ...extra });
  return { queue, timers, net, calls, faults, up };
}

test('encodeBatch frames items as a CBOR array without touching them', () => {
  for (const n of [0, 1, 23, 24, 255, 256]) {
    const items = Array.from({ length: n }, (_, i) => item(i));
    const d = decode(Buffer.from(encodeBatch(items))) as Uint8Array[];
    assert.is(d.length, n);
    if (n) assert.equal(new Uint8Array(d[n - 1]), item(n - 1).subarray(1));
  }
});

test('delivers everything in batches; removes only what the node acknowledged', () => {
  const { queue, timers, calls, up } = setup(10, []);
  up.kick();
  timers.advance(1000);
  assert.equal(calls.map((c) => c.items.length), [4, 4, 2]);
  assert.is(calls[0].type, 'application/cbor');
  assert.is(queue.pending(), 0);
  assert.is(up.status().sent, 10);
  assert.is(up.status().state, 'idle');
});

test('5xx and network errors: retried with exponential backoff and jitter, nothing lost', () => {
  const replies: Reply[] = [{ status: 503 }, { err: 'timeout' }, { status: 500 }, { err: 'request error' }];
  const { queue, timers, calls, faults, up } = setup(2, replies, { backoffMinMs: 1000, backoffMaxMs: 4000 });
  up.kick();
  timers.advance(50);
  assert.is(calls.length, 1);
  assert.equal(timers.pending(), [750], 'd/2 + 0.5 * d/2 of 1000 ms');
  timers.advance(750 + 50);
  assert.equal(timers.pending(), [1500]);
  timers.advance(1500 + 50);
  assert.equal(timers.pending(), [3000]);
  timers.advance(3000 + 50);
  assert.equal(timers.pending(), [3000], 'capped at backoffMaxMs');
  assert.is(queue.pending(), 2);
  timers.advance(3000 + 50);
  assert.is(queue.pending(), 0);
  assert.is(calls.length, 5);
  assert.is(faults.count(FAULT.UPLINK_5XX), 2);
  assert.is(faults.count(FAULT.UPLINK_NET), 2);
  assert.is(up.status().backoffMs, 0, 'success resets the backoff');
});

test('a rejected report is dropped with a fault; unknown_key keeps everything for later', () => {
  const replies: Reply[] = [
    (items) => ({ status: 200, body: { results: items.map((_, i) => (i === 1 ? { index: i, status: 'rejected', reason: 'bad_signature' } : { index: i, status: i === 2 ? 'duplicate' : 'accepted' })) } }),
    (items) => ({ status: 200, body: { results: items.map((_, i) => ({ index: i, status: 'rejected', reason: 'unknown_key' })) } }),
  ];
  const { queue, timers, faults, up } = setup(6, replies, { backoffMinMs: 10000 });
  up.kick();
  timers.advance(60);
  assert.is(queue.pending(), 2);
  assert.is(faults.count(FAULT.UPLINK_4XX), 1);
  assert.match(faults.entries().find((e) => e.code === FAULT.UPLINK_4XX)!.detail as string, /seq 1 bad_signature/);
  assert.is(up.status().dropped, 1);
  timers.advance(60);
  assert.is(queue.pending(), 2, 'unknown_key: kept');
  assert.is(faults.count(FAULT.UPLINK_NOT_PAIRED), 1);
  assert.is(up.status().state, 'backoff');
  timers.advance(20000);
  assert.is(queue.pending(), 0);
});

test('400 on a batch isolates the bad report; it alone is dropped', () => {
  const bad = item(2);
  const reply = (items: unknown[]) => (items.some((x) => Buffer.compare(Buffer.from(x as Uint8Array), Buffer.from(bad.subarray(1))) === 0) ? { status: 400, body: 'malformed CBOR' } : { status: 200, body: { results: items.map((_, i) => ({ index: i, status: 'accepted' })) } });
  const { queue, timers, faults, calls, up } = setup(5, Array.from({ length: 10 }, () => reply));
  up.kick();
  timers.advance(2000);
  assert.is(queue.pending(), 0);
  assert.is(up.status().dropped, 1);
  assert.is(up.status().sent, 4);
  assert.is(faults.count(FAULT.UPLINK_4XX), 1);
  assert.ok(calls.length >= 4);
});

test('404 / 401: configuration problem, nothing dropped, backed off', () => {
  const { queue, timers, faults, up } = setup(3, [{ status: 404, body: 'no route' }, { status: 401 }], { backoffMinMs: 1000 });
  up.kick();
  timers.advance(60);
  assert.is(queue.pending(), 3);
  assert.is(faults.count(FAULT.UPLINK_4XX), 1);
  assert.is(up.status().state, 'backoff');
  timers.advance(5000);
  assert.is(queue.pending(), 0);
});

test('unparsable or partial answers remove nothing that was not acknowledged', () => {
  const replies: Reply[] = [
    { status: 200, body: '<html>proxy</html>' },
    { status: 200, body: { results: [{ index: 0, status: 'accepted' }, { index: 99, status: 'accepted' }, { index: 'x', status: 'accepted' }] } },
  ];
  const { queue, timers, faults, up } = setup(3, replies, { backoffMinMs: 1000 });
  up.kick();
  timers.advance(60);
  assert.is(queue.pending(), 3);
  assert.is(faults.count(FAULT.UPLINK_BAD_ANSWER), 1);
  timers.advance(1000);
  assert.is(queue.pending(), 2);
  timers.advance(5000);
  assert.is(queue.pending(), 0);
});

test('offline: no request; polls, and kick() sends as soon as the network is back', () => {
  const { queue, timers, net, calls, up } = setup(2, [], { offlinePollMs: 10000 });
  net.setOnline(false);
  up.kick();
  timers.advance(25000);
  assert.is(calls.length, 0);
  assert.is(up.status().state, 'offline');
  net.setOnline(true);
  up.kick();
  timers.advance(100);
  assert.is(queue.pending(), 0);
  // stop(): late answers are ignored, no timers left.
  queue.append(2, item(2));
  up.kick();
  up.stop();
  timers.advance(1000);
  assert.is(queue.pending(), 1);
  assert.equal(timers.pending(), []);
});

test.run();
