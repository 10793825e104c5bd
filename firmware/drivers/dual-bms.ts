// DualBms: the two battery packs of a dual-battery bike, each known by its BMS's CAN
// controller id (the only thing that tells two VESC BMS apart: protocol/BUS.md §3 "Multiple
// BMS"). Two sources:
//   'can'  : the BMS broadcasts (10 Hz by default) reach us through the Mcp2515; the app
//            passes every received frame to receive(frame).
//   'vesc' : no CAN transceiver; each pack is asked through the VESC with
//            COMM_FORWARD_CAN [34, id, COMM_BMS_GET_VALUES] every pollMs, and answers
//            with its own BMS_GET_VALUES (the VESC alone would report one BMS only).
// A pack not heard for staleMs is marked stale and reported to onFault; it recovers by
// itself when heard again. Two packs configured on one id are refused at construction.
//
// Public API
//   new DualBms({ packIds, source, timers, vesc?, staleMs?, pollMs?, onUpdate?, onFault? })
//   receive(frame)        feed a CAN frame (source 'can'); other ids are ignored
//   packs                 PackState[] (index = pack number), integer units
//   sample(cb)            cb(undefined, copies of packs), asynchronously
//   identification        { source, packIds }
//   stats, close()
// onUpdate(pack) runs (never synchronously from a method) after a pack's BMS_I frame
// (the current arrives right after the voltage in each BMS cycle, bms.c L571-697), after
// each BMS_GET_VALUES reply, and when a pack goes stale or comes back.
import type { Timers } from '../hal/io';
import type { CanFrame } from '../../protocol/can/id';
import { decodeCanFrame } from '../../protocol/can/messages';
import { COMM } from '../../protocol/vesc/enums';
import { decodeBmsValues, encodeBmsGetValuesRequest, encodeForwardCan } from '../../protocol/vesc/commands';
import { roundHalfAway } from '../../protocol/vesc/wire';

export var BMS_FAULT = {
  /** A pack was not heard for staleMs (detail: pack, id, silence). */
  STALE: 'BMS_STALE',
  /** A frame or reply from a pack's id did not decode (detail: decoder message). */
  BAD_DATA: 'BMS_BAD_DATA',
  /** A forwarded request timed out or failed (detail: pack, id, error). */
  NO_REPLY: 'BMS_NO_REPLY',
  /** A BMS_GET_VALUES reply names another CAN id than the one asked. */
  ID_MISMATCH: 'BMS_ID_MISMATCH',
};

/** What the device knows of one pack. Absent fields were not heard yet. */
export interface PackState {
  index: number;
  canId: number;
  vTotMv?: number;
  /** > 0 = discharge (vesc_bms_fw bms_if.c). */
  iInMa?: number;
  ahCntMah?: number;
  whCntMwh?: number;
  ahChgTotalMah?: number;
  whChgTotalMwh?: number;
  ahDisTotalMah?: number;
  whDisTotalMwh?: number;
  socPermille?: number;
  sohPermille?: number;
  vCellMinMv?: number;
  vCellMaxMv?: number;
  cellsMv: number[];
  tempsCentiC: number[];
  tempMaxCellCentiC?: number;
  charging?: boolean;
  /** BMS_SOC_SOH_TEMP_STAT bit 2 (bldc: is_charge_allowed). */
  chargeAllowed?: boolean;
  /** BMS_SOC_SOH_TEMP_STAT bit 3 (vesc_bms_fw: charge OK, the charger is seen). */
  chargeOk?: boolean;
  /** timers.now() of the last BMS_SOC_SOH_TEMP_STAT, -1 never (CAN source only). */
  statMs: number;
  /** timers.now() when last heard, -1 never. */
  heardMs: number;
  stale: boolean;
  /** Updates delivered (frames with current, or replies). */
  updates: number;
}

/** The part of VescUart that DualBms uses. */
export interface VescRequester {
  request(payload: Uint8Array, replyCommand: number, cb: (err: Error | undefined, reply?: Uint8Array) => void, retries?: number, timeoutMs?: number): void;
}

