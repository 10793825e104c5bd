// The drivers against helper D's simulated e-bike (host-tools/sim): the VESC on its UART
// byte stream, the two BMS on a simulated CAN bus behind a simulated MCP2515 on a fake SPI,
// and forwarding through the VESC. Virtual time; nothing needs hardware.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimBike, type SimBike } from '../../../host-tools/sim/index';
import type { Timers } from '../../../firmware/hal/io';
import { VescUart, VESC_FAULT, type VescSample } from '../../../firmware/drivers/vesc-uart';
import { Mcp2515, CAN_FAULT } from '../../../firmware/drivers/mcp2515';
import { DualBms, BMS_FAULT, type PackState } from '../../../firmware/drivers/dual-bms';
import { encodeCanMessage } from '../../../protocol/can/messages';
import { encodeCanBuffer, CanBufferRx } from '../../../protocol/can/buffer';
import { decodeBmsValues, encodeBmsGetValuesRequest } from '../../../protocol/vesc/commands';
import type { CanFrame } from '../../../protocol/can/id';

/** Timers on the simulator's virtual clock. */
function simTimers(bike: SimBike): Timers {
  const clock = bike.internals.clock;
  const handles = new Map<number, { cancel(): void }>();
  let seq = 1;
  return {
    now: () => clock.nowUs / 1000,
    setTimeout(fn, ms) {
      const id = seq++;
      handles.set(id, clock.after(Math.round(ms * 1000), () => { handles.delete(id); fn(); }));
      return id;
    },
    clearTimeout(id) {
      handles.get(id)?.cancel();
      handles.delete(id);
    },
  };
}

const RIDE = [{ kind: 'ride', durationS: 600, speedKmh: 22, slopePermille: 20 }] as never;

test('VescUart on the simulated VESC: identifies FW 6.05 and samples at 10 Hz; values follow the model', () => {
  const bike = createSimBike({ seed: 1, ride: RIDE, bmsRateHz: 0 });
  const timers = simTimers(bike);
  const samples: VescSample[] = [];
  const faults: string[] = [];
  const drv = new VescUart({ io: bike.VescSerial, timers, onSample: (s) => samples.push(s), onFault: (c, d) => faults.push(c + ' ' + d) });
  bike.advance(10_000);
  assert.is(drv.identification?.major, 6);
  assert.is(drv.identification?.minor, 5);
  assert.ok(samples.length >= 98, `${samples.length} samples in 10 s`);
  assert.equal(faults, []);
  const last = samples[samples.length - 1];
  const st = bike.state();
  const busPack = st.packs[st.busPack];
  assert.ok(Math.abs((last.vInMv as number) - busPack.voltageMv) < 1000, `v_in ${last.vInMv} vs pack ${busPack.voltageMv}`);
  for (let i = 1; i < samples.length; i++) assert.ok((samples[i].wattHoursUwh as number) >= (samples[i - 1].wattHoursUwh as number), 'Wh counter never goes back');
  assert.ok((last.wattHoursUwh as number) > 0, 'riding uphill used energy');
  drv.close();
});

test('VescUart survives UART noise and drops, and a VESC reboot (deaf 1.5 s)', () => {
  const bike = createSimBike({ seed: 2, ride: RIDE, bmsRateHz: 0 });
  const timers = simTimers(bike);
  const samples: VescSample[] = [];
  const faults: string[] = [];
  const drv = new VescUart({ io: bike.VescSerial, timers, onSample: (s) => samples.push(s), onFault: (c) => faults.push(c) });
  bike.advance(1000);
  bike.inject({ uartNoise: 0.002, uartDrop: 0.002 });
  bike.advance(20_000);
  bike.inject({ uartNoise: 0, uartDrop: 0 });
  const noisy = samples.length;
  assert.ok(noisy >= 150, `${noisy} samples in 21 s with noise`);
  assert.ok(drv.stats.badCrc + drv.stats.badEnd + drv.stats.badLength + drv.stats.garbage + drv.stats.retries > 0, 'noise was seen and handled');
  bike.inject({ vescReboot: true });
  bike.advance(5000);
  assert.ok(faults.includes(VESC_FAULT.TIMEOUT), 'the deaf VESC timed out');
  const after = samples.filter((s) => s.tMs > 23_000);
  assert.ok(after.length >= 20, `${after.length} samples after the reboot`);
  drv.close();
});

function canRig(seed: number, crystalHz: number, extra: Record<string, unknown> = {}) {
  const bike = createSimBike({ seed, ride: RIDE, crystalHz, ...extra });
  const timers = simTimers(bike);
  const faults: string[] = [];
  const updates: PackState[] = [];
  const bms = new DualBms({ packIds: [10, 11], source: 'can', timers, staleMs: 1000, onFault: (c, d) => faults.push(c + ' ' + d), onUpdate: (p) => updates.push(p) });
  let ready = 0;
  const can = new Mcp2515({
    spi: bike.mcp2515Spi, timers, crystalHz, acceptIds: [10, 11, 2], openInt: (o) => bike.openCanInt(o),
    onFrame: (f) => bms.receive(f), onReady: () => ready++, onFault: (c, d) => faults.push(c + ' ' + d),
  });
  return { bike, timers, faults, updates, bms, can, ready: () => ready };
}

