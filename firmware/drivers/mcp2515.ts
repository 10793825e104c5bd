// Mcp2515: driver for the Microchip MCP2515 stand-alone CAN controller over SPI, for the
// VESC/BMS bus at 500 kbit/s (ECMA-419 style, firmware/README.md). Facts (instructions,
// registers, bit timing, extended-id layout) and their sources (the datasheet DS20001801,
// autowp/arduino-mcp2515, coryjfowler/MCP_CAN_lib): protocol/BUS.md §4.
//
// Public API
//   new Mcp2515({ spi, timers, crystalHz, acceptIds? | bmsEnergyIds? + ownId?, listenOnly?,
//                 openInt? | int?, pollMs?,
//                 onReady?, onFrame?, onFault? })
//   write(frame) -> boolean   queue an extended/standard frame (false: not running / queue full)
//   running                   true once configured and in normal (or listen-only) mode
//   errorCounters()           { tec, rec, eflg } read from the chip
//   stats                     counters
//   close()
// Receive: both RX buffers, RXB0 rolling over into RXB1 (BUKT), each read with one READ RX
// BUFFER transfer (which also clears its RXnIF). Transmit: TXB0 only, so frames leave in
// the order written (three buffers of equal priority may reorder). Errors: EFLG overflow
// flags, error-passive and bus-off are reported to onFault; a bus-off that lasts longer
// than busOffResetMs re-initialises the chip. Service runs on the INT pin's falling edge
// (openInt) or by polling (int pin level, or the flags when there is no pin).
import type { SpiIO, DigitalInIO, DigitalInOptions, Timers } from '../hal/io';
import type { CanFrame } from '../../protocol/can/id';
import { copyBytes } from '../../protocol/bytes';

/** Fault codes given to onFault. */
export var CAN_FAULT = {
  /** The chip did not answer after reset (reads back wrong); init is retried. */
  NO_CHIP: 'CAN_NO_CHIP',
  /** The mode change to normal/listen-only did not happen. */
  MODE: 'CAN_MODE',
  /** A frame arrived while both RX buffers were full and was lost (detail: RX0OVR/RX1OVR). */
  RX_OVERFLOW: 'CAN_RX_OVERFLOW',
  /** TEC or REC reached 128 (detail: tec/rec). */
  ERROR_PASSIVE: 'CAN_ERROR_PASSIVE',
  /** TEC reached 256: the controller left the bus. */
  BUS_OFF: 'CAN_BUS_OFF',
  /** A frame could not be sent in txTimeoutMs (no ACK: alone on the bus?) and was aborted. */
  TX_TIMEOUT: 'CAN_TX_TIMEOUT',
  /** write() found the transmit queue full. */
  TX_QUEUE_FULL: 'CAN_TX_QUEUE_FULL',
  /** The chip was re-initialised (detail: why). */
  REINIT: 'CAN_REINIT',
};

var I_RESET = 0xc0, I_READ = 0x03, I_WRITE = 0x02, I_READ_RX0 = 0x90, I_READ_RX1 = 0x94, I_LOAD_TX0 = 0x40, I_RTS_TX0 = 0x81, I_BIT_MODIFY = 0x05;
var R_CANSTAT = 0x0e, R_CANCTRL = 0x0f, R_TEC = 0x1c, R_RXM0 = 0x20, R_CNF3 = 0x28, R_CANINTF = 0x2c, R_EFLG = 0x2d, R_TXB0CTRL = 0x30, R_RXB0CTRL = 0x60, R_RXB1CTRL = 0x70;
var F_RX0 = 0x01, F_RX1 = 0x02, F_TX0 = 0x04, F_ERR = 0x20, F_MERR = 0x80;
var E_RXEP = 0x08, E_TXEP = 0x10, E_TXBO = 0x20, E_RX0OVR = 0x40, E_RX1OVR = 0x80;
var TXREQ = 0x08, BUKT = 0x04, RXM_ANY = 0x60, MODE_MASK = 0xe0, MODE_CONFIG = 0x80, MODE_NORMAL = 0x00, MODE_LISTEN = 0x60;