export interface DualBmsOptions {
  /** BMS CAN controller ids, one per pack (1 or 2), all different, each in 0..254. */
  packIds: number[];
  /** 'can' (broadcasts through the Mcp2515) or 'vesc' (FORWARD_CAN through VescUart). */
  source: string;
  timers: Timers;
  vesc?: VescRequester;
  /** The VESC's own CAN id when known: a pack on it would collide too. */
  vescCanId?: number;
  /** Silence after which a pack is stale, ms; default 2000 (the VESC's own limit, bms.c). */
  staleMs?: number;
  /** Source 'vesc': how often each pack is asked, ms; default 500. */
  pollMs?: number;
  /**
   * Source 'vesc': how long a forwarded question waits for its answer, ms; default 250.
   * The answer crosses the CAN bus and then ~130 bytes of UART (11 ms at 115200 baud) after
   * the BMS has built it: the VESC's 100 ms for its own commands timed out on answers that
   * were only late, which then arrived while the other pack was being asked
   * (BMS_ID_MISMATCH; measured on the espruino-linux board, npm run e2e:espruino).
   */
  forwardTimeoutMs?: number;
  onUpdate?: (pack: PackState) => void;
  onFault?: (code: string, detail: string) => void;
}

function copyPack(p: PackState): PackState {
  var c = {} as Record<string, unknown>;
  var src = p as unknown as Record<string, unknown>;
  for (var k in src) c[k] = src[k];
  var out = c as unknown as PackState;
  out.cellsMv = p.cellsMv.slice();
  out.tempsCentiC = p.tempsCentiC.slice();
  return out;
}

/** `a` cut or padded with zeros to n entries (a new array). */
function resized(a: number[], n: number): number[] {
  var out: number[] = [];
  for (var i = 0; i < n; i++) out.push(i < a.length ? a[i] : 0);
  return out;
}

export class DualBms {
  readonly packs: PackState[];
  readonly identification: { source: string; packIds: number[] };
  readonly stats: { frames: number; ignored: number; badData: number; requests: number; replies: number; noReply: number; staleEvents: number };

  private timers: Timers;
  private source: string;
  private vesc: VescRequester | undefined;
  private staleMs: number;
  private pollMs: number;
  private forwardTimeoutMs: number;
  private onUpdate?: (pack: PackState) => void;
  private onFault?: (code: string, detail: string) => void;
  private closed: boolean;
  private startMs: number;
  private staleTimer: number | undefined;
  private pollTimer: number | undefined;
  private dirty: boolean[];
  private flushQueued: boolean;
  private asking: boolean[];
  private askedMs: number[];

