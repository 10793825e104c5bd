// Mcp2515 register-level checks with a recording SPI fake (the behaviour on a bus is
// tested against the simulated chip in sim.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Mcp2515, CNF_500K, idToRegs, regsToId, CAN_FAULT } from '../../../firmware/drivers/mcp2515';
import type { SpiIO } from '../../../firmware/hal/io';
import { FakeTimers } from './fakes';
import { toHex } from '../../../protocol/bytes';


/** A register file that answers READ/WRITE/BIT MODIFY, enough for bring-up. */
function fakeChip(opts: { absent?: boolean; stuckMode?: boolean } = {}) {
  const regs = new Uint8Array(128);
  const log: string[] = [];
  const spi: SpiIO = {
    transfer(b) {
      log.push(toHex(b));
      const out = new Uint8Array(b.length);
      if (opts.absent) return out.fill(0xff);
      const op = b[0];
      if (op === 0xc0) { regs.fill(0); regs[0x0e] = 0x80; regs[0x0f] = 0x87; }
      else if (op === 0x03) for (let i = 2; i < b.length; i++) out[i] = regs[(b[1] + i - 2) & 0x7f];
      else if (op === 0x02) {
        for (let i = 2; i < b.length; i++) regs[(b[1] + i - 2) & 0x7f] = b[i];
        if (b[1] === 0x0f && !opts.stuckMode) regs[0x0e] = (regs[0x0e] & 0x1f) | (b[2] & 0xe0);
      } else if (op === 0x05) regs[b[1]] = (regs[b[1]] & ~b[2]) | (b[3] & b[2]);
      return out;
    },
    close() {},
  };
  return { regs, log, spi };
}

test('extended id register layout (protocol/BUS.md §4: BMS_V_TOT from id 10 = 0x260A gives 00 08 26 0A)', () => {
  const b = new Uint8Array(4);
  idToRegs(0x260a, true, b, 0);
  assert.is(toHex(b), '0008260a');
  assert.equal(regsToId(b, 0), { id: 0x260a, ext: true });
  idToRegs(0x1fffffff, true, b, 0);
  assert.is(toHex(b), 'ffebffff');
  assert.equal(regsToId(b, 0), { id: 0x1fffffff, ext: true });
  idToRegs(0x7ff, false, b, 0);
  assert.is(toHex(b.subarray(0, 2)), 'ffe0');
  assert.equal(regsToId(b, 0), { id: 0x7ff, ext: false });
});

test('500 kbit/s timing: both CNF sets give 500 kbit/s with a 75 % sample point', () => {
  for (const [hz, [c1, c2, c3]] of Object.entries(CNF_500K)) {
    const brp = c1 & 0x3f, prop = (c2 & 7) + 1, ps1 = ((c2 >> 3) & 7) + 1, ps2 = (c3 & 7) + 1;
    const tq = 1 + prop + ps1 + ps2;
    assert.is(Number(hz) / (2 * (brp + 1) * tq), 500_000, hz);
    assert.is((1 + prop + ps1) / tq, 0.75, hz);
    assert.ok(c2 & 0x80, 'BTLMODE: PS2 from CNF3');
    assert.ok(ps2 > ((c1 >> 6) & 3), 'PS2 > SJW');
  }
});

test('bring-up: reset, CNF, per-BMS filters on the controller id, BUKT rollover, normal mode, onReady later', () => {
  const timers = new FakeTimers();
  const chip = fakeChip();
  let ready = 0;
  const can = new Mcp2515({ spi: chip.spi, timers, crystalHz: 16_000_000, acceptIds: [10, 11, 2], onReady: () => ready++ });
  assert.equal(chip.log, ['c0'], 'only RESET until the oscillator has started');
  timers.advance(9);
  assert.is(ready, 0);
  timers.advance(2);
  assert.is(ready, 1, 'ready once configured (from a timer, never from a method)');
  assert.ok(can.running);
  const r = chip.regs;
  assert.equal([r[0x2a], r[0x29], r[0x28]], [0x40, 0xe5, 0x03]);
  assert.is(toHex(r.subarray(0x20, 0x28)), '000000ff000000ff', 'masks compare the low 8 bits only');
  assert.is(toHex(r.subarray(0x00, 0x08)), '0008000a0008000b', 'RXF0/RXF1 = ids 10, 11 (extended)');
  assert.is(toHex(r.subarray(0x08, 0x0c)), '0008000a');
  assert.is(toHex(r.subarray(0x10, 0x1c)), '0008000b000800020008000a');
  assert.is(r[0x60], 0x04, 'RXB0: filters on, BUKT');
  assert.is(r[0x70], 0x00);
  assert.is(r[0x2b], 0xa7, 'interrupts: RX0, RX1, TX0, ERR, MERR');
  assert.is(r[0x0f] & 0xe0, 0x00, 'normal mode');
  can.close();
  assert.is(r[0x0f] & 0xe0, 0x80, 'close() leaves the bus (configuration mode)');
  can.close();
  assert.throws(() => can.write({ id: 1, ext: true, data: new Uint8Array(0) }), /after close/);
});