/**
 * CNF1, CNF2, CNF3 for 500 kbit/s, sample point 75 % (closest to the VESC's ~78.6 %,
 * protocol/BUS.md §3), from coryjfowler MCP_CAN_lib (protocol/BUS.md §4 table):
 *   8 MHz:  TQ 250 ns, 1+2+3+2 = 8 TQ, SJW 1, SAM 1
 *   16 MHz: TQ 125 ns, 1+6+5+4 = 16 TQ, SJW 2, SAM 1
 * CNF3 bit 7 (SOF) is left clear: it only matters with CLKOUT, which stays off.
 */
export var CNF_500K: Record<string, number[]> = {
  '8000000': [0x00, 0xd1, 0x01],
  '16000000': [0x40, 0xe5, 0x03],
};

/** Writes SIDH, SIDL, EID8, EID0 of `id` (protocol/BUS.md §4 "Extended-ID register layout"). */
export function idToRegs(id: number, ext: boolean, out: Uint8Array, at: number): void {
  if (ext) {
    // id < 2^29: the divisions stand in for >> on values up to 2^29 (kept below 2^31 anyway)
    out[at] = (id >> 21) & 0xff;
    out[at + 1] = (((id >> 18) & 0x07) << 5) | 0x08 | ((id >> 16) & 0x03);
    out[at + 2] = (id >> 8) & 0xff;
    out[at + 3] = id & 0xff;
  } else {
    out[at] = (id >> 3) & 0xff;
    out[at + 1] = (id & 0x07) << 5;
    out[at + 2] = 0;
    out[at + 3] = 0;
  }
}

/** The id and kind from SIDH, SIDL, EID8, EID0. */
export function regsToId(b: Uint8Array, at: number): { id: number; ext: boolean } {
  var sid = (b[at] << 3) | (b[at + 1] >> 5);
  if (b[at + 1] & 0x08) return { id: (((sid << 2) | (b[at + 1] & 0x03)) << 16) | (b[at + 2] << 8) | b[at + 3], ext: true };
  return { id: sid, ext: false };
}

export interface Mcp2515Options {
  spi: SpiIO;
  timers: Timers;
  /** 8000000 or 16000000. */
  crystalHz: number;
  /**
   * Controller ids (low 8 bits of the VESC extended id) to receive, at most 4 (they go in
   * the hardware filters). Absent or empty: receive every frame.
   */
  acceptIds?: number[];
  /**
   * Instead of acceptIds: take from these 1-2 BMS ids only the energy frames, BMS_V_TOT +
   * BMS_I (CAN_PACKET 38-39) and BMS_AH_WH_CHG_TOTAL + _DIS_TOTAL (52-55); plus, with
   * ownId, the buffer-transfer frames 4-7 addressed to us, or without it BMS_HUM and
   * BMS_SOC_SOH_TEMP_STAT (44-47: SOC, charge OK). 4 or 6 frames per BMS cycle instead of
   * 15: an interpreter cannot afford 300 frames a second.
   */
  bmsEnergyIds?: number[];
  /** With bmsEnergyIds: our own controller id, for replies to requests (instead of 44-47). */
  ownId?: number;
  /** Never ACK or transmit (bus sniffing). */
  listenOnly?: boolean;
  /** Opens the INT pin with a falling-edge callback: preferred. */
  openInt?: (options: DigitalInOptions) => DigitalInIO;
  /** An INT pin to poll (level) when there is no edge callback. */
  int?: DigitalInIO;
  /** Service period, ms. Default 2 without INT edge, 100 (a backstop) with one. */
  pollMs?: number;
  /** Give up on a frame not sent after this long, ms; default 100. */
  txTimeoutMs?: number;
  /** Frames waiting for TXB0; default 16. */
  txQueueMax?: number;
  /** A bus-off longer than this re-initialises the chip, ms; default 2000. */
  busOffResetMs?: number;
  onReady?: () => void;
  onFrame?: (frame: CanFrame) => void;
  onFault?: (code: string, detail: string) => void;
}

function num(o: Record<string, unknown>, name: string, def: number, lo: number, hi: number): number {
  var v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !(v >= lo && v <= hi)) throw new Error('Mcp2515: "' + name + '" expected a number in [' + lo + ', ' + hi + '], got ' + v);
  return v;
}

