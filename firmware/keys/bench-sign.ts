// Entry of dist/bench-sign.js: one self-contained ES5 file that Espruino, Duktape and Node
// all run unchanged. Signs a fixed 150-byte message (the size of a report's ToBeSigned)
// with a fixed seed ten times, prints the signature and, last, one key=value line.
// host-tools/bench/sign.ts runs it under every engine it finds.
import { ed25519PublicKey, ed25519Sign, ed25519SignSteps, setBaseTable, setConvolve, setSha512 } from './ed25519';
import { baseTableB64 } from '#ed25519-table';
import { toHex } from '../../protocol/bytes';

declare const print: ((s: string) => void) | undefined;
declare const process: { memory?: () => { usage: number }; exit?: (code?: number) => void } | undefined;
declare const console: { log(s: string): void } | undefined;
declare const getTime: (() => number) | undefined;
declare const E: { convolve?: (a: ArrayLike<number>, b: ArrayLike<number>, o: number) => number; toArrayBuffer?: (s: string) => ArrayBuffer } | undefined;
declare const atob: ((s: string) => string) | undefined;
declare const require: ((m: string) => { SHA512?: (d: Uint8Array) => ArrayBuffer }) | undefined;

/**
 * What firmware/hal/espruino does on the device, where the engine has it: native dot
 * product and SHA-512, and the table as a byte string the engine holds natively (from
 * Storage on the device; decoded from the bundle here). Elsewhere the fallbacks run.
 */
function useNative(): string {
  const used: string[] = [];
  if (typeof E !== 'undefined' && E && typeof E.convolve === 'function') {
    setConvolve(E.convolve);
    used.push('convolve');
    if (typeof atob === 'function' && typeof E.toArrayBuffer === 'function') {
      // A flat copy: Espruino stores a large typed array in consecutive blocks, about a
      // third of the variables of the string atob() returns.
      const t = new Uint8Array(E.toArrayBuffer(atob(baseTableB64())));
      setBaseTable(t);
      used.push('table');
    }
  }
  if (typeof require === 'function') {
    try {
      const sha = require('crypto').SHA512;
      if (typeof sha === 'function') {
        setSha512(function (d: Uint8Array) { return new Uint8Array(sha(d)); });
        used.push('sha512');
      }
    } catch (err) {
      used.push('no-crypto');
    }
  }
  return used.length ? used.join('+') : 'none';
}

function out(s: string): void {
  if (typeof console !== 'undefined' && console && console.log) console.log(s);
  else if (typeof print === 'function') print(s);
}

/** Milliseconds, from whatever clock the engine has (getTime() is Espruino's, in s). */
function nowMs(): number {
  if (typeof getTime === 'function') return getTime() * 1000;
  return Date.now();
}

/** Variables in use now (Espruino: after a garbage collection), or -1 where unknown. */
function varsNow(): number {
  if (typeof process !== 'undefined' && process && typeof process.memory === 'function') return process.memory().usage;
  return -1;
}

function main(): void {
  const seed = new Uint8Array(32);
  for (let i = 0; i < 32; i++) seed[i] = (i * 7 + 1) & 255;
  const msg = new Uint8Array(150);
  for (let i = 0; i < 150; i++) msg[i] = (i * 31 + 11) & 255;
  out('native=' + useNative());
  let vars = varsNow();
  const pub = ed25519PublicKey(seed);
  out('public_key=' + toHex(pub));
  const times: number[] = [];
  let sig: Uint8Array = new Uint8Array(0);
  for (let n = 0; n < 10; n++) {
    const t0 = nowMs();
    sig = ed25519Sign(msg, seed, pub);
    times.push(nowMs() - t0);
  }
  out('signature=' + toHex(sig));
  // Peak working set: sample between the steps of one stepped signature (not timed).
  const s = ed25519SignSteps(msg, seed, pub);
  for (;;) {
    const v = varsNow();
    if (v > vars) vars = v;
    if (s.step()) break;
  }
  if (toHex(s.signature()) !== toHex(sig)) out('error=stepped signature differs from one-shot');
  times.sort(function (a, b) { return a - b; });
  const median = (times[4] + times[5]) / 2;
  out('sign_ms_times=' + times.map(function (t) { return Math.round(t); }).join(','));
  out('sign_ms_median=' + Math.round(median * 10) / 10 + ' vars_used=' + (vars < 0 ? 'n/a' : vars));
}

main();
// Espruino's Linux build enters its REPL after a script unless told to leave.
if (typeof process !== 'undefined' && process && typeof process.memory === 'function' && typeof process.exit === 'function') process.exit(0);
