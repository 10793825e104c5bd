import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimBike } from '../../../host-tools/sim/index';
import { REG, INT, EFLG, MODE } from '../../../host-tools/sim/mcp2515';
import { decodeCanFrame } from '../../../protocol/can/messages';
import { CanBufferRx } from '../../../protocol/can/buffer';
import { encodeCanBuffer } from '../../../protocol/can/buffer';
import { splitId } from '../../../protocol/can/id';
import { decodeBmsValues, encodeBmsGetValuesRequest } from '../../../protocol/vesc/commands';
import type { SpiIO } from '../../../firmware/hal/io';
import { PARKED } from './_helpers';

/** The few SPI helpers a driver has, written from the datasheet's instruction table. */
function chip(spi: SpiIO) {
  return {
    reset: () => spi.transfer(Uint8Array.of(0xc0)),
    read: (a: number, n = 1) => spi.transfer(Uint8Array.of(0x03, a, ...new Array(n).fill(0))).subarray(2),
    write: (a: number, ...d: number[]) => spi.transfer(Uint8Array.of(0x02, a, ...d)),
    modify: (a: number, mask: number, d: number) => spi.transfer(Uint8Array.of(0x05, a, mask, d)),
    status: () => spi.transfer(Uint8Array.of(0xa0, 0))[1],
    rxStatus: () => spi.transfer(Uint8Array.of(0xb0, 0))[1],
    /** READ RX BUFFER n from SIDH: 13 bytes, clears RXnIF. */
    readRx: (n: number) => spi.transfer(Uint8Array.of(0x90 | (n << 2), ...new Array(13).fill(0))).subarray(1),
  };
}
type Chip = ReturnType<typeof chip>;

function extRegs(id: number): number[] {
  return [(id >>> 21) & 0xff, (((id >>> 18) & 7) << 5) | 0x08 | ((id >>> 16) & 3), (id >>> 8) & 0xff, id & 0xff];
}

function frameOf(buf: Uint8Array) {
  const sidh = buf[0], sidl = buf[1];
  const sid = (sidh << 3) | (sidl >> 5);
  const id = (((sid << 18) | ((sidl & 3) << 16) | (buf[2] << 8) | buf[3]) >>> 0);
  return { id, ext: (sidl & 8) !== 0, data: buf.slice(5, 5 + (buf[4] & 15)) };
}

/** 500 kbit/s at 8 MHz (autowp CNF values, protocol/BUS.md §4), filters for two BMS ids on RXB0. */
function setup(c: Chip, opts: { ids?: number[]; rollover?: boolean; any?: boolean } = {}) {
  c.reset();
  c.write(REG.CNF3, 0x82, 0x90, 0x00);
  const ids = opts.ids ?? [10, 11];
  c.write(REG.RXM0SIDH, 0, 0, 0, 0xff); // compare the controller id byte only
  c.write(REG.RXF0SIDH, ...extRegs(ids[0]));
  c.write(REG.RXF1SIDH, ...extRegs(ids[1] ?? ids[0]));
  c.write(REG.RXM1SIDH, 0xff, 0xe3, 0xff, 0xff); // RXB1: exact match on filters that match nothing
  for (const a of [REG.RXF2SIDH, REG.RXF3SIDH, REG.RXF4SIDH, REG.RXF5SIDH]) c.write(a, ...extRegs(0x1fffff00));
  c.write(REG.RXB0CTRL, (opts.any ? 0x60 : 0) | (opts.rollover ? 0x04 : 0));
  c.write(REG.RXB1CTRL, opts.any ? 0x60 : 0);
  c.write(REG.CANINTE, INT.RX0 | INT.RX1 | INT.ERR);
  c.modify(REG.CANCTRL, 0xe0, MODE.NORMAL);
}

test('power-on and RESET: Configuration mode, CANCTRL 0x87, CANSTAT mirrored at every xEh', () => {
  const bike = createSimBike({ seed: 1, ride: PARKED });
  const c = chip(bike.mcp2515Spi);
  assert.is(c.read(REG.CANCTRL)[0], 0x87);
  assert.is(c.read(REG.CANSTAT)[0] & 0xe0, MODE.CONFIG);
  assert.is(c.read(0x3e)[0], c.read(REG.CANSTAT)[0]);
  c.write(REG.CNF1, 0x41);
  assert.is(c.read(REG.CNF1)[0], 0x41);
  c.reset();
  assert.is(c.read(REG.CNF1)[0], 0);
  assert.is(bike.canInt.read(), 1);
});