export class Mcp2515 {
  running: boolean;
  readonly stats: {
    received: number; sent: number; rxOverflows: number; txTimeouts: number; txQueueFull: number; busOff: number;
    errorPassive: number; messageErrors: number; reinits: number; filtered: number; services: number;
  };

  private spi: SpiIO;
  private timers: Timers;
  private cnf: number[];
  private ids: number[];
  private energyIds: number[];
  private ownId: number;
  private softFilter: boolean;
  private listenOnly: boolean;
  private intIo: DigitalInIO | undefined;
  private intEdge: boolean;
  private pollMs: number;
  private txTimeoutMs: number;
  private txQueueMax: number;
  private busOffResetMs: number;
  private onReady?: () => void;
  private onFrame?: (frame: CanFrame) => void;
  private onFault?: (code: string, detail: string) => void;
  private closed: boolean;
  private pollTimer: number | undefined;
  private initTimer: number | undefined;
  private serviceQueued: boolean;
  private txQueue: CanFrame[];
  private txBusySinceMs: number;
  private busOffSinceMs: number;
  private passive: boolean;
  private rxBuf: Uint8Array;
  private small: Uint8Array;

  constructor(options: Mcp2515Options) {
    if (!options || typeof options !== 'object') throw new Error('Mcp2515: options expected an object');
    var o = options as unknown as Record<string, unknown>;
    if (!options.spi || typeof options.spi.transfer !== 'function') throw new Error('Mcp2515: "spi" expected a SpiIO');
    var t = options.timers;
    if (!t || typeof t.now !== 'function' || typeof t.setTimeout !== 'function' || typeof t.clearTimeout !== 'function') {
      throw new Error('Mcp2515: "timers" expected { now, setTimeout, clearTimeout }');
    }
    var cnf = CNF_500K[String(options.crystalHz)];
    if (!cnf) throw new Error('Mcp2515: "crystalHz" expected 8000000 or 16000000, got ' + options.crystalHz);
    var ids = options.acceptIds === undefined ? [] : options.acceptIds;
    if (!(ids instanceof Array)) throw new Error('Mcp2515: "acceptIds" expected an array of controller ids');
    var uniq: number[] = [];
    for (var i = 0; i < ids.length; i++) {
      var id = ids[i];
      if (typeof id !== 'number' || !(id >= 0 && id <= 255) || Math.floor(id) !== id) throw new Error('Mcp2515: "acceptIds[' + i + ']" expected integer in [0, 255], got ' + id);
      if (uniq.indexOf(id) < 0) uniq.push(id);
    }
    var energy = options.bmsEnergyIds;
    if (energy !== undefined) {
      if (options.acceptIds !== undefined) throw new Error('Mcp2515: give "acceptIds" or "bmsEnergyIds", not both');
      if (!(energy instanceof Array) || energy.length < 1 || energy.length > 2) throw new Error('Mcp2515: "bmsEnergyIds" expected 1 or 2 BMS ids');
      for (var j = 0; j < energy.length; j++) {
        if (typeof energy[j] !== 'number' || !(energy[j] >= 0 && energy[j] <= 255) || Math.floor(energy[j]) !== energy[j]) throw new Error('Mcp2515: "bmsEnergyIds[' + j + ']" expected integer in [0, 255], got ' + energy[j]);
      }
    }
    if (options.ownId !== undefined && (typeof options.ownId !== 'number' || !(options.ownId >= 0 && options.ownId <= 255) || Math.floor(options.ownId) !== options.ownId)) {
      throw new Error('Mcp2515: "ownId" expected integer in [0, 255], got ' + options.ownId);
    }
    var fns = ['onReady', 'onFrame', 'onFault', 'openInt'];
    for (var k = 0; k < fns.length; k++) {
      if (o[fns[k]] !== undefined && typeof o[fns[k]] !== 'function') throw new Error('Mcp2515: "' + fns[k] + '" expected a function');
    }
    if (options.int !== undefined && (!options.int || typeof options.int.read !== 'function')) throw new Error('Mcp2515: "int" expected a DigitalInIO');
    if (options.int !== undefined && options.openInt !== undefined) throw new Error('Mcp2515: give "openInt" or "int", not both');
    this.intEdge = options.openInt !== undefined;
    this.pollMs = num(o, 'pollMs', this.intEdge ? 100 : 2, 1, 10000);
    this.txTimeoutMs = num(o, 'txTimeoutMs', 100, 1, 60000);
    this.txQueueMax = Math.floor(num(o, 'txQueueMax', 16, 1, 256));
    this.busOffResetMs = num(o, 'busOffResetMs', 2000, 10, 3600000);
    this.spi = options.spi;
    this.timers = t;
    this.cnf = cnf;
    this.ids = uniq;
    this.energyIds = energy === undefined ? [] : energy.slice();
    this.ownId = options.ownId === undefined ? -1 : options.ownId;
    // more ids than RXB1's four filters: the hardware takes all, software picks
    this.softFilter = uniq.length > 4;
    this.listenOnly = options.listenOnly === true;
    this.onReady = options.onReady;
    this.onFrame = options.onFrame;
    this.onFault = options.onFault;
    this.closed = false;
    this.running = false;
    this.pollTimer = undefined;
    this.initTimer = undefined;
    this.serviceQueued = false;
    this.txQueue = [];
    this.txBusySinceMs = -1;
    this.busOffSinceMs = -1;
    this.passive = false;
    this.rxBuf = new Uint8Array(14);
    this.small = new Uint8Array(4);
    this.stats = {
      received: 0, sent: 0, rxOverflows: 0, txTimeouts: 0, txQueueFull: 0, busOff: 0, errorPassive: 0,
      messageErrors: 0, reinits: 0, filtered: 0, services: 0,
    };
    var self = this;
    if (options.openInt) this.intIo = options.openInt({ onFall: function () { self.service(); } });
    else this.intIo = options.int;
    this.init();
  }

