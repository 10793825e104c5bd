import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import * as C from '../../../protocol/vesc/commands';
import { COMM, WIRE_ERR } from '../../../protocol/vesc/enums';
import { fromHex, toHex } from '../../../protocol/bytes';

/** Test vectors are written with spaces between fields. */
const bytes = (h: string) => fromHex(h.replace(/\s+/g, ''));
function ok<T>(d: { ok: true; value: T } | { ok: false; error: { message: string } }): T {
  if (!d.ok) throw new Error('decode failed: ' + d.error.message);
  return d.value;
}
function err(d: { ok: boolean; error?: { code: string; field: string; offset: number; message: string } }) {
  assert.is(d.ok, false);
  return d.error!;
}

test('bare requests: FW_VERSION, GET_VALUES, BMS_GET_VALUES, PING_CAN, ALIVE (protocol/BUS.md §2)', () => {
  assert.is(toHex(C.encodeFwVersionRequest()), '00');
  assert.is(toHex(C.encodeGetValuesRequest()), '04');
  assert.is(toHex(C.encodeBmsGetValuesRequest()), '60');
  assert.is(toHex(C.encodePingCanRequest()), '3e');
  assert.is(toHex(C.encodeAlive()), '1e');
  assert.equal(ok(C.decodeAlive(bytes('1e'))), { command: 30 });
  assert.is(err(C.decodeAlive(bytes('1e00'))).code, WIRE_ERR.TRAILING_BYTES);
  assert.is(err(C.decodeAlive(bytes('04'))).code, WIRE_ERR.WRONG_TYPE);
  assert.ok(C.decodeBareRequest(bytes('60'), COMM.BMS_GET_VALUES, 'BMS_GET_VALUES').ok);
});

test('GET_VALUES_SELECTIVE: hand-checked request and reply for the energy-meter fields', () => {
  const mask = C.VALUE_BIT.INPUT_CURRENT | C.VALUE_BIT.V_IN | C.VALUE_BIT.WATT_HOURS | C.VALUE_BIT.WATT_HOURS_CHARGED;
  assert.is(toHex(C.encodeGetValuesSelectiveRequest(mask)), '3200001908');
  assert.equal(ok(C.decodeGetValuesRequest(bytes('3200001908'))), { command: 50, mask: 0x1908 });
  assert.equal(ok(C.decodeGetValuesRequest(bytes('04'))), { command: 4, mask: 0xffffffff });
  // bit 3 input current 12.34 A, bit 8 v_in 48.2 V, bit 11 12.3456 Wh, bit 12 0.5 Wh
  const reply = bytes('32 00001908  000004d2  01e2  0001e240  00001388');
  assert.equal(ok(C.decodeValues(reply)), {
    command: 50, mask: 0x1908, inputCurrentMa: 12340, vInMv: 48200, wattHoursUwh: 12345600, wattHoursChargedUwh: 500000,
  });
  assert.is(toHex(C.encodeValues({ inputCurrentMa: 12340, vInMv: 48200, wattHoursUwh: 12345600, wattHoursChargedUwh: 500000 }, mask)), toHex(reply));
});

test('GET_VALUES: full reply is 74 bytes (protocol/BUS.md §2) with every field in bit order', () => {
  const v = {
    tempFetDeciC: 315, tempMotorDeciC: -52, motorCurrentMa: -290, inputCurrentMa: 150010, idMa: 10, iqMa: -20,
    dutyPermille: -999, erpm: -123456, vInMv: 50400, ampHoursUah: 12345600, ampHoursChargedUah: 100, wattHoursUwh: 2147483600,
    wattHoursChargedUwh: 0, tachometer: -5, tachometerAbs: 5, fault: 4, pidPosMicroDeg: 359999999, controllerId: 9,
    tempMos1DeciC: 300, tempMos2DeciC: 301, tempMos3DeciC: 302, vdMv: -12345, vqMv: 23456, status: 3,
  };
  const p = C.encodeValues(v);
  assert.is(p.length, 74);
  assert.is(p[0], 4);
  // temp_fet 31.5 °C = 013b, temp_motor -5.2 °C = ffcc, motor current -0.29 A = ffffffe3
  assert.is(toHex(p.subarray(1, 9)), '013bffccffffffe3');
  assert.is(p[1 + 2 + 2 + 4 * 4 + 2 + 4 + 2 + 4 * 6], 4, 'fault byte after 15 fields');
  assert.equal(ok(C.decodeValues(p)), { command: 4, mask: 0xffffffff, ...v });
});