  constructor(options: DualBmsOptions) {
    if (!options || typeof options !== 'object') throw new Error('DualBms: options expected an object');
    var ids = options.packIds;
    if (!(ids instanceof Array) || ids.length < 1 || ids.length > 2) throw new Error('DualBms: "packIds" expected 1 or 2 BMS CAN ids');
    for (var i = 0; i < ids.length; i++) {
      var id = ids[i];
      if (typeof id !== 'number' || !(id >= 0 && id <= 254) || Math.floor(id) !== id) {
        throw new Error('DualBms: "packIds[' + i + ']" expected a CAN id in [0, 254] (255 is broadcast), got ' + id);
      }
    }
    if (ids.length === 2 && ids[0] === ids[1]) {
      throw new Error('DualBms: packs 0 and 1 both use CAN id ' + ids[0] + '. Two BMS on one id collide on the bus and cannot be told apart; ' +
        'give each BMS its own CAN id (VESC Tool, BMS configuration; vesc_bms_fw ships every unit as 104) and set packIds to match.');
    }
    if (options.vescCanId !== undefined && ids.indexOf(options.vescCanId) >= 0) {
      throw new Error('DualBms: CAN id ' + options.vescCanId + ' is both the VESC and pack ' + ids.indexOf(options.vescCanId) + '; every node needs its own id');
    }
    if (options.source !== 'can' && options.source !== 'vesc') throw new Error('DualBms: "source" expected \'can\' or \'vesc\', got ' + options.source);
    if (options.source === 'vesc' && (!options.vesc || typeof options.vesc.request !== 'function')) throw new Error('DualBms: source \'vesc\' needs "vesc" (a VescUart)');
    var t = options.timers;
    if (!t || typeof t.now !== 'function' || typeof t.setTimeout !== 'function' || typeof t.clearTimeout !== 'function') {
      throw new Error('DualBms: "timers" expected { now, setTimeout, clearTimeout }');
    }
    var staleMs = options.staleMs === undefined ? 2000 : options.staleMs;
    if (typeof staleMs !== 'number' || !(staleMs >= 50 && staleMs <= 3600000)) throw new Error('DualBms: "staleMs" expected a number in [50, 3600000], got ' + staleMs);
    var pollMs = options.pollMs === undefined ? 500 : options.pollMs;
    if (typeof pollMs !== 'number' || !(pollMs >= 20 && pollMs <= 3600000)) throw new Error('DualBms: "pollMs" expected a number in [20, 3600000], got ' + pollMs);
    var forwardTimeoutMs = options.forwardTimeoutMs === undefined ? 250 : options.forwardTimeoutMs;
    if (typeof forwardTimeoutMs !== 'number' || !(forwardTimeoutMs >= 5 && forwardTimeoutMs <= 60000)) throw new Error('DualBms: "forwardTimeoutMs" expected a number in [5, 60000], got ' + forwardTimeoutMs);
    if (options.onUpdate !== undefined && typeof options.onUpdate !== 'function') throw new Error('DualBms: "onUpdate" expected a function');
    if (options.onFault !== undefined && typeof options.onFault !== 'function') throw new Error('DualBms: "onFault" expected a function');

    this.timers = t;
    this.source = options.source;
    this.vesc = options.vesc;
    this.staleMs = staleMs;
    this.pollMs = pollMs;
    this.forwardTimeoutMs = forwardTimeoutMs;
    this.onUpdate = options.onUpdate;
    this.onFault = options.onFault;
    this.closed = false;
    this.packs = [];
    this.dirty = [];
    this.asking = [];
    this.askedMs = [];
    for (var k = 0; k < ids.length; k++) {
      this.packs.push({ index: k, canId: ids[k], cellsMv: [], tempsCentiC: [], heardMs: -1, statMs: -1, stale: false, updates: 0 });
      this.dirty.push(false);
      this.asking.push(false);
      this.askedMs.push(-1);
    }
    this.identification = { source: this.source, packIds: ids.slice() };
    this.stats = { frames: 0, ignored: 0, badData: 0, requests: 0, replies: 0, noReply: 0, staleEvents: 0 };
    this.flushQueued = false;
    this.startMs = t.now();
    this.staleTimer = undefined;
    this.pollTimer = undefined;
    this.scheduleStaleCheck();
    if (this.source === 'vesc') this.schedulePoll(0);
  }

