// A simulated Microchip MCP2515 stand-alone CAN controller (datasheet DS20001801), as the
// device sees it through SPI: the instruction set, the register map, both receive buffers
// with their filters, masks and rollover, three transmit buffers, interrupt flags and the
// INT pin, error counters, EFLG and bus-off. The facts the driver relies on are in
// protocol/BUS.md §4; section numbers below are the datasheet's.
import type { SpiIO, DigitalInIO, DigitalInOptions } from '../../firmware/hal/io';
import type { VirtualClock } from './clock';
import type { CanBus, CanNode, SimCanFrame } from './canbus';
import { CAN_BITRATE } from './canbus';

/** Register addresses (§11, Table 11-1). */
export const REG = {
  RXF0SIDH: 0x00, RXF1SIDH: 0x04, RXF2SIDH: 0x08, BFPCTRL: 0x0c, TXRTSCTRL: 0x0d,
  CANSTAT: 0x0e, CANCTRL: 0x0f, RXF3SIDH: 0x10, RXF4SIDH: 0x14, RXF5SIDH: 0x18,
  TEC: 0x1c, REC: 0x1d, RXM0SIDH: 0x20, RXM1SIDH: 0x24, CNF3: 0x28, CNF2: 0x29, CNF1: 0x2a,
  CANINTE: 0x2b, CANINTF: 0x2c, EFLG: 0x2d,
  TXB0CTRL: 0x30, TXB1CTRL: 0x40, TXB2CTRL: 0x50, RXB0CTRL: 0x60, RXB1CTRL: 0x70,
} as const;

/** SPI instructions (§12, Table 12-1). */
export const INSTR = {
  RESET: 0xc0, READ: 0x03, WRITE: 0x02, READ_RX: 0x90, LOAD_TX: 0x40, RTS: 0x80,
  READ_STATUS: 0xa0, RX_STATUS: 0xb0, BIT_MODIFY: 0x05,
} as const;

/** CANINTF / CANINTE bits (§7). */
export const INT = { RX0: 0x01, RX1: 0x02, TX0: 0x04, TX1: 0x08, TX2: 0x10, ERR: 0x20, WAK: 0x40, MERR: 0x80 } as const;
/** EFLG bits (§6.6). */
export const EFLG = { EWARN: 0x01, RXWAR: 0x02, TXWAR: 0x04, RXEP: 0x08, TXEP: 0x10, TXBO: 0x20, RX0OVR: 0x40, RX1OVR: 0x80 } as const;
/** Operating modes, CANCTRL.REQOP / CANSTAT.OPMOD (bits 7-5). */
export const MODE = { NORMAL: 0x00, SLEEP: 0x20, LOOPBACK: 0x40, LISTEN: 0x60, CONFIG: 0x80 } as const;

const TXREQ = 0x08;
const TXERR = 0x10;
const ABTF = 0x40;
const BUKT = 0x04;
/** Registers BIT MODIFY may change bit by bit (§12.10); on any other it writes the whole byte. */
const BIT_MODIFIABLE = new Set([
  REG.BFPCTRL, REG.TXRTSCTRL, REG.CANCTRL, REG.CNF3, REG.CNF2, REG.CNF1, REG.CANINTE, REG.CANINTF,
  REG.EFLG, REG.TXB0CTRL, REG.TXB1CTRL, REG.TXB2CTRL, REG.RXB0CTRL, REG.RXB1CTRL,
]);

export interface Mcp2515Options {
  /** Crystal frequency in Hz (8 MHz and 16 MHz modules are common). */
  crystalHz?: number;
}

/** Frames for one interrupt pin listener. */
interface IntListener {
  onFall?: () => void;
  closed: boolean;
}

export class SimMcp2515 implements CanNode {
  readonly crystalHz: number;
  readonly regs = new Uint8Array(128);
  /** Counters for tests: frames stored, overflows, frames rejected by filters. */
  readonly stats = { stored: 0, overflows: 0, filtered: 0, sent: 0, badTiming: 0 };
  private powered = true;
  private intLevel: 0 | 1 = 1;
  private listeners: IntListener[] = [];
  /** Per TX buffer: the frame queued on the bus, if any. */
  private onBus: (SimCanFrame | undefined)[] = [undefined, undefined, undefined];
  private busOffUntilUs = 0;

