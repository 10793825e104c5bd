// The interpreter's own globals: print and console.*, reset/save/load/echo (what the
// Espruino CLI's upload uses), atob/btoa.
import { formatValue } from '../console';

export interface GlobalsOptions {
  /** Prints on the device console. */
  print(text: string): void;
  setEcho(on: boolean): void;
  /** Code typed at the console since the power-on (what save() keeps). */
  savedCode(): string[];
  writeBootCode(code: string): void;
  eraseBootCode(): void;
  /** Restarts the interpreter without running the boot code (reset()). */
  reset(): void;
  /** Restarts and runs the boot code (load()). */
  load(): void;
}

export function makeGlobals(o: GlobalsOptions) {
  const print = (...args: unknown[]): void => {
    o.print(args.map((a) => formatValue(a, false)).join(' ') + '\n');
  };
  return {
    console: { log: print, warn: print, error: print, info: print, debug: print },
    print,
    reset(clearFlash?: boolean): void {
      if (clearFlash) o.eraseBootCode();
      o.reset();
    },
    save(): void {
      // The real save() snapshots RAM; the emulator stores the code typed since the last
      // reset(), which re-creates the same state when run at boot.
      o.writeBootCode(o.savedCode().filter((c) => !/^\s*save\(\)\s*;?\s*$/.test(c)).join('\n'));
    },
    load(): void { o.load(); },
    echo(on: unknown): void { o.setEcho(!!on); },
    atob: (b: string): string => Buffer.from(String(b), 'base64').toString('latin1'),
    btoa: (t: string): string => Buffer.from(String(t), 'latin1').toString('base64'),
  };
}
