// Ed25519 on the device: the Storage module "ed25519" (dist/ed25519-module.js, put there by
// `deep flash` next to .bootcde), loaded as firmware/keys/ed25519-module.ts describes, so
// its code and its 64 KB comb table run from flash and cost no RAM between signatures
// (issue 7). The firmware bundle never carries ./keys/ed25519 or its table.
//
// - table: Storage file "ed25519.tbl", written once from the module's chunks (first boot,
//   or a file of the wrong length, or one whose last chunk is not what the module holds:
//   Storage writes go in order, so a power cut while writing leaves the last chunk erased
//   and the next boot writes the file again). Handed over with E.toArrayBuffer, which on
//   the ESP32 is a view of memory-mapped flash, not a copy.
// - E.convolve and the native SHA-512 when the build has them (same results, faster).
// - ed25519SelfTest() (RFC 8032 §7.1 test 1) must pass; if it fails on an existing table the
//   table is written again once and tested again.
// Any failure (no module, Storage full, self-test) is returned as `error`, never thrown: the
// app records it as a fault and does not sign; it keeps measuring.
import type { Ed25519Impl } from '../../keys/signer';
import { esp, EspStorage, storageModule } from './api';

export var TABLE_FILE = 'ed25519.tbl';

/** What dist/ed25519-module.js exports (firmware/keys/ed25519-module.ts). */
interface Ed25519Module extends Ed25519Impl {
  ed25519SelfTest(): boolean;
  setSha512(fn: ((d: Uint8Array) => Uint8Array) | null): void;
  setConvolve(fn: ((a: ArrayLike<number>, b: ArrayLike<number>, off: number) => number) | null): void;
  setBaseTable(t: ArrayBuffer | Uint8Array): void;
  baseTableChunk(i: number): Uint8Array;
  BASE_TABLE_BYTES: number;
  BASE_TABLE_CHUNKS: number;
  BASE_TABLE_CHUNK_BYTES: number;
}

export interface Ed25519Load {
  impl?: Ed25519Impl;
  /** Why there is no implementation (for the fault ring). */
  error?: string;
  /** True when this boot wrote the table file. */
  wroteTable?: boolean;
}

function lastChunkOk(S: EspStorage, ed: Ed25519Module, t: string): boolean {
  var last = ed.BASE_TABLE_CHUNKS - 1;
  var want = ed.baseTableChunk(last);
  var at = last * ed.BASE_TABLE_CHUNK_BYTES;
  if (at + want.length !== t.length) return false;
  for (var i = 0; i < want.length; i++) if (t.charCodeAt(at + i) !== want[i]) return false;
  return true;
}

function writeTable(S: EspStorage, ed: Ed25519Module): boolean {
  S.erase(TABLE_FILE);
  for (var i = 0; i < ed.BASE_TABLE_CHUNKS; i++) {
    if (S.write(TABLE_FILE, ed.baseTableChunk(i), i * ed.BASE_TABLE_CHUNK_BYTES, ed.BASE_TABLE_BYTES) === false) return false;
  }
  return true;
}

/** Loads the module, installs table, convolve and SHA-512, runs the self-test. */
export function loadEd25519(sha512: ((d: Uint8Array) => Uint8Array) | undefined): Ed25519Load {
  var ed = storageModule('ed25519') as Ed25519Module | undefined;
  if (!ed || typeof ed.ed25519SelfTest !== 'function' || typeof ed.baseTableChunk !== 'function') {
    return { error: 'no Storage module "ed25519"' };
  }
  var S = esp.require('Storage') as EspStorage;
  var E = esp.E();
  var wrote = false;
  try {
    if (typeof E.convolve === 'function') ed.setConvolve(E.convolve);
    if (sha512) ed.setSha512(sha512);
    for (var attempt = 0; attempt < 2; attempt++) {
      var t = S.read(TABLE_FILE);
      if (attempt > 0 || !t || t.length !== ed.BASE_TABLE_BYTES || !lastChunkOk(S, ed, t)) {
        if (wrote) return { error: 'ed25519 self-test failed', wroteTable: wrote };
        if (!writeTable(S, ed)) return { error: 'Storage: cannot write ' + TABLE_FILE, wroteTable: true };
        wrote = true;
        t = S.read(TABLE_FILE);
        if (!t || t.length !== ed.BASE_TABLE_BYTES) return { error: TABLE_FILE + ' unreadable after write', wroteTable: true };
      }
      var ok = false;
      try {
        ed.setBaseTable(E.toArrayBuffer(t));
        ok = ed.ed25519SelfTest();
      } catch (e) {
        ok = false;
      }
      if (ok) return { impl: ed, wroteTable: wrote };
    }
    return { error: 'ed25519 self-test failed', wroteTable: wrote };
  } catch (e) {
    return { error: 'ed25519: ' + (e && (e as Error).message ? (e as Error).message : String(e)), wroteTable: wrote };
  }
}
