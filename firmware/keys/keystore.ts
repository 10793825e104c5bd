// Device key storage: on first boot, makes the Ed25519 seed from the hardware random
// generator and stores it in flash; on every boot after, loads it and hands out only a
// signer (firmware/keys/signer.ts). Nothing returned from here carries the seed.
//
// Seed generation: no single source is trusted. Each entropy source of the board (HAL)
// gives `samples` (default 256) 32-bit values:
// - a strong source (a hardware RNG register, the OS random device) must pass a health
//   test, or it is not used: at least 3/4 distinct values, and every one of the 32 bit
//   positions set in between 1/4 and 3/4 of the samples (a true 32-bit RNG is 8 standard
//   deviations inside these bounds at 256 samples). This catches a stuck generator and
//   Espruino's E.hwRand() on the ESP32 and Linux, which is `rand()` of src/jsutils.c: a
//   fixed-seed multiply-with-carry masked to 31 bits (bit 31 never set), the same sequence
//   on every board after power-on.
// - a weak source (E.hwRand, the clock's microseconds) is mixed in but never enough alone.
// At least one strong source must pass, else KEY_RNG_BAD (fault with each source's
// verdict) and no key. Everything that passed is hashed with SHA-512 together with the
// context "deep-key/1"; the first 32 bytes of the digest are the seed (RFC 8032 §5.1.5
// takes any 32 random bytes).
//
// Flash file "dk" (41 bytes): "DK" 0x01 0xFF | seed (32) | CRC-32 of the first 36 bytes |
// commit byte 0x00, written in its own write after the rest, then read back. A file with
// no commit byte is a creation cut by a power loss: that seed never signed anything, so it
// is erased and a new one made. A committed file with a bad CRC is damage to a key that
// may have signed reports: KEY_CORRUPT is returned and raised as a fault, and no new key is
// made unless the caller asks for it (openKeystore({ ..., rekey: true }), an explicit act:
// a new key is a new device identity that must be paired again).
//
// Public API
//   openKeystore({ flash, entropy, sha512, ed25519, faults?, samples?=256, rekey?=false }) -> KeystoreResult
//     entropy: EntropySource[] ({ name, strong, sample() -> 32-bit value })
//     ed25519: the Ed25519Impl the signer uses (firmware/keys/signer.ts)
//     { status: KEY_LOADED | KEY_CREATED | KEY_CORRUPT | KEY_RNG_BAD | KEY_WRITE_FAILED, signer?: DeviceSigner }
//   KEY_FILE 'dk'
import type { FlashStore } from '../hal/flash';
import { FAULT, FaultLog } from '../app/faults';
import { crc32 } from '../util/crc32';
import { readU32LE, writeU32LE } from '../../protocol/bytes';
import { createSigner, DeviceSigner, Ed25519Impl } from './signer';

export var KEY_FILE = 'dk';
export var KEY_LOADED = 0;
export var KEY_CREATED = 1;
export var KEY_CORRUPT = 2;
export var KEY_RNG_BAD = 3;
export var KEY_WRITE_FAILED = 4;

var FILE_BYTES = 41;
var CONTEXT = 'deep-key/1';

export interface KeystoreOptions {
  flash: FlashStore;
  /** The board's entropy sources; at least one strong one must pass the health test. */
  entropy: EntropySource[];
  /** SHA-512 of the bytes (native on the device, firmware/keys/sha512 otherwise). */
  sha512: (data: Uint8Array) => Uint8Array;
  /** Ed25519 for the signer: ./ed25519, or the Storage module on the device (HAL). */
  ed25519: Ed25519Impl;
  faults?: FaultLog;
  samples?: number;
  rekey?: boolean;
}

export interface EntropySource {
  /** Named in faults: "esp32-rng", "urandom", "hwRand", "clock". */
  name: string;
  /** A hardware or OS RNG that may stand alone; weak sources are only mixed in. */
  strong: boolean;
  /** One 32-bit value (may be called `samples` times in a row). */
  sample: () => number;
}

/**
 * Health test of a strong source (see the header): at least 3/4 distinct values and each
 * bit position set in 1/4..3/4 of them. Returns "" when it passes, else why not.
 */
export function rngHealth(values: ArrayLike<number>): string {
  var n = values.length;
  // Typed arrays only: on the device a 256-entry object or array of numbers costs hundreds
  // of variables, a typed array a flat block. Distinct values by open addressing.
  var slots = new Uint32Array(n * 2);
  var used = new Uint8Array(n * 2);
  var ones = new Uint16Array(32);
  var distinct = 0;
  for (var i = 0; i < n; i++) {
    var v = values[i] >>> 0;
    var h = (v % (n * 2 - 1)) | 0;
    while (used[h] && slots[h] !== v) h = (h + 1) % (n * 2);
    if (!used[h]) { used[h] = 1; slots[h] = v; distinct++; }
    for (var b = 0; b < 32; b++) if ((v >>> b) & 1) ones[b]++;
  }
  if (distinct * 4 < n * 3) return distinct + '/' + n + ' distinct';
  for (b = 0; b < 32; b++) {
    if (ones[b] * 4 < n || ones[b] * 4 > n * 3) return 'bit ' + b + ' set in ' + ones[b] + '/' + n;
  }
  return '';
}

