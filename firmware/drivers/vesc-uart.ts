// VescUart: request/response with a VESC over a byte stream (ECMA-419 style, see
// firmware/README.md). One request in flight; each attempt has a timeout and is retried;
// a reply is the first frame whose command byte is the one expected (the VESC answers in
// order, and a forwarded request's reply comes back as a plain inner payload:
// bldc comm/commands.c COMM_FORWARD_CAN). Polls GET_VALUES_SELECTIVE at a fixed rate and
// asks FW_VERSION first, for `identification`.
//
// Public API
//   new VescUart({ io, timers, baud?, pollHz?, mask?, timeoutMs?, retries?, queueMax?,
//                  onSample?, onIdentify?, onFault? })
//   sample(cb)          cb(err, values) with a fresh GET_VALUES_SELECTIVE reply (async)
//   request(payload, replyCommand, cb, retries?)   any command; cb(err, replyPayloadCopy)
//   identification      FwVersion once known, else undefined
//   latest              the last polled sample, or undefined
//   stats               counters (requests, replies, timeouts, retries, framing...)
//   close()
// Callbacks come only from options or arguments and never synchronously from a method.
// Faults go to onFault(code, detail) with code in VESC_FAULT; nothing is printed.
import type { SerialClass, SerialIO, Timers } from '../hal/io';
import { FrameDecoder, writeFrame, PACKET_MAX_PAYLOAD } from '../../protocol/vesc/packet';
import { COMM } from '../../protocol/vesc/enums';
import { copyBytes } from '../../protocol/bytes';
import {
  decodeFwVersion, decodeValues, encodeFwVersionRequest, encodeGetValuesSelectiveRequest, VALUE_BIT,
  type FwVersion, type VescValues,
} from '../../protocol/vesc/commands';

/** Fault codes given to onFault. */
export var VESC_FAULT = {
  /** No reply after all retries (detail: command and attempts). */
  TIMEOUT: 'VESC_TIMEOUT',
  /** A reply with the right command that does not decode (detail: the decoder's message). */
  BAD_REPLY: 'VESC_BAD_REPLY',
  /** The serial port reported an error (detail: message). */
  LINE: 'VESC_LINE',
  /** The request queue was full; the request was refused (detail: command). */
  QUEUE_FULL: 'VESC_QUEUE_FULL',
  /** The VESC reports a motor-controller fault in GET_VALUES (detail: mc_fault_code). */
  MC_FAULT: 'VESC_MC_FAULT',
};

/**
 * Fields the energy meter needs: battery voltage and current, the VESC's Ah/Wh counters
 * (for the cross-check), tachometer and eRPM (distance and speed), fault and temperatures.
 * Reply: 1 + 4 + 35 = 40 bytes.
 */
export var ENERGY_MASK =
  VALUE_BIT.TEMP_FET | VALUE_BIT.TEMP_MOTOR | VALUE_BIT.INPUT_CURRENT | VALUE_BIT.ERPM | VALUE_BIT.V_IN |
  VALUE_BIT.AMP_HOURS | VALUE_BIT.AMP_HOURS_CHARGED | VALUE_BIT.WATT_HOURS | VALUE_BIT.WATT_HOURS_CHARGED |
  VALUE_BIT.TACHOMETER | VALUE_BIT.FAULT;

/** A GET_VALUES sample stamped with timers.now() at the moment its reply was complete. */
export interface VescSample extends VescValues {
  tMs: number;
}

export interface DriverError extends Error {
  /** 'TIMEOUT', 'BAD_REPLY', 'QUEUE_FULL', 'CLOSED'. */
  code: string;
}

export interface VescUartOptions {
  io: SerialClass;
  timers: Timers;
  /** 115200 by default (bldc appconf_default.h). */
  baud?: number;
  /** GET_VALUES_SELECTIVE polls per second, 0 to disable; default 10. */
  pollHz?: number;
  /** Fields to poll; default ENERGY_MASK. */
  mask?: number;
  /** Wait for one reply, ms; default 100. */
  timeoutMs?: number;
  /** Attempts after the first; default 2. */
  retries?: number;
  /** Requests waiting behind the one in flight; default 8. */
  queueMax?: number;
  /** While unidentified, FW_VERSION is asked again this often, ms; default 5000. */
  identifyRetryMs?: number;
  onSample?: (sample: VescSample) => void;
  onIdentify?: (fw: FwVersion) => void;
  onFault?: (code: string, detail: string) => void;
}

