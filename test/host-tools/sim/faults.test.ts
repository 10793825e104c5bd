import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimBike, type Segment } from '../../../host-tools/sim/index';
import {
  encodeGetValuesRequest, decodeValues, encodeForwardCan, encodeBmsGetValuesRequest, decodeBmsValues, encodeFwVersionRequest,
} from '../../../protocol/vesc/commands';
import { client, PARKED } from './_helpers';

const RIDING: Segment[] = [{ kind: 'ride', durationS: 3600, speedKmh: 22, slopePct: 2, assist: 0.8 }];

test('UART noise and drops: some replies are lost or fail the CRC, the rest decode; the decoder resyncs', () => {
  const bike = createSimBike({ seed: 1, ride: RIDING });
  const c = client(bike);
  bike.inject({ uartNoise: 0.002, uartDrop: 0.002 });
  let ok = 0;
  for (let i = 0; i < 300; i++) {
    const r = c.request(encodeGetValuesRequest(), 15);
    if (r.length && decodeValues(r[0]).ok) ok++;
  }
  const s = bike.internals.uart.stats;
  assert.ok(s.corrupted > 10 && s.dropped > 10, `corrupted ${s.corrupted}, dropped ${s.dropped}`);
  assert.ok(ok > 150 && ok < 300, `${ok} of 300 replies survived`);
  bike.inject({ uartNoise: 0, uartDrop: 0 });
  for (let i = 0; i < 10; i++) assert.is(c.request(encodeGetValuesRequest(), 15).length, 1, 'clean again');
});

test('garbage on the line: random bytes between frames; every reply is still found by the resyncing decoder', () => {
  const bike = createSimBike({ seed: 11, ride: RIDING });
  const c = client(bike);
  bike.inject({ uartGarbagePerS: 500 });
  const t0 = bike.nowMs();
  let ok = 0;
  for (let i = 0; i < 100; i++) {
    const r = c.request(encodeGetValuesRequest(), 20);
    // garbage can also hit inside a reply (the byte is then inserted into the stream)
    if (r.length && decodeValues(r[0]).ok) ok++;
  }
  const g = bike.internals.uart.stats.garbage;
  const expected = (500 * (bike.nowMs() - t0)) / 1000;
  assert.ok(g > expected * 0.8 && g < expected * 1.2, `${g} garbage bytes, ${expected} expected`);
  assert.ok(ok > 60, `${ok} of 100 replies decoded`);
  bike.inject({ uartGarbagePerS: 0 });
  const before = bike.internals.uart.stats.garbage;
  bike.advance(1000);
  assert.is(bike.internals.uart.stats.garbage, before);
});

test('a silent BMS: no broadcasts, no forwarded reply; it comes back after its time', () => {
  const bike = createSimBike({ seed: 2, ride: PARKED });
  const c = client(bike);
  bike.inject({ bmsSilent: { canId: 11, ms: 5000 } });
  const before = bike.internals.bms[1].stats.broadcasts;
  bike.advance(1000);
  assert.is(bike.internals.bms[1].stats.broadcasts, before);
  assert.is(c.request(encodeForwardCan(11, encodeBmsGetValuesRequest()), 100).length, 0);
  assert.is(c.request(encodeForwardCan(10, encodeBmsGetValuesRequest()), 100).length, 1, 'the other pack still answers');
  bike.advance(5000);
  assert.is(c.request(encodeForwardCan(11, encodeBmsGetValuesRequest()), 100).length, 1);
  assert.ok(bike.internals.bms[1].stats.broadcasts > before);
  assert.throws(() => bike.inject({ bmsSilent: { canId: 42 } }), /no BMS with CAN id 42/);
});

test('BMS reboot: silent for 1 s, then its net Ah/Wh counters restart at 0 while the lifetime totals continue', () => {
  const bike = createSimBike({ seed: 12, ride: RIDING });
  const c = client(bike);
  bike.advance(120_000);
  const ask = () => decodeBmsValues(c.request(encodeForwardCan(10, encodeBmsGetValuesRequest()), 100)[0] ?? new Uint8Array(0));
  const before = ask();
  assert.ok(before.ok && before.value.whCntMwh > 1000, 'counted while riding');
  bike.inject({ bmsReboot: 10 });
  assert.is(c.request(encodeForwardCan(10, encodeBmsGetValuesRequest()), 100).length, 0, 'silent while booting');
  bike.advance(1000);
  const after = ask();
  assert.ok(after.ok && before.ok);
  if (!after.ok || !before.ok) return;
  assert.ok(after.value.whCntMwh < before.value.whCntMwh && after.value.whCntMwh >= 0, `restarted at ${after.value.whCntMwh} mWh`);
  assert.ok((after.value.whDisTotalMwh as number) > (before.value.whDisTotalMwh as number), 'lifetime total kept counting');
});

