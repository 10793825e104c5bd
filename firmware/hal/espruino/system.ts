// Randomness, native hashes, the watchdog and last-words error recording on Espruino.
//
// - entropySources: what the device key is made from (firmware/keys/keystore.ts). E.hwRand()
//   is NOT a hardware RNG on the ESP32 or Linux builds: jshGetRandomNumber() returns rand()
//   of Espruino's src/jsutils.c, a multiply-with-carry generator with a fixed seed, masked
//   to 31 bits: every board draws the same sequence after power-on. It is mixed in as weak.
//   Strong sources come from the board file ("rng"): the ESP32's RNG_DATA_REG (0x3FF75144,
//   ESP32 TRM "Random Number Generator", what esp_random() reads; a true RNG while the
//   radio is on) or the OS random device (/dev/urandom, E.openFile on the Linux build). The
//   clock's microseconds at each sample are mixed in as weak. (Not the timing of bus IO: the
//   key is made at boot, before the first UART byte arrives.)
// - randomBytes: E.hwRand() bytes, for what needs no secrecy (retry jitter).
// - sha256 / sha512: require("crypto").SHA256/SHA512 when the build has them (mbedTLS on
//   the ESP32, the Linux build), undefined otherwise so the caller keeps its JS fallback.
// - watchdog: E.enableWatchdog(s, false) then kick from the main loop: a wedged loop
//   resets the board instead of riding on silently.
// - last words: E.on('errorFlag') and process.on('uncaughtException') hand the error to
//   `record` (the app writes it to the fault ring and flash) and, for an uncaught
//   exception, reset the board shortly after: the state after an unknown exception is not
//   trusted; a clean boot recovers from the flash queue.
import { esp, builtinModule, EspCrypto } from './api';
import type { Board } from './board';
import type { EntropySource } from '../../keys/keystore';

/** ESP32 TRM, "Random Number Generator": RNG_DATA_REG (what esp_random() reads). */
var ESP32_RNG_DATA_REG = 0x3ff75144;

function osRandomSource(): EntropySource | undefined {
  var E = esp.E();
  if (typeof E.openFile !== 'function') return undefined;
  // Opened at the first sample: a device that already has its key never opens it.
  var file: { read(length: number): string | undefined } | undefined;
  var buf = '';
  var at = 0;
  return {
    name: 'urandom',
    strong: true,
    sample: function (): number {
      if (!file && E.openFile) file = E.openFile('/dev/urandom', 'r');
      if (at + 4 > buf.length) { buf = (file && file.read(1024)) || ''; at = 0; }
      if (buf.length < 4) return 0; // a short read fails the health test: no key from it
      var v = buf.charCodeAt(at) | (buf.charCodeAt(at + 1) << 8) | (buf.charCodeAt(at + 2) << 16);
      v += buf.charCodeAt(at + 3) * 16777216;
      at += 4;
      return v;
    },
  };
}

/** The board's entropy sources, strong first (see the header). */
export function entropySources(board: Board): EntropySource[] {
  var out: EntropySource[] = [];
  if (board.rng === 'esp32-rng-register') {
    out.push({ name: 'esp32-rng', strong: true, sample: function () { return esp.peek32(ESP32_RNG_DATA_REG) >>> 0; } });
  } else if (board.rng === 'os-random-device') {
    var os = osRandomSource();
    if (os) out.push(os);
  }
  out.push({ name: 'hwRand', strong: false, sample: function () { return esp.E().hwRand() >>> 0; } });
  out.push({ name: 'clock', strong: false, sample: function () { return Math.floor(esp.getTime() * 1000000) % 4294967296; } });
  return out;
}

export function randomBytes(n: number): Uint8Array {
  var out = new Uint8Array(n);
  var E = esp.E();
  for (var i = 0; i < n; i += 4) {
    var r = E.hwRand();
    for (var j = 0; j < 4 && i + j < n; j++) out[i + j] = (r >>> (8 * j)) & 255;
  }
  return out;
}

/** First bytes of SHA-256("abc") and SHA-512("abc") (FIPS 180-4 examples): known answers. */
var ABC_DIGEST_START: { [name: string]: number[] } = { SHA256: [0xba, 0x78, 0x16, 0xbf], SHA512: [0xdd, 0xaf, 0x35, 0xa1] };

function nativeHash(name: 'SHA256' | 'SHA512', len: number): ((d: Uint8Array) => Uint8Array) | undefined {
  var c = builtinModule('crypto') as EspCrypto | undefined;
  var f = c && c[name];
  if (typeof f !== 'function') return undefined;
  var fn = f;
  // Known answer once: a build that has the function but computes something else (or
  // another length) is not used; the caller keeps its JS implementation.
  var d = new Uint8Array(fn(new Uint8Array([0x61, 0x62, 0x63])));
  var want = ABC_DIGEST_START[name];
  if (d.length !== len || d[0] !== want[0] || d[1] !== want[1] || d[2] !== want[2] || d[3] !== want[3]) return undefined;
  return function (x: Uint8Array): Uint8Array { return new Uint8Array(fn(x)); };
}

export function nativeSha256(): ((d: Uint8Array) => Uint8Array) | undefined { return nativeHash('SHA256', 32); }
export function nativeSha512(): ((d: Uint8Array) => Uint8Array) | undefined { return nativeHash('SHA512', 64); }

export interface Watchdog {
  kick(): void;
}

export function startWatchdog(timeoutS: number): Watchdog {
  var E = esp.E();
  E.enableWatchdog(timeoutS, false);
  return { kick: function () { E.kickWatchdog(); } };
}

/**
 * `record(kind, detail)` must be quick and must not throw (it may write flash). An uncaught
 * exception is printed (Espruino prints nothing once a handler is set), recorded, and then
 * the board resets after `resetAfterMs` where it can (`canReboot`): the state after an
 * unknown exception is not trusted, and a clean boot recovers from the flash queue. Where
 * it cannot (Espruino's Linux build: E.reboot prints "Not implemented" and exits, losing
 * the error), the device carries on with the error on record.
 */
export function onLastWords(record: (kind: 'errorFlag' | 'uncaught', detail: string) => void, resetAfterMs: number, canReboot: boolean): void {
  var E = esp.E();
  E.on('errorFlag', function (flags: unknown) {
    record('errorFlag', String(flags));
  });
  esp.process().on('uncaughtException', function (e: unknown) {
    var msg = e && (e as Error).message ? (e as Error).message : String(e);
    var stack = e && (e as Error).stack ? String((e as Error).stack).substr(0, 300) : '';
    // Espruino hands errors of lines typed at the console to this handler too; their trace
    // names the frame "REPL". A mistyped command (or deep.settings refusing a value) is the
    // typist's to read, not a reason to reset the board. (split, not indexOf: 2v29's
    // String#indexOf misreports absent multi-character needles, firmware/README.md.)
    if (stack.split('at REPL').length > 1) {
      esp.log('Uncaught ' + msg);
      return;
    }
    esp.log('DEEP: uncaught error: ' + msg + (stack ? '\n' + stack : ''));
    record('uncaught', msg);
    if (canReboot && resetAfterMs >= 0 && E.reboot) {
      var reboot = E.reboot;
      esp.setTimeout(function () { reboot(); }, resetAfterMs);
    }
  });
}

export function memoryUsage(): { free: number; usage: number; total: number } {
  return esp.process().memory();
}

export function interpreterVersion(): string {
  var env = esp.process().env;
  return (env && env.VERSION) || '?';
}
