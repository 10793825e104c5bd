// Device key storage: on first boot, makes the Ed25519 seed from the hardware random
// generator and stores it in flash; on every boot after, loads it and hands out only a
// signer (firmware/keys/signer.ts). Nothing returned from here carries the seed.
//
// Seed generation: `samples` (default 256) values of the injected hwRand() (E.hwRand():
// 32-bit values from the ESP32's hardware RNG) are packed into bytes and hashed with
// SHA-512 together with the context "deep-key/1"; the first 32 bytes of the digest are
// the seed (RFC 8032 §5.1.5 takes any 32 random bytes). A health check refuses an RNG that
// repeats itself (fewer than 3/4 distinct samples): no key from a stuck generator.
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
//   openKeystore({ flash, hwRand, sha512, ed25519, faults?, samples?=256, rekey?=false }) -> KeystoreResult
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
  /** A 32-bit hardware random value per call (E.hwRand). */
  hwRand: () => number;
  /** SHA-512 of the bytes (native on the device, firmware/keys/sha512 otherwise). */
  sha512: (data: Uint8Array) => Uint8Array;
  /** Ed25519 for the signer: ./ed25519, or the Storage module on the device (HAL). */
  ed25519: Ed25519Impl;
  faults?: FaultLog;
  samples?: number;
  rekey?: boolean;
}

export interface KeystoreResult {
  status: number;
  signer?: DeviceSigner;
}

export function openKeystore(opts: KeystoreOptions): KeystoreResult {
  if (!opts || !opts.flash || typeof opts.hwRand !== 'function' || typeof opts.sha512 !== 'function' || !opts.ed25519) {
    throw new Error('openKeystore: expected { flash, hwRand, sha512, ed25519 }');
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
    var raw = new Uint8Array(samples * 4 + CONTEXT.length);
    var seen: { [v: string]: boolean } = {};
    var distinct = 0;
    for (var i = 0; i < samples; i++) {
      var v = opts.hwRand() >>> 0;
      if (!seen[v]) { seen[v] = true; distinct++; }
      writeU32LE(raw, i * 4, v);
    }
    if (distinct * 4 < samples * 3) {
      fault(FAULT.KEY_RNG_BAD, distinct + '/' + samples + ' distinct');
      return { status: KEY_RNG_BAD };
    }
    for (i = 0; i < CONTEXT.length; i++) raw[samples * 4 + i] = CONTEXT.charCodeAt(i);
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