  /**
   * Queues a frame for transmission. Returns false (and reports why to onFault) when the
   * controller is not running or the queue is full; a bad frame is misuse and throws.
   */
  write(frame: CanFrame): boolean {
    if (this.closed) throw new Error('Mcp2515: used after close()');
    if (!frame || !(frame.data instanceof Uint8Array) || frame.data.length > 8) throw new Error('Mcp2515.write: "frame.data" expected a Uint8Array of at most 8 bytes');
    var max = frame.ext ? 0x1fffffff : 0x7ff;
    if (!(frame.id >= 0 && frame.id <= max) || Math.floor(frame.id) !== frame.id) throw new Error('Mcp2515.write: "frame.id" expected integer in [0, ' + max + '], got ' + frame.id);
    if (!this.running || this.listenOnly) return false;
    if (this.txQueue.length >= this.txQueueMax) {
      this.stats.txQueueFull++;
      this.fault(CAN_FAULT.TX_QUEUE_FULL, 'id 0x' + frame.id.toString(16));
      return false;
    }
    this.txQueue.push({ id: frame.id, ext: frame.ext, rtr: frame.rtr, data: copyBytes(frame.data) });
    this.queueService();
    return true;
  }

  /** TEC, REC and EFLG as the chip has them now. */
  errorCounters(): { tec: number; rec: number; eflg: number } {
    if (this.closed) throw new Error('Mcp2515: used after close()');
    var r = this.read(R_TEC, 2);
    var e = this.read(R_EFLG, 1);
    return { tec: r[0], rec: r[1], eflg: e[0] };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
    if (this.initTimer !== undefined) this.timers.clearTimeout(this.initTimer);
    this.pollTimer = undefined;
    this.initTimer = undefined;
    // leave the bus quietly: config mode stops TX/ACK
    this.spi.transfer(new Uint8Array([I_BIT_MODIFY, R_CANCTRL, MODE_MASK, MODE_CONFIG]));
    if (this.intIo && this.intEdge) this.intIo.close();
    this.intIo = undefined;
  }

  // ---- bring-up ---------------------------------------------------------------------------

  private fault(code: string, detail: string): void {
    if (this.onFault) this.onFault(code, detail);
  }

  private read(addr: number, n: number): Uint8Array {
    var b = new Uint8Array(2 + n);
    b[0] = I_READ;
    b[1] = addr;
    return this.spi.transfer(b).subarray(2);
  }

