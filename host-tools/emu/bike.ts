// An emulated bike: the firmware bundle (dist/firmware.js) in an emulated Espruino board
// (device.ts), wired to a simulated bike (host-tools/sim) through the board's pins, with
// its flash in F1's model (optionally file-backed) and its radio in a shared EmuNetwork.
// This is how the tests and the testnet run a device.
//
//   const clock = new VirtualClock();
//   const network = new EmuNetwork({ clock });                 // + handler, or real HTTP
//   const bike = createEmulatedBike({ clock, network, sim: createSimBike({ seed }), seed,
//                                     flashFile?, bundle?, board?, settings? });
//   bike.powerOn();                 // first boot: installs the bundle as .bootcde and the
//                                   // Storage modules (default: "ed25519", as deep flash does)
//   await clock.advance(3600_000);  // an hour of virtual time (sim and device together)
//   bike.powerCut(30_000);          // off for 30 s of virtual time, then boots again
//   bike.device.console.input(...)  // the USB console (or serveConsole(bike.device, port))
//   bike.eval('deep.status()')      // host-side peek into the running firmware
//
// Power cuts: `powerCut(offMs)` drops the device's RAM and timers now (flash keeps what was
// programmed), browns the simulated board out for the same time (the MCP2515 loses its
// configuration, UART bytes are lost) and powers on again after `offMs`. `cutAtWrite(n)`
// instead arms the flash model so that power fails while the n-th byte from now is being
// programmed; the bike comes back `offMs` later by itself.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { SimBike } from '../sim/index';
import { Prng } from '../sim/prng';
import type { Board } from '../../firmware/hal/espruino/board';
import type { VirtualClock, TimeFollower } from './clock';
import { EmulatedDevice } from './device';
import { EmuFlash } from './flash';
import type { EmuNetwork } from './network';
import { BOARDS_DIR, loadBoard } from './boards';

export interface BikeSettings {
  ssid?: string;
  password?: string;
  endpoint?: string;
  intervalS?: number;
  pollMs?: number;
}

export interface EmulatedBikeOptions {
  clock: VirtualClock;
  network: EmuNetwork;
  sim: SimBike;
  /** Firmware source text; default: dist/firmware.js (run `npm run build` first). */
  bundle?: string;
  /**
   * Storage modules installed with the bundle, by name (what `deep flash` uploads); default
   * { ed25519: dist/ed25519-module.js } when that file exists. {} installs none.
   */
  modules?: Record<string, string>;
  /** Flash image file (kept across runs and power cuts); default: in memory only. */
  flashFile?: string;
  /** Flash size in bytes (default 512 KiB: bundle + settings + key + queue). */
  flashSize?: number;
  /** Board description; default boards/esp32-devkitc.json. */
  board?: Board;
  /** Seeds E.hwRand (so the device key) and the flash model's torn bytes. */
  seed?: number;
  name?: string;
  /** Written through the console after the first boot (like `deep pair` does). */
  settings?: BikeSettings;
  /** Console output also goes here. */
  tee?: (text: string) => void;
}

export const DEFAULT_BUNDLE = path.resolve(BOARDS_DIR, '../dist/firmware.js');
/** The Ed25519 signer as a Storage module (firmware/keys/ed25519-module.ts). */
export const DEFAULT_ED25519_MODULE = path.resolve(BOARDS_DIR, '../dist/ed25519-module.js');

function defaultModules(): Record<string, string> {
  return existsSync(DEFAULT_ED25519_MODULE) ? { ed25519: readFileSync(DEFAULT_ED25519_MODULE, 'latin1') } : {};
}

export interface EmulatedBike {
  readonly device: EmulatedDevice;
  readonly flash: EmuFlash;
  readonly sim: SimBike;
  readonly board: Board;
  /** Intervals (virtual ms) during which the device was not powered. */
  readonly downtime: { fromMs: number; toMs?: number }[];
  powerOn(): void;
  /** Power off now; on again after `offMs` (default 5000). */
  powerCut(offMs?: number): void;
  /** Power fails while the n-th flash byte from now is programmed; on again `offMs` after. */
  cutAtWrite(n: number, offMs?: number): void;
  /** Evaluates an expression in the running firmware and returns it as plain JSON data. */
  eval<T = unknown>(expr: string): T;
  /** Stops following the clock (the testnet removes a bike). */
  detach(): void;
}

