// Time quality for reports: a report never carries a false time. Before the first SNTP
// sync a window is stamped with seconds since boot and the unsynced flag (CLOCK_UNSYNCED
// of protocol/report.ts), never a 1970 date; after a sync, with UTC epoch seconds.
//
// Mapping: epochMs = monoMs + offsetMs, where monoMs is the injected monotonic clock
// (Timers.now(): it never jumps, unlike Espruino's getTime()/setTime()). A sync only
// changes offsetMs, so every instant of this boot, even one before the sync, maps to
// epoch time once any sync happened: a window that started unsynced but is stamped after
// the sync gets its true epoch start.
// Jump safety: an SNTP answer is rejected (fault CLOCK_REJECTED) if it is before
// 2024-01-01 or after 2100-01-01 (a device that lost its RTC, a forged answer); a later
// sync may move the offset either way. stamp() is a pure mapping (it can be asked again
// for the same instant, e.g. when a report is rebuilt); keeping windows from overlapping
// after a step back of the clock is the reporter's job (it starts the next window no
// earlier than the previous report's end).
//
// Public API
//   createClock({ now, faults? }) -> Clock
//     sync(epochMs)          SNTP result at this instant; -> true if accepted
//     synced()               true after an accepted sync
//     stamp(monoMs)          -> { clock: 0|1, s } for a window starting at monoMs:
//                            s = epoch seconds (clock 1) or whole seconds since boot (clock 0)
//     epochMs(monoMs?)       epoch ms of a monotonic instant (default now), undefined unsynced
//     offsetMs()             current offset (diagnostics), undefined unsynced
//   EPOCH_MIN_MS (2024-01-01T00:00Z), EPOCH_MAX_MS (2100-01-01T00:00Z)
import { FAULT, FaultLog } from './faults';
import { CLOCK_SYNCED, CLOCK_UNSYNCED } from '../../protocol/report';

export { CLOCK_SYNCED, CLOCK_UNSYNCED };
export var EPOCH_MIN_MS = 1704067200000;
export var EPOCH_MAX_MS = 4102444800000;

export interface Stamp {
  clock: number;
  s: number;
}

export interface Clock {
  sync(epochMs: number): boolean;
  synced(): boolean;
  stamp(monoMs: number): Stamp;
  epochMs(monoMs?: number): number | undefined;
  offsetMs(): number | undefined;
}

export function createClock(opts: { now: () => number; faults?: FaultLog }): Clock {
  if (!opts || typeof opts.now !== 'function') throw new Error('createClock: "now" expected function');
  var now = opts.now;
  var faults = opts.faults;
  var offset: number | undefined;

  function sync(epochMs: number): boolean {
    if (typeof epochMs !== 'number' || epochMs !== epochMs || epochMs < EPOCH_MIN_MS || epochMs > EPOCH_MAX_MS) {
      if (faults) faults.raise(FAULT.CLOCK_REJECTED, String(epochMs));
      return false;
    }
    offset = Math.floor(epochMs - now());
    return true;
  }

  function checkMono(m: number, who: string) {
    if (typeof m !== 'number' || m !== m || m < 0) throw new Error('clock.' + who + ': "monoMs" expected number >= 0, got ' + m);
  }

  function stamp(monoMs: number): Stamp {
    checkMono(monoMs, 'stamp');
    if (offset === undefined) return { clock: CLOCK_UNSYNCED, s: Math.floor(monoMs / 1000) };
    return { clock: CLOCK_SYNCED, s: Math.floor((monoMs + offset) / 1000) };
  }

  return {
    sync: sync,
    synced: function () { return offset !== undefined; },
    stamp: stamp,
    epochMs: function (monoMs?: number) {
      if (offset === undefined) return undefined;
      var m = monoMs === undefined ? now() : monoMs;
      checkMono(m, 'epochMs');
      return Math.floor(m + offset);
    },
    offsetMs: function () { return offset; },
  };
}