  private write1(addr: number, v: number): void {
    this.small[0] = I_WRITE;
    this.small[1] = addr;
    this.small[2] = v;
    this.spi.transfer(this.small.subarray(0, 3));
  }

  private bitModify(addr: number, mask: number, v: number): void {
    this.small[0] = I_BIT_MODIFY;
    this.small[1] = addr;
    this.small[2] = mask;
    this.small[3] = v;
    this.spi.transfer(this.small);
  }

  private init(): void {
    var self = this;
    this.running = false;
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.spi.transfer(new Uint8Array([I_RESET]));
    // oscillator start-up after RESET (autowp waits 10 ms, protocol/BUS.md §4)
    this.initTimer = this.timers.setTimeout(function () {
      self.initTimer = undefined;
      if (!self.closed) self.configure();
    }, 10);
  }

  private retryInit(code: string, detail: string): void {
    var self = this;
    this.fault(code, detail);
    this.initTimer = this.timers.setTimeout(function () {
      self.initTimer = undefined;
      if (!self.closed) self.init();
    }, 1000);
  }

  private configure(): void {
    var stat = this.read(R_CANSTAT, 1)[0];
    if ((stat & MODE_MASK) !== MODE_CONFIG) {
      this.retryInit(CAN_FAULT.NO_CHIP, 'CANSTAT 0x' + stat.toString(16) + ' after reset, expected configuration mode');
      return;
    }
    var c = this.cnf;
    // CNF3, CNF2, CNF1, CANINTE, CANINTF are consecutive (0x28-0x2C): one transfer
    this.spi.transfer(new Uint8Array([I_WRITE, R_CNF3, c[2], c[1], c[0], F_RX0 | F_RX1 | F_TX0 | F_ERR | F_MERR, 0]));
    var back = this.read(R_CNF3, 3);
    if (back[0] !== c[2] || back[1] !== c[1] || back[2] !== c[0]) {
      this.retryInit(CAN_FAULT.NO_CHIP, 'CNF registers read back wrong');
      return;
    }
    var ids = this.ids;
    var hw = (ids.length > 0 && !this.softFilter) || this.energyIds.length > 0;
    if (this.energyIds.length > 0) {
      this.energyFilters();
    } else if (hw) {
      // masks: only the low 8 bits of the extended id (the controller id) are compared
      var m = new Uint8Array(10);
      m[0] = I_WRITE;
      m[1] = R_RXM0;
      idToRegs(0xff, true, m, 2);
      idToRegs(0xff, true, m, 6);
      m[3] &= ~0x08;
      m[7] &= ~0x08;
      this.spi.transfer(m);
      // RXF0/1 (RXB0) take the first two ids, RXF2-5 (RXB1) all of them: a frame matching
      // only RXB1's filters still has a buffer (rollover from RXB0 ignores RXB1's filters)
      var f0 = [ids[0], ids.length > 1 ? ids[1] : ids[0]];
      var f1 = [ids[0], ids[1 % ids.length], ids[2 % ids.length], ids[3 % ids.length]];
      var a = new Uint8Array(14);
      a[0] = I_WRITE;
      a[1] = 0x00;
      idToRegs(f0[0], true, a, 2);
      idToRegs(f0[1], true, a, 6);
      idToRegs(f1[0], true, a, 10);
      this.spi.transfer(a);
      var b = new Uint8Array(14);
      b[0] = I_WRITE;
      b[1] = 0x10;
      idToRegs(f1[1], true, b, 2);
      idToRegs(f1[2], true, b, 6);
      idToRegs(f1[3], true, b, 10);
      this.spi.transfer(b);
    }
    this.write1(R_RXB0CTRL, (hw ? 0 : RXM_ANY) | BUKT);
    this.write1(R_RXB1CTRL, hw ? 0 : RXM_ANY);
    var mode = this.listenOnly ? MODE_LISTEN : MODE_NORMAL;
    // CANCTRL: REQOP, no one-shot, CLKOUT off
    this.write1(R_CANCTRL, mode);
    this.checkMode(mode, 0);
  }