test('GET_VALUES encoder truncates sub-step values toward zero like the VESC C casts', () => {
  const d = ok(C.decodeValues(C.encodeValues({ inputCurrentMa: -299, vInMv: 48299 }, C.VALUE_BIT.INPUT_CURRENT | C.VALUE_BIT.V_IN)));
  assert.is(d.inputCurrentMa, -290);
  assert.is(d.vInMv, 48200);
  assert.throws(() => C.encodeValues({ vInMv: 4000000 }, C.VALUE_BIT.V_IN), /"vInMv" expected integer in \[-32768, 32767\], got 40000/);
});

test('GET_VALUES: mask bits above 21 carry no field; any mask round-trips', () => {
  assert.equal(ok(C.decodeValues(bytes('32 80000000'))), { command: 50, mask: 0x80000000 });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.array(fc.integer({ min: -32768, max: 32767 }), { minLength: 24, maxLength: 24 }), (mask, raw) => {
      const v: Record<string, number> = {};
      C.VALUE_FIELDS.forEach((f, i) => {
        if (Math.floor(mask / 2 ** f[0]) % 2 === 1) v[f[1]] = (f[2] === 'u8' ? Math.abs(raw[i]) % 256 : raw[i]) * f[3];
      });
      const d = ok(C.decodeValues(C.encodeValues(v, mask)));
      return JSON.stringify(d) === JSON.stringify({ command: 50, mask, ...v }) || JSON.stringify(Object.entries(d).sort()) === JSON.stringify(Object.entries({ command: 50, mask, ...v }).sort());
    }),
    { numRuns: 200 },
  );
});

test('GET_VALUES negative cases: truncated, trailing, wrong command, empty', () => {
  const full = C.encodeValues({});
  let e = err(C.decodeValues(full.subarray(0, 73)));
  assert.is(e.code, WIRE_ERR.TRUNCATED);
  assert.is(e.field, 'status');
  assert.is(e.offset, 73);
  e = err(C.decodeValues(bytes('32 00000100 01')));
  assert.equal([e.code, e.field, e.offset], [WIRE_ERR.TRUNCATED, 'vInMv', 5]);
  assert.is(err(C.decodeValues(bytes('32 00000100 01e2 00'))).code, WIRE_ERR.TRAILING_BYTES);
  assert.is(err(C.decodeValues(bytes('32 0000'))).field, 'mask');
  assert.is(err(C.decodeValues(bytes('60'))).code, WIRE_ERR.WRONG_TYPE);
  assert.is(err(C.decodeValues(new Uint8Array(0))).code, WIRE_ERR.TRUNCATED);
  assert.match(err(C.decodeValues(bytes('32 00000100 01'))).message, /vInMv.*byte 5/);
});

const FW_BLDC = bytes('00 06 05 363000 000102030405060708090a0b 00 00 00 01 00 00 00 00 00 12345678');

test('FW_VERSION: bldc reply (hand-built per commands.c L231-296) decodes and re-encodes', () => {
  const v = ok(C.decodeFwVersion(FW_BLDC));
  assert.equal(v, {
    major: 6, minor: 5, hwName: '60', uuid: '000102030405060708090a0b', pairingDone: 0, testVersion: 0, hwType: 0,
    customConfigCount: 1, hasPhaseFilters: 0, qmlHw: 0, qmlApp: 0, nrfFlags: 0, fwName: '', hwCrc: 0x12345678,
  });
  assert.is(toHex(C.encodeFwVersion(v)), toHex(FW_BLDC));
});