interface Pending {
  payload: Uint8Array;
  reply: number;
  cb: (err: DriverError | undefined, reply?: Uint8Array) => void;
  retries: number;
  timeoutMs: number;
}

function driverError(code: string, message: string): DriverError {
  var e = new Error(message) as DriverError;
  e.code = code;
  return e;
}

function checkNum(o: Record<string, unknown>, name: string, def: number, lo: number, hi: number, integer: boolean): number {
  var v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !(v >= lo && v <= hi) || (integer && Math.floor(v) !== v)) {
    throw new Error('VescUart: "' + name + '" expected ' + (integer ? 'integer' : 'number') + ' in [' + lo + ', ' + hi + '], got ' + v);
  }
  return v;
}

export class VescUart {
  identification: FwVersion | undefined;
  latest: VescSample | undefined;
  readonly stats: {
    requests: number; replies: number; timeouts: number; retries: number; failed: number; unsolicited: number;
    pollsSkipped: number; frames: number; garbage: number; badCrc: number; badLength: number; badEnd: number; flushed: number;
  };

  private io: SerialIO | undefined;
  private timers: Timers;
  private decoder: FrameDecoder;
  private tx: Uint8Array;
  private queue: Pending[];
  private inFlight: Pending | undefined;
  private attempt: number;
  private timer: number | undefined;
  private pollTimer: number | undefined;
  private pollNextMs: number;
  private pollPending: boolean;
  private identifyAtMs: number;
  private closed: boolean;
  private o: {
    pollMs: number; mask: number; timeoutMs: number; retries: number; queueMax: number; identifyRetryMs: number;
    onSample?: (s: VescSample) => void; onIdentify?: (fw: FwVersion) => void; onFault?: (code: string, detail: string) => void;
  };
  private lastFault: number;

  constructor(options: VescUartOptions) {
    if (!options || typeof options !== 'object') throw new Error('VescUart: options expected an object');
    var o = options as unknown as Record<string, unknown>;
    if (typeof options.io !== 'function') throw new Error('VescUart: "io" expected a serial IO class');
    var t = options.timers;
    if (!t || typeof t.now !== 'function' || typeof t.setTimeout !== 'function' || typeof t.clearTimeout !== 'function') {
      throw new Error('VescUart: "timers" expected { now, setTimeout, clearTimeout }');
    }
    var fns = ['onSample', 'onIdentify', 'onFault'];
    for (var i = 0; i < fns.length; i++) {
      if (o[fns[i]] !== undefined && typeof o[fns[i]] !== 'function') throw new Error('VescUart: "' + fns[i] + '" expected a function');
    }
    var baud = checkNum(o, 'baud', 115200, 1200, 4000000, true);
    var pollHz = checkNum(o, 'pollHz', 10, 0, 100, false);
    var mask = checkNum(o, 'mask', ENERGY_MASK, 1, 4294967295, true);
    this.o = {
      pollMs: pollHz > 0 ? 1000 / pollHz : 0,
      mask: mask,
      timeoutMs: checkNum(o, 'timeoutMs', 100, 5, 60000, false),
      retries: checkNum(o, 'retries', 2, 0, 10, true),
      queueMax: checkNum(o, 'queueMax', 8, 1, 64, true),
      identifyRetryMs: checkNum(o, 'identifyRetryMs', 5000, 100, 3600000, false),
      onSample: options.onSample,
      onIdentify: options.onIdentify,
      onFault: options.onFault,
    };
    this.timers = t;
    this.decoder = new FrameDecoder(PACKET_MAX_PAYLOAD);
    this.tx = new Uint8Array(PACKET_MAX_PAYLOAD + 8);
    this.queue = [];
    this.inFlight = undefined;
    this.attempt = 0;
    this.timer = undefined;
    this.pollTimer = undefined;
    this.pollPending = false;
    this.identifyAtMs = 0;
    this.closed = false;
    this.identification = undefined;
    this.latest = undefined;
    this.lastFault = 0;
    this.stats = {
      requests: 0, replies: 0, timeouts: 0, retries: 0, failed: 0, unsolicited: 0, pollsSkipped: 0,
      frames: 0, garbage: 0, badCrc: 0, badLength: 0, badEnd: 0, flushed: 0,
    };
    var self = this;
    // options are valid: only now is the port opened
    this.io = new options.io({
      baud: baud,
      onReadable: function () { self.drain(); },
      onError: function (err: Error) { self.fault(VESC_FAULT.LINE, err && err.message ? err.message : String(err)); },
    });
    this.identify();
    this.pollNextMs = t.now();
    if (this.o.pollMs > 0) this.schedulePoll();
  }