  /**
   * Masks on the low 16 bits (CAN_PACKET_ID and controller id): RXM0 ignores packet bit 0
   * (38/39 with one filter), RXM1 packet bits 0-1 (52-55, and 4-7 for our own id).
   */
  private energyFilters(): void {
    var e = this.energyIds;
    var a = e[0], b = e.length > 1 ? e[1] : e[0];
    // RXF4/5: with ownId, the buffer frames 4-7 sent to us (replies to our requests);
    // without, 44-47 of each BMS: BMS_HUM and BMS_SOC_SOH_TEMP_STAT (SOC, charge OK)
    var f4 = this.ownId >= 0 ? (4 << 8) | this.ownId : (44 << 8) | a;
    var f5 = this.ownId >= 0 ? (4 << 8) | this.ownId : (44 << 8) | b;
    var m = new Uint8Array(10);
    m[0] = I_WRITE;
    m[1] = R_RXM0;
    idToRegs(0xfeff, true, m, 2);
    idToRegs(0xfcff, true, m, 6);
    m[3] &= ~0x08;
    m[7] &= ~0x08;
    this.spi.transfer(m);
    var f = new Uint8Array(14);
    f[0] = I_WRITE;
    f[1] = 0x00;
    idToRegs((38 << 8) | a, true, f, 2);
    idToRegs((38 << 8) | b, true, f, 6);
    idToRegs((52 << 8) | a, true, f, 10);
    this.spi.transfer(f);
    var g = new Uint8Array(14);
    g[0] = I_WRITE;
    g[1] = 0x10;
    idToRegs((52 << 8) | b, true, g, 2);
    idToRegs(f4, true, g, 6);
    idToRegs(f5, true, g, 10);
    this.spi.transfer(g);
  }

  private checkMode(mode: number, tries: number): void {
    var self = this;
    var stat = this.read(R_CANSTAT, 1)[0];
    if ((stat & MODE_MASK) === mode) {
      this.running = true;
      this.passive = false;
      this.busOffSinceMs = -1;
      this.schedulePoll();
      if (this.onReady) {
        var cb = this.onReady;
        this.timers.setTimeout(function () { if (!self.closed) cb(); }, 0);
      }
      return;
    }
    if (tries >= 10) {
      this.retryInit(CAN_FAULT.MODE, 'CANSTAT 0x' + stat.toString(16) + ', requested mode 0x' + mode.toString(16));
      return;
    }
    this.initTimer = this.timers.setTimeout(function () {
      self.initTimer = undefined;
      if (!self.closed) self.checkMode(mode, tries + 1);
    }, 1);
  }

  // ---- service ----------------------------------------------------------------------------

  private schedulePoll(): void {
    var self = this;
    this.pollTimer = this.timers.setTimeout(function () {
      self.pollTimer = undefined;
      if (self.closed) return;
      // with a polled pin, a high INT means nothing to do (cheaper than an SPI read)
      if (self.intEdge || !self.intIo || self.intIo.read() === 0 || self.txQueue.length > 0 || self.txBusySinceMs >= 0 || self.busOffSinceMs >= 0) self.service();
      if (!self.closed && self.running) self.schedulePoll();
    }, this.pollMs);
  }

  private queueService(): void {
    if (this.serviceQueued) return;
    this.serviceQueued = true;
    var self = this;
    this.timers.setTimeout(function () {
      self.serviceQueued = false;
      if (!self.closed) self.service();
    }, 0);
  }

  private service(): void {
    if (this.closed || !this.running) return;
    this.stats.services++;
    // bounded: a bus flooding us must not starve everything else on the device
    for (var round = 0; round < 8 && this.running; round++) {
      var fl = this.read(R_CANINTF, 2);
      var intf = fl[0], eflg = fl[1];
      if (intf & F_RX0) this.readRx(I_READ_RX0);
      if (intf & F_RX1) this.readRx(I_READ_RX1);
      // EWARN alone (TEC/REC >= 96) needs no action; anything else does
      if ((intf & (F_ERR | F_MERR)) || (eflg & (E_RX0OVR | E_RX1OVR | E_TXBO)) || ((eflg & (E_RXEP | E_TXEP)) !== 0) !== this.passive || this.busOffSinceMs >= 0) {
        this.errors(intf, eflg);
      }
      // a TX0IF nobody waits for (left from before a re-init) would hold INT low for good
      if ((intf & F_TX0) && this.txBusySinceMs < 0) this.bitModify(R_CANINTF, F_TX0, 0);
      if (!(intf & (F_RX0 | F_RX1))) break;
    }
    if (this.running) this.transmit();
  }