  constructor(private readonly clock: VirtualClock, private readonly bus: CanBus, o: Mcp2515Options = {}) {
    this.crystalHz = o.crystalHz ?? 8_000_000;
    if (!Number.isInteger(this.crystalHz) || this.crystalHz < 1_000_000 || this.crystalHz > 40_000_000) {
      throw new RangeError(`"crystalHz" expected integer in [1e6, 4e7], got ${String(o.crystalHz)}`);
    }
    bus.attach(this);
    this.reset();
  }

  // ---- power and reset ------------------------------------------------------------------

  /** Power-on or RESET instruction state (§10): Configuration mode, everything else zero. */
  reset(): void {
    this.regs.fill(0);
    this.regs[REG.CANCTRL] = 0x87; // REQOP = config, CLKEN, CLKPRE = /8
    this.regs[REG.CANSTAT] = MODE.CONFIG;
    for (let b = 0; b < 3; b++) this.abortOnBus(b);
    this.updateInt();
  }

  /** Brown-out: the chip loses power (INT floats high, SPI reads 0xFF) and resets when it returns. */
  setPowered(on: boolean): void {
    if (on === this.powered) return;
    this.powered = on;
    if (on) this.reset();
    else {
      for (let b = 0; b < 3; b++) this.abortOnBus(b);
      this.setIntLevel(1);
    }
  }

  mode(): number {
    return this.regs[REG.CANSTAT] & 0xe0;
  }

  // ---- SPI --------------------------------------------------------------------------------

  /** The chip behind a SpiIO: one transfer() is one chip-select cycle. */
  readonly spi: SpiIO = {
    transfer: (bytes: Uint8Array): Uint8Array => {
      if (this.spiClosed) throw new Error('transfer() after close()');
      if (!(bytes instanceof Uint8Array)) throw new TypeError('"bytes" expected Uint8Array');
      return this.transfer(bytes);
    },
    close: (): void => {
      this.spiClosed = true;
    },
  };
  private spiClosed = false;

  /** The INT pin (active low) for polling; openInt() adds a falling-edge callback. */
  readonly intPin: DigitalInIO = {
    read: (): 0 | 1 => this.intLevel,
    close: (): void => {},
  };

  openInt(options: DigitalInOptions = {}): DigitalInIO {
    if (options.onFall !== undefined && typeof options.onFall !== 'function') throw new TypeError('"onFall" expected a function');
    const l: IntListener = { onFall: options.onFall, closed: false };
    this.listeners.push(l);
    return {
      read: (): 0 | 1 => {
        if (l.closed) throw new Error('read() after close()');
        return this.intLevel;
      },
      close: (): void => {
        l.closed = true;
      },
    };
  }

