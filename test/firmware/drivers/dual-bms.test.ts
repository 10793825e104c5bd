import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DualBms, BMS_FAULT, type PackState } from '../../../firmware/drivers/dual-bms';
import { VescUart } from '../../../firmware/drivers/vesc-uart';
import { encodeBmsBroadcast, encodeCanMessage } from '../../../protocol/can/messages';
import * as C from '../../../protocol/vesc/commands';
import { COMM } from '../../../protocol/vesc/enums';
import { FakeTimers, FakeLine, ScriptedVesc, prng } from './fakes';

function bmsValues(canId: number, iInUa: number, vesc = false): C.BmsValues {
  return {
    variant: vesc ? 'vesc' : 'bms', vTotUv: 50_123_456, vChargeUv: 0, iInUa, iInIcUa: iInUa, ahCntMah: 100, whCntMwh: 5000,
    cellsMv: [3850, 3849, 3860], balancing: [0, 0, 1], tempsCentiC: [2500, 2600], tempIcCentiC: 3000, tempHumCentiC: 2500,
    humCentiPct: 4000, tempMaxCellCentiC: 2600, socPermille: 810, sohPermille: 990, canId, ahChgTotalMah: 1000, whChgTotalMwh: 50000,
    ahDisTotalMah: 900, whDisTotalMwh: 45000, pressurePa: 101320,
  };
}

function broadcast(id: number, iInMa: number) {
  return encodeBmsBroadcast(id, {
    vTotMv: 50100, vChargeMv: 0, iInMa, iInIcMa: iInMa, ahCntMah: 10, whCntMwh: 500, cellsMv: [3800, 3801, 3802, 3803, 3804], balancing: [0, 0, 0, 0, 1],
    tempsCentiC: [2000, 2100, 2200, 2300], tempHumCentiC: 0, humCentiPct: 0, tempIcCentiC: 0, vCellMinMv: 3800, vCellMaxMv: 3804, socByte: 204,
    sohByte: 255, tempCellMaxC: 23, charging: false, balancingActive: true, chargeAllowed: true, chargeOk: true, dataVersion: 0,
    ahChgTotalMah: 7000, whChgTotalMwh: 350000, ahDisTotalMah: 6000, whDisTotalMwh: 300000,
  });
}

test('refuses two packs on one id with a message that says how to fix it; validates before starting', () => {
  const timers = new FakeTimers();
  assert.throws(() => new DualBms({ packIds: [104, 104], source: 'can', timers }), /packs 0 and 1 both use CAN id 104.*give each BMS its own CAN id/);
  assert.throws(() => new DualBms({ packIds: [10, 255], source: 'can', timers }), /"packIds\[1\]" expected a CAN id in \[0, 254\] \(255 is broadcast\)/);
  assert.throws(() => new DualBms({ packIds: [10, 11], source: 'vesc', timers }), /needs "vesc"/);
  assert.throws(() => new DualBms({ packIds: [10, 11], source: 'usb', timers }), /"source"/);
  assert.throws(() => new DualBms({ packIds: [10, 11], source: 'can', timers, vescCanId: 11 }), /both the VESC and pack 1/);
  assert.throws(() => new DualBms({ packIds: [], source: 'can', timers }), /1 or 2/);
  assert.is(timers.pending(), 0, 'nothing scheduled by a refused construction');
});

test('CAN broadcasts: both packs tracked in integer units, other ids ignored, updates asynchronous', () => {
  const timers = new FakeTimers();
  const updates: PackState[] = [];
  const bms = new DualBms({ packIds: [10, 11], source: 'can', timers, onUpdate: (p) => updates.push(p) });
  for (const f of [...broadcast(10, 2500), ...broadcast(11, -1200), ...broadcast(12, 9999)]) bms.receive(f);
  assert.is(updates.length, 0, 'not called from receive()');
  timers.advance(1);
  assert.equal(updates.map((u) => [u.index, u.iInMa]), [[0, 2500], [1, -1200]]);
  const p0 = bms.packs[0];
  assert.is(p0.vTotMv, 50100);
  assert.is(p0.whChgTotalMwh, 350000);
  assert.is(p0.whDisTotalMwh, 300000);
  assert.is(p0.socPermille, 800);
  assert.equal(p0.cellsMv, [3800, 3801, 3802, 3803, 3804]);
  assert.equal(p0.tempsCentiC, [2000, 2100, 2200, 2300]);
  assert.is(p0.tempMaxCellCentiC, 2300);
  assert.equal([p0.charging, p0.chargeAllowed, p0.chargeOk], [false, true, true]);
  assert.ok(p0.statMs >= 0);
  assert.is(bms.stats.ignored, broadcast(12, 0).length);
  let got: PackState[] | undefined;
  bms.sample((e, packs) => { got = packs; });
  assert.is(got, undefined);
  timers.advance(1);
  assert.is(got![1].iInMa, -1200);
  got![1].cellsMv[0] = 0;
  assert.is(bms.packs[1].cellsMv[0], 3800, 'sample gives copies');
  bms.close();
});