  /** A fresh sample of the polled fields; cb(err, sample) runs later, never now. */
  sample(cb: (err: DriverError | undefined, sample?: VescSample) => void): void {
    this.checkOpen();
    if (typeof cb !== 'function') throw new Error('VescUart.sample: "cb" expected a function');
    var self = this;
    this.request(encodeGetValuesSelectiveRequest(this.o.mask), COMM.GET_VALUES_SELECTIVE, function (err, reply) {
      if (err) return cb(err);
      var s = self.takeValues(reply as Uint8Array);
      if (s) cb(undefined, s);
      else cb(driverError('BAD_REPLY', 'GET_VALUES_SELECTIVE reply did not decode'));
    });
  }

  /**
   * Sends `payload` (a COMM command) and calls cb with a copy of the first reply whose
   * command byte is `replyCommand`. Requests run one at a time, in order. `timeoutMs`
   * (default: the driver's) suits requests whose answer travels further, such as a BMS
   * reply forwarded over CAN.
   */
  request(payload: Uint8Array, replyCommand: number, cb: (err: DriverError | undefined, reply?: Uint8Array) => void, retries?: number, timeoutMs?: number): void {
    this.checkOpen();
    if (!(payload instanceof Uint8Array) || payload.length < 1 || payload.length > PACKET_MAX_PAYLOAD) {
      throw new Error('VescUart.request: "payload" expected 1..' + PACKET_MAX_PAYLOAD + ' bytes');
    }
    if (!(replyCommand >= 0 && replyCommand <= 255)) throw new Error('VescUart.request: "replyCommand" expected integer in [0, 255], got ' + replyCommand);
    if (typeof cb !== 'function') throw new Error('VescUart.request: "cb" expected a function');
    if (retries !== undefined && !(retries >= 0 && retries <= 10)) throw new Error('VescUart.request: "retries" expected integer in [0, 10], got ' + retries);
    if (timeoutMs !== undefined && !(timeoutMs >= 5 && timeoutMs <= 60000)) throw new Error('VescUart.request: "timeoutMs" expected 5..60000, got ' + timeoutMs);
    var p: Pending = { payload: payload, reply: replyCommand, cb: cb, retries: retries === undefined ? this.o.retries : retries, timeoutMs: timeoutMs === undefined ? this.o.timeoutMs : timeoutMs };
    if (this.queue.length >= this.o.queueMax) {
      this.fault(VESC_FAULT.QUEUE_FULL, 'command ' + payload[0]);
      this.later(function () { cb(driverError('QUEUE_FULL', 'VESC request queue full (' + payload.length + '-byte command ' + payload[0] + ')')); });
      return;
    }
    this.queue.push(p);
    if (!this.inFlight) this.next();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
    this.timer = undefined;
    this.pollTimer = undefined;
    var all = this.inFlight ? [this.inFlight].concat(this.queue) : this.queue;
    this.inFlight = undefined;
    this.queue = [];
    var io = this.io;
    this.io = undefined;
    if (io) io.close();
    // pending callers learn it, later, as callbacks always do
    this.later(function () {
      for (var i = 0; i < all.length; i++) all[i].cb(driverError('CLOSED', 'VescUart closed'));
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('VescUart: used after close()');
  }

  private later(fn: () => void): void {
    this.timers.setTimeout(fn, 0);
  }

  private fault(code: string, detail: string): void {
    if (this.o.onFault) this.o.onFault(code, detail);
  }

  private identify(): void {
    var self = this;
    this.identifyAtMs = this.timers.now() + this.o.identifyRetryMs;
    this.request(encodeFwVersionRequest(), COMM.FW_VERSION, function (err, reply) {
      if (err || self.closed) return;
      var d = decodeFwVersion(reply as Uint8Array);
      if (!d.ok) {
        self.fault(VESC_FAULT.BAD_REPLY, 'FW_VERSION: ' + d.error.message);
        return;
      }
      self.identification = d.value;
      if (self.o.onIdentify) self.o.onIdentify(d.value);
    });
  }

  private schedulePoll(): void {
    var self = this;
    // fixed schedule (no drift): the next slot after now
    var now = this.timers.now();
    this.pollNextMs += this.o.pollMs;
    if (this.pollNextMs < now) this.pollNextMs = now + this.o.pollMs - ((now - this.pollNextMs) % this.o.pollMs);
    this.pollTimer = this.timers.setTimeout(function () {
      self.pollTimer = undefined;
      if (self.closed) return;
      self.poll();
      self.schedulePoll();
    }, this.pollNextMs - now);
  }

  private poll(): void {
    if (!this.identification && this.timers.now() >= this.identifyAtMs) this.identify();
    // a poll still waiting (slow link, retries) is not doubled: the slot is skipped
    if (this.pollPending) {
      this.stats.pollsSkipped++;
      return;
    }
    var self = this;
    this.pollPending = true;
    this.request(encodeGetValuesSelectiveRequest(this.o.mask), COMM.GET_VALUES_SELECTIVE, function (err, reply) {
      self.pollPending = false;
      if (err || self.closed) return;
      var s = self.takeValues(reply as Uint8Array);
      if (s && self.o.onSample) self.o.onSample(s);
    });
  }

  private takeValues(reply: Uint8Array): VescSample | undefined {
    var d = decodeValues(reply);
    if (!d.ok) {
      this.fault(VESC_FAULT.BAD_REPLY, 'GET_VALUES_SELECTIVE: ' + d.error.message);
      return undefined;
    }
    var s = d.value as VescSample;
    s.tMs = this.timers.now();
    if (s.fault !== undefined && s.fault !== 0 && s.fault !== this.lastFault) this.fault(VESC_FAULT.MC_FAULT, String(s.fault));
    if (s.fault !== undefined) this.lastFault = s.fault;
    this.latest = s;
    return s;
  }

  private next(): void {
    if (this.closed || this.inFlight || this.queue.length === 0) return;
    this.inFlight = this.queue.shift();
    this.attempt = 0;
    this.send();
  }

  private send(): void {
    var p = this.inFlight as Pending;
    var self = this;
    this.stats.requests++;
    var n = writeFrame(p.payload, this.tx, 0);
    try {
      (this.io as SerialIO).write(this.tx.subarray(0, n));
    } catch (e) {
      this.fault(VESC_FAULT.LINE, 'write: ' + (e instanceof Error ? e.message : String(e)));
    }
    this.timer = this.timers.setTimeout(function () {
      self.timer = undefined;
      self.onTimeout();
    }, p.timeoutMs);
  }

  private onTimeout(): void {
    if (this.closed || !this.inFlight) return;
    this.drain();
    if (!this.inFlight || this.timer !== undefined) return; // the drain delivered the reply
    // a frame that started but never finished will not finish now
    this.decoder.flush(this.onPayloadFn());
    if (!this.inFlight) return;
    var p = this.inFlight;
    if (this.attempt < p.retries) {
      this.attempt++;
      this.stats.retries++;
      this.send();
      return;
    }
    this.stats.timeouts++;
    this.stats.failed++;
    this.inFlight = undefined;
    this.fault(VESC_FAULT.TIMEOUT, 'command ' + p.payload[0] + ' after ' + (this.attempt + 1) + ' attempt(s)');
    p.cb(driverError('TIMEOUT', 'no reply to VESC command ' + p.payload[0] + ' after ' + (this.attempt + 1) + ' attempt(s) of ' + p.timeoutMs + ' ms'));
    this.next();
  }

  private payloadFn: ((payload: Uint8Array) => void) | undefined;

  private onPayloadFn(): (payload: Uint8Array) => void {
    if (!this.payloadFn) {
      var self = this;
      this.payloadFn = function (payload: Uint8Array) { self.onPayload(payload); };
    }
    return this.payloadFn;
  }

  private drain(): void {
    if (this.closed || !this.io) return;
    var fn = this.onPayloadFn();
    // re-check io each time: a callback run from feed() may have closed the driver
    for (var guard = 0; guard < 64 && this.io; guard++) {
      var b = this.io.read();
      if (b === undefined || b.length === 0) break;
      this.decoder.feed(b, fn);
    }
    var st = this.decoder.stats;
    this.stats.frames = st.frames;
    this.stats.garbage = st.garbage;
    this.stats.badCrc = st.badCrc;
    this.stats.badLength = st.badLength;
    this.stats.badEnd = st.badEnd;
    this.stats.flushed = st.flushed;
  }

  private onPayload(payload: Uint8Array): void {
    var p = this.inFlight;
    if (!p || payload[0] !== p.reply) {
      this.stats.unsolicited++;
      return;
    }
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight = undefined;
    this.stats.replies++;
    var copy = copyBytes(payload);
    // the caller runs after this frame is fully handled; the next request goes out first
    this.next();
    p.cb(undefined, copy);
  }
}
