// `deep vesc decode` and `deep can decode` through main(argv).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deep } from './_run';

test('vesc decode: the GET_VALUES request frame of protocol/BUS.md §1', async () => {
  const r = await deep(['vesc', 'decode', '02 01 04 40 84 03']);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.frame, { kind: 'short', payloadLength: 1, crc: '0x4084' });
  assert.is(j.command, 'GET_VALUES');
  assert.is(j.direction, 'request');
});

test('vesc decode: a bare GET_VALUES_SELECTIVE reply payload, with units and the fault name', async () => {
  const r = await deep(['vesc', 'decode', '32000099080000', '04d201e20001e2400000138800']);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.frame, undefined);
  assert.equal(j.fields, { mask: 0x9908, inputCurrentMa: 12340, vInMv: 48200, wattHoursUwh: 12345600, wattHoursChargedUwh: 500000, fault: 0, faultName: 'NONE' });
  assert.equal(j.units, { inputCurrentMa: 'mA', vInMv: 'mV', wattHoursUwh: 'µWh', wattHoursChargedUwh: 'µWh' });
});

test('vesc decode: FORWARD_CAN shows the inner command; a BMS reply shows µV and mWh', async () => {
  let r = await deep(['vesc', 'decode', '220a60']);
  assert.is(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).inner.command, 'BMS_GET_VALUES');
  assert.is(JSON.parse(r.out).canId, 10);
  r = await deep(['vesc', 'decode', '6002fc772000000000ffed2979000000000000' + '04d20000ddd5020f0a0f0b000101' + '09ce0bb809c411940af0032003de0a42c80000459c400042b40000458ca0002794']);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.fields.variant, 'bms');
  assert.is(j.fields.vTotUv, 50100000);
  assert.is(j.units.vTotUv, 'µV');
  assert.is(j.units.whDisTotalMwh, 'mWh');
  assert.is(j.units.cellsMv, 'mV');
});

test('vesc decode: bad CRC, truncated payload, unknown command and bad hex are clear errors', async () => {
  let r = await deep(['vesc', 'decode', '020104408503']);
  assert.is(r.code, 1);
  assert.match(r.err, /CRC 0x4085 in the frame, 0x4084 computed over the 1-byte payload/);
  r = await deep(['vesc', 'decode', '3200000100 01']);
  assert.is(r.code, 1);
  assert.match(r.err, /TRUNCATED.*vInMv.*byte 5/);
  r = await deep(['vesc', 'decode', '05000000']);
  assert.is(r.code, 1);
  assert.match(r.err, /command 5 \(SET_DUTY\) is not decoded/);
  r = await deep(['vesc', 'decode', '0g']);
  assert.is(r.code, 2);
  assert.match(r.err, /"g" at character 1 is not a hex digit/);
  r = await deep(['vesc', 'decode']);
  assert.is(r.code, 2);
});

test('can decode: BMS_V_TOT in both argument forms, PROCESS_SHORT_BUFFER with its inner command', async () => {
  for (const argv of [['can', 'decode', '260A', '42480000424C0000'], ['can', 'decode', '0000260A#42480000424C0000']]) {
    const r = await deep(argv);
    assert.is(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.is(j.type, 'BMS_V_TOT');
    assert.is(j.controllerId, 10);
    assert.equal(j.fields, { vTotMv: 50000, vChargeMv: 51000 });
    assert.equal(j.units, { vTotMv: 'mV', vChargeMv: 'mV' });
  }
  const r = await deep(['can', 'decode', '80A', '020060']);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.type, 'PROCESS_SHORT_BUFFER');
  assert.is(j.fields.senderId, 2);
  assert.is(j.inner.command, 'BMS_GET_VALUES');
});

test('can decode: wrong length and bad ids are errors', async () => {
  let r = await deep(['can', 'decode', '905', '000003e8007b01']);
  assert.is(r.code, 1);
  assert.match(r.err, /TRUNCATED: STATUS needs 8 data bytes, got 7/);
  r = await deep(['can', 'decode', '3FFFFFFF', '00']);
  assert.is(r.code, 2);
  r = await deep(['can', 'decode', 'xyz', '00']);
  assert.is(r.code, 2);
  assert.match(r.err, /not a hex CAN id/);
});

test.run();