test('filters, masks and CNF are writable only in Configuration mode; mode changes show in CANSTAT', () => {
  const bike = createSimBike({ seed: 1, ride: PARKED });
  const c = chip(bike.mcp2515Spi);
  setup(c);
  assert.is(c.read(REG.CANSTAT)[0] & 0xe0, MODE.NORMAL);
  c.write(REG.RXF0SIDH, 0x55);
  c.write(REG.CNF1, 0x3f);
  assert.is(c.read(REG.RXF0SIDH)[0], 0);
  assert.is(c.read(REG.CNF1)[0], 0);
  c.modify(REG.CANCTRL, 0xe0, MODE.LISTEN);
  assert.is(c.read(REG.CANSTAT)[0] & 0xe0, MODE.LISTEN);
  // BIT MODIFY on a register that is not bit-modifiable writes the whole byte (§12.10)
  c.write(0x31, 0xf0);
  c.modify(0x31, 0x0f, 0x05);
  assert.is(c.read(0x31)[0], 0x05);
  // TEC / REC are read-only
  c.write(REG.TEC, 99);
  assert.is(c.read(REG.TEC)[0], 0);
});

test('receives BMS broadcasts through the filters; READ RX BUFFER clears the flag; INT follows CANINTF & CANINTE', () => {
  const bike = createSimBike({ seed: 2, ride: PARKED });
  const c = chip(bike.mcp2515Spi);
  setup(c, { ids: [11] });
  let falls = 0;
  const pin = bike.openCanInt({ onFall: () => falls++ });
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    bike.advance(0.1);
    if (pin.read() === 1) continue;
    const st = c.status();
    if (st & 1) {
      assert.is(c.rxStatus() & 0xd8, 0x50, 'RX STATUS: message in RXB0, extended data frame');
      const f = frameOf(c.readRx(0));
      assert.ok(f.ext);
      const d = decodeCanFrame(f.id, f.data);
      assert.ok(d.ok, 'a valid VESC CAN message');
      assert.is(splitId(f.id).controllerId, 11, 'only BMS 11 passes the filter');
      seen.add(splitId(f.id).packetId);
      assert.is(c.status() & 1, 0, 'RX0IF cleared by READ RX BUFFER');
    }
    if (st & 2) c.readRx(1);
    if (c.read(REG.CANINTF)[0] & INT.ERR) c.modify(REG.CANINTF, INT.ERR, 0);
  }
  // 200 ms at 10 Hz: every kind of BMS frame from bms.c
  for (const p of [38, 39, 40, 41, 42, 43, 44, 45, 53, 54]) assert.ok(seen.has(p), `saw packet ${p}`);
  assert.ok(falls > 10, `INT fell ${falls} times`);
  assert.ok(bike.internals.mcp2515.stats.filtered > 0, 'BMS 10 frames were filtered out');
  assert.is(c.read(REG.EFLG)[0] & (EFLG.RX0OVR | EFLG.RX1OVR), 0, 'serviced fast enough: no overflow');
});

test('onFall is never called synchronously from an SPI transfer', () => {
  const bike = createSimBike({ seed: 2, ride: PARKED });
  const c = chip(bike.mcp2515Spi);
  let falls = 0;
  bike.openCanInt({ onFall: () => falls++ });
  c.write(REG.CANINTE, INT.RX0);
  c.write(REG.CANINTF, INT.RX0); // setting a flag by hand raises the interrupt
  assert.is(bike.canInt.read(), 0);
  assert.is(falls, 0);
  bike.advance(0);
  assert.is(falls, 1);
});