  transfer(tx: Uint8Array): Uint8Array {
    const rx = new Uint8Array(tx.length).fill(0xff);
    if (!this.powered || tx.length === 0) return rx;
    const op = tx[0];
    if (op === INSTR.RESET) {
      this.reset();
    } else if (op === INSTR.READ && tx.length >= 2) {
      let a = tx[1];
      for (let i = 2; i < tx.length; i++) rx[i] = this.readReg(a++ & 0x7f);
    } else if (op === INSTR.WRITE && tx.length >= 2) {
      let a = tx[1];
      for (let i = 2; i < tx.length; i++) this.writeReg(a++ & 0x7f, tx[i], 0xff);
    } else if ((op & 0xf9) === INSTR.READ_RX) {
      // 1001 0nm0: n = buffer, m = start at D0 instead of SIDH (§12.4)
      const n = (op >> 2) & 1;
      let a = (n ? REG.RXB1CTRL : REG.RXB0CTRL) + ((op & 2) ? 6 : 1);
      for (let i = 1; i < tx.length; i++) rx[i] = this.regs[a++ & 0x7f];
      // The flag clears when CS rises after the instruction (§12.4).
      this.regs[REG.CANINTF] &= ~(n ? INT.RX1 : INT.RX0);
      this.updateInt();
    } else if ((op & 0xf8) === INSTR.LOAD_TX && (op & 7) <= 5) {
      // 0100 0abc: ab = buffer, c = start at D0 (§12.6)
      const b = (op >> 1) & 3;
      let a = REG.TXB0CTRL + 0x10 * b + ((op & 1) ? 6 : 1);
      for (let i = 1; i < tx.length; i++) this.writeReg(a++ & 0x7f, tx[i], 0xff);
    } else if ((op & 0xf8) === INSTR.RTS) {
      for (let b = 0; b < 3; b++) if (op & (1 << b)) this.writeReg(REG.TXB0CTRL + 0x10 * b, this.regs[REG.TXB0CTRL + 0x10 * b] | TXREQ, TXREQ);
    } else if (op === INSTR.READ_STATUS) {
      const f = this.regs[REG.CANINTF];
      const s =
        (f & INT.RX0 ? 0x01 : 0) | (f & INT.RX1 ? 0x02 : 0) |
        (this.regs[REG.TXB0CTRL] & TXREQ ? 0x04 : 0) | (f & INT.TX0 ? 0x08 : 0) |
        (this.regs[REG.TXB1CTRL] & TXREQ ? 0x10 : 0) | (f & INT.TX1 ? 0x20 : 0) |
        (this.regs[REG.TXB2CTRL] & TXREQ ? 0x40 : 0) | (f & INT.TX2 ? 0x80 : 0);
      for (let i = 1; i < tx.length; i++) rx[i] = s; // repeats while clocked (§12.8)
    } else if (op === INSTR.RX_STATUS) {
      const s = this.rxStatus();
      for (let i = 1; i < tx.length; i++) rx[i] = s;
    } else if (op === INSTR.BIT_MODIFY && tx.length >= 4) {
      const a = tx[1] & 0x7f;
      this.writeReg(a, tx[3], BIT_MODIFIABLE.has(a as never) ? tx[2] : 0xff);
    }
    return rx;
  }

  /** RX STATUS byte (§12.9, Figure 12-9). */
  private rxStatus(): number {
    const f = this.regs[REG.CANINTF];
    let s = (f & INT.RX0 ? 0x40 : 0) | (f & INT.RX1 ? 0x80 : 0);
    const buf = f & INT.RX0 ? 0 : f & INT.RX1 ? 1 : -1;
    if (buf < 0) return s;
    const base = buf ? REG.RXB1CTRL : REG.RXB0CTRL;
    const ext = (this.regs[base + 2] & 0x08) !== 0;
    const rtr = ext ? (this.regs[base + 5] & 0x40) !== 0 : (this.regs[base + 2] & 0x10) !== 0;
    s |= (ext ? 0x10 : 0) | (rtr ? 0x08 : 0);
    if (buf === 0) s |= this.regs[REG.RXB0CTRL] & 1;
    else {
      const hit = this.regs[REG.RXB1CTRL] & 7;
      s |= hit <= 1 ? 6 + hit : hit; // 110/111: RXF0/RXF1 rolled over into RXB1
    }
    return s;
  }

  private readReg(a: number): number {
    // CANSTAT and CANCTRL appear at every xEh / xFh address (§11, Table 11-1 note).
    if ((a & 0x0f) === 0x0e) return this.regs[REG.CANSTAT];
    if ((a & 0x0f) === 0x0f) return this.regs[REG.CANCTRL];
    return this.regs[a];
  }