test('energy filters: masks on packet and controller id, filters for 38/39 and 52-55 per BMS, 4-7 for our own id', () => {
  const timers = new FakeTimers();
  const chip = fakeChip();
  const can = new Mcp2515({ spi: chip.spi, timers, crystalHz: 8_000_000, bmsEnergyIds: [10, 11], ownId: 2 });
  timers.advance(20);
  const r = chip.regs;
  assert.is(toHex(r.subarray(0x20, 0x28)), '0000feff0000fcff');
  assert.is(toHex(r.subarray(0x00, 0x0c)), '0008260a0008260b0008340a');
  assert.is(toHex(r.subarray(0x10, 0x1c)), '0008340b0008040200080402');
  assert.is(r[0x60], 0x04);
  can.close();
  const chip2 = fakeChip();
  const can2 = new Mcp2515({ spi: chip2.spi, timers, crystalHz: 8_000_000, bmsEnergyIds: [10, 11] });
  timers.advance(20);
  assert.is(toHex(chip2.regs.subarray(0x10, 0x1c)), '0008340b00082c0a00082c0b', 'without ownId: 44-47 (HUM, SOC) of each BMS');
  can2.close();
  assert.throws(() => new Mcp2515({ spi: chip.spi, timers, crystalHz: 8_000_000, bmsEnergyIds: [10], acceptIds: [10] }), /not both/);
  assert.throws(() => new Mcp2515({ spi: chip.spi, timers, crystalHz: 8_000_000, bmsEnergyIds: [10, 11, 12] }), /1 or 2 BMS ids/);
});

test('no acceptIds (or more than 4): receive everything; listen-only mode never transmits', () => {
  const timers = new FakeTimers();
  const chip = fakeChip();
  const can = new Mcp2515({ spi: chip.spi, timers, crystalHz: 8_000_000, listenOnly: true });
  timers.advance(20);
  assert.equal([chip.regs[0x2a], chip.regs[0x29], chip.regs[0x28]], [0x00, 0xd1, 0x01]);
  assert.is(chip.regs[0x60], 0x64);
  assert.is(chip.regs[0x70], 0x60);
  assert.is(chip.regs[0x0f] & 0xe0, 0x60);
  assert.is(can.write({ id: 0x110a, ext: true, data: new Uint8Array([2]) }), false);
  can.close();
});

test('an absent chip or a mode that never changes is a fault, retried every second', () => {
  for (const [o, code] of [[{ absent: true }, CAN_FAULT.NO_CHIP], [{ stuckMode: true }, CAN_FAULT.MODE]] as const) {
    const timers = new FakeTimers();
    const chip = fakeChip(o);
    const faults: string[] = [];
    const can = new Mcp2515({ spi: chip.spi, timers, crystalHz: 8_000_000, onFault: (c) => faults.push(c) });
    timers.advance(2100);
    assert.ok(faults.length >= 2 && faults.every((f) => f === code), faults.join(','));
    assert.is(can.running, false);
    can.close();
  }
});

test('options are checked before the SPI is touched', () => {
  const timers = new FakeTimers();
  const chip = fakeChip();
  assert.throws(() => new Mcp2515({ spi: chip.spi, timers, crystalHz: 20_000_000 }), /"crystalHz" expected 8000000 or 16000000/);
  assert.throws(() => new Mcp2515({ spi: chip.spi, timers, crystalHz: 8_000_000, acceptIds: [300] }), /"acceptIds\[0\]"/);
  assert.throws(() => new Mcp2515({ spi: chip.spi, timers, crystalHz: 8_000_000, onFrame: 1 as never }), /"onFrame" expected a function/);
  assert.throws(() => new Mcp2515({ spi: {} as SpiIO, timers, crystalHz: 8_000_000 }), /"spi"/);
  assert.equal(chip.log, []);
});

test.run();
