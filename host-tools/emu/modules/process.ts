// The process object: env (VERSION, BOARD, MODULES...), version, memory() and the
// 'uncaughtException' event (emitted by the device, device.ts).
import type { Emitter } from './emitter';

export interface ProcessOptions {
  /** The object process events go through (kept by the device, which emits them). */
  emitter: Emitter;
  env: Record<string, unknown>;
  version: string;
  /** Characters of code loaded so far in this power-on (what memory() estimates from). */
  codeChars(): number;
}

export function makeProcess(o: ProcessOptions) {
  return Object.assign(o.emitter, {
    env: o.env,
    version: o.version,
    memory(): object {
      // Espruino counts 16-byte variables; the emulator cannot see them. This is the
      // source size of what was loaded divided by a typical bytes-per-variable, a rough
      // stand-in so that code checking memory has something plausible, never a measure.
      const total = 16383;
      const usage = Math.min(total, Math.ceil(o.codeChars() / 24));
      return { free: total - usage, usage, total, history: 0, gc: 0, gctime: 0, blocksize: 16 };
    },
  });
}