  private writeReg(a: number, value: number, mask: number): void {
    if ((a & 0x0f) === 0x0e) return; // CANSTAT is read-only
    if ((a & 0x0f) === 0x0f) a = REG.CANCTRL;
    const old = this.regs[a];
    const v = (old & ~mask) | (value & mask);
    const config = this.mode() === MODE.CONFIG;
    // Filters, masks and bit timing are writable only in Configuration mode (§4, §5).
    if ((a < 0x0c || (a >= 0x10 && a < 0x1c) || (a >= 0x20 && a <= 0x2a)) && !config) return;
    if (a === REG.TEC || a === REG.REC) return;
    if (a >= 0x61 && a <= 0x6d) return;
    if (a >= 0x71 && a <= 0x7d) return;
    switch (a) {
      case REG.CANCTRL:
        this.regs[a] = v;
        if (v & 0x10) for (let b = 0; b < 3; b++) this.abortTx(b); // ABAT
        this.setMode(v & 0xe0);
        return;
      case REG.EFLG:
        // only RX0OVR / RX1OVR can be written, and only cleared (§6.6)
        this.regs[a] = (old & 0x3f) | (old & v & 0xc0);
        return;
      case REG.CANINTF:
      case REG.CANINTE:
        this.regs[a] = v;
        this.updateInt();
        return;
      case REG.RXB0CTRL:
        this.regs[a] = (old & 0x0b) | (v & 0x64);
        return;
      case REG.RXB1CTRL:
        this.regs[a] = (old & 0x0f) | (v & 0x60);
        return;
      case REG.TXB0CTRL:
      case REG.TXB1CTRL:
      case REG.TXB2CTRL: {
        const b = (a - REG.TXB0CTRL) >> 4;
        this.regs[a] = (old & 0x70) | (v & 0x0b);
        if (!(old & TXREQ) && v & TXREQ) {
          this.regs[a] &= ~(ABTF | TXERR | 0x20);
          this.startTx(b);
        } else if (old & TXREQ && !(v & TXREQ)) this.abortTx(b);
        return;
      }
      default:
        this.regs[a] = v;
    }
  }

  private setMode(req: number): void {
    const m = req === 0xa0 || req === 0xc0 || req === 0xe0 ? MODE.CONFIG : req; // invalid → config
    this.regs[REG.CANSTAT] = (this.regs[REG.CANSTAT] & 0x1f) | m;
    if (m === MODE.CONFIG || m === MODE.SLEEP || m === MODE.LISTEN) {
      // no transmission outside normal/loopback; pending requests wait
      for (let b = 0; b < 3; b++) this.abortOnBus(b);
    } else {
      for (let b = 0; b < 3; b++) if (this.regs[REG.TXB0CTRL + 0x10 * b] & TXREQ) this.startTx(b);
    }
  }

  // ---- transmit ---------------------------------------------------------------------------

  private frameFromTx(b: number): SimCanFrame {
    const base = REG.TXB0CTRL + 0x10 * b;
    const r = this.regs;
    const sidh = r[base + 1], sidl = r[base + 2], eid8 = r[base + 3], eid0 = r[base + 4], dlcReg = r[base + 5];
    const ext = (sidl & 0x08) !== 0;
    const sid = (sidh << 3) | (sidl >> 5);
    const id = ext ? ((sid << 18) | ((sidl & 3) << 16) | (eid8 << 8) | eid0) >>> 0 : sid;
    const len = Math.min(8, dlcReg & 0x0f);
    return { id, ext, rtr: (dlcReg & 0x40) !== 0, data: r.slice(base + 6, base + 6 + len) };
  }

  private startTx(b: number): void {
    const m = this.mode();
    if (m !== MODE.NORMAL && m !== MODE.LOOPBACK) return;
    if (this.onBus[b] || this.busOff()) return;
    if (!this.timingOk()) {
      this.stats.badTiming++;
      return;
    }
    const frame = this.frameFromTx(b);
    this.onBus[b] = frame;
    if (m === MODE.LOOPBACK) {
      // Loopback: the frame goes from TX to RX inside the chip, not onto the bus (§10.4).
      this.clock.after(frameUs(frame), () => {
        if (this.onBus[b] !== frame) return;
        this.receive(frame);
        this.txDone(b, frame, true);
      });
      return;
    }
    this.bus.send(this, frame);
  }

  private abortOnBus(b: number): void {
    const f = this.onBus[b];
    if (!f) return;
    this.onBus[b] = undefined;
    this.bus.cancel(this, (x) => x === f);
  }

  private abortTx(b: number): void {
    const a = REG.TXB0CTRL + 0x10 * b;
    if (!(this.regs[a] & TXREQ)) return;
    this.abortOnBus(b);
    this.regs[a] = (this.regs[a] & ~TXREQ) | ABTF;
  }