for (const crystalHz of [8_000_000, 16_000_000]) {
  test(`Mcp2515 (${crystalHz / 1e6} MHz) + DualBms from CAN broadcasts: both packs tracked, matching the model`, () => {
    const { bike, faults, updates, bms, can, ready } = canRig(3, crystalHz);
    bike.advance(5000);
    assert.is(ready(), 1);
    assert.ok(can.running);
    assert.equal(faults, []);
    assert.ok(can.stats.received > 500, `${can.stats.received} frames`);
    const st = bike.state();
    for (const i of [0, 1]) {
      const p = bms.packs[i];
      assert.is(p.stale, false);
      assert.ok(Math.abs((p.vTotMv as number) - st.packs[i].voltageMv) < 200, `pack ${i} ${p.vTotMv} mV vs ${st.packs[i].voltageMv}`);
      assert.ok(p.cellsMv.length === 13 && p.cellsMv.every((c) => c > 3000 && c < 4300));
      assert.ok(updates.filter((u) => u.index === i).length >= 40, 'about 10 updates a second per pack');
    }
    assert.is(can.stats.rxOverflows, 0, 'INT-driven service keeps up with 2 x 10 Hz BMS cycles');
    can.close();
    bms.close();
  });
}

test('energy filters: only V_TOT, I and the lifetime totals reach the driver; a BMS_GET_VALUES asked over CAN comes back as a buffer', () => {
  const bike = createSimBike({ seed: 8, ride: RIDE, crystalHz: 16_000_000 });
  const timers = simTimers(bike);
  const faults: string[] = [];
  const types = new Map<number, number>();
  const rx = new CanBufferRx();
  const replies: Uint8Array[] = [];
  const bms = new DualBms({ packIds: [10, 11], source: 'can', timers, staleMs: 1000, onFault: (c, d) => faults.push(c + ' ' + d) });
  const can = new Mcp2515({
    spi: bike.mcp2515Spi, timers, crystalHz: 16_000_000, bmsEnergyIds: [10, 11], ownId: 2, openInt: (o) => bike.openCanInt(o),
    onFault: (c, d) => faults.push(c + ' ' + d),
    onFrame: (f: CanFrame) => {
      types.set(f.id >> 8, (types.get(f.id >> 8) ?? 0) + 1);
      if ((f.id & 0xff) === 2) {
        const r = rx.accept(f.id >> 8, f.data);
        if (r && r.ok) replies.push(r.value.payload);
      } else bms.receive(f);
    },
  });
  bike.advance(5000);
  assert.equal(faults, []);
  assert.equal([...types.keys()].sort((x, y) => x - y), [38, 39, 53, 54]);
  const perSecond = can.stats.received / 5;
  assert.ok(perSecond >= 70 && perSecond <= 85, `${perSecond} frames/s (4 per BMS cycle)`);
  const st = bike.state();
  for (const i of [0, 1]) {
    assert.ok(Math.abs((bms.packs[i].vTotMv as number) - st.packs[i].voltageMv) < 200);
    assert.ok(bms.packs[i].whDisTotalMwh !== undefined && bms.packs[i].cellsMv.length === 0);
  }
  for (const f of encodeCanBuffer(11, 2, encodeBmsGetValuesRequest(), 0)) assert.ok(can.write(f));
  bike.advance(200);
  assert.is(replies.length, 1, 'one reassembled reply');
  const v = decodeBmsValues(replies[0]);
  assert.ok(v.ok && v.value.canId === 11 && v.value.cellsMv.length === 13);
  assert.ok([5, 6, 7].every((t) => (types.get(t) ?? 0) > 0 || t === 6), 'FILL and PROCESS frames passed the own-id filter');
  can.close();
  bms.close();
});

test('energy filters without ownId add BMS_HUM and BMS_SOC_SOH_TEMP_STAT (charge OK, SOC): 6 frames per BMS cycle', () => {
  const bike = createSimBike({ seed: 9, ride: RIDE });
  const timers = simTimers(bike);
  const types = new Set<number>();
  const bms = new DualBms({ packIds: [10, 11], source: 'can', timers });
  const can = new Mcp2515({
    spi: bike.mcp2515Spi, timers, crystalHz: 8_000_000, bmsEnergyIds: [10, 11], openInt: (o) => bike.openCanInt(o),
    onFrame: (f) => { types.add(f.id >> 8); bms.receive(f); },
  });
  bike.advance(3000);
  assert.equal([...types].sort((x, y) => x - y), [38, 39, 44, 45, 53, 54]);
  assert.ok(bms.packs.every((p) => p.socPermille !== undefined && p.chargeOk !== undefined && p.statMs > 0));
  can.close();
  bms.close();
});

