import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimBike, type Segment } from '../../../host-tools/sim/index';
import {
  encodeFwVersionRequest, decodeFwVersion, encodeGetValuesRequest, encodeGetValuesSelectiveRequest, decodeValues,
  encodeBmsGetValuesRequest, decodeBmsValues, encodeForwardCan, encodePingCanRequest, decodePingCanReply, encodeAlive, VALUE_BIT,
} from '../../../protocol/vesc/commands';
import { encodeFrame, FrameDecoder } from '../../../protocol/vesc/packet';
import { client, PARKED } from './_helpers';

const RIDING: Segment[] = [{ kind: 'ride', durationS: 3600, speedKmh: 22, slopePct: 1, assist: 0.8 }];

function one(replies: Uint8Array[]): Uint8Array {
  assert.is(replies.length, 1, 'exactly one reply');
  return replies[0];
}

test('FW_VERSION: a 6.05 VESC with a seeded UUID, decoded by the protocol codec', () => {
  const bike = createSimBike({ seed: 1, ride: PARKED });
  const c = client(bike);
  const r = decodeFwVersion(one(c.request(encodeFwVersionRequest())));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.value.major, 6);
  assert.is(r.value.minor, 5);
  assert.is(r.value.hwType, 0);
  assert.match(r.value.uuid, /^[0-9a-f]{24}$/);
  const other = createSimBike({ seed: 2, ride: PARKED });
  const r2 = decodeFwVersion(one(client(other).request(encodeFwVersionRequest())));
  assert.ok(r2.ok && r2.value.uuid !== r.value.uuid, 'another seed, another VESC');
});

test('GET_VALUES while riding: input current × v_in matches the true pack power; averages read-and-reset', () => {
  const bike = createSimBike({ seed: 3, ride: RIDING });
  const c = client(bike);
  bike.advance(60_000);
  c.request(encodeGetValuesRequest()); // resets the averages
  bike.advance(1000);
  const m = bike.internals.model;
  const trueMa = m.vescInputMa;
  const payload = one(c.request(encodeGetValuesRequest()));
  assert.is(payload.length, 74, 'full GET_VALUES reply is 74 bytes');
  const v = decodeValues(payload);
  assert.ok(v.ok);
  if (!v.ok) return;
  assert.ok((v.value.inputCurrentMa as number) > 1000, 'riding draws current');
  // The average over the last ~second, at the wire's 10 mA: close to the present current
  assert.ok(Math.abs((v.value.inputCurrentMa as number) - trueMa) < 600, `${v.value.inputCurrentMa} vs ${trueMa}`);
  assert.is((v.value.inputCurrentMa as number) % 10, 0, '10 mA wire steps');
  assert.is((v.value.vInMv as number) % 100, 0, '0.1 V wire steps');
  assert.ok(Math.abs((v.value.vInMv as number) - m.packs[m.busPack].terminalUv / 1000) < 100);
  assert.ok((v.value.erpm as number) > 5000);
  assert.ok((v.value.wattHoursUwh as number) > 0 && (v.value.ampHoursUah as number) > 0);
  assert.is(v.value.controllerId, 1);
});