  private txDone(b: number, frame: SimCanFrame, ok: boolean): void {
    if (this.onBus[b] !== frame) return;
    this.onBus[b] = undefined;
    const a = REG.TXB0CTRL + 0x10 * b;
    if (!ok) {
      this.regs[a] |= TXERR;
      this.regs[REG.CANINTF] |= INT.MERR;
      this.updateInt();
      return; // TXREQ stays set: the chip retries when the bus is back (unless one-shot)
    }
    this.stats.sent++;
    this.regs[a] &= ~(TXREQ | TXERR);
    this.regs[REG.CANINTF] |= INT.TX0 << b;
    this.decTec();
    this.updateInt();
  }

  // ---- CanNode ----------------------------------------------------------------------------

  wantsBroadcasts(): boolean {
    const m = this.mode();
    return this.powered && (m === MODE.NORMAL || m === MODE.LISTEN);
  }

  canTransmit(): boolean {
    return this.powered && !this.busOff() && this.mode() === MODE.NORMAL;
  }

  onSent(frame: SimCanFrame, ok: boolean): void {
    for (let b = 0; b < 3; b++) {
      if (this.onBus[b] !== frame) continue;
      this.txDone(b, frame, ok);
      if (!ok && this.regs[REG.CANCTRL] & 0x08) {
        // One-shot mode: no retransmission; TXREQ clears (§3.4).
        this.regs[REG.TXB0CTRL + 0x10 * b] &= ~TXREQ;
      } else if (!ok) {
        const retry = (): void => {
          if (this.regs[REG.TXB0CTRL + 0x10 * b] & TXREQ) this.startTx(b);
        };
        this.clock.at(Math.max(this.busOffUntilUs, this.clock.nowUs + 1000), retry);
      }
    }
  }

  onBusError(transmitter: boolean): void {
    if (!this.powered) return;
    const m = this.mode();
    // Listen-only mode sends no error frames and keeps no error counts (§10.3).
    if (m !== MODE.NORMAL) return;
    // Fault confinement (ISO 11898-1 §12.1.4, MCP2515 §6): a transmitter adds 8 to TEC,
    // a receiver 1 to REC; TEC > 255 is bus-off.
    if (transmitter) {
      const tec = this.regs[REG.TEC] + 8;
      if (tec > 255) this.enterBusOff(this.clock.nowUs + 128 * 11 * (1e6 / CAN_BITRATE));
      else this.regs[REG.TEC] = tec;
    } else this.regs[REG.REC] = Math.min(255, this.regs[REG.REC] + 1);
    this.regs[REG.CANINTF] |= INT.MERR;
    this.updateErrorFlags();
  }

  /**
   * Bus-off until `untilUs` (at least the 128 × 11 recessive bits of §6.7 after the bus
   * is usable again); then TEC and REC return to 0 and the chip is error-active.
   */
  enterBusOff(untilUs: number): void {
    this.regs[REG.TEC] = 255;
    this.busOffUntilUs = Math.max(this.busOffUntilUs, untilUs);
    for (let b = 0; b < 3; b++) this.abortOnBus(b);
    this.updateErrorFlags();
    this.regs[REG.EFLG] |= EFLG.TXBO;
    this.regs[REG.CANINTF] |= INT.ERR;
    this.updateInt();
    this.clock.at(this.busOffUntilUs, () => {
      if (this.clock.nowUs < this.busOffUntilUs || !this.busOff()) return;
      this.regs[REG.TEC] = 0;
      this.regs[REG.REC] = 0;
      this.regs[REG.EFLG] &= 0xc0;
      for (let b = 0; b < 3; b++) if (this.regs[REG.TXB0CTRL + 0x10 * b] & TXREQ) this.startTx(b);
    });
  }

  busOff(): boolean {
    return (this.regs[REG.EFLG] & EFLG.TXBO) !== 0;
  }

  private decTec(): void {
    if (this.regs[REG.TEC] > 0) this.regs[REG.TEC]--;
    this.updateErrorFlags();
  }