test('a silent BMS goes stale with a fault and comes back; the other pack is unaffected', () => {
  const { bike, faults, bms, can } = canRig(4, 8_000_000);
  bike.advance(2000);
  bike.inject({ bmsSilent: { canId: 11, ms: 3000 } });
  bike.advance(2500);
  assert.is(bms.packs[1].stale, true);
  assert.is(bms.packs[0].stale, false);
  assert.ok(faults.some((f) => f.startsWith(BMS_FAULT.STALE + ' pack 1 (CAN id 11)')), faults.join('; '));
  bike.advance(2000);
  assert.is(bms.packs[1].stale, false);
  can.close();
  bms.close();
});

test('Mcp2515 polling without an INT pin, and its TX: a PING reaches a BMS, which answers PONG', () => {
  const bike = createSimBike({ seed: 5, ride: RIDE, bmsRateHz: 0 });
  const timers = simTimers(bike);
  const frames: { id: number; data: Uint8Array }[] = [];
  const can = new Mcp2515({ spi: bike.mcp2515Spi, timers, crystalHz: 8_000_000, acceptIds: [2], pollMs: 2, onFrame: (f) => frames.push(f) });
  bike.advance(50);
  assert.ok(can.running);
  assert.ok(can.write(encodeCanMessage({ type: 'PING', controllerId: 10, senderId: 2 })));
  bike.advance(50);
  assert.is(can.stats.sent, 1);
  const pong = frames.find((f) => f.id >> 8 === 18);
  assert.ok(pong, 'PONG received');
  assert.is(pong!.id & 0xff, 2);
  assert.is(pong!.data[0], 10);
  assert.is(pong!.data[1], 1, 'HW_TYPE_VESC_BMS');
  can.close();
});

test('bus-off: writing onto a broken bus is reported, and the controller works again afterwards', () => {
  const bike = createSimBike({ seed: 6, ride: RIDE, bmsRateHz: 0 });
  const timers = simTimers(bike);
  const faults: string[] = [];
  const frames: unknown[] = [];
  const can = new Mcp2515({ spi: bike.mcp2515Spi, timers, crystalHz: 8_000_000, acceptIds: [2], openInt: (o) => bike.openCanInt(o), onFrame: (f) => frames.push(f), onFault: (c) => faults.push(c) });
  bike.advance(50);
  bike.inject({ canBusOffMs: 3000 });
  for (let i = 0; i < 20; i++) {
    can.write(encodeCanMessage({ type: 'PING', controllerId: 10, senderId: 2 }));
    bike.advance(100);
  }
  assert.ok(faults.includes(CAN_FAULT.ERROR_PASSIVE) && faults.includes(CAN_FAULT.BUS_OFF) && faults.includes(CAN_FAULT.TX_TIMEOUT), faults.join(','));
  bike.advance(4000);
  const before = frames.length;
  can.write(encodeCanMessage({ type: 'PING', controllerId: 10, senderId: 2 }));
  bike.advance(100);
  assert.ok(frames.length > before, 'a PONG arrives again after the bus is back');
  can.close();
});

test('DualBms through the VESC (no CAN transceiver): FORWARD_CAN + BMS_GET_VALUES per pack', () => {
  const bike = createSimBike({ seed: 7, ride: RIDE });
  const timers = simTimers(bike);
  const faults: string[] = [];
  const uart = new VescUart({ io: bike.VescSerial, timers, onFault: (c, d) => faults.push(c + ' ' + d) });
  const bms = new DualBms({ packIds: [10, 11], source: 'vesc', vesc: uart, timers, pollMs: 500, onFault: (c, d) => faults.push(c + ' ' + d) });
  bike.advance(5000);
  assert.equal(faults, []);
  const st = bike.state();
  for (const i of [0, 1]) {
    const p = bms.packs[i];
    assert.ok(p.updates >= 8, `pack ${i}: ${p.updates} replies`);
    assert.ok(Math.abs((p.vTotMv as number) - st.packs[i].voltageMv) < 200, `pack ${i} ${p.vTotMv} vs ${st.packs[i].voltageMv}`);
    assert.is(p.cellsMv.length, 13);
  }
  bike.inject({ bmsSilent: { canId: 10, ms: 4000 } });
  bike.advance(3000);
  assert.ok(faults.some((f) => f.startsWith(BMS_FAULT.NO_REPLY + ' pack 0')));
  assert.ok(faults.some((f) => f.startsWith(BMS_FAULT.STALE + ' pack 0')));
  assert.is(bms.packs[1].stale, false);
  bms.close();
  uart.close();
});

test.run();