test('a silent pack goes stale after staleMs with a fault, and comes back when heard', () => {
  const timers = new FakeTimers();
  const faults: string[] = [];
  const updates: PackState[] = [];
  const bms = new DualBms({ packIds: [10, 11], source: 'can', timers, staleMs: 1000, onFault: (c, d) => faults.push(c + ' ' + d), onUpdate: (p) => updates.push(p) });
  for (let t = 0; t < 3000; t += 100) {
    for (const f of broadcast(10, 100)) bms.receive(f);
    if (t < 500) for (const f of broadcast(11, 200)) bms.receive(f);
    timers.advance(100);
  }
  assert.is(bms.packs[0].stale, false);
  assert.is(bms.packs[1].stale, true);
  assert.equal(faults.length, 1);
  assert.match(faults[0], /^BMS_STALE pack 1 \(CAN id 11\) silent for 1\d{3} ms$/);
  assert.ok(updates.some((u) => u.index === 1 && u.stale));
  for (const f of broadcast(11, 300)) bms.receive(f);
  timers.advance(1);
  assert.is(bms.packs[1].stale, false);
  assert.is(updates[updates.length - 1].iInMa, 300);
  bms.close();
});

test('a pack never heard is stale too; a corrupt BMS frame is a fault, not an exception', () => {
  const timers = new FakeTimers();
  const faults: string[] = [];
  const bms = new DualBms({ packIds: [10], source: 'can', timers, staleMs: 500, onFault: (c, d) => faults.push(c + ' ' + d) });
  bms.receive({ id: 0x260a, ext: true, data: new Uint8Array([0x7f, 0xc0, 0, 0, 0, 0, 0, 0]) });
  bms.receive({ id: 0x270a, ext: true, data: new Uint8Array(3) });
  assert.is(faults.filter((f) => f.startsWith(BMS_FAULT.BAD_DATA)).length, 2);
  timers.advance(600);
  assert.ok(faults.some((f) => /never heard/.test(f)));
  bms.close();
});

test('through the VESC: FORWARD_CAN + BMS_GET_VALUES per pack, both variants, id mismatch and silence', () => {
  const timers = new FakeTimers();
  const line = new FakeLine(timers, prng(21));
  let silent11 = false;
  const vesc = new ScriptedVesc(line, (p) => {
    if (p[0] === COMM.FW_VERSION) return C.encodeFwVersion({ major: 6, minor: 5, hwName: '60', uuid: '000000000000000000000000' });
    if (p[0] !== COMM.FORWARD_CAN) return undefined;
    const fwd = C.decodeForwardCan(p);
    if (!fwd.ok || fwd.value.inner[0] !== COMM.BMS_GET_VALUES) return undefined;
    if (fwd.value.canId === 11 && silent11) return undefined;
    // pack 11 answers like the VESC variant, pack 10 like the BMS firmware
    return C.encodeBmsValues(bmsValues(fwd.value.canId, fwd.value.canId === 10 ? 2_345_678 : -1_000_500, fwd.value.canId === 11));
  });
  const faults: string[] = [];
  const uart = new VescUart({ io: line.Serial, timers, pollHz: 0 });
  const bms = new DualBms({ packIds: [10, 11], source: 'vesc', vesc: uart, timers, pollMs: 200, staleMs: 1000, onFault: (c, d) => faults.push(c + ' ' + d) });
  timers.advance(500);
  assert.ok(vesc.requests.some((r) => r[0] === 34 && r[1] === 10 && r[2] === 96));
  assert.ok(vesc.requests.some((r) => r[0] === 34 && r[1] === 11 && r[2] === 96));
  assert.is(bms.packs[0].vTotMv, 50123);
  assert.is(bms.packs[0].iInMa, 2346, '2 345 678 µA rounds to 2346 mA');
  assert.is(bms.packs[1].iInMa, -1001, 'half away from zero');
  assert.is(bms.packs[1].whDisTotalMwh, 45000);
  assert.is(bms.packs[0].vCellMinMv, 3849);
  assert.is(bms.packs[0].vCellMaxMv, 3860);
  assert.equal(faults, []);
  silent11 = true;
  timers.advance(2000);
  assert.ok(faults.some((f) => f.startsWith(BMS_FAULT.NO_REPLY + ' pack 1 id 11')));
  assert.ok(faults.some((f) => f.startsWith(BMS_FAULT.STALE + ' pack 1')));
  assert.is(bms.packs[0].stale, false);
  assert.is(vesc.maxInFlight, 1);
  // a stale pack is asked once per staleMs, with no retries
  const before = vesc.requests.filter((r) => r[0] === 34 && r[1] === 11).length;
  timers.advance(3000);
  const asked = vesc.requests.filter((r) => r[0] === 34 && r[1] === 11).length - before;
  assert.ok(asked >= 2 && asked <= 4, `stale pack asked ${asked} times in 3 s`);
  bms.close();
  uart.close();
});

