// The JavaScript face of require("Storage") inside an emulated device, over helper F1's
// flash model (host-tools/emu/flash.ts, Espruino Storage semantics on a NOR image that can
// lose power at any programmed byte). This file only converts between what Espruino code
// passes (binary strings, arrays, typed arrays of the device's own realm) and the model's
// Uint8Array, and reports a power cut to the emulator so the device stops at once.
//
// Espruino reference (Storage): read(name[,offset,length]) -> binary string | undefined,
// readArrayBuffer, readJSON, write(name, data[, offset, size]) -> bool, writeJSON, erase,
// eraseAll, list([regex]), getFree(), compact(), getStats().
import type { FlashStore } from '../../../firmware/hal/flash';
import { bytesToBinaryString, toBytes } from './bytes';

export interface StorageApiOptions {
  flash: FlashStore;
  /** The device realm's Uint8Array (so instanceof works inside the vm). */
  Uint8Array: Uint8ArrayConstructor;
  /** Called before every operation; throws when the device has no power. */
  guard: () => void;
  /** Called with any error the model throws (the emulator watches for power cuts). */
  onError: (err: unknown) => void;
}

export type StorageModule = ReturnType<typeof storageApi>;

export function storageApi(o: StorageApiOptions) {
  const flash = o.flash;
  function run<T>(fn: () => T): T {
    o.guard();
    try {
      return fn();
    } catch (err) {
      o.onError(err);
      throw err;
    }
  }
  function ab(b: Uint8Array): ArrayBuffer {
    const u = new o.Uint8Array(b.length);
    u.set(b);
    return u.buffer as ArrayBuffer;
  }
  return {
    read(name: string, offset?: number, length?: number): string | undefined {
      const b = run(() => flash.read(String(name)));
      if (!b) return undefined;
      const off = offset ?? 0;
      return bytesToBinaryString(b.subarray(off, length === undefined ? b.length : off + length));
    },
    readArrayBuffer(name: string): ArrayBuffer | undefined {
      const b = run(() => flash.read(String(name)));
      return b ? ab(b) : undefined;
    },
    readJSON(name: string, noExceptions?: boolean): unknown {
      const b = run(() => flash.read(String(name)));
      if (!b) return undefined;
      try {
        return JSON.parse(bytesToBinaryString(b));
      } catch (err) {
        if (noExceptions) return undefined;
        throw err;
      }
    },
    write(name: string, data: unknown, offset?: number, size?: number): boolean {
      const bytes = toBytes(data);
      return run(() => {
        const n = String(name);
        // Espruino throws (jswrap_storage.c) where the flash model answers false: a write
        // into a file that is not there, or past the size it was created with.
        if (offset !== undefined && offset > 0 && size === undefined) {
          const cur = flash.read(n);
          if (!cur) throw new Error('Unable to find or create file');
          if (offset + bytes.length > cur.length) throw new Error('Too much data for file size');
        }
        return flash.write(n, bytes, offset, size);
      });
    },
    writeJSON(name: string, data: unknown): boolean {
      const bytes = toBytes(JSON.stringify(data));
      return run(() => flash.write(String(name), bytes));
    },
    erase(name: string): void { run(() => flash.erase(String(name))); },
    eraseAll(): void { run(() => { for (const n of flash.list()) flash.erase(n); flash.compact(); }); },
    list(regex?: RegExp): string[] {
      const l = run(() => flash.list());
      const uniq = l.filter((n, i) => l.indexOf(n) === i);
      return regex ? uniq.filter((n) => regex.test(n)) : uniq;
    },
    getFree(): number { return run(() => flash.getFree()); },
    compact(): void { run(() => flash.compact()); },
    getStats(): object {
      return run(() => ({ freeBytes: flash.getFree(), fileCount: flash.list().length }));
    },
  };
}
