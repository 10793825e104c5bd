import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { decodeCanFrame, encodeCanMessage, encodeBmsBroadcast, type CanMessage } from '../../../protocol/can/messages';
import { WIRE_ERR } from '../../../protocol/vesc/enums';
import { fromHex, toHex } from '../../../protocol/bytes';

/** Test vectors are written with spaces between fields. */
const bytes = (h: string) => fromHex(h.replace(/\s+/g, ''));
function ok(id: number, h: string): CanMessage {
  const d = decodeCanFrame(id, bytes(h));
  if (!d.ok) throw new Error(d.error.message);
  return d.value;
}
function bad(id: number, h: string) {
  const d = decodeCanFrame(id, bytes(h));
  assert.is(d.ok, false, `0x${id.toString(16)} ${h} should fail`);
  return (d as { ok: false; error: { code: string; field: string } }).error;
}

// [id, data hex, decoded] vectors built by hand from bldc comm_can.c / bms.c layouts
const VECTORS: Array<[number, string, CanMessage]> = [
  [0x0905, '000003e8 007b 01f4', { type: 'STATUS', controllerId: 5, erpm: 1000, currentMa: 12300, dutyPermille: 500 }],
  [0x0e05, '0001e240 00001388', { type: 'STATUS_2', controllerId: 5, ampHoursUah: 12345600, ampHoursChargedUah: 500000 }],
  [0x0f05, 'fffffffe 00000001', { type: 'STATUS_3', controllerId: 5, wattHoursUwh: -200, wattHoursChargedUwh: 100 }],
  [0x1005, '013b ffcc ff6a 0032', { type: 'STATUS_4', controllerId: 5, tempFetDeciC: 315, tempMotorDeciC: -52, currentInMa: -15000, pidPosCentiDeg: 100 }],
  [0x1b05, '0001e240 01e2 0000', { type: 'STATUS_5', controllerId: 5, tachometer: 123456, vInMv: 48200 }],
  [0x3a05, '0ce4 0000 0001 fc18', { type: 'STATUS_6', controllerId: 5, adc1Mv: 3300, adc2Mv: 0, adc3Mv: 1, ppmPermille: -1000 }],
  [0x260a, '42480000 424c0000', { type: 'BMS_V_TOT', controllerId: 10, vTotMv: 50000, vChargeMv: 51000 }],
  // -3.3 A as float32 is -3.29999995..., rounded half away from zero to -3300 mA
  [0x270a, 'c0533333 00000000', { type: 'BMS_I', controllerId: 10, iInMa: -3300, iInIcMa: 0 }],
  [0x280a, '42c80000 459c4000', { type: 'BMS_AH_WH', controllerId: 10, ahCntMah: 100000, whCntMwh: 5000000 }],
  [0x290a, '00 0d 0f0a 0f0b 0f0c', { type: 'BMS_V_CELL', controllerId: 10, firstCell: 0, cellNum: 13, cellsMv: [3850, 3851, 3852] }],
  [0x290a, '0c 0d 0f0d', { type: 'BMS_V_CELL', controllerId: 10, firstCell: 12, cellNum: 13, cellsMv: [3853] }],
  [0x2a0a, '0d 00000000001005', { type: 'BMS_BAL', controllerId: 10, cellNum: 13, balancing: [1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] }],
  [0x2b0a, '00 04 09ce 0a28 0a8c', { type: 'BMS_TEMPS', controllerId: 10, firstIndex: 0, tempNum: 4, tempsCentiC: [2510, 2600, 2700] }],
  [0x2c0a, '09c4 1194 0bb8 2794', { type: 'BMS_HUM', controllerId: 10, tempHumCentiC: 2500, humCentiPct: 4500, tempIcCentiC: 3000, pressurePa: 101320 }],
  [0x2c0a, '09c4 1194 0bb8', { type: 'BMS_HUM', controllerId: 10, tempHumCentiC: 2500, humCentiPct: 4500, tempIcCentiC: 3000 }],
  [0x2d0a, '0f0a 1068 cc fc 1c 15', {
    type: 'BMS_SOC_SOH_TEMP_STAT', controllerId: 10, vCellMinMv: 3850, vCellMaxMv: 4200, socByte: 204, sohByte: 252, socPermille: 800,
    sohPermille: 988, tempCellMaxC: 28, charging: true, balancing: false, chargeAllowed: true, chargeOk: false, dataVersion: 1,
  }],
  [0x350a, '42c80000 459c4000', { type: 'BMS_AH_WH_CHG_TOTAL', controllerId: 10, ahMah: 100000, whMwh: 5000000 }],
  [0x360a, '42b40000 458ca000', { type: 'BMS_AH_WH_DIS_TOTAL', controllerId: 10, ahMah: 90000, whMwh: 4500000 }],
  [0x110a, '02', { type: 'PING', controllerId: 10, senderId: 2 }],
  [0x1202, '0a01', { type: 'PONG', controllerId: 2, responderId: 10, hwType: 1 }],
  [0x050a, '00 01020304050607', { type: 'FILL_RX_BUFFER', controllerId: 10, offset: 0, bytes: bytes('01020304050607') }],
  [0x060a, '0103 aabbcc', { type: 'FILL_RX_BUFFER_LONG', controllerId: 10, offset: 259, bytes: bytes('aabbcc') }],
  [0x070a, '02 01 006b 1234', { type: 'PROCESS_RX_BUFFER', controllerId: 10, senderId: 2, commandsSend: 1, length: 107, crc: 0x1234 }],
  [0x080a, '02 00 60', { type: 'PROCESS_SHORT_BUFFER', controllerId: 10, senderId: 2, commandsSend: 0, payload: bytes('60') }],
];