test('the VESC keeps reporting the first BMS it latched onto, and switches after 2 s of silence (bldc bms.c)', () => {
  const bike = createSimBike({ seed: 3, ride: PARKED });
  const c = client(bike);
  bike.advance(300);
  let v = decodeBmsValues(c.request(encodeBmsGetValuesRequest())[0]);
  assert.ok(v.ok && v.value.canId === 10);
  bike.inject({ bmsSilent: { canId: 10 } });
  bike.advance(1000);
  v = decodeBmsValues(c.request(encodeBmsGetValuesRequest())[0]);
  assert.ok(v.ok && v.value.canId === 10, 'still the old copy within 2 s');
  bike.advance(1500);
  v = decodeBmsValues(c.request(encodeBmsGetValuesRequest())[0]);
  assert.ok(v.ok && v.value.canId === 11, 'switched to the BMS that still talks');
});

test('VESC reboot: deaf for 1.5 s, then its Wh/Ah/tachometer counters restart from zero; the packs do not notice', () => {
  const bike = createSimBike({ seed: 4, ride: RIDING });
  const c = client(bike);
  bike.advance(120_000);
  const before = decodeValues(c.request(encodeGetValuesRequest())[0]);
  assert.ok(before.ok && (before.value.wattHoursUwh as number) > 1_000_000);
  const ledgerBefore = bike.ledger().packs.reduce((s, p) => s + p.flows.packToMotor.mwh, 0);
  bike.inject({ vescReboot: true });
  assert.is(c.request(encodeFwVersionRequest(), 1000).length, 0, 'no answer while booting');
  bike.advance(600);
  const after = decodeValues(c.request(encodeGetValuesRequest())[0]);
  assert.ok(after.ok);
  if (!after.ok || !before.ok) return;
  assert.ok((after.value.wattHoursUwh as number) < 1_000_000, `restarted: ${after.value.wattHoursUwh} µWh`);
  assert.ok((after.value.tachometer as number) < (before.value.tachometer as number));
  const ledgerAfter = bike.ledger().packs.reduce((s, p) => s + p.flows.packToMotor.mwh, 0);
  assert.ok(ledgerAfter > ledgerBefore, 'the ride went on, so did the true energy');
});

test('brown-out: the device loses the link (bytes either way are lost), the packs carry on', () => {
  const bike = createSimBike({ seed: 5, ride: RIDING });
  const c = client(bike);
  bike.advance(10_000);
  const socBefore = bike.state().packs.map((p) => p.soc);
  bike.inject({ brownoutMs: 2000 });
  assert.is(c.request(encodeGetValuesRequest(), 100).length, 0);
  bike.advance(2000);
  assert.is(c.request(encodeGetValuesRequest(), 20).length, 1, 'link back');
  const socAfter = bike.state().packs.map((p) => p.soc);
  assert.ok(socAfter[0] + socAfter[1] < socBefore[0] + socBefore[1], 'packs kept discharging');
  assert.ok(bike.internals.uart.stats.lost > 0);
});

test('sensor gain errors: the VESC and one BMS read high, the ledger keeps the truth (for cross-check faults)', () => {
  const bike = createSimBike({ seed: 13, ride: RIDING });
  const c = client(bike);
  bike.advance(30_000);
  bike.inject({ vescCurrentGain: 1.1, bmsCurrentGain: { canId: 10, gain: 0.9 } });
  bike.advance(60_000);
  const pack = bike.internals.model.packs[0];
  assert.ok(pack.currentMa > 1000, 'pack 10 is on the bus');
  const b = decodeBmsValues(c.request(encodeForwardCan(10, encodeBmsGetValuesRequest()), 100)[0]);
  assert.ok(b.ok);
  if (b.ok) assert.is(b.value.iInUa, Math.round(pack.currentMa * 0.9) * 1000);
  // The VESC's Wh counter grows 10 % faster than the true energy out of the packs
  const wh = () => {
    const v = decodeValues(c.request(encodeGetValuesRequest())[0]);
    assert.ok(v.ok);
    return v.ok ? (v.value.wattHoursUwh as number) / 1000 : 0;
  };
  const truth = () => bike.ledger().packs.reduce((a, p) => a + p.flows.packToMotor.mwh - p.flows.regenToPack.mwh, 0);
  const w0 = wh();
  const t0 = truth();
  bike.advance(60_000);
  const ratio = (wh() - w0) / (truth() - t0);
  assert.ok(Math.abs(ratio - 1.1) < 0.01, `VESC/true energy ${ratio}`);
  assert.throws(() => bike.inject({ vescCurrentGain: 3 }), /"vescCurrentGain" expected a gain/);
});

test('inject checks its input', () => {
  const bike = createSimBike({ seed: 6, ride: PARKED });
  assert.throws(() => bike.inject({ uartNoise: 2 }), /"uartNoise" expected a probability/);
  assert.throws(() => bike.inject({ canBusOffMs: -1 }), /"canBusOffMs" expected ms/);
  assert.throws(() => bike.inject({ nonsense: 1 } as never), /unknown fault "nonsense"/);
});

test.run();
