// The rule that sends each mWh to a grid flow or a ride flow: a table of cases.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isPlugged, PLUG_MIN_MA, CHARGE_OK_FRESH_MS, type PlugPack, type PlugInputs } from '../../../firmware/energy/plug';

const NOW = 100_000;
const pack = (p: Partial<PlugPack> = {}): PlugPack => ({ stale: false, statMs: -1, ...p });
const idle = pack();

const cases: [string, PlugInputs, boolean][] = [
  // Direct evidence from a BMS, both bus paths.
  ['nothing says plugged (CAN)', { nowMs: NOW, viaCan: true, vesc: undefined, packs: [idle, idle] }, false],
  ['a pack charging (CAN)', { nowMs: NOW, viaCan: true, vesc: undefined, packs: [idle, pack({ charging: true })] }, true],
  ['a pack charging (through the VESC)', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 0, erpm: 0 }, packs: [pack({ charging: true }), idle] }, true],
  ['a stale pack that was charging is no evidence', { nowMs: NOW, viaCan: true, vesc: undefined, packs: [pack({ stale: true, charging: true }), idle] }, false],
  ['charge OK in a fresh status frame', { nowMs: NOW, viaCan: true, vesc: undefined, packs: [pack({ chargeOk: true, statMs: NOW - 100 }), idle] }, true],
  ['charge OK just inside the freshness window', { nowMs: NOW, viaCan: true, vesc: undefined, packs: [pack({ chargeOk: true, statMs: NOW - CHARGE_OK_FRESH_MS + 1 }), idle] }, true],
  ['charge OK exactly one window old has expired', { nowMs: NOW, viaCan: true, vesc: undefined, packs: [pack({ chargeOk: true, statMs: NOW - CHARGE_OK_FRESH_MS }), idle] }, false],
  ['charge OK without a status frame time (never heard)', { nowMs: NOW, viaCan: true, vesc: undefined, packs: [pack({ chargeOk: true, statMs: -1 }), idle] }, false],
  ['charge OK on a stale pack', { nowMs: NOW, viaCan: true, vesc: undefined, packs: [pack({ stale: true, chargeOk: true, statMs: NOW }), idle] }, false],
  // Over CAN the inference from currents is never used.
  ['CAN: big discharge, VESC idle, wheel still: not plugged without chargeOk', { nowMs: NOW, viaCan: true, vesc: { inputCurrentMa: 0, erpm: 0 }, packs: [pack({ iInMa: 5000 }), idle] }, false],
  // Through the VESC: a pack feeding something other than the motor.
  ['VESC: pack discharges 5 A, VESC draws 0, wheel still: exporting to the hub', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 0, erpm: 0 }, packs: [pack({ iInMa: 5000 }), idle] }, true],
  ['VESC: discharge at the threshold is standby draw', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 0, erpm: 0 }, packs: [pack({ iInMa: PLUG_MIN_MA }), idle] }, false],
  ['VESC: discharge just above the threshold', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 0, erpm: 0 }, packs: [pack({ iInMa: PLUG_MIN_MA + 1 }), idle] }, true],
  ['VESC: the wheel turns: riding', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 0, erpm: 120 }, packs: [pack({ iInMa: 5000 }), idle] }, false],
  ['VESC: the VESC draws a tenth of the pack current: the motor', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 500, erpm: 0 }, packs: [pack({ iInMa: 5000 }), idle] }, false],
  ['VESC: the VESC draws just under a tenth: not the motor', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 499, erpm: 0 }, packs: [pack({ iInMa: 5000 }), idle] }, true],
  ['VESC: negative VESC current (regen) counts by magnitude', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: -600, erpm: 0 }, packs: [pack({ iInMa: 5000 }), idle] }, false],
  ['VESC: charging current into the pack is not export', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 0, erpm: 0 }, packs: [pack({ iInMa: -3000 }), idle] }, false],
  ['VESC: no VESC reading yet', { nowMs: NOW, viaCan: false, vesc: undefined, packs: [pack({ iInMa: 5000 }), idle] }, false],
  ['VESC: VESC reading without input current', { nowMs: NOW, viaCan: false, vesc: { erpm: 0 }, packs: [pack({ iInMa: 5000 }), idle] }, false],
  ['VESC: the discharging pack is stale', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 0, erpm: 0 }, packs: [pack({ stale: true, iInMa: 5000 }), idle] }, false],
  ['VESC: the second pack exports', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 0, erpm: 0 }, packs: [idle, pack({ iInMa: 2000 })] }, true],
  ['VESC: erpm absent counts as still', { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 0 }, packs: [pack({ iInMa: 2000 }), idle] }, true],
];

for (const [name, input, want] of cases) {
  test(name, () => {
    assert.is(isPlugged(input), want);
  });
}

test('pure: the same readings give the same answer, and the inputs are not changed', () => {
  const input: PlugInputs = { nowMs: NOW, viaCan: false, vesc: { inputCurrentMa: 0, erpm: 0 }, packs: [pack({ iInMa: 5000, chargeOk: true, statMs: NOW - 10 }), idle] };
  const copy = JSON.stringify(input);
  assert.is(isPlugged(input), isPlugged(input));
  assert.is(JSON.stringify(input), copy);
});

test.run();
