// Bounded fault ring of firmware/README.md ("Errors on a device without a screen"): each
// expected failure (bad CRC, stale BMS, network down, ...) becomes one entry
// `{code, ticks, detail}` in a fixed-size ring, and bumps a per-code counter that never
// wraps and is carried in every report. Nothing here throws on a fault; misuse (unknown
// code, bad capacity) throws a labelled Error.
//
// Public API
//   FAULT                       table of fault codes (small integers, stable on the wire)
//   faultName(code)             'UPLINK_4XX' etc., or 'CODE_<n>' for an unknown code
//   busFaultCode(driverCode)    ring code of a driver fault string (VESC_*, BMS_*, CAN_*)
//   deviceFaultTotal(log)       total() without the bus drivers' faults
//   createFaultLog({ capacity?, now })  -> FaultLog
//     raise(code, detail?)      record a fault; detail is a short string or integer
//     count(code)               how many times `code` was raised since boot (or restore)
//     counters()                [[code, count], ...] for every code raised, ascending code
//     total()                   sum of all counters
//     entries()                 the ring, oldest first (copies)
//     print()                   printable text of the ring + counters (console `faults()`)
//     restoreCounters(pairs)    seed counters (e.g. from the last report after a reboot)
//
// Espruino notes: no Map, so counters live in a plain object keyed by the code's decimal
// string; the ring is a preallocated array written round-robin.

/** Fault codes. 1-31 app/energy, 32-63 queue/flash, 64-95 uplink/net, 96-127 keys/clock. */
export var FAULT = {
  /** An uncaught error was caught at the top level (detail: message). */
  UNCAUGHT: 1,
  /** The energy meter's cross-check against the VESC Wh counters failed (detail: diff mWh). */
  XCHECK_VESC: 2,
  /** The cross-check against a BMS's Wh totals failed (detail: "p<pack> <diff mWh>"). */
  XCHECK_BMS: 3,
  /** A VESC counter went backwards: the VESC rebooted; cross-check baseline re-anchored. */
  VESC_COUNTER_RESET: 4,
  /** A BMS counter went backwards: the BMS rebooted; baseline re-anchored. */
  BMS_COUNTER_RESET: 5,
  /** A sample was rejected (out of range value or time going backwards; detail says which). */
  SAMPLE_REJECTED: 6,
  /** Time between samples exceeded the hold limit; only the limit was integrated. */
  SAMPLE_GAP: 7,
  /** The report interval was stretched because signing is slower than the interval. */
  REPORT_LATE: 8,
  /** A report could not be built or signed (detail: message). */
  REPORT_FAILED: 9,
  /** A VESC UART driver fault (detail: the driver's code, e.g. "VESC_TIMEOUT ..."). */
  VESC_BUS: 10,
  /** A BMS driver fault: stale pack, bad reply (detail: the driver's code). */
  BMS_BUS: 11,
  /** A CAN controller fault: error flags, bus-off (detail: the driver's code). */
  CAN_BUS: 12,
  /** The queue is full: no report was stored for this window; the next one covers it. */
  QUEUE_FULL: 32,
  /** A flash write failed (Storage.write returned false or threw). */
  FLASH_WRITE: 33,
  /** A torn or corrupt record was found on boot and skipped (never sent). */
  QUEUE_TORN: 34,
  /** A queue segment file was unreadable and was erased (detail: name). */
  QUEUE_SEGMENT_BAD: 35,
  /** The ingest node refused a report with a 4xx (detail: "seq <n> <status>"); dropped. */
  UPLINK_4XX: 64,
  /** The ingest node answered 5xx; the batch will be retried. */
  UPLINK_5XX: 65,
  /** Network error on POST (detail: message); retried with backoff. */
  UPLINK_NET: 66,
  /** The ingest node's answer could not be parsed; the batch will be retried. */
  UPLINK_BAD_ANSWER: 67,
  /** WiFi association was lost or failed. */
  WIFI_DOWN: 68,
  /** The ingest node does not know this device's key yet (not paired): kept, retried later. */
  UPLINK_NOT_PAIRED: 69,
  /** The ingest node holds too much ahead of a missing report ('gap'): kept, retried later. */
  UPLINK_GAP: 70,
  /** The stored key could not be read back (corrupt); no new key is made silently. */
  KEY_CORRUPT: 96,
  /** The hardware RNG repeated itself while making the key: no key was made. */
  KEY_RNG_BAD: 98,
  /** No Ed25519: Storage module "ed25519" missing or its self-test failed; nothing is signed. */
  SIGNER_MISSING: 99,
  /** SNTP answer rejected (implausible time). */
  CLOCK_REJECTED: 97,
};

var NAMES: { [code: string]: string } = {};
(function () {
  var k: string;
  for (k in FAULT) NAMES[String((FAULT as any)[k])] = k;
})();

/**
 * The ring code of a bus driver's fault string (firmware/drivers: VESC_*, BMS_*, CAN_*), so
 * that `faults()` shows what the drivers saw next to the device's own faults.
 */