  /** A received CAN frame; frames from other ids or of other kinds are ignored. */
  receive(frame: CanFrame): void {
    if (this.closed) throw new Error('DualBms: used after close()');
    if (!frame || !frame.ext || !(frame.data instanceof Uint8Array)) {
      this.stats.ignored++;
      return;
    }
    var idx = this.indexOf(frame.id & 0xff);
    var cmd = frame.id >> 8;
    // BMS messages are CAN_PACKET 38..45, 53, 54 (protocol/BUS.md §3)
    if (idx < 0 || frame.id > 0xffff || !((cmd >= 38 && cmd <= 45) || cmd === 53 || cmd === 54)) {
      this.stats.ignored++;
      return;
    }
    this.stats.frames++;
    var d = decodeCanFrame(frame.id, frame.data);
    if (!d.ok) {
      this.stats.badData++;
      this.fault(BMS_FAULT.BAD_DATA, 'pack ' + idx + ' id ' + this.packs[idx].canId + ': ' + d.error.message);
      return;
    }
    var p = this.packs[idx];
    var m = d.value;
    var update = false;
    switch (m.type) {
      case 'BMS_V_TOT': p.vTotMv = m.vTotMv; break;
      case 'BMS_I': p.iInMa = m.iInMa; update = true; break;
      case 'BMS_AH_WH': p.ahCntMah = m.ahCntMah; p.whCntMwh = m.whCntMwh; break;
      case 'BMS_AH_WH_CHG_TOTAL': p.ahChgTotalMah = m.ahMah; p.whChgTotalMwh = m.whMwh; break;
      case 'BMS_AH_WH_DIS_TOTAL': p.ahDisTotalMah = m.ahMah; p.whDisTotalMwh = m.whMwh; break;
      case 'BMS_V_CELL':
        if (p.cellsMv.length !== m.cellNum) p.cellsMv = resized(p.cellsMv, m.cellNum);
        for (var i = 0; i < m.cellsMv.length && m.firstCell + i < p.cellsMv.length; i++) p.cellsMv[m.firstCell + i] = m.cellsMv[i];
        break;
      case 'BMS_TEMPS':
        if (p.tempsCentiC.length !== m.tempNum) p.tempsCentiC = resized(p.tempsCentiC, m.tempNum);
        for (var j = 0; j < m.tempsCentiC.length && m.firstIndex + j < p.tempsCentiC.length; j++) p.tempsCentiC[m.firstIndex + j] = m.tempsCentiC[j];
        break;
      case 'BMS_SOC_SOH_TEMP_STAT':
        p.vCellMinMv = m.vCellMinMv;
        p.vCellMaxMv = m.vCellMaxMv;
        p.socPermille = m.socPermille;
        p.sohPermille = m.sohPermille;
        p.tempMaxCellCentiC = m.tempCellMaxC * 100;
        p.charging = m.charging;
        p.chargeAllowed = m.chargeAllowed;
        p.chargeOk = m.chargeOk;
        p.statMs = this.timers.now();
        break;
      default: break;
    }
    this.heard(idx, update);
  }

  /** Copies of every pack's state, delivered later. */
  sample(cb: (err: Error | undefined, packs?: PackState[]) => void): void {
    if (this.closed) throw new Error('DualBms: used after close()');
    if (typeof cb !== 'function') throw new Error('DualBms.sample: "cb" expected a function');
    var self = this;
    this.timers.setTimeout(function () {
      var out: PackState[] = [];
      for (var i = 0; i < self.packs.length; i++) out.push(copyPack(self.packs[i]));
      cb(undefined, out);
    }, 0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.staleTimer !== undefined) this.timers.clearTimeout(this.staleTimer);
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
    this.staleTimer = undefined;
    this.pollTimer = undefined;
  }

  private indexOf(canId: number): number {
    for (var i = 0; i < this.packs.length; i++) if (this.packs[i].canId === canId) return i;
    return -1;
  }

  private fault(code: string, detail: string): void {
    if (this.onFault) this.onFault(code, detail);
  }

  private heard(idx: number, update: boolean): void {
    var p = this.packs[idx];
    p.heardMs = this.timers.now();
    if (p.stale) {
      p.stale = false;
      update = true;
    }
    if (update) {
      p.updates++;
      this.markDirty(idx);
    }
  }

  private markDirty(idx: number): void {
    this.dirty[idx] = true;
    if (this.flushQueued || !this.onUpdate) return;
    this.flushQueued = true;
    var self = this;
    this.timers.setTimeout(function () {
      self.flushQueued = false;
      if (self.closed || !self.onUpdate) return;
      for (var i = 0; i < self.packs.length; i++) {
        if (!self.dirty[i]) continue;
        self.dirty[i] = false;
        self.onUpdate(copyPack(self.packs[i]));
      }
    }, 0);
  }

  private scheduleStaleCheck(): void {
    var self = this;
    var period = this.staleMs / 4;
    if (period < 25) period = 25;
    this.staleTimer = this.timers.setTimeout(function () {
      self.staleTimer = undefined;
      if (self.closed) return;
      self.checkStale();
      self.scheduleStaleCheck();
    }, period);
  }