test('FW_VERSION: VESC-BMS short variant, older layouts and negative cases', () => {
  const bms = bytes('00 06 00 766273313600 aabbccddeeff001122334455 00 00 01 01');
  assert.equal(ok(C.decodeFwVersion(bms)), {
    major: 6, minor: 0, hwName: 'vbs16', uuid: 'aabbccddeeff001122334455', pairingDone: 0, testVersion: 0, hwType: 1, customConfigCount: 1,
  });
  assert.is(toHex(C.encodeFwVersion(ok(C.decodeFwVersion(bms)))), toHex(bms));
  assert.equal(ok(C.decodeFwVersion(bytes('00 03 28 4100 000000000000000000000000'))).hwName, 'A');
  let e = err(C.decodeFwVersion(bytes('00 06 05 3630')));
  assert.equal([e.code, e.field], [WIRE_ERR.TRUNCATED, 'hwName']);
  e = err(C.decodeFwVersion(bytes('00 06 05 3600 0001020304')));
  assert.equal([e.code, e.field], [WIRE_ERR.TRUNCATED, 'uuid']);
  assert.is(err(C.decodeFwVersion(FW_BLDC.subarray(0, FW_BLDC.length - 2))).field, 'hwCrc');
  assert.is(err(C.decodeFwVersion(bytes('04'))).code, WIRE_ERR.WRONG_TYPE);
  assert.throws(() => C.encodeFwVersion({ major: 6, minor: 5, hwName: 'x', uuid: 'zz' }), /"uuid" expected 24 hex digits/);
});

// 2 cells, 1 temperature sensor, BMS firmware variant (ends at pressure)
const BMS_FW = bytes(
  '60 02fc7720 00000000 ffed2979 00000000 000004d2 0000ddd5' +
    ' 02 0f0a 0f0b  00 01  01 09ce  0bb8  09c4 1194  0af0  0320 03de  0a' +
    ' 42c80000 459c4000 42b40000 458ca000  2794',
);

test('BMS_GET_VALUES: BMS-firmware variant, hand-built per vesc_bms_fw commands.c', () => {
  const v = ok(C.decodeBmsValues(BMS_FW));
  assert.equal(v, {
    variant: 'bms', vTotUv: 50100000, vChargeUv: 0, iInUa: -1234567, iInIcUa: 0, ahCntMah: 1234, whCntMwh: 56789,
    cellsMv: [3850, 3851], balancing: [0, 1], tempsCentiC: [2510], tempIcCentiC: 3000, tempHumCentiC: 2500, humCentiPct: 4500,
    tempMaxCellCentiC: 2800, socPermille: 800, sohPermille: 990, canId: 10,
    ahChgTotalMah: 100000, whChgTotalMwh: 5000000, ahDisTotalMah: 90000, whDisTotalMwh: 4500000, pressurePa: 101320,
  });
  assert.is(toHex(C.encodeBmsValues(v)), toHex(BMS_FW));
});

test('BMS_GET_VALUES: VESC variant adds data_version and the status string; 13S/4 temps sizes 105/107 (protocol/BUS.md §2)', () => {
  const vesc = new Uint8Array([...BMS_FW, 1, ...Buffer.from('OK'), 0]);
  const v = ok(C.decodeBmsValues(vesc));
  assert.is(v.variant, 'vesc');
  assert.is(v.dataVersion, 1);
  assert.is(v.status, 'OK');
  assert.is(toHex(C.encodeBmsValues(v)), toHex(vesc));
  const big = { ...v, cellsMv: Array(13).fill(3900), balancing: Array(13).fill(0), tempsCentiC: [1, 2, 3, 4], status: '' };
  assert.is(C.encodeBmsValues(big, 'bms').length, 105);
  assert.is(C.encodeBmsValues(big, 'vesc').length, 107);
});

test('BMS_GET_VALUES: older BMS replies that stop at can_id or soh still decode', () => {
  const upToSoh = BMS_FW.subarray(0, BMS_FW.length - 19);
  const v = ok(C.decodeBmsValues(upToSoh));
  assert.is(v.canId, undefined);
  assert.is(v.sohPermille, 990);
  assert.is(ok(C.decodeBmsValues(BMS_FW.subarray(0, BMS_FW.length - 18))).canId, 10);
});