export function busFaultCode(driverCode: string): number {
  if (driverCode.indexOf('VESC_') === 0) return FAULT.VESC_BUS;
  if (driverCode.indexOf('CAN_') === 0) return FAULT.CAN_BUS;
  return FAULT.BMS_BUS;
}

/** Faults of the device itself: all counters but the bus drivers' (reports carry those apart). */
export function deviceFaultTotal(log: FaultLog): number {
  return log.total() - log.count(FAULT.VESC_BUS) - log.count(FAULT.BMS_BUS) - log.count(FAULT.CAN_BUS);
}

export function faultName(code: number): string {
  return NAMES[String(code)] || 'CODE_' + code;
}

export interface Fault {
  code: number;
  /** Monotonic milliseconds since boot when the fault was raised. */
  ticks: number;
  detail: string | number;
}

export interface FaultLog {
  raise(code: number, detail?: string | number): void;
  count(code: number): number;
  counters(): number[][];
  total(): number;
  entries(): Fault[];
  print(): string;
  restoreCounters(pairs: number[][]): void;
}

export interface FaultLogOptions {
  /** Ring size, 1..256 (default 32). */
  capacity?: number;
  /** Monotonic milliseconds. */
  now: () => number;
}

/** Longest detail string kept: the ring must stay small in RAM. */
var DETAIL_MAX = 48;

export function createFaultLog(opts: FaultLogOptions): FaultLog {
  if (!opts || typeof opts.now !== 'function') throw new Error('createFaultLog: "now" expected function');
  var capacity = opts.capacity === undefined ? 32 : opts.capacity;
  if (typeof capacity !== 'number' || capacity !== Math.floor(capacity) || capacity < 1 || capacity > 256) {
    throw new Error('createFaultLog: "capacity" expected integer 1..256, got ' + capacity);
  }
  var now = opts.now;
  var ring: Fault[] = [];
  var next = 0; // index the next fault goes to
  var size = 0;
  var counts: { [code: string]: number } = {};

  function checkCode(code: number) {
    if (typeof code !== 'number' || code !== Math.floor(code) || code < 0 || code > 65535) {
      throw new Error('faults: "code" expected integer 0..65535, got ' + code);
    }
  }

  function raise(code: number, detail?: string | number) {
    checkCode(code);
    var d: string | number = detail === undefined ? '' : detail;
    if (typeof d === 'string' && d.length > DETAIL_MAX) d = d.substr(0, DETAIL_MAX);
    var entry = { code: code, ticks: Math.floor(now()), detail: d };
    ring[next] = entry;
    next = (next + 1) % capacity;
    if (size < capacity) size++;
    var key = String(code);
    counts[key] = (counts[key] || 0) + 1;
  }

  function count(code: number) {
    return counts[String(code)] || 0;
  }

  function counters() {
    var out: number[][] = [];
    var k: string;
    for (k in counts) out.push([Number(k), counts[k]]);
    out.sort(function (a, b) { return a[0] - b[0]; });
    return out;
  }

  function total() {
    var t = 0;
    var k: string;
    for (k in counts) t += counts[k];
    return t;
  }

  function entries() {
    var out: Fault[] = [];
    var start = (next - size + capacity) % capacity;
    for (var i = 0; i < size; i++) {
      var e = ring[(start + i) % capacity];
      out.push({ code: e.code, ticks: e.ticks, detail: e.detail });
    }
    return out;
  }

  function print() {
    var lines: string[] = [];
    var es = entries();
    lines.push('faults: ' + es.length + ' in ring (capacity ' + capacity + '), ' + total() + ' since boot');
    for (var i = 0; i < es.length; i++) {
      lines.push('  ' + es[i].ticks + ' ms  ' + faultName(es[i].code) + ' (' + es[i].code + ')' +
        (es[i].detail === '' ? '' : '  ' + es[i].detail));
    }
    var cs = counters();
    for (var j = 0; j < cs.length; j++) lines.push('  count ' + faultName(cs[j][0]) + ' = ' + cs[j][1]);
    return lines.join('\n');
  }

  function restoreCounters(pairs: number[][]) {
    if (!pairs || typeof pairs.length !== 'number') throw new Error('faults.restoreCounters: expected array of [code, count]');
    for (var i = 0; i < pairs.length; i++) {
      var p = pairs[i];
      checkCode(p[0]);
      if (typeof p[1] !== 'number' || p[1] !== Math.floor(p[1]) || p[1] < 0) {
        throw new Error('faults.restoreCounters: count for code ' + p[0] + ' expected integer >= 0, got ' + p[1]);
      }
      var key = String(p[0]);
      if ((counts[key] || 0) < p[1]) counts[key] = p[1];
    }
  }

  return { raise: raise, count: count, counters: counters, total: total, entries: entries, print: print, restoreCounters: restoreCounters };
}
