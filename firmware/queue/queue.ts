// Store-and-forward queue of signed reports in flash (FlashStore = Espruino Storage).
// A report is COMMITTED (append() returned QUEUE_OK) before it is ever offered for
// sending; it leaves the queue only when remove() is called for it (ingest node ack, or a
// 4xx recorded as a fault). A power cut at any byte of any write leaves a queue that
// recover()s with every committed report intact and never offers a torn one.
//
// On-flash format (all integers little-endian):
//   segment file "dq<n>" (n = 1, 2, ... never reused), pre-allocated to segBytes:
//     [0..1] magic 0x44 0x51 ("DQ")  [2] format 1  [3] 0xFF  [4..7] n
//     records from offset 8:
//       [0..1] len (payload bytes, 1..)  [2..5] seq  [6 .. 6+len) payload
//       [6+len .. 10+len) CRC-32 of len|seq|payload  [10+len] commit = 0x00  [11+len] ack = 0x00
//     erased space reads 0xFF: len 0xFFFF marks the end of the records.
//   Write order per report: (1) len..payload in one write into erased space, (2) the commit
//   byte, in its own write only after (1) returned, so a commit byte of 0x00 proves the
//   whole record was programmed even on flash that programs a page in any bit order;
//   (3) later, the ack byte. NOR flash can clear bits without an erase (1 -> 0), so the
//   commit and ack marks are single-byte writes in place and nothing is ever rewritten.
//   A record counts only with commit == 0x00 AND a good CRC; ack != 0xFF means removed
//   (the ack write starts only after the ingest node's answer, so a torn ack is an ack).
//   A torn record (bad CRC, commit not 0x00, impossible len) can only be the last one of
//   its segment: recovery stops there, SEALS the segment (no more appends into it) and
//   raises QUEUE_TORN; nothing after it is trusted, nothing from it is sent.
//   A segment whose header is wrong is a torn segment creation (nothing was committed in
//   it): it is erased (QUEUE_SEGMENT_BAD).
//
// Chain state: seq and prev survive reboots because the newest committed record is never
// erased: a fully acknowledged segment is erased only if a newer segment holds a committed
// record. last() gives that record (the reporter derives seq + 1, prev = SHA-256 of its
// bytes, and the lifetime counters from it). append() refuses a seq that does not follow.
//
// Full: when the next record fits neither the active segment nor a new one (maxSegments
// reached, or Storage has no space even after compaction), append() returns QUEUE_FULL
// (fault QUEUE_FULL) and writes nothing; the reporter keeps measuring and the next report
// covers the merged windows (EnergyReport gap.mergedWindows).
//
// Flash wear, measured through host-tools/emu/flash.ts (60 s reports of 185 bytes, the
// COSE size of a dual-pack report, acked at once, segBytes 4000, a 256 kB Storage area):
// 186 write calls per hour (3 per report: record, commit, ack; plus ~3 segment
// creations and ~3 erases), 12.0 kB programmed per hour, one compaction a day, so each
// 4 kB page is erased about once a day: 100,000-cycle NOR flash lasts > 250 years. A
// 1 MB area compacts once a week. test/firmware/queue/queue.test.ts keeps these bounds.

// Known limit: Espruino's Storage.compact() moves files and is not itself power-cut safe;
// the emulator treats it as atomic. A cut inside a compaction can lose records; the CRC
// still keeps a damaged one from being sent.
//
// Flash errors: write() returning false is counted (FLASH_WRITE) and handled; exceptions
// from the FlashStore are NOT caught (on the device a power cut stops the program).
//
// Public API
//   createQueue({ flash, faults?, segBytes?=4000, maxSegments?=40 }) -> Queue
//     recover()                  scan flash (call once at boot, before anything else)
//     append(seq, payload)       -> QUEUE_OK | QUEUE_FULL | QUEUE_WRITE_FAILED
//     peek(maxCount, maxBytes)   -> [{ seq, payload, seg, off }] oldest first (committed, not removed)
//     remove(items)              mark sent/dropped; erases segments that became empty
//     last()                     -> { seq, payload } of the newest committed report | undefined
//     pending()                  number of committed reports not removed
//     stats()                    { segments, pending, bytesFree, torn }
//   QUEUE_OK 0, QUEUE_FULL 1, QUEUE_WRITE_FAILED 2, RECORD_OVERHEAD 12, SEGMENT_HEADER 8
import type { FlashStore } from '../hal/flash';
import { FAULT, FaultLog } from '../app/faults';
import { crc32 } from '../util/crc32';
import { copyBytes, readU16LE, readU32LE, writeU16LE, writeU32LE } from '../../protocol/bytes';