test('through the VESC: a reply from another BMS id is refused', () => {
  const timers = new FakeTimers();
  const line = new FakeLine(timers, prng(22));
  new ScriptedVesc(line, (p) => (p[0] === COMM.FORWARD_CAN ? C.encodeBmsValues(bmsValues(104, 0)) : undefined));
  const faults: string[] = [];
  const uart = new VescUart({ io: line.Serial, timers, pollHz: 0, retries: 0 });
  const bms = new DualBms({ packIds: [10], source: 'vesc', vesc: uart, timers, onFault: (c, d) => faults.push(c + ' ' + d) });
  timers.advance(300);
  assert.ok(faults.some((f) => f === BMS_FAULT.ID_MISMATCH + ' asked pack 0 at CAN id 10, the reply is from id 104'), faults.join('; '));
  assert.is(bms.packs[0].vTotMv, undefined);
  bms.close();
  uart.close();
});

test('STATUS frames of the VESC and standard frames are not pack data', () => {
  const timers = new FakeTimers();
  const bms = new DualBms({ packIds: [10], source: 'can', timers });
  bms.receive(encodeCanMessage({ type: 'STATUS', controllerId: 10, erpm: 1, currentMa: 0, dutyPermille: 0 }));
  bms.receive({ id: 0x10a, ext: false, data: new Uint8Array(8) });
  assert.is(bms.stats.ignored, 2);
  assert.is(bms.packs[0].heardMs, -1);
  bms.close();
  assert.throws(() => bms.receive({ id: 0x270a, ext: true, data: new Uint8Array(8) }), /after close/);
});

test('through the VESC, a forwarded question waits forwardTimeoutMs (default 250 ms), not the VESC\'s 100 ms', () => {
  const timers = new FakeTimers();
  const asked: (number | undefined)[] = [];
  const vesc = { request: (_p: Uint8Array, _r: number, _cb: unknown, _retries?: number, timeoutMs?: number) => { asked.push(timeoutMs); } };
  const bms = new DualBms({ packIds: [10, 11], source: 'vesc', vesc, timers, pollMs: 200 });
  timers.advance(500);
  assert.ok(asked.length >= 2);
  assert.ok(asked.every((t) => t === 250), JSON.stringify(asked));
  bms.close();
  const custom: (number | undefined)[] = [];
  const b2 = new DualBms({ packIds: [10], source: 'vesc', vesc: { request: (_p: Uint8Array, _r: number, _cb: unknown, _x?: number, t?: number) => { custom.push(t); } }, timers, forwardTimeoutMs: 400 });
  timers.advance(1000);
  assert.ok(custom.length >= 1 && custom.every((t) => t === 400));
  b2.close();
  assert.throws(() => new DualBms({ packIds: [10], source: 'vesc', vesc, timers, forwardTimeoutMs: 1 }), /"forwardTimeoutMs" expected a number in \[5, 60000\]/);
});

test.run();