  private checkStale(): void {
    var now = this.timers.now();
    for (var i = 0; i < this.packs.length; i++) {
      var p = this.packs[i];
      var since = p.heardMs < 0 ? this.startMs : p.heardMs;
      if (!p.stale && now - since >= this.staleMs) {
        p.stale = true;
        this.stats.staleEvents++;
        this.fault(BMS_FAULT.STALE, 'pack ' + i + ' (CAN id ' + p.canId + ') ' + (p.heardMs < 0 ? 'never heard' : 'silent') + ' for ' + Math.floor(now - since) + ' ms');
        this.markDirty(i);
      }
    }
  }

  private schedulePoll(delay: number): void {
    var self = this;
    this.pollTimer = this.timers.setTimeout(function () {
      self.pollTimer = undefined;
      if (self.closed) return;
      for (var i = 0; i < self.packs.length; i++) self.ask(i);
      self.schedulePoll(self.pollMs);
    }, delay);
  }

  private ask(idx: number): void {
    // one question per pack at a time: a slow link must not pile them up
    if (this.asking[idx]) return;
    var p = this.packs[idx];
    var now = this.timers.now();
    // a stale pack is asked once per staleMs only: each unanswered question holds the one
    // UART channel for a whole timeout, which the 10 Hz VESC poll needs
    if (p.stale && this.askedMs[idx] >= 0 && now - this.askedMs[idx] < this.staleMs) return;
    this.askedMs[idx] = now;
    this.asking[idx] = true;
    var self = this;
    this.stats.requests++;
    (this.vesc as VescRequester).request(encodeForwardCan(p.canId, encodeBmsGetValuesRequest()), COMM.BMS_GET_VALUES, function (err, reply) {
      self.asking[idx] = false;
      if (self.closed) return;
      if (err) {
        self.stats.noReply++;
        self.fault(BMS_FAULT.NO_REPLY, 'pack ' + idx + ' id ' + p.canId + ': ' + err.message);
        return;
      }
      self.take(idx, reply as Uint8Array);
    }, 0, this.forwardTimeoutMs);
  }

  private take(idx: number, reply: Uint8Array): void {
    var p = this.packs[idx];
    var d = decodeBmsValues(reply);
    if (!d.ok) {
      this.stats.badData++;
      this.fault(BMS_FAULT.BAD_DATA, 'pack ' + idx + ' id ' + p.canId + ': ' + d.error.message);
      return;
    }
    var v = d.value;
    if (v.canId !== undefined && v.canId !== p.canId) {
      this.fault(BMS_FAULT.ID_MISMATCH, 'asked pack ' + idx + ' at CAN id ' + p.canId + ', the reply is from id ' + v.canId);
      return;
    }
    this.stats.replies++;
    // µV / µA on the UART (int32 / 1e6) to the mV / mA of the pack state
    p.vTotMv = roundHalfAway(v.vTotUv / 1000);
    p.iInMa = roundHalfAway(v.iInUa / 1000);
    p.ahCntMah = v.ahCntMah;
    p.whCntMwh = v.whCntMwh;
    if (v.ahChgTotalMah !== undefined) p.ahChgTotalMah = v.ahChgTotalMah;
    if (v.whChgTotalMwh !== undefined) p.whChgTotalMwh = v.whChgTotalMwh;
    if (v.ahDisTotalMah !== undefined) p.ahDisTotalMah = v.ahDisTotalMah;
    if (v.whDisTotalMwh !== undefined) p.whDisTotalMwh = v.whDisTotalMwh;
    p.socPermille = v.socPermille;
    p.sohPermille = v.sohPermille;
    p.cellsMv = v.cellsMv;
    p.tempsCentiC = v.tempsCentiC;
    p.tempMaxCellCentiC = v.tempMaxCellCentiC;
    var min = 0, max = 0;
    for (var i = 0; i < v.cellsMv.length; i++) {
      if (i === 0 || v.cellsMv[i] < min) min = v.cellsMv[i];
      if (i === 0 || v.cellsMv[i] > max) max = v.cellsMv[i];
    }
    if (v.cellsMv.length > 0) {
      p.vCellMinMv = min;
      p.vCellMaxMv = max;
    }
    this.heard(idx, true);
  }
}
