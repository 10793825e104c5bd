import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VescUart, VESC_FAULT, ENERGY_MASK, type VescSample } from '../../../firmware/drivers/vesc-uart';
import * as C from '../../../protocol/vesc/commands';
import { COMM } from '../../../protocol/vesc/enums';
import { FakeTimers, FakeLine, ScriptedVesc, prng } from './fakes';

const FW: C.FwVersion = { major: 6, minor: 5, hwName: '60', uuid: '00112233445566778899aabb', pairingDone: 0, testVersion: 0, hwType: 0, customConfigCount: 1, hasPhaseFilters: 0, qmlHw: 0, qmlApp: 0, nrfFlags: 0, fwName: '', hwCrc: 1 };

/** A VESC whose Wh counter grows by 1 mWh per request; answers FW_VERSION, values, and BMS forwards. */
function vescReplies(state = { wh: 0, fault: 0 }) {
  return (p: Uint8Array): Uint8Array | undefined => {
    if (p[0] === COMM.FW_VERSION) return C.encodeFwVersion(FW);
    if (p[0] === COMM.GET_VALUES_SELECTIVE) {
      const req = C.decodeGetValuesRequest(p);
      if (!req.ok) throw new Error('bad request');
      state.wh += 1000;
      return C.encodeValues({ vInMv: 48200, inputCurrentMa: 5230, wattHoursUwh: state.wh, fault: state.fault, tempFetDeciC: 301 }, req.value.mask);
    }
    return undefined;
  };
}

function setup(seed: number, opts: Record<string, unknown> = {}) {
  const timers = new FakeTimers();
  const line = new FakeLine(timers, prng(seed));
  const vesc = new ScriptedVesc(line, vescReplies());
  const samples: VescSample[] = [];
  const faults: string[] = [];
  const ids: C.FwVersion[] = [];
  const drv = new VescUart({
    io: line.Serial, timers, onSample: (s) => samples.push(s), onFault: (c, d) => faults.push(c + ': ' + d), onIdentify: (fw) => ids.push(fw), ...opts,
  });
  return { timers, line, vesc, drv, samples, faults, ids };
}

test('identifies with FW_VERSION first, then polls GET_VALUES_SELECTIVE at 10 Hz with the energy fields', () => {
  const { timers, vesc, drv, samples, ids, faults, line } = setup(1);
  assert.is(line.options?.baud, 115200);
  assert.is(vesc.requests[0][0], COMM.FW_VERSION);
  timers.advance(1000);
  assert.equal(ids, [FW]);
  assert.equal(drv.identification, FW);
  assert.ok(samples.length >= 9 && samples.length <= 10, `${samples.length} samples in 1 s`);
  const s = samples[samples.length - 1];
  assert.is(s.mask, ENERGY_MASK);
  assert.is(s.vInMv, 48200);
  assert.is(s.inputCurrentMa, 5230);
  assert.is(s.tempFetDeciC, 301);
  assert.is(s.wattHoursUwh, samples.length * 1000);
  assert.ok(s.tMs > 900 && s.tMs <= 1000);
  assert.is(vesc.maxInFlight, 1, 'never two requests in flight');
  assert.equal(faults, []);
  assert.is(drv.latest, s);
  drv.close();
});

test('garbage between frames and random chunking lose nothing', () => {
  const { timers, vesc, drv, samples, faults } = setup(7);
  vesc.noise = true;
  timers.advance(5000);
  assert.ok(samples.length >= 49, `${samples.length} samples`);
  assert.equal(samples.map((s) => s.wattHoursUwh), samples.map((_, i) => (i + 1) * 1000), 'every reply, in order');
  assert.ok(drv.stats.garbage > 0);
  assert.equal(faults, []);
  drv.close();
});

test('a lost request is retried after the timeout; three losses fail with TIMEOUT and a fault, then work resumes', () => {
  const { timers, vesc, drv, faults } = setup(3, { pollHz: 0 });
  timers.advance(50);
  vesc.dropNext = 1;
  let got: unknown;
  drv.sample((err, s) => { got = err ?? s?.vInMv; });
  timers.advance(99);
  assert.is(got, undefined);
  timers.advance(50);
  assert.is(got, 48200);
  assert.is(drv.stats.retries, 1);
  vesc.dropNext = 3;
  let err: (Error & { code?: string }) | undefined;
  drv.sample((e) => { err = e; });
  timers.advance(301);
  assert.is(err?.code, 'TIMEOUT');
  assert.match(err!.message, /after 3 attempt\(s\) of 100 ms/);
  assert.ok(faults.some((f) => f.startsWith(VESC_FAULT.TIMEOUT)));
  let ok = 0;
  drv.sample((e, s) => { if (!e && s) ok++; });
  timers.advance(20);
  assert.is(ok, 1);
  drv.close();
});