  private updateErrorFlags(): void {
    const tec = this.regs[REG.TEC];
    const rec = this.regs[REG.REC];
    const old = this.regs[REG.EFLG];
    let f = old & (EFLG.RX0OVR | EFLG.RX1OVR | EFLG.TXBO);
    if (tec >= 96) f |= EFLG.TXWAR;
    if (rec >= 96) f |= EFLG.RXWAR;
    if (tec >= 96 || rec >= 96) f |= EFLG.EWARN;
    if (tec >= 128) f |= EFLG.TXEP;
    if (rec >= 128) f |= EFLG.RXEP;
    this.regs[REG.EFLG] = f;
    if (f & ~old) this.regs[REG.CANINTF] |= INT.ERR; // ERRIF on any new EFLG condition (§7.4)
    this.updateInt();
  }

  /** Does CNF1..3 give 500 kbit/s (±1 %) with this crystal? Otherwise every frame is a bit error. */
  timingOk(): boolean {
    const cnf1 = this.regs[REG.CNF1], cnf2 = this.regs[REG.CNF2], cnf3 = this.regs[REG.CNF3];
    const brp = cnf1 & 0x3f;
    const prop = (cnf2 & 7) + 1;
    const ps1 = ((cnf2 >> 3) & 7) + 1;
    // BTLMODE = 0: PS2 is the greater of PS1 and the 2 TQ information processing time (§5.3)
    const ps2 = cnf2 & 0x80 ? (cnf3 & 7) + 1 : Math.max(ps1, 2);
    const tq = 1 + prop + ps1 + ps2;
    const bitrate = this.crystalHz / (2 * (brp + 1) * tq);
    return Math.abs(bitrate - CAN_BITRATE) <= CAN_BITRATE * 0.01;
  }

  // ---- receive ----------------------------------------------------------------------------

  onFrame(frame: SimCanFrame): void {
    if (!this.powered) return;
    const m = this.mode();
    if (m === MODE.CONFIG || m === MODE.SLEEP || m === MODE.LOOPBACK) return;
    if (this.busOff()) return;
    if (!this.timingOk()) {
      // Wrong bit timing: the chip sees garbage, counts receive errors, stores nothing.
      this.stats.badTiming++;
      this.onBusError(false);
      return;
    }
    if (m === MODE.NORMAL && this.regs[REG.REC] > 0) {
      this.regs[REG.REC]--;
      this.updateErrorFlags();
    }
    this.receive(frame);
  }

  /** Acceptance filtering and storage (§4.2, §4.5, Figure 4-2). */
  receive(frame: SimCanFrame): void {
    const r = this.regs;
    const rxm0 = (r[REG.RXB0CTRL] >> 5) & 3;
    const rxm1 = (r[REG.RXB1CTRL] >> 5) & 3;
    let hit0 = -1;
    if (rxm0 === 3) hit0 = 0;
    else for (const f of [0, 1]) if (hit0 < 0 && this.matches(frame, f, 0)) hit0 = f;
    let hit1 = -1;
    if (rxm1 === 3) hit1 = 2;
    else for (const f of [2, 3, 4, 5]) if (hit1 < 0 && this.matches(frame, f, 1)) hit1 = f;
    const flags = r[REG.CANINTF];
    if (hit0 >= 0) {
      if (!(flags & INT.RX0)) return this.store(0, frame, hit0);
      if (r[REG.RXB0CTRL] & BUKT) {
        if (!(flags & INT.RX1)) return this.store(1, frame, hit0);
        return this.overflow(EFLG.RX1OVR);
      }
      return this.overflow(EFLG.RX0OVR);
    }
    if (hit1 >= 0) {
      if (!(flags & INT.RX1)) return this.store(1, frame, hit1);
      return this.overflow(EFLG.RX1OVR);
    }
    this.stats.filtered++;
  }

