import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { busFaultCode, createFaultLog, deviceFaultTotal, FAULT, faultName } from '../../../firmware/app/faults';

function clock() {
  let t = 0;
  return { now: () => t, set: (v: number) => { t = v; } };
}

test('ring keeps the newest entries, oldest first, and counters never wrap', () => {
  const c = clock();
  const log = createFaultLog({ capacity: 3, now: c.now });
  for (let i = 0; i < 5; i++) { c.set(i * 10); log.raise(FAULT.UPLINK_NET, 'e' + i); }
  log.raise(FAULT.QUEUE_FULL);
  const es = log.entries();
  assert.equal(es.map((e) => e.detail), ['e3', 'e4', '']);
  assert.equal(es[0].ticks, 30);
  assert.is(log.count(FAULT.UPLINK_NET), 5);
  assert.is(log.count(FAULT.QUEUE_FULL), 1);
  assert.is(log.count(FAULT.UPLINK_4XX), 0);
  assert.equal(log.counters(), [[FAULT.QUEUE_FULL, 1], [FAULT.UPLINK_NET, 5]]);
  assert.is(log.total(), 6);
});

test('entries are copies, details are truncated, print names the codes', () => {
  const log = createFaultLog({ now: () => 7 });
  log.raise(FAULT.UPLINK_4XX, 'x'.repeat(200));
  const e = log.entries()[0];
  assert.is((e.detail as string).length, 48);
  e.code = 999;
  assert.is(log.entries()[0].code, FAULT.UPLINK_4XX);
  const p = log.print();
  assert.match(p, /UPLINK_4XX \(64\)/);
  assert.match(p, /count UPLINK_4XX = 1/);
  assert.is(faultName(12345), 'CODE_12345');
});

test('misuse throws labelled errors', () => {
  assert.throws(() => createFaultLog({ capacity: 0, now: () => 0 }), /capacity/);
  assert.throws(() => createFaultLog({} as any), /now/);
  const log = createFaultLog({ now: () => 0 });
  assert.throws(() => log.raise(-1), /code/);
  assert.throws(() => log.raise(1.5), /code/);
  assert.throws(() => log.restoreCounters([[1, -2]]), /count for code 1/);
});

test('restoreCounters only raises counters (max), never lowers them', () => {
  const log = createFaultLog({ now: () => 0 });
  log.raise(2); log.raise(2); log.raise(2);
  log.restoreCounters([[2, 1], [3, 9]]);
  assert.equal(log.counters(), [[2, 3], [3, 9]]);
});

test('bus driver faults go to the ring under their bus, and stay out of the device total', () => {
  assert.is(busFaultCode('VESC_TIMEOUT'), FAULT.VESC_BUS);
  assert.is(busFaultCode('CAN_BUS_OFF'), FAULT.CAN_BUS);
  assert.is(busFaultCode('BMS_STALE'), FAULT.BMS_BUS);
  const log = createFaultLog({ now: () => 5 });
  log.raise(busFaultCode('VESC_TIMEOUT'), 'VESC_TIMEOUT GET_VALUES_SELECTIVE');
  log.raise(busFaultCode('CAN_BUS_OFF'), 'CAN_BUS_OFF tec=256');
  log.raise(busFaultCode('BMS_STALE'), 'BMS_STALE pack 11');
  log.raise(FAULT.QUEUE_FULL);
  log.raise(FAULT.UPLINK_NET, 'timeout');
  assert.is(log.total(), 5);
  assert.is(deviceFaultTotal(log), 2);
  assert.match(log.print(), /VESC_BUS/);
  assert.equal(log.entries().map((e) => e.code), [10, 12, 11, 32, 66]);
});

test.run();