export function createEmulatedBike(o: EmulatedBikeOptions): EmulatedBike {
  if (!o || !o.clock || !o.network || !o.sim) throw new TypeError('createEmulatedBike: "clock", "network" and "sim" are required');
  const board = o.board ?? loadBoard('esp32-devkitc');
  const seed = (o.seed ?? o.sim.seed) >>> 0;
  const bundle = o.bundle ?? readFileSync(DEFAULT_BUNDLE, 'latin1');
  const modules = o.modules ?? defaultModules();
  // The flash model's torn bits, deterministic per seed.
  const tornBits = new Prng((seed ^ 0xa5a5a5a5) >>> 0);
  const flash = new EmuFlash({ size: o.flashSize ?? 512 * 1024, file: o.flashFile, rng: () => tornBits.next() });
  const sim = o.sim;
  const clock = o.clock;

  const serial: Record<string, ReturnType<SimBike['openVescSerial']>> = {};
  serial[board.vesc.uart] = sim.openVescSerial({ baud: board.vesc.baud });
  const spi: Record<string, SimBike['mcp2515Spi']> = {};
  const inputs: Record<string, SimBike['canInt']> = {};
  if (board.can.via === 'mcp2515') {
    spi[board.can.spi] = sim.mcp2515Spi;
    inputs[board.can.int] = sim.canInt;
  }
  const device = new EmulatedDevice({ clock, flash, network: o.network, serial, spi, inputs, seed, name: o.name, tee: o.tee, espruino: board.espruino });

  const follower: TimeFollower = {
    advance: (ms) => sim.advance(ms),
    msUntilNextEvent: () => {
      const n = sim.nextEventMs();
      return n === undefined ? undefined : n - sim.nowMs();
    },
  };
  clock.addFollower(follower);

  const downtime: { fromMs: number; toMs?: number }[] = [];
  let installed = false;
  let settingsDone = !o.settings;
  let pendingOn = 0;

  function on(): void {
    pendingOn = 0;
    if (device.running) return;
    if (!installed) {
      if (!flash.read('.bootcde')) {
        for (const name of Object.keys(modules)) {
          if (!flash.write(name, Buffer.from(modules[name], 'latin1'))) throw new Error(`install: flash full (module "${name}" does not fit)`);
        }
        device.install(bundle);
      }
      installed = true;
    }
    const last = downtime[downtime.length - 1];
    if (last && last.toMs === undefined) last.toMs = clock.now();
    device.powerOn();
    if (!settingsDone && device.running) {
      settingsDone = true;
      device.eval(`deep.settings(${JSON.stringify(o.settings)})`);
    }
  }

  function off(offMs: number): void {
    if (!device.running) return;
    downtime.push({ fromMs: clock.now() });
    device.powerCut('power-cut');
    sim.inject({ brownoutMs: offMs });
    if (pendingOn) clock.clear(pendingOn);
    pendingOn = clock.setTimeout(on, offMs);
  }

  // A cut that strikes inside a flash write is noticed by the device (it stops); this
  // hook brings the board back after the armed outage.
  let armedOffMs = -1;
  clock.addAfterFire(() => {
    if (armedOffMs >= 0 && !device.running && device.stops.length && !pendingOn) {
      const offMs = armedOffMs;
      armedOffMs = -1;
      downtime.push({ fromMs: clock.now() });
      sim.inject({ brownoutMs: offMs });
      pendingOn = clock.setTimeout(on, offMs);
    }
  });

  return {
    device,
    flash,
    sim,
    board,
    downtime,
    powerOn: on,
    powerCut: (offMs = 5000) => off(offMs),
    cutAtWrite(n: number, offMs = 5000): void {
      flash.armCut(n);
      armedOffMs = offMs;
    },
    eval<T>(expr: string): T {
      const v = device.eval(`JSON.stringify(${expr})`);
      return (typeof v === 'string' ? JSON.parse(v) : undefined) as T;
    },
    detach(): void {
      clock.removeFollower(follower);
      if (pendingOn) clock.clear(pendingOn);
      device.powerCut('power-cut');
    },
  };
}