  /** Filter `f` against mask `m` (§4.5): bits set in the mask must equal the filter's. */
  private matches(frame: SimCanFrame, f: number, m: number): boolean {
    const r = this.regs;
    const fb = f < 3 ? REG.RXF0SIDH + 4 * f : REG.RXF3SIDH + 4 * (f - 3);
    const mb = m === 0 ? REG.RXM0SIDH : REG.RXM1SIDH;
    const fExide = (r[fb + 1] & 0x08) !== 0;
    if (fExide !== frame.ext) return false;
    const fid = regsToId(r[fb], r[fb + 1], r[fb + 2], r[fb + 3]);
    const mid = regsToId(r[mb], r[mb + 1], r[mb + 2], r[mb + 3]);
    if (frame.ext) return ((((frame.id ^ fid.ext) >>> 0) & mid.ext) >>> 0) === 0;
    // Standard frames: the SID, then EID8/EID0 of the filter against data bytes 0 and 1 (§4.5)
    if (((frame.id ^ fid.sid) & mid.sid) !== 0) return false;
    const d0 = frame.data.length > 0 ? frame.data[0] : 0;
    const d1 = frame.data.length > 1 ? frame.data[1] : 0;
    return ((d0 ^ r[fb + 2]) & r[mb + 2]) === 0 && ((d1 ^ r[fb + 3]) & r[mb + 3]) === 0;
  }

  private store(buf: number, frame: SimCanFrame, hit: number): void {
    const r = this.regs;
    const base = buf ? REG.RXB1CTRL : REG.RXB0CTRL;
    const [sidh, sidl, eid8, eid0] = idToRegs(frame.id, frame.ext);
    r[base + 1] = sidh;
    // SIDL bit 4 (SRR) is the standard-frame remote request flag
    r[base + 2] = sidl | (!frame.ext && frame.rtr === true ? 0x10 : 0);
    r[base + 3] = eid8;
    r[base + 4] = eid0;
    r[base + 5] = (frame.ext && frame.rtr === true ? 0x40 : 0) | (frame.data.length & 0x0f);
    for (let i = 0; i < 8; i++) r[base + 6 + i] = i < frame.data.length ? frame.data[i] : 0;
    const rtrBit = frame.rtr === true ? 0x08 : 0;
    if (buf === 0) r[REG.RXB0CTRL] = (r[REG.RXB0CTRL] & 0x64) | rtrBit | (hit & 1) | (r[REG.RXB0CTRL] & BUKT ? 0x02 : 0);
    else r[REG.RXB1CTRL] = (r[REG.RXB1CTRL] & 0x60) | rtrBit | (hit & 7);
    r[REG.CANINTF] |= buf ? INT.RX1 : INT.RX0;
    this.stats.stored++;
    this.updateInt();
  }

  private overflow(bit: number): void {
    this.stats.overflows++;
    const old = this.regs[REG.EFLG];
    this.regs[REG.EFLG] |= bit;
    if (!(old & bit)) this.regs[REG.CANINTF] |= INT.ERR;
    this.updateInt();
  }

  // ---- INT pin ----------------------------------------------------------------------------

  private updateInt(): void {
    if (!this.powered) return;
    this.setIntLevel(this.regs[REG.CANINTF] & this.regs[REG.CANINTE] ? 0 : 1);
  }

  private setIntLevel(level: 0 | 1): void {
    const was = this.intLevel;
    this.intLevel = level;
    if (was === 1 && level === 0) {
      // Callbacks are never synchronous with an IO call: deliver as a clock event.
      for (const l of this.listeners) {
        if (l.closed || !l.onFall) continue;
        const fn = l.onFall;
        this.clock.after(0, () => {
          if (!l.closed) fn();
        });
      }
    }
  }
}

/** Extended/standard id into SIDH, SIDL, EID8, EID0 (protocol/BUS.md §4 "Extended-ID register layout"). */
export function idToRegs(id: number, ext: boolean): [number, number, number, number] {
  if (!ext) return [(id >> 3) & 0xff, (id & 7) << 5, 0, 0];
  return [(id >>> 21) & 0xff, (((id >>> 18) & 7) << 5) | 0x08 | ((id >>> 16) & 3), (id >>> 8) & 0xff, id & 0xff];
}

function regsToId(sidh: number, sidl: number, eid8: number, eid0: number): { sid: number; ext: number } {
  const sid = (sidh << 3) | (sidl >> 5);
  return { sid, ext: (((sid << 18) | ((sidl & 3) << 16) | (eid8 << 8) | eid0) >>> 0) };
}

function frameUs(f: SimCanFrame): number {
  const base = f.ext ? 67 : 47;
  return Math.ceil((base + (f.rtr === true ? 0 : f.data.length * 8)) * 1.1) * (1e6 / CAN_BITRATE);
}