export var QUEUE_OK = 0;
export var QUEUE_FULL = 1;
export var QUEUE_WRITE_FAILED = 2;
export var SEGMENT_HEADER = 8;
export var RECORD_OVERHEAD = 12;
var PREFIX = 'dq';
var FORMAT = 1;

export interface QueueItem {
  seq: number;
  payload: Uint8Array;
  /** Segment number and record offset: the item's address in flash. */
  seg: number;
  off: number;
}

export interface QueueStats {
  segments: number;
  pending: number;
  bytesFree: number;
  torn: number;
}

export interface Queue {
  recover(): void;
  append(seq: number, payload: Uint8Array): number;
  peek(maxCount: number, maxBytes: number): QueueItem[];
  remove(items: QueueItem[]): void;
  last(): { seq: number; payload: Uint8Array } | undefined;
  pending(): number;
  stats(): QueueStats;
}

export interface QueueOptions {
  flash: FlashStore;
  faults?: FaultLog;
  segBytes?: number;
  maxSegments?: number;
}

interface Segment {
  no: number;
  /** File size (segBytes when it was made; kept per segment so a config change loses nothing). */
  size: number;
  /** Where the next record goes, or -1 when sealed (torn tail). */
  appendOff: number;
  /** Committed records not removed. */
  pending: number;
  /** Committed records in all. */
  committed: number;
  lastSeq: number;
  /** Offset of the newest committed record, -1 when none. */
  lastOff: number;
}