export interface KeystoreResult {
  status: number;
  signer?: DeviceSigner;
}

export function openKeystore(opts: KeystoreOptions): KeystoreResult {
  if (!opts || !opts.flash || !(opts.entropy instanceof Array) || typeof opts.sha512 !== 'function' || !opts.ed25519) {
    throw new Error('openKeystore: expected { flash, entropy, sha512, ed25519 }');
  }
  var samples = opts.samples === undefined ? 256 : opts.samples;
  if (typeof samples !== 'number' || samples !== Math.floor(samples) || samples < 32 || samples > 4096) {
    throw new Error('openKeystore: "samples" expected integer 32..4096, got ' + samples);
  }
  var flash = opts.flash;
  var faults = opts.faults;

  function fault(code: number, detail: string) { if (faults) faults.raise(code, detail); }

  function valid(b: Uint8Array): boolean {
    return b.length === FILE_BYTES && b[0] === 0x44 && b[1] === 0x4b && b[2] === 1 && crc32(b, 0, 36) === readU32LE(b, 36);
  }

  function load(b: Uint8Array): KeystoreResult {
    var seed = b.subarray(4, 36);
    var signer = createSigner(seed, opts.ed25519);
    b.fill(0);
    return { status: KEY_LOADED, signer: signer };
  }

  function create(): KeystoreResult {
    var sources = opts.entropy;
    // Each source's samples go straight into the hashed buffer, as little-endian words;
    // a strong source that fails its health test is zeroed out and skipped.
    var raw = new Uint8Array(sources.length * samples * 4 + CONTEXT.length);
    var vals = new Uint32Array(samples);
    var verdicts: string[] = [];
    var strongOk = false;
    var at = 0;
    for (var si = 0; si < sources.length; si++) {
      var src = sources[si];
      for (var i = 0; i < samples; i++) vals[i] = src.sample() >>> 0;
      var why = src.strong ? rngHealth(vals) : '';
      if (why) { verdicts.push(src.name + ': ' + why); continue; }
      if (src.strong) strongOk = true;
      for (i = 0; i < samples; i++) writeU32LE(raw, at + i * 4, vals[i]);
      at += samples * 4;
    }
    vals.fill(0);
    if (!strongOk) {
      raw.fill(0);
      fault(FAULT.KEY_RNG_BAD, verdicts.length ? verdicts.join('; ') : 'no strong entropy source');
      return { status: KEY_RNG_BAD };
    }
    raw = raw.subarray(0, at + CONTEXT.length);
    for (i = 0; i < CONTEXT.length; i++) raw[at + i] = CONTEXT.charCodeAt(i);
    var digest = opts.sha512(raw);
    raw.fill(0);
    if (!(digest instanceof Uint8Array) || digest.length !== 64) throw new Error('openKeystore: sha512 returned ' + (digest && digest.length) + ' bytes, expected 64');
    var file = new Uint8Array(FILE_BYTES);
    file[0] = 0x44; file[1] = 0x4b; file[2] = 1; file[3] = 255;
    file.set(digest.subarray(0, 32), 4);
    digest.fill(0);
    writeU32LE(file, 36, crc32(file, 0, 36));
    file[40] = 255;
    var ok = flash.write(KEY_FILE, file.subarray(0, 40), 0, FILE_BYTES) && flash.write(KEY_FILE, new Uint8Array([0]), 40);
    file[40] = 0;
    var back = ok ? flash.read(KEY_FILE) : undefined;
    var same = !!back && back.length === FILE_BYTES;
    for (i = 0; same && i < FILE_BYTES; i++) if ((back as Uint8Array)[i] !== file[i]) same = false;
    if (back) back.fill(0);
    if (!same) {
      file.fill(0);
      fault(FAULT.FLASH_WRITE, 'key file');
      return { status: KEY_WRITE_FAILED };
    }
    var signer = createSigner(file.subarray(4, 36), opts.ed25519);
    file.fill(0);
    return { status: KEY_CREATED, signer: signer };
  }

  var b = flash.read(KEY_FILE);
  if (!b) return create();
  if (b.length === FILE_BYTES && b[40] === 0 && valid(b)) return load(b);
  if (b.length === FILE_BYTES && b[40] !== 0 && !opts.rekey) {
    // Creation cut before its commit: that seed was never used. Start over.
    b.fill(0);
    flash.erase(KEY_FILE);
    return create();
  }
  b.fill(0);
  if (opts.rekey) {
    flash.erase(KEY_FILE);
    return create();
  }
  fault(FAULT.KEY_CORRUPT, 'key file');
  return { status: KEY_CORRUPT };
}