test('rollover: RXB0 full goes to RXB1 with BUKT (filter hit 110/111), then RX1OVR; without BUKT, RX0OVR', () => {
  for (const rollover of [true, false]) {
    const bike = createSimBike({ seed: 3, ride: PARKED });
    const c = chip(bike.mcp2515Spi);
    setup(c, { rollover });
    bike.advance(150);
    const f = c.read(REG.CANINTF)[0];
    const e = c.read(REG.EFLG)[0];
    assert.ok(f & INT.RX0);
    assert.ok(f & INT.ERR, 'ERRIF on overflow');
    if (rollover) {
      assert.ok(f & INT.RX1, 'rolled over into RXB1');
      assert.is(c.rxStatus() & 0xc0, 0xc0, 'messages in both buffers');
      assert.is(c.read(REG.RXB1CTRL)[0] & 7, c.read(REG.RXB1CTRL)[0] & 7 & 1, 'RXB1 FILHIT is RXF0/RXF1');
      assert.ok(e & EFLG.RX1OVR);
    } else {
      assert.is(f & INT.RX1, 0, 'RXB1 filters match nothing');
      assert.ok(e & EFLG.RX0OVR);
    }
    // The first frame stays: the oldest message is kept, later ones are lost
    const first = frameOf(c.readRx(0));
    assert.is(splitId(first.id).packetId, 38, 'BMS_V_TOT is the first frame of a burst');
    // Overflow flags clear by BIT MODIFY, and cannot be set by a write
    c.modify(REG.EFLG, 0xc0, 0);
    assert.is(c.read(REG.EFLG)[0] & 0xc0, 0);
    c.write(REG.EFLG, 0xff);
    assert.is(c.read(REG.EFLG)[0], 0);
  }
});

test('transmit: LOAD TX BUFFER + RTS sends a CAN PING, TX0IF rises, the BMS PONG comes back', () => {
  const bike = createSimBike({ seed: 4, ride: PARKED, bmsRateHz: 0 });
  const spi = bike.mcp2515Spi;
  const c = chip(spi);
  setup(c, { ids: [5] });
  // PING to BMS 10 from our id 5: EID (17 << 8) | 10, data [5]
  spi.transfer(Uint8Array.of(0x40, ...extRegs((17 << 8) | 10), 1, 5));
  assert.is(c.status() & 0x04, 0, 'not requested yet');
  spi.transfer(Uint8Array.of(0x81));
  assert.is(c.status() & 0x04, 0x04, 'TXB0.TXREQ set by RTS');
  bike.advance(2);
  const st = c.status();
  assert.is(st & 0x0c, 0x08, 'TXREQ cleared, TX0IF set');
  assert.ok(st & 1, 'PONG received');
  const f = frameOf(c.readRx(0));
  const d = decodeCanFrame(f.id, f.data);
  assert.ok(d.ok && d.value.type === 'PONG' && d.value.responderId === 10 && d.value.hwType === 1);
});

test('direct CAN request: PROCESS_SHORT_BUFFER [id, 0, 96] to a BMS, its FILL_RX_BUFFER reply reassembles into BMS_GET_VALUES', () => {
  const bike = createSimBike({ seed: 5, ride: PARKED, bmsRateHz: 0 });
  const spi = bike.mcp2515Spi;
  const c = chip(spi);
  setup(c, { ids: [5], rollover: true });
  const [req] = encodeCanBuffer(11, 5, encodeBmsGetValuesRequest(), 0);
  spi.transfer(Uint8Array.of(0x40, ...extRegs(req.id), req.data.length, ...req.data));
  spi.transfer(Uint8Array.of(0x81));
  const rx = new CanBufferRx();
  let reply: Uint8Array | undefined;
  for (let i = 0; i < 400 && !reply; i++) {
    bike.advance(0.05);
    for (const n of [0, 1]) {
      if (!(c.status() & (1 << n))) continue;
      const f = frameOf(c.readRx(n));
      const got = rx.accept(splitId(f.id).packetId, f.data);
      if (got && got.ok) reply = got.value.payload;
    }
  }
  assert.ok(reply, 'reply reassembled');
  const v = decodeBmsValues(reply as Uint8Array);
  assert.ok(v.ok && v.value.variant === 'bms' && v.value.canId === 11);
  if (v.ok) assert.is(v.value.vTotUv, bike.internals.model.packs[1].terminalUv);
});