/** Decimal digits only, no leading zero, at most 9 (Espruino's RegExp lacks {m,n}, so no regex). */
function isSegNo(s: string): boolean {
  if (s.length < 1 || s.length > 9 || s.charAt(0) === '0') return false;
  for (var i = 0; i < s.length; i++) {
    var c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

export function createQueue(opts: QueueOptions): Queue {
  if (!opts || !opts.flash) throw new Error('createQueue: "flash" expected a FlashStore');
  var flash = opts.flash;
  var faults = opts.faults;
  var segBytes = opts.segBytes === undefined ? 4000 : opts.segBytes;
  var maxSegments = opts.maxSegments === undefined ? 40 : opts.maxSegments;
  if (typeof segBytes !== 'number' || segBytes !== Math.floor(segBytes) || segBytes < 64 || segBytes > 65535) {
    throw new Error('createQueue: "segBytes" expected integer 64..65535, got ' + segBytes);
  }
  if (typeof maxSegments !== 'number' || maxSegments !== Math.floor(maxSegments) || maxSegments < 2 || maxSegments > 1000) {
    throw new Error('createQueue: "maxSegments" expected integer 2..1000, got ' + maxSegments);
  }
  var segs: Segment[] = [];
  var nextNo = 1;
  var torn = 0;
  var recovered = false;
  var one = new Uint8Array(1);

  function fault(code: number, detail: string) { if (faults) faults.raise(code, detail); }
  function name(no: number) { return PREFIX + no; }

  /** Parses a record at `o`: returns its total length when committed & intact, 0 at the clean end, -1 when torn. */
  function parse(b: Uint8Array, o: number): number {
    if (o + RECORD_OVERHEAD > b.length) {
      for (var e = o; e < b.length; e++) if (b[e] !== 255) return -1;
      return 0;
    }
    var len = readU16LE(b, o);
    if (len === 65535) {
      // Clean end only if everything after is erased (a page program may set bits in any order).
      for (var k = o; k < b.length; k++) if (b[k] !== 255) return -1;
      return 0;
    }
    if (len === 0 || o + RECORD_OVERHEAD + len > b.length) return -1;
    if (b[o + 10 + len] !== 0) return -1;
    if (crc32(b, o, o + 6 + len) !== readU32LE(b, o + 6 + len)) return -1;
    return RECORD_OVERHEAD + len;
  }

  function scanSegment(no: number, b: Uint8Array, report: boolean): Segment | undefined {
    if (b.length < SEGMENT_HEADER + RECORD_OVERHEAD || b[0] !== 0x44 || b[1] !== 0x51 || b[2] !== FORMAT || readU32LE(b, 4) !== no) return undefined;
    var s: Segment = { no: no, size: b.length, appendOff: -1, pending: 0, committed: 0, lastSeq: -1, lastOff: -1 };
    var o = SEGMENT_HEADER;
    for (;;) {
      var n = parse(b, o);
      if (n === 0) { s.appendOff = o; break; }
      if (n < 0) {
        if (report) { torn++; fault(FAULT.QUEUE_TORN, name(no) + '@' + o); }
        break;
      }
      s.committed++;
      s.lastSeq = readU32LE(b, o + 2);
      s.lastOff = o;
      if (b[o + n - 1] === 255) s.pending++;
      o += n;
    }
    return s;
  }

  function recover() {
    segs = [];
    torn = 0;
    var names = flash.list();
    var nos: number[] = [];
    for (var i = 0; i < names.length; i++) {
      var nm = names[i];
      var c0 = nm.charCodeAt(0);
      if (c0 !== 0x64 && (c0 & ~0x64) === 0 && nm.charAt(1) === 'q' && isSegNo(nm.substr(2))) {
        // An erase of one of our segments was cut after clearing only some bits of the
        // name's first byte: the file is already dead to us, finish erasing it.
        flash.erase(nm);
        continue;
      }
      if (nm.substr(0, PREFIX.length) !== PREFIX) continue;
      var rest = nm.substr(PREFIX.length);
      if (!isSegNo(rest)) continue;
      nos.push(Number(rest));
    }
    nos.sort(function (a, b) { return a - b; });
    nextNo = nos.length ? nos[nos.length - 1] + 1 : 1;
    for (i = 0; i < nos.length; i++) {
      var b = flash.read(name(nos[i]));
      var s = b ? scanSegment(nos[i], b, true) : undefined;
      if (!s) {
        fault(FAULT.QUEUE_SEGMENT_BAD, name(nos[i]));
        flash.erase(name(nos[i]));
        continue;
      }
      segs.push(s);
    }
    // Only the newest segment may take appends: older ones with free space were left
    // behind for a reason (a failed write, a record that did not fit).
    for (i = 0; i < segs.length - 1; i++) segs[i].appendOff = -1;
    recovered = true;
    collect();
  }

  function newestCommitted(): number {
    for (var i = segs.length - 1; i >= 0; i--) if (segs[i].committed > 0) return i;
    return -1;
  }

  /** Erases fully removed segments, keeping the one that holds the chain head. */
  function collect() {
    var keep = newestCommitted();
    var out: Segment[] = [];
    for (var i = 0; i < segs.length; i++) {
      var s = segs[i];
      var empty = s.pending === 0 && s.appendOff < 0;
      var done = s.pending === 0 && s.committed > 0;
      if (i !== keep && i !== segs.length - 1 && (done || empty)) {
        flash.erase(name(s.no));
        continue;
      }
      out.push(s);
    }
    segs = out;
  }

  function checkRecovered(who: string) {
    if (!recovered) throw new Error('queue.' + who + ': call recover() first');
  }

  function append(seq: number, payload: Uint8Array): number {
    checkRecovered('append');
    if (!(payload instanceof Uint8Array) || payload.length < 1 || payload.length > segBytes - SEGMENT_HEADER - RECORD_OVERHEAD) {
      throw new Error('queue.append: "payload" expected 1..' + (segBytes - SEGMENT_HEADER - RECORD_OVERHEAD) + ' bytes, got ' + (payload && payload.length));
    }
    var li = newestCommitted();
    var lastSeq = li < 0 ? -1 : segs[li].lastSeq;
    if (typeof seq !== 'number' || seq !== Math.floor(seq) || seq < 0 || seq > 4294967295 || seq <= lastSeq) {
      throw new Error('queue.append: "seq" expected integer above ' + lastSeq + ', got ' + seq);
    }
    var need = RECORD_OVERHEAD + payload.length;
    var s = segs.length ? segs[segs.length - 1] : undefined;
    if (!s || s.appendOff < 0 || s.appendOff + need > s.size) {
      if (segs.length >= maxSegments) {
        fault(FAULT.QUEUE_FULL, 'seq ' + seq);
        return QUEUE_FULL;
      }
      if (s) s.appendOff = -1;
      var hdr = new Uint8Array(SEGMENT_HEADER);
      hdr[0] = 0x44; hdr[1] = 0x51; hdr[2] = FORMAT; hdr[3] = 255;
      writeU32LE(hdr, 4, nextNo);
      if (!flash.write(name(nextNo), hdr, 0, segBytes)) {
        fault(FAULT.QUEUE_FULL, 'no flash for ' + name(nextNo));
        return QUEUE_FULL;
      }
      s = { no: nextNo, size: segBytes, appendOff: SEGMENT_HEADER, pending: 0, committed: 0, lastSeq: -1, lastOff: -1 };
      nextNo++;
      segs.push(s);
      collect();
    }
    var o = s.appendOff;
    var rec = new Uint8Array(10 + payload.length);
    writeU16LE(rec, 0, payload.length);
    writeU32LE(rec, 2, seq);
    rec.set(payload, 6);
    writeU32LE(rec, 6 + payload.length, crc32(rec, 0, 6 + payload.length));
    one[0] = 0;
    if (!flash.write(name(s.no), rec, o) || !flash.write(name(s.no), one, o + 10 + payload.length)) {
      s.appendOff = -1;
      fault(FAULT.FLASH_WRITE, name(s.no) + '@' + o);
      return QUEUE_WRITE_FAILED;
    }
    // Read back: what the flash holds is what will be sent.
    var b = flash.read(name(s.no));
    if (!b || parse(b, o) !== need) {
      s.appendOff = -1;
      fault(FAULT.FLASH_WRITE, 'verify ' + name(s.no) + '@' + o);
      return QUEUE_WRITE_FAILED;
    }
    s.appendOff = o + need;
    s.committed++;
    s.pending++;
    s.lastSeq = seq;
    s.lastOff = o;
    collect();
    return QUEUE_OK;
  }

  function peek(maxCount: number, maxBytes: number): QueueItem[] {
    checkRecovered('peek');
    var out: QueueItem[] = [];
    var bytes = 0;
    for (var i = 0; i < segs.length && out.length < maxCount; i++) {
      var s = segs[i];
      if (s.pending === 0) continue;
      var b = flash.read(name(s.no));
      if (!b) continue;
      var o = SEGMENT_HEADER;
      for (var r = 0; r < s.committed && out.length < maxCount; r++) {
        var n = parse(b, o);
        if (n <= 0) break;
        if (b[o + n - 1] === 255) {
          var len = n - RECORD_OVERHEAD;
          if (out.length > 0 && bytes + len > maxBytes) return out;
          out.push({ seq: readU32LE(b, o + 2), payload: copyBytes(b, o + 6, o + 6 + len), seg: s.no, off: o });
          bytes += len;
        }
        o += n;
      }
    }
    return out;
  }

  function remove(items: QueueItem[]) {
    checkRecovered('remove');
    one[0] = 0;
    for (var i = 0; i < items.length; i++) {
      var it = items[i];
      var s: Segment | undefined;
      for (var j = 0; j < segs.length; j++) if (segs[j].no === it.seg) s = segs[j];
      if (!s) continue; // already collected
      var b = flash.read(name(s.no));
      if (!b) continue;
      var n = parse(b, it.off);
      if (n <= 0 || readU32LE(b, it.off + 2) !== it.seq) throw new Error('queue.remove: no record seq ' + it.seq + ' at ' + name(it.seg) + '@' + it.off);
      if (b[it.off + n - 1] !== 255) continue; // removed before
      if (!flash.write(name(s.no), one, it.off + n - 1)) {
        fault(FAULT.FLASH_WRITE, 'ack ' + name(s.no) + '@' + it.off);
        continue;
      }
      s.pending--;
    }
    collect();
  }

  function last(): { seq: number; payload: Uint8Array } | undefined {
    var i = newestCommitted();
    if (i < 0) return undefined;
    var s = segs[i];
    var b = flash.read(name(s.no));
    if (!b) return undefined;
    var len = readU16LE(b, s.lastOff);
    return { seq: s.lastSeq, payload: copyBytes(b, s.lastOff + 6, s.lastOff + 6 + len) };
  }

  function pending() {
    var n = 0;
    for (var i = 0; i < segs.length; i++) n += segs[i].pending;
    return n;
  }

  return {
    recover: recover,
    append: append,
    peek: peek,
    remove: remove,
    last: last,
    pending: pending,
    stats: function () { return { segments: segs.length, pending: pending(), bytesFree: flash.getFree(), torn: torn }; },
  };
}