test('the read-and-reset average input current covers exactly the time since the previous read', () => {
  const bike = createSimBike({ seed: 12, ride: [
    { kind: 'ride', durationS: 40, speedKmh: 24, slopePct: 2, assist: 0.8 },
    { kind: 'brake', durationS: 6, toKmh: 0 },
    { kind: 'ride', durationS: 40, speedKmh: 25, slopePct: -5, assist: 0.8 },
  ] });
  const c = client(bike);
  const mask = VALUE_BIT.INPUT_CURRENT;
  const uc = () => bike.ledger().packs.reduce((a, p) => a + p.flows.packToMotor.uc - p.flows.regenToPack.uc, 0n);
  bike.advance(1000 - bike.nowMs() % 1000);
  c.request(encodeGetValuesSelectiveRequest(mask)); // starts the averaging window
  bike.advance(100 - (bike.nowMs() % 100));
  const start = bike.ledger();
  const startUc = uc();
  let last = bike.nowMs();
  let charge = 0; // mA·ms
  let reads = 0;
  // irregular polling, 30..170 ms apart; the VESC answers 0.3 ms after each request arrives
  for (let k = 0; bike.nowMs() < 70_000; k++) {
    bike.advance(30 + ((k * 37) % 140));
    const p = c.request(encodeGetValuesSelectiveRequest(mask))[0];
    const v = decodeValues(p);
    assert.ok(v.ok);
    if (!v.ok) return;
    // the reply was made when the request arrived: ≈ 0.9 ms after it was written
    const madeAt = bike.internals.vesc.lastValuesAtMs;
    charge += (v.value.inputCurrentMa as number) * (madeAt - last);
    last = madeAt;
    reads++;
  }
  // close the window exactly on a step boundary, where the ledger is exact
  bike.advance(100 - (bike.nowMs() % 100));
  const p = c.request(encodeGetValuesSelectiveRequest(mask))[0];
  const v = decodeValues(p);
  assert.ok(v.ok);
  if (!v.ok) return;
  const madeAt = bike.internals.vesc.lastValuesAtMs;
  charge += (v.value.inputCurrentMa as number) * (madeAt - last);
  assert.ok(reads > 300);
  // the ledger between the two step boundaries around the window (the last read is ≤ 1 ms after one)
  const trueUc = Number(uc() - startUc);
  const spanMs = madeAt - start.tMs;
  // truncation to 10 mA per read, plus ≤ 1 ms at each end at ≤ 25 A
  assert.ok(Math.abs(charge - trueUc) <= 10 * spanMs + 2 * 25_000, `VESC ${charge} µC vs true ${trueUc} µC over ${spanMs} ms`);
});

test('GET_VALUES_SELECTIVE echoes the mask and carries only those fields', () => {
  const bike = createSimBike({ seed: 4, ride: RIDING });
  const c = client(bike);
  bike.advance(30_000);
  const mask = VALUE_BIT.INPUT_CURRENT | VALUE_BIT.V_IN | VALUE_BIT.WATT_HOURS | VALUE_BIT.WATT_HOURS_CHARGED | VALUE_BIT.TACHOMETER;
  const p = one(c.request(encodeGetValuesSelectiveRequest(mask)));
  assert.is(p.length, 1 + 4 + 4 + 2 + 4 + 4 + 4);
  const v = decodeValues(p);
  assert.ok(v.ok);
  if (!v.ok) return;
  assert.is(v.value.mask, mask);
  assert.is(v.value.tempFetDeciC, undefined);
  assert.ok((v.value.tachometer as number) > 0);
});

test('BMS_GET_VALUES to the VESC: its copy of ONE BMS (the first heard), VESC variant', () => {
  const bike = createSimBike({ seed: 5, ride: PARKED });
  const c = client(bike);
  bike.advance(500);
  const v = decodeBmsValues(one(c.request(encodeBmsGetValuesRequest())));
  assert.ok(v.ok);
  if (!v.ok) return;
  assert.is(v.value.variant, 'vesc');
  assert.is(v.value.canId, 10);
  assert.is(v.value.cellsMv.length, 13);
  assert.is(v.value.socPermille, 800);
  assert.is(v.value.vTotUv % 1000, 0, 'the VESC copy came over CAN in mV');
});

