// Time on Espruino. getTime() is the system time in seconds and JUMPS when it is set
// (setTime, or the ESP-IDF SNTP client started by Wifi.setSNTP: on the ESP32 getTime()
// reads gettimeofday(), targets/esp32/jshardware.c). The firmware needs a monotonic clock
// for integration and timers, so this file derives one: a 1 s heartbeat reads getTime();
// a step that goes backwards or forwards by more than MAX_STEP_MS can only be the clock
// being set, and adds nothing to the monotonic time (losing at most one heartbeat, 1 s,
// per clock set, which happens once after boot and hourly by less than a second).
// The wall clock counts as synced once it reads a date after 2024 (the device boots at
// 1970 and nothing else moves it forward by decades).
import { esp } from './api';
import type { Timers } from '../io';

var MAX_STEP_MS = 30000;
/** 2024-01-01T00:00:00Z in ms: an earlier wall clock has not been set. */
export var WALL_VALID_AFTER_MS = 1704067200000;

export interface EspruinoTime extends Timers {
  /** Wall clock, ms since 1970 UTC (meaningless until synced()). */
  wallMs(): number;
  synced(): boolean;
  /** How many times the wall clock was seen to be set. */
  jumps(): number;
}

export function espruinoTime(): EspruinoTime {
  var lastRaw = esp.getTime() * 1000;
  var mono = 0;
  var nJumps = 0;
  function now(): number {
    var raw = esp.getTime() * 1000;
    var d = raw - lastRaw;
    lastRaw = raw;
    if (d < 0 || d > MAX_STEP_MS) nJumps++;
    else mono += d;
    return Math.floor(mono);
  }
  esp.setInterval(now, 1000);
  return {
    now: now,
    setTimeout: function (fn: () => void, ms: number): number { return esp.setTimeout(fn, ms); },
    clearTimeout: function (id: number): void { esp.clearTimeout(id); },
    wallMs: function (): number { now(); return Math.floor(esp.getTime() * 1000); },
    synced: function (): boolean { return esp.getTime() * 1000 > WALL_VALID_AFTER_MS; },
    jumps: function (): number { now(); return nJumps; },
  };
}