test('every message decodes its hand-built vector and encodes back to the same bytes', () => {
  for (const [id, h, m] of VECTORS) {
    assert.equal(ok(id, h), m, h);
    const f = encodeCanMessage(m);
    assert.is(f.id, id, m.type);
    assert.ok(f.ext);
    assert.is(toHex(f.data), h.replace(/\s+/g, ''), m.type);
  }
});

test('old PONG with one byte means a VESC', () => {
  assert.equal(ok(0x1202, '0a'), { type: 'PONG', controllerId: 2, responderId: 10, hwType: 0 });
});

test('negative cases: wrong length, oversized, unknown id, non-VESC id, NaN, bad counts', () => {
  assert.equal([bad(0x0905, '000003e8007b01').code, bad(0x0905, '000003e8007b01').field], [WIRE_ERR.TRUNCATED, 'dlc']);
  assert.is(bad(0x0905, '000003e8007b01f400').code, WIRE_ERR.TOO_LONG);
  assert.is(bad(0x2c0a, '09c41194').code, WIRE_ERR.TRUNCATED);
  assert.is(bad(0x2c0a, '09c41194 0bb8 27').code, WIRE_ERR.BAD_VALUE);
  assert.is(bad(0x290a, '000d0f').code, WIRE_ERR.TRUNCATED);
  assert.is(bad(0x290a, '000d0f0a0f').code, WIRE_ERR.BAD_VALUE);
  assert.is(bad(0x290a, '0c0d0f0a0f0b').code, WIRE_ERR.BAD_VALUE, 'cells 12..13 exceed a count of 13');
  assert.is(bad(0x2a0a, '39 00000000000000').field, 'cellNum');
  assert.is(bad(0x260a, '7fc00000 00000000').code, WIRE_ERR.BAD_VALUE);
  assert.is(bad(0x260a, '7f800000 00000000').field, 'vTot');
  assert.is(bad(0x0105, '00000000').code, WIRE_ERR.WRONG_TYPE, 'SET_CURRENT is not decoded');
  assert.is(bad(0x1260a, '00').code, WIRE_ERR.WRONG_TYPE);
  assert.is(bad(0x070a, '02 01 006b 12').code, WIRE_ERR.TRUNCATED);
  assert.is(bad(0x080a, '0200').code, WIRE_ERR.TRUNCATED);
  assert.is(bad(0x1202, '').code, WIRE_ERR.TRUNCATED);
  assert.is(decodeCanFrame(-1, new Uint8Array(0)).ok, false);
});

test('float32 fields round-trip through mV/mA/mAh/mWh when |x| < 4e6', () => {
  fc.assert(fc.property(fc.integer({ min: -4000000, max: 4000000 }), fc.integer({ min: -4000000, max: 4000000 }), (a, b) => {
    const f = encodeCanMessage({ type: 'BMS_AH_WH', controllerId: 1, ahCntMah: a, whCntMwh: b });
    const d = decodeCanFrame(f.id, f.data);
    return d.ok && JSON.stringify(d.value) === JSON.stringify({ type: 'BMS_AH_WH', controllerId: 1, ahCntMah: a, whCntMwh: b });
  }), { numRuns: 500 });
});

test('BMS_BAL bitmap: any of up to 56 cells round-trips', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 56 }), (bal) => {
    const f = encodeCanMessage({ type: 'BMS_BAL', controllerId: 3, cellNum: bal.length, balancing: bal });
    const d = decodeCanFrame(f.id, f.data);
    return d.ok && JSON.stringify((d.value as { balancing: number[] }).balancing) === JSON.stringify(bal);
  }), { numRuns: 300 });
});

test('a full BMS broadcast cycle: 13 cells in 5 V_CELL frames, 4 temps in 2 TEMPS frames, all decodable', () => {
  const frames = encodeBmsBroadcast(11, {
    vTotMv: 50100, vChargeMv: 0, iInMa: 2500, iInIcMa: 2490, ahCntMah: 1000, whCntMwh: 50000, cellsMv: Array.from({ length: 13 }, (_, i) => 3800 + i),
    balancing: Array(13).fill(0), tempsCentiC: [2000, 2100, 2200, 2300], tempHumCentiC: 2000, humCentiPct: 3000, tempIcCentiC: 2500,
    vCellMinMv: 3800, vCellMaxMv: 3812, socByte: 200, sohByte: 255, tempCellMaxC: 23, charging: false, balancingActive: false,
    chargeAllowed: true, chargeOk: true, dataVersion: 0, ahChgTotalMah: 1, whChgTotalMwh: 2, ahDisTotalMah: 3, whDisTotalMwh: 4,
  });
  const types = frames.map((f) => { const d = decodeCanFrame(f.id, f.data); assert.ok(d.ok); return (d as { value: CanMessage }).value.type; });
  assert.equal(types, ['BMS_V_TOT', 'BMS_I', 'BMS_AH_WH', 'BMS_V_CELL', 'BMS_V_CELL', 'BMS_V_CELL', 'BMS_V_CELL', 'BMS_V_CELL', 'BMS_BAL',
    'BMS_TEMPS', 'BMS_TEMPS', 'BMS_HUM', 'BMS_SOC_SOH_TEMP_STAT', 'BMS_AH_WH_CHG_TOTAL', 'BMS_AH_WH_DIS_TOTAL']);
  assert.ok(frames.every((f) => (f.id & 0xff) === 11 && f.data.length <= 8));
});

test.run();