  private readRx(instr: number): void {
    var b = this.rxBuf;
    for (var i = 0; i < 14; i++) b[i] = 0;
    b[0] = instr;
    // SIDH SIDL EID8 EID0 DLC D0..D7; RXnIF clears when CS rises
    var r = this.spi.transfer(b);
    var idr = regsToId(r, 1);
    var dlc = r[5] & 0x0f;
    if (dlc > 8) dlc = 8;
    var rtr = idr.ext ? (r[5] & 0x40) !== 0 : (r[2] & 0x10) !== 0;
    if (this.softFilter && (!idr.ext || this.ids.indexOf(idr.id & 0xff) < 0)) {
      this.stats.filtered++;
      return;
    }
    this.stats.received++;
    var f: CanFrame = { id: idr.id, ext: idr.ext, data: copyBytes(r, 6, 6 + dlc) };
    if (rtr) f.rtr = true;
    if (this.onFrame) this.onFrame(f);
  }

  private errors(intf: number, eflg: number): void {
    if (intf & F_MERR) this.stats.messageErrors++;
    if (eflg & (E_RX0OVR | E_RX1OVR)) {
      this.stats.rxOverflows++;
      this.fault(CAN_FAULT.RX_OVERFLOW, (eflg & E_RX0OVR ? 'RX0OVR ' : '') + (eflg & E_RX1OVR ? 'RX1OVR' : ''));
      this.bitModify(R_EFLG, E_RX0OVR | E_RX1OVR, 0);
    }
    var passive = (eflg & (E_RXEP | E_TXEP)) !== 0;
    if (passive && !this.passive) {
      this.stats.errorPassive++;
      var c = this.read(R_TEC, 2);
      this.fault(CAN_FAULT.ERROR_PASSIVE, 'tec ' + c[0] + ' rec ' + c[1]);
    }
    this.passive = passive;
    var now = this.timers.now();
    if (eflg & E_TXBO) {
      if (this.busOffSinceMs < 0) {
        this.busOffSinceMs = now;
        this.stats.busOff++;
        this.fault(CAN_FAULT.BUS_OFF, 'tec >= 256');
      } else if (now - this.busOffSinceMs >= this.busOffResetMs) {
        // the chip recovers by itself after 128 x 11 recessive bits; it did not: start over
        this.stats.reinits++;
        this.fault(CAN_FAULT.REINIT, 'bus-off for ' + (now - this.busOffSinceMs) + ' ms');
        this.busOffSinceMs = -1;
        this.txBusySinceMs = -1;
        this.init();
        return;
      }
    } else {
      this.busOffSinceMs = -1;
    }
    this.bitModify(R_CANINTF, F_ERR | F_MERR, 0);
  }

  private transmit(): void {
    var now = this.timers.now();
    if (this.txBusySinceMs >= 0) {
      var ctrl = this.read(R_TXB0CTRL, 1)[0];
      if (ctrl & TXREQ) {
        if (now - this.txBusySinceMs < this.txTimeoutMs) return;
        this.bitModify(R_TXB0CTRL, TXREQ, 0);
        this.stats.txTimeouts++;
        this.fault(CAN_FAULT.TX_TIMEOUT, 'no ACK within ' + this.txTimeoutMs + ' ms');
      } else {
        this.stats.sent++;
      }
      this.txBusySinceMs = -1;
      this.bitModify(R_CANINTF, F_TX0, 0);
    }
    var f = this.txQueue.shift();
    if (!f) return;
    var b = new Uint8Array(6 + f.data.length);
    b[0] = I_LOAD_TX0;
    idToRegs(f.id, f.ext, b, 1);
    b[5] = f.data.length | (f.rtr ? 0x40 : 0);
    b.set(f.data, 6);
    this.spi.transfer(b);
    this.small[0] = I_RTS_TX0;
    this.spi.transfer(this.small.subarray(0, 1));
    this.txBusySinceMs = now;
  }
}
