// FlashStore (firmware/hal/flash.ts) on Espruino's require("Storage"). The interface was
// modelled on Storage, so this is a thin binding: Storage.read gives a binary string (or,
// for readArrayBuffer, memory-mapped flash on the ESP32), which is copied into a fresh
// Uint8Array because FlashStore.read promises a copy the caller may change.
import { esp, EspStorage } from './api';
import type { FlashStore } from '../flash';

export function espruinoFlash(): FlashStore {
  var S = esp.require('Storage') as EspStorage;
  return {
    read: function (name: string): Uint8Array | undefined {
      var ab = S.readArrayBuffer(name);
      if (ab === undefined) return undefined;
      var src = new Uint8Array(ab);
      var out = new Uint8Array(src.length);
      out.set(src);
      return out;
    },
    write: function (name: string, data: Uint8Array, offset?: number, size?: number): boolean {
      // Storage.write throws where FlashStore promises false ("Unable to find or create
      // file" for a write into a file that is not there, "Too much data for file size",
      // Storage full): an expected flash failure the caller counts and handles.
      try {
        if (offset === undefined) return S.write(name, data);
        if (size === undefined) return S.write(name, data, offset);
        return S.write(name, data, offset, size);
      } catch (e) {
        return false;
      }
    },
    erase: function (name: string): void { S.erase(name); },
    list: function (): string[] { return S.list(); },
    getFree: function (): number { return S.getFree(); },
    compact: function (): void { S.compact(); },
  };
}