test('FORWARD_CAN to each BMS id: the BMS itself answers (BMS variant) with µV/µA exact values', () => {
  const bike = createSimBike({ seed: 6, ride: RIDING });
  const c = client(bike);
  bike.advance(20_000);
  for (const [i, id] of [[0, 10], [1, 11]]) {
    const replies = c.request(encodeForwardCan(id, encodeBmsGetValuesRequest()), 60);
    const pack = bike.internals.model.packs[i];
    const v = decodeBmsValues(one(replies));
    assert.ok(v.ok);
    if (!v.ok) return;
    assert.is(v.value.variant, 'bms');
    assert.is(v.value.canId, id);
    assert.is(v.value.vTotUv, pack.terminalUv);
    assert.is(v.value.iInUa, pack.currentMa * 1000);
  }
  // An id nobody has: no reply at all (bldc sends nothing)
  assert.is(c.request(encodeForwardCan(77, encodeBmsGetValuesRequest()), 200).length, 0);
});

test('PING_CAN lists both BMS ids (after the VESC has tried every id); a silent BMS is missing', () => {
  const bike = createSimBike({ seed: 7, ride: PARKED });
  const c = client(bike);
  let r = decodePingCanReply(one(c.request(encodePingCanRequest(), 3000)));
  assert.ok(r.ok && r.value.ids.join() === '10,11');
  bike.inject({ bmsSilent: { canId: 11 } });
  r = decodePingCanReply(one(c.request(encodePingCanRequest(), 3000)));
  assert.ok(r.ok && r.value.ids.join() === '10');
});

test('ALIVE gets no reply; unknown commands get none either; the link stays usable', () => {
  const bike = createSimBike({ seed: 8, ride: PARKED });
  const c = client(bike);
  assert.is(c.request(encodeAlive(), 20).length, 0);
  assert.is(c.request(Uint8Array.of(200, 1, 2), 20).length, 0);
  assert.ok(decodeFwVersion(one(c.request(encodeFwVersionRequest()))).ok);
  assert.is(bike.internals.vesc.stats.unknown, 1);
});

test('bytes arrive at the wire rate: a 79-byte GET_VALUES frame takes ≈ 6.9 ms at 115200 baud, in pieces', () => {
  const bike = createSimBike({ seed: 9, ride: PARKED });
  let events = 0;
  const port = bike.openVescSerial({ baud: 115200, onReadable: () => events++ });
  port.write(encodeFrame(encodeGetValuesRequest()));
  const sizes: number[] = [];
  for (let t = 0; t < 20; t++) {
    bike.advance(1);
    const got = port.read();
    if (got) sizes.push(got.length);
  }
  assert.is(sizes.reduce((a, b) => a + b, 0), 79);
  assert.ok(sizes.length >= 6, `arrived in ${sizes.length} pieces`);
  assert.ok(events >= 1);
  port.close();
  port.close();
  assert.throws(() => port.read(), /after close/);
  // Only one port at a time, like a real UART
  const a = bike.openVescSerial({ baud: 115200 });
  assert.throws(() => bike.openVescSerial({ baud: 115200 }), /already open/);
  a.close();
  assert.throws(() => bike.openVescSerial({ baud: 12 }), /"baud"/);
});

test('a wrong baud rate gives garbage, no frames', () => {
  const bike = createSimBike({ seed: 10, ride: PARKED });
  const port = bike.openVescSerial({ baud: 9600 });
  port.write(encodeFrame(encodeFwVersionRequest()));
  bike.advance(100);
  assert.is(bike.internals.vesc.stats.requests, 0);
});

test('deterministic bytes: same seed and requests → identical byte streams, also under UART noise', () => {
  const run = (seed: number) => {
    const bike = createSimBike({ seed, ride: RIDING });
    bike.inject({ uartNoise: 0.01, uartDrop: 0.005 });
    const c = client(bike);
    for (let i = 0; i < 50; i++) {
      c.request(encodeGetValuesRequest(), 20);
      c.request(encodeForwardCan(10 + (i % 2), encodeBmsGetValuesRequest()), 40);
      bike.advance(50);
    }
    return c.raw;
  };
  const a = run(21);
  assert.ok(a.length > 5000);
  assert.equal(run(21), a);
  assert.not.equal(run(22), a);
});

test.run();
