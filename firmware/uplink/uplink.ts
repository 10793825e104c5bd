// Uplink: delivers the queue's committed reports to the ingest node and removes each one
// only on the node's per-report answer. One request in flight at a time.
//
// Wire (host-tools/ingest, protocol/SPEC.md): POST <url> (the ingest node's /v1/reports)
// with Content-Type application/cbor and a body that is a CBOR array (RFC 8949 §3.1,
// major type 4) of the reports' COSE_Sign1 bytes exactly as stored (never re-encoded).
// A 200 answer is JSON: { "results": [ { "index": i, "status": "accepted" | "duplicate" |
// "rejected", "reason"?: ..., "seq"?: n }, ... ] }, one per report by position.
//
// Per-report policy:
//   accepted / duplicate            -> removed from the queue (the node has it)
//   rejected: unknown_key           -> kept (device not paired yet), UPLINK_NOT_PAIRED, back off
//   rejected: gap                   -> kept (the node wants earlier ones first), UPLINK_GAP, back off
//   rejected: anything else         -> it can never be accepted: fault UPLINK_4XX
//                                      ("seq <n> <reason>") and removed, never retried forever
//   no answer for it                -> kept, sent again
// Whole-request policy:
//   network error / timeout         -> UPLINK_NET, back off
//   5xx, 429                        -> UPLINK_5XX, back off
//   400, 413, 422 on a batch of n>1 -> the batch limit drops to 1 to isolate the culprit
//   400, 413, 422 on one report     -> that report is bad for good: UPLINK_4XX, removed
//   other 4xx (401, 403, 404, 415)  -> configuration problem, not the report's: UPLINK_4XX,
//                                      back off, nothing removed
//   unparsable 2xx body             -> UPLINK_BAD_ANSWER, back off, nothing removed
// Backoff: exponential from backoffMinMs doubling to backoffMaxMs, "equal jitter": the
// wait is d/2 + rand * d/2, so devices that lost the same node do not come back together.
// A fully successful exchange resets it. While offline the uplink re-checks every
// offlinePollMs; kick() (new report, WiFi back) sends at once when idle.
// WiFi association and its own reconnection backoff are the HAL's (firmware/hal/espruino/net).
//
// Public API
//   createUplink({ queue, net, timers, url, rand, faults?, batchMax?=16, batchBytesMax?=6144,
//                  timeoutMs?=20000, backoffMinMs?=2000, backoffMaxMs?=600000, offlinePollMs?=10000 })
//     kick()       try now if idle (call after append and when the network comes up)
//     stop()       cancel timers; no callback is acted on after it
//     status()     { state, sent, dropped, attempts, backoffMs, lastError }
//   UplinkNet      { online(), request(method, url, body, contentType, timeoutMs, cb(err, status, body)) }
//   encodeBatch(payloads) -> CBOR array bytes
import type { Timers } from '../hal/io';
import type { Queue, QueueItem } from '../queue/queue';
import { FAULT, FaultLog } from '../app/faults';
import { REJECT } from '../../protocol/reasons';

export interface UplinkNet {
  online(): boolean;
  request(method: string, url: string, body: Uint8Array | undefined, contentType: string, timeoutMs: number,
    cb: (err: string | null, status: number, body: Uint8Array | undefined) => void): void;
}

export interface UplinkOptions {
  queue: Queue;
  net: UplinkNet;
  timers: Timers;
  /** The endpoint, read at each attempt (settings can change); '' = not configured. */
  url: () => string;
  /** Uniform random in [0, 1) for the jitter. */
  rand: () => number;
  faults?: FaultLog;
  batchMax?: number;
  batchBytesMax?: number;
  timeoutMs?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  offlinePollMs?: number;
}

export interface UplinkStatus {
  /** 'idle' | 'sending' | 'backoff' | 'offline' | 'stopped' */
  state: string;
  sent: number;
  dropped: number;
  attempts: number;
  backoffMs: number;
  lastError: string;
}