test('BMS_GET_VALUES negative cases: truncated cells, half a float, NaN float, unterminated status, trailing', () => {
  let e = err(C.decodeBmsValues(BMS_FW.subarray(0, 28)));
  assert.equal([e.code, e.field], [WIRE_ERR.TRUNCATED, 'cells']);
  e = err(C.decodeBmsValues(BMS_FW.subarray(0, BMS_FW.length - 4)));
  assert.equal([e.code, e.field], [WIRE_ERR.TRUNCATED, 'whDisTotal']);
  const nan = BMS_FW.slice();
  nan.set([0x7f, 0xc0, 0, 0], nan.length - 18);
  e = err(C.decodeBmsValues(nan));
  assert.equal([e.code, e.field], [WIRE_ERR.BAD_VALUE, 'ahChgTotal']);
  e = err(C.decodeBmsValues(new Uint8Array([...BMS_FW, 1, 0x41, 0x42])));
  assert.equal([e.code, e.field], [WIRE_ERR.TRUNCATED, 'status']);
  e = err(C.decodeBmsValues(new Uint8Array([...BMS_FW, 1, 0, 9])));
  assert.is(e.code, WIRE_ERR.TRAILING_BYTES);
  e = err(C.decodeBmsValues(new Uint8Array([...BMS_FW, 1, ...Array(41).fill(0x41), 0])));
  assert.is(e.code, WIRE_ERR.TOO_LONG);
  assert.throws(() => C.encodeBmsValues({ ...ok(C.decodeBmsValues(BMS_FW)), balancing: [0] }), /"balancing" expected 2 entries/);
});

test('BMS_GET_VALUES: property round trip of both variants', () => {
  const i32 = fc.integer({ min: -2147483648, max: 2147483647 });
  const i16 = fc.integer({ min: -32768, max: 32767 });
  const milli = fc.integer({ min: -4000000, max: 4000000 });
  fc.assert(
    fc.property(
      fc.record({
        vTotUv: i32, vChargeUv: i32, iInUa: i32, iInIcUa: i32, ahCntMah: i32, whCntMwh: i32,
        cellsMv: fc.array(i16, { maxLength: 32 }), tempsCentiC: fc.array(i16, { maxLength: 10 }),
        tempIcCentiC: i16, tempHumCentiC: i16, humCentiPct: i16, tempMaxCellCentiC: i16, socPermille: i16, sohPermille: i16,
        canId: fc.integer({ min: 0, max: 255 }), ahChgTotalMah: milli, whChgTotalMwh: milli, ahDisTotalMah: milli, whDisTotalMwh: milli,
        pressure10Pa: i16, dataVersion: fc.integer({ min: 0, max: 255 }), status: fc.string({ maxLength: 40 }).filter((s) => /^[\x01-\x7f]*$/.test(s)),
        vesc: fc.boolean(),
      }),
      (r) => {
        const { pressure10Pa, vesc, ...rest } = r;
        const v: C.BmsValues = { ...rest, variant: vesc ? 'vesc' : 'bms', balancing: r.cellsMv.map((c) => c & 1), pressurePa: pressure10Pa * 10 };
        if (!vesc) { delete v.dataVersion; delete v.status; }
        const d = ok(C.decodeBmsValues(C.encodeBmsValues(v)));
        assert.equal(d, v);
        return true;
      },
    ),
    { numRuns: 200 },
  );
});

test('FORWARD_CAN and PING_CAN: both directions', () => {
  assert.is(toHex(C.encodeForwardCan(10, C.encodeBmsGetValuesRequest())), '220a60');
  const f = ok(C.decodeForwardCan(bytes('220a60')));
  assert.is(f.canId, 10);
  assert.is(toHex(f.inner), '60');
  assert.is(err(C.decodeForwardCan(bytes('220a'))).field, 'inner');
  assert.is(err(C.decodeForwardCan(bytes('22'))).field, 'canId');
  assert.throws(() => C.encodeForwardCan(256, bytes('60')), /"canId" expected integer in \[0, 255\]/);
  assert.is(toHex(C.encodePingCanReply([10, 11, 104])), '3e0a0b68');
  assert.equal(ok(C.decodePingCanReply(bytes('3e0a0b68'))).ids, [10, 11, 104]);
  assert.equal(ok(C.decodePingCanReply(bytes('3e'))).ids, []);
  assert.is(err(C.decodePingCanReply(bytes('04'))).code, WIRE_ERR.WRONG_TYPE);
});

test.run();
