// Randomness, native hashes, the watchdog and last-words error recording on Espruino.
//
// - randomBytes: E.hwRand() (the ESP32's hardware RNG, esp_random(): RF noise once the
//   radio is on, else SAR ADC noise) gives 32 bits per call; callers that make keys hash
//   many samples (keystore: SHA-512 over >= 1024 bytes) rather than trust one read.
// - sha256 / sha512: require("crypto").SHA256/SHA512 when the build has them (mbedTLS on
//   the ESP32, the Linux build), undefined otherwise so the caller keeps its JS fallback.
// - watchdog: E.enableWatchdog(s, false) then kick from the main loop: a wedged loop
//   resets the board instead of riding on silently.
// - last words: E.on('errorFlag') and process.on('uncaughtException') hand the error to
//   `record` (the app writes it to the fault ring and flash) and, for an uncaught
//   exception, reset the board shortly after: the state after an unknown exception is not
//   trusted; a clean boot recovers from the flash queue.
import { esp, optionalModule, EspCrypto } from './api';

export function randomBytes(n: number): Uint8Array {
  var out = new Uint8Array(n);
  var E = esp.E();
  for (var i = 0; i < n; i += 4) {
    var r = E.hwRand();
    for (var j = 0; j < 4 && i + j < n; j++) out[i + j] = (r >>> (8 * j)) & 255;
  }
  return out;
}

function nativeHash(name: 'SHA256' | 'SHA512', len: number): ((d: Uint8Array) => Uint8Array) | undefined {
  var c = optionalModule('crypto') as EspCrypto | undefined;
  var f = c && c[name];
  if (typeof f !== 'function') return undefined;
  var fn = f;
  // Probe once: a build may export the name but fail at runtime (no mbedTLS).
  try {
    if (new Uint8Array(fn(new Uint8Array([0x61, 0x62, 0x63]))).length !== len) return undefined;
  } catch (e) {
    return undefined;
  }
  return function (d: Uint8Array): Uint8Array { return new Uint8Array(fn(d)); };
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

/** `record(kind, detail)` must be quick and must not throw (it may write flash). */
export function onLastWords(record: (kind: 'errorFlag' | 'uncaught', detail: string) => void, resetAfterMs: number): void {
  var E = esp.E();
  E.on('errorFlag', function (flags: unknown) {
    record('errorFlag', String(flags));
  });
  esp.process().on('uncaughtException', function (e: unknown) {
    var msg = e && (e as Error).message ? (e as Error).message : String(e);
    record('uncaught', msg);
    if (resetAfterMs >= 0 && E.reboot) {
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