export interface Uplink {
  kick(): void;
  stop(): void;
  status(): UplinkStatus;
}

/** CBOR array header (RFC 8949 §3.1) followed by the items' bytes as they are. */
export function encodeBatch(payloads: Uint8Array[]): Uint8Array {
  var n = payloads.length;
  var head = n < 24 ? 1 : n < 256 ? 2 : 3;
  if (n > 65535) throw new Error('encodeBatch: at most 65535 items, got ' + n);
  var len = head;
  for (var i = 0; i < n; i++) len += payloads[i].length;
  var out = new Uint8Array(len);
  if (head === 1) out[0] = 0x80 + n;
  else if (head === 2) { out[0] = 0x98; out[1] = n; }
  else { out[0] = 0x99; out[1] = n >>> 8; out[2] = n & 255; }
  var o = head;
  for (i = 0; i < n; i++) { out.set(payloads[i], o); o += payloads[i].length; }
  return out;
}

function intOpt(v: number | undefined, def: number, name: string, min: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || v !== Math.floor(v) || v < min) throw new Error('createUplink: "' + name + '" expected integer >= ' + min + ', got ' + v);
  return v;
}

function ascii(b: Uint8Array | undefined): string {
  if (!b) return '';
  var s = '';
  for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

var KEEP_REASONS: { [r: string]: number } = { [REJECT.UNKNOWN_KEY]: FAULT.UPLINK_NOT_PAIRED, [REJECT.GAP]: FAULT.UPLINK_GAP };

export function createUplink(opts: UplinkOptions): Uplink {
  if (!opts || !opts.queue || !opts.net || !opts.timers || typeof opts.url !== 'function' || typeof opts.rand !== 'function') {
    throw new Error('createUplink: expected { queue, net, timers, url, rand }');
  }
  var queue = opts.queue;
  var net = opts.net;
  var timers = opts.timers;
  var faults = opts.faults;
  var batchMax = intOpt(opts.batchMax, 16, 'batchMax', 1);
  var batchBytesMax = intOpt(opts.batchBytesMax, 6144, 'batchBytesMax', 256);
  var timeoutMs = intOpt(opts.timeoutMs, 20000, 'timeoutMs', 1);
  var backoffMin = intOpt(opts.backoffMinMs, 2000, 'backoffMinMs', 1);
  var backoffMax = intOpt(opts.backoffMaxMs, 600000, 'backoffMaxMs', backoffMin);
  var offlinePoll = intOpt(opts.offlinePollMs, 10000, 'offlinePollMs', 1);

  var state = 'idle';
  var timer = 0;
  var hasTimer = false;
  var backoff = 0; // 0 = no failure since the last success
  var limit = batchMax;
  var sent = 0;
  var dropped = 0;
  var attempts = 0;
  var lastError = '';
  var generation = 0; // bumps on stop(): late callbacks are ignored

  function fault(code: number, detail: string) {
    lastError = detail;
    if (faults) faults.raise(code, detail);
  }

  function later(ms: number, st: string) {
    if (hasTimer) timers.clearTimeout(timer);
    state = st;
    hasTimer = true;
    timer = timers.setTimeout(function () { hasTimer = false; state = 'idle'; attempt(); }, ms);
  }

  function backOff() {
    backoff = backoff === 0 ? backoffMin : Math.min(backoff * 2, backoffMax);
    var half = Math.floor(backoff / 2);
    var r = opts.rand();
    if (!(r >= 0 && r < 1)) r = 0.5;
    later(half + Math.floor(r * half), 'backoff');
  }

  function attempt() {
    if (state !== 'idle') return;
    if (queue.pending() === 0) return;
    var url = opts.url();
    if (!url || !net.online()) {
      later(offlinePoll, 'offline');
      return;
    }
    var items = queue.peek(limit, batchBytesMax);
    if (items.length === 0) return;
    var payloads: Uint8Array[] = [];
    for (var i = 0; i < items.length; i++) payloads.push(items[i].payload);
    var body = encodeBatch(payloads);
    payloads = [];
    state = 'sending';
    attempts++;
    var gen = generation;
    net.request('POST', url, body, 'application/cbor', timeoutMs, function (err, status, resp) {
      if (gen !== generation) return;
      state = 'idle';
      handle(items, err, status, resp);
    });
  }

  function drop(it: QueueItem, why: string) {
    fault(FAULT.UPLINK_4XX, 'seq ' + it.seq + ' ' + why);
    dropped++;
  }

  function handle(items: QueueItem[], err: string | null, status: number, resp: Uint8Array | undefined) {
    if (err) { fault(FAULT.UPLINK_NET, err); backOff(); return; }
    if (status >= 500 || status === 429) { fault(FAULT.UPLINK_5XX, 'http ' + status); backOff(); return; }
    if (status === 400 || status === 413 || status === 422) {
      if (items.length > 1) {
        // Someone in this batch is unacceptable: isolate it by sending one at a time.
        limit = 1;
        lastError = 'http ' + status + ' on a batch of ' + items.length;
        later(0, 'idle');
        return;
      }
      drop(items[0], 'http ' + status);
      queue.remove(items);
      later(0, 'idle');
      return;
    }
    if (status < 200 || status >= 300) { fault(FAULT.UPLINK_4XX, 'http ' + status); backOff(); return; }
    var results: { index?: unknown; status?: unknown; reason?: unknown }[];
    try {
      var j = JSON.parse(ascii(resp));
      results = j && j.results;
      if (!(results instanceof Array)) throw new Error('no results array');
    } catch (e) {
      fault(FAULT.UPLINK_BAD_ANSWER, 'http ' + status + ': ' + ((e as Error).message || String(e)));
      backOff();
      return;
    }
    var remove: QueueItem[] = [];
    var keepCode = 0;
    for (var i = 0; i < results.length; i++) {
      var r = results[i];
      var idx = r ? r.index : undefined;
      if (typeof idx !== 'number' || idx !== Math.floor(idx) || idx < 0 || idx >= items.length) continue;
      var it = items[idx];
      if (r.status === 'accepted' || r.status === 'duplicate') {
        remove.push(it);
        sent++;
      } else if (r.status === 'rejected') {
        var reason = typeof r.reason === 'string' ? r.reason : 'rejected';
        if (KEEP_REASONS[reason]) {
          keepCode = KEEP_REASONS[reason];
          lastError = 'seq ' + it.seq + ' ' + reason;
        } else {
          drop(it, reason);
          remove.push(it);
        }
      }
    }
    if (remove.length) queue.remove(remove);
    var answered = remove.length;
    if (keepCode) {
      fault(keepCode, lastError);
      backOff();
      return;
    }
    if (answered < items.length) {
      // Some reports were not answered: try again, but not in a tight loop.
      fault(FAULT.UPLINK_BAD_ANSWER, (items.length - answered) + ' of ' + items.length + ' unanswered');
      backOff();
      return;
    }
    backoff = 0;
    if (limit < batchMax && items.length === 1) limit = Math.min(batchMax, limit * 2);
    later(0, 'idle');
  }

  return {
    kick: function () {
      if (state === 'stopped') return;
      if (state === 'offline' || (state === 'idle' && !hasTimer)) {
        if (hasTimer) { timers.clearTimeout(timer); hasTimer = false; }
        state = 'idle';
        attempt();
      }
    },
    stop: function () {
      generation++;
      if (hasTimer) timers.clearTimeout(timer);
      hasTimer = false;
      state = 'stopped';
    },
    status: function () {
      return { state: state, sent: sent, dropped: dropped, attempts: attempts, backoffMs: backoff, lastError: lastError };
    },
  };
}