test('wrong bit timing (16 MHz settings on an 8 MHz crystal): nothing received, receive errors climb to error-passive', () => {
  const bike = createSimBike({ seed: 6, ride: PARKED });
  const c = chip(bike.mcp2515Spi);
  setup(c);
  c.modify(REG.CANCTRL, 0xe0, MODE.CONFIG);
  c.write(REG.CNF3, 0x86, 0xf0, 0x00); // autowp 16 MHz set: 250 kbit/s here
  c.modify(REG.CANCTRL, 0xe0, MODE.NORMAL);
  bike.advance(1000);
  assert.is(c.read(REG.CANINTF)[0] & 3, 0);
  assert.ok(c.read(REG.REC)[0] >= 128);
  assert.ok(c.read(REG.EFLG)[0] & EFLG.RXEP);
  assert.ok(c.read(REG.CANINTF)[0] & INT.ERR);
});

test('bus-off on a broken bus: TXBO and ERRIF, pending TX waits, recovery to error-active afterwards', () => {
  const bike = createSimBike({ seed: 7, ride: PARKED });
  const spi = bike.mcp2515Spi;
  const c = chip(spi);
  setup(c);
  bike.inject({ canBusOffMs: 50 });
  spi.transfer(Uint8Array.of(0x40, ...extRegs((17 << 8) | 10), 1, 5));
  spi.transfer(Uint8Array.of(0x81));
  bike.advance(10);
  assert.ok(c.read(REG.EFLG)[0] & EFLG.TXBO);
  assert.ok(c.read(REG.CANINTF)[0] & INT.ERR);
  assert.is(c.status() & 0x04, 0x04, 'still requested');
  bike.advance(100);
  assert.is(c.read(REG.EFLG)[0] & EFLG.TXBO, 0);
  assert.is(c.status() & 0x0c, 0x08, 'sent after recovery');
});

test('CAN error frames: retransmitted, nothing lost, MERRF raised', () => {
  const bike = createSimBike({ seed: 8, ride: PARKED, bmsRateHz: 0 });
  const spi = bike.mcp2515Spi;
  const c = chip(spi);
  setup(c, { ids: [5], rollover: true });
  bike.inject({ canErrorRate: 0.3 });
  let pongs = 0;
  for (let k = 0; k < 20; k++) {
    spi.transfer(Uint8Array.of(0x40, ...extRegs((17 << 8) | (10 + (k % 2))), 1, 5));
    spi.transfer(Uint8Array.of(0x81));
    for (let i = 0; i < 40; i++) {
      bike.advance(0.1);
      for (const n of [0, 1]) if (c.status() & (1 << n)) { c.readRx(n); pongs++; }
    }
  }
  assert.is(pongs, 20);
  assert.ok(bike.internals.bus.stats.errorFrames > 0);
  assert.ok(c.read(REG.CANINTF)[0] & INT.MERR);
});

test('brown-out: SPI reads 0xFF while unpowered, the chip comes back reset in Configuration mode', () => {
  const bike = createSimBike({ seed: 9, ride: PARKED });
  const c = chip(bike.mcp2515Spi);
  setup(c);
  bike.inject({ brownoutMs: 20 });
  assert.is(c.read(REG.CANSTAT)[0], 0xff);
  assert.is(bike.canInt.read(), 1);
  bike.advance(30);
  assert.is(c.read(REG.CANSTAT)[0] & 0xe0, MODE.CONFIG);
  assert.is(c.read(REG.CNF1)[0], 0);
});

test('nextEventMs: quiet while nothing can reach the device; stops at frames once the MCP2515 listens', () => {
  const bike = createSimBike({ seed: 10, ride: PARKED });
  assert.is(bike.nextEventMs(), undefined, 'ticks and unheard broadcasts are quiet');
  const port = bike.openVescSerial({ baud: 115200 });
  port.write(Uint8Array.of(2, 1, 0, 0, 0, 3)); // FW_VERSION
  const t = bike.nextEventMs() as number;
  assert.ok(t > 0 && t < 2, `request reaches the VESC at ${t} ms`);
  const c = chip(bike.mcp2515Spi);
  setup(c);
  bike.advance(20);
  const n = bike.nextEventMs() as number;
  assert.ok(n !== undefined && n - bike.nowMs() <= 100, 'the next broadcast is visible');
  port.close();
});

test.run();
