// The E object: hwRand, the watchdog, error flags, byte conversions, boot code and reboot.
// Its events ('init', 'errorFlag', 'kill') are emitted by the device (device.ts).
import { bytesToBinaryString, toBytes } from './bytes';
import type { Emitter } from './emitter';
import type { ToRealm } from './loop';

export interface Watchdog { timeoutMs: number; auto: boolean; lastKick: number }

/** What E shares with the device: the device checks the watchdog and raises error flags. */
export interface EState {
  watchdog: Watchdog | undefined;
  errorFlags: string[];
}

export interface EOptions {
  /** The object E's events go through (kept by the device, which emits them). */
  emitter: Emitter;
  state: EState;
  /** Virtual ms (watchdog kicks). */
  now(): number;
  hwRand(): number;
  u8: ToRealm;
  setBootCode(code: string): void;
  reboot(): void;
  /**
   * The host's OS random device for E.openFile("/dev/urandom") on builds with a file system
   * (the Linux build: the device key's strong entropy source, firmware/hal/espruino/system.ts);
   * undefined where the build has no E.openFile (the ESP32 build without an SD card).
   */
  osRandom?: () => number;
}

export function makeE(o: EOptions) {
  const s = o.state;
  const u8 = o.u8;
  return Object.assign(o.emitter, {
    hwRand: (): number => o.hwRand(),
    enableWatchdog(timeout: number, isAuto?: boolean): void {
      if (!(timeout > 0)) throw new Error('enableWatchdog: timeout (s) expected > 0');
      s.watchdog = { timeoutMs: timeout * 1000, auto: isAuto !== false, lastKick: o.now() };
    },
    kickWatchdog(): void { if (s.watchdog) s.watchdog.lastKick = o.now(); },
    getErrorFlags(): string[] { const f = s.errorFlags; s.errorFlags = []; return f; },
    toString(...args: unknown[]): string { return bytesToBinaryString(toBytes(args.length === 1 ? args[0] : args)); },
    toUint8Array(...args: unknown[]): Uint8Array { return u8(toBytes(args.length === 1 ? args[0] : args)); },
    toArrayBuffer(str: string): ArrayBuffer { return u8(toBytes(str)).buffer as ArrayBuffer; },
    setBootCode(code: string): void { o.setBootCode(code); },
    reboot(): void { o.reboot(); },
    ...(o.osRandom ? { openFile: openFile(o.osRandom) } : {}),
    getSizeOf(): number { return 0; },
    getAddressOf(): number { return 0; },
    getTemperature(): number { return 40; },
  });
}

/** E.openFile for the one file the firmware opens: /dev/urandom (binary string reads). */
function openFile(rand: () => number) {
  return (path: string, mode: string) => {
    if (path !== '/dev/urandom' || mode !== 'r') throw new Error(`emulator: E.openFile(${JSON.stringify(path)}, ${JSON.stringify(mode)}) is not emulated (only /dev/urandom for reading)`);
    let open = true;
    return {
      read(length: number): string | undefined {
        if (!open) throw new Error('File closed');
        let t = '';
        for (let i = 0; i < length; i++) t += String.fromCharCode(rand() & 255);
        return t;
      },
      close(): void { open = false; },
    };
  };
}