test('a reply that keeps its frame open (truncated) is flushed at the timeout and the retry succeeds', () => {
  const { timers, line, vesc, drv } = setup(4, { pollHz: 0 });
  timers.advance(50);
  const real = vesc.respond;
  let first = true;
  vesc.respond = (p) => {
    if (first) {
      first = false;
      line.toDriver(new Uint8Array([2, 200, 1, 2, 3]), 1);
      return undefined;
    }
    return real(p);
  };
  let v: number | undefined;
  drv.sample((e, s) => { v = s?.vInMv; });
  timers.advance(150);
  assert.is(v, 48200);
  assert.ok(drv.stats.flushed > 0);
  drv.close();
});

test('requests queue behind each other; callbacks are never synchronous; queue overflow is reported', () => {
  const { timers, drv, faults } = setup(5, { pollHz: 0, queueMax: 2 });
  const order: string[] = [];
  drv.request(C.encodeFwVersionRequest(), COMM.FW_VERSION, () => order.push('a'));
  drv.request(C.encodeFwVersionRequest(), COMM.FW_VERSION, () => order.push('b'));
  let sync = true;
  drv.request(C.encodeFwVersionRequest(), COMM.FW_VERSION, (e) => { order.push((e as Error & { code: string }).code + (sync ? ' sync' : '')); });
  sync = false;
  assert.equal(order, []);
  timers.advance(100);
  assert.equal(order, ['QUEUE_FULL', 'a', 'b']);
  assert.ok(faults.some((f) => f.startsWith(VESC_FAULT.QUEUE_FULL)));
  drv.close();
});

test('a reply that does not decode is an error, not an exception; a motor-controller fault is reported once', () => {
  const timers = new FakeTimers();
  const line = new FakeLine(timers, prng(9));
  const st = { wh: 0, fault: 0 };
  const base = vescReplies(st);
  let bad = 1;
  new ScriptedVesc(line, (p) => (p[0] === COMM.GET_VALUES_SELECTIVE && st.wh === 2000 && bad-- > 0 ? new Uint8Array([50, 0, 0]) : base(p)));
  const faults: string[] = [];
  const drv = new VescUart({ io: line.Serial, timers, onFault: (c, d) => faults.push(c + ' ' + d) });
  timers.advance(350);
  assert.ok(faults.some((f) => f.startsWith(VESC_FAULT.BAD_REPLY) && /mask/.test(f)), faults.join('; '));
  st.fault = 5;
  timers.advance(500);
  assert.equal(faults.filter((f) => f.startsWith(VESC_FAULT.MC_FAULT)), [VESC_FAULT.MC_FAULT + ' 5']);
  drv.close();
});

test('unidentified VESC is asked FW_VERSION again; line errors are faults', () => {
  const timers = new FakeTimers();
  const line = new FakeLine(timers, prng(11));
  let fwAnswers = 0;
  const base = vescReplies();
  const vesc = new ScriptedVesc(line, (p) => (p[0] === COMM.FW_VERSION && fwAnswers++ < 3 ? undefined : base(p)));
  const faults: string[] = [];
  const drv = new VescUart({ io: line.Serial, timers, identifyRetryMs: 1000, onFault: (c) => faults.push(c) });
  timers.advance(900);
  assert.is(drv.identification, undefined);
  timers.advance(1300);
  assert.ok(drv.identification);
  assert.ok(vesc.requests.filter((r) => r[0] === COMM.FW_VERSION).length >= 4);
  line.lineError('overrun');
  timers.advance(1);
  assert.ok(faults.includes(VESC_FAULT.LINE));
  drv.close();
});

test('options are validated before the port is opened; close is final and idempotent', () => {
  const timers = new FakeTimers();
  const line = new FakeLine(timers, prng(2));
  assert.throws(() => new VescUart({ io: line.Serial, timers, pollHz: 1000 }), /"pollHz" expected number in \[0, 100\], got 1000/);
  assert.throws(() => new VescUart({ io: line.Serial, timers, onSample: 5 as unknown as () => void }), /"onSample" expected a function/);
  assert.throws(() => new VescUart({ io: undefined as never, timers }), /"io"/);
  assert.throws(() => new VescUart({ io: line.Serial, timers: {} as never }), /"timers"/);
  assert.is(line.opened, 0);
  const drv = new VescUart({ io: line.Serial, timers, pollHz: 0 });
  let closedErr = '';
  drv.request(C.encodeFwVersionRequest(), COMM.FW_VERSION, () => {});
  drv.request(C.encodeAlive(), COMM.ALIVE, (e) => { closedErr = (e as Error & { code: string }).code; });
  drv.close();
  drv.close();
  assert.ok(line.isClosed);
  assert.throws(() => drv.sample(() => {}), /after close/);
  timers.advance(1);
  assert.is(closedErr, 'CLOSED');
});

test.run();
