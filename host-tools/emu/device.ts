// One emulated Espruino board on Node: the globals and modules the firmware uses, in a
// fresh vm context per power-on, bound to a simulated bike, F1's flash model, the shared
// network and the virtual clock. The firmware bundle itself (dist/firmware.js) runs in it,
// stored in flash as `.bootcde` exactly as the Espruino CLI stores it.
//
// Power-on: a new vm context; `.bootcde` from flash is evaluated (if any), then
// E.emit('init'). Power cut: the context, its timers and RAM are dropped; the flash image
// stays (and is torn where the model cut it). A watchdog that is not kicked in time, an
// E.reboot() and load() do the same as a power cycle without tearing flash.
//
// What the emulated APIs do (Espruino reference; the board's "espruino" says which build:
// its modules, whether it can reboot), one file each in modules/:
//   e.ts        E: hwRand (seeded, different per boot), watchdog, error flags, byte
//               conversions, setBootCode, reboot; events 'init', 'errorFlag' from here
//   process.ts  process: env, version, memory() (an estimate); 'uncaughtException'
//   storage.ts  require("Storage") over the flash model
//   wifi.ts     require("Wifi"): station, SNTP;  http.ts  require("http"), url.parse
//   crypto.ts   require("crypto"): SHA1/224/256/384/512;  flash.ts  require("Flash")
//   require.ts  require: the build's modules, else a Storage file, else not found
//   serial.ts   Serial1..3;  spi.ts  SPI1/SPI2;  pins.ts  D0..D39, digital*, setWatch
//   timers.ts   setTimeout/setInterval/clear*;  date.ts  getTime/setTime, Date
//   globals.ts  print, console, reset, save, load, echo, atob/btoa
// This file powers the device on and off, assembles those into a fresh context per
// power-on, runs the boot code, polls the hardware after every clock step and reports
// exceptions that reach the top level.
import { Prng } from '../sim/prng';
import vm from 'node:vm';
import type { VirtualClock } from './clock';
import { EspruinoConsole, formatUncaught, formatValue } from './console';
import type { EmuNetwork } from './network';
import type { FlashStore } from '../../firmware/hal/flash';
import type { DigitalInIO, SerialIO, SpiIO } from '../../firmware/hal/io';
import type { Board } from '../../firmware/hal/espruino/board';
import { loadBoard } from './boards';
import { toBytes } from './modules/bytes';
import { makeCrypto } from './modules/crypto';
import { installDate, makeTime } from './modules/date';
import { makeE, type EState } from './modules/e';
import { Emitter } from './modules/emitter';
import { makeFlashModule } from './modules/flash';
import { makeGlobals } from './modules/globals';
import { makeHttp, urlParse } from './modules/http';
import type { DeviceLoop } from './modules/loop';
import { makePins } from './modules/pins';
import { makeProcess } from './modules/process';
import { makeRequire } from './modules/require';
import { SerialPort } from './modules/serial';
import { makeSpi } from './modules/spi';
import { storageApi } from './modules/storage';
import { makeTimers } from './modules/timers';
import { WifiModule } from './modules/wifi';

/** The flash model as the emulator needs it (host-tools/emu/flash.ts EmuFlash fits). */
export interface EmuFlashLike extends FlashStore {
  readonly dead: boolean;
  reboot(): void;
}

export interface EmulatedDeviceOptions {
  clock: VirtualClock;
  flash: EmuFlashLike;
  network?: EmuNetwork;
  /** Serial ports by Espruino name, e.g. { Serial2: sim.vesc }. */
  serial?: Record<string, SerialIO>;
  /** SPI buses by Espruino name, e.g. { SPI2: sim.mcp2515 }. */
  spi?: Record<string, SpiIO>;
  /** Input pins bound to the simulator, e.g. { D4: sim.mcpInt }. */
  inputs?: Record<string, DigitalInIO>;
  /** Seed of E.hwRand (mixed with the boot count). */
  seed?: number;
  /** A name for logs. */
  name?: string;
  /** The board's Espruino build (boards/NAME.json "espruino"); default: esp32-devkitc's. */
  espruino?: Board['espruino'];
  /** process.env overrides. */
  env?: Record<string, string>;
  /** Echo console output to this function as well (e.g. process.stdout.write). */
  tee?: (text: string) => void;
}

/** Why the device last stopped ('exit': the interpreter process ended, nothing restarts it). */
export type StopReason = 'power-cut' | 'watchdog' | 'reboot' | 'load' | 'exit';

/** An exception that reached the top level of the device (a timer, an event, a console line). */
export interface UncaughtException {
  /** Virtual ms when it happened. */
  atMs: number;
  /** The power-on it happened in (EmulatedDevice.boots then). */
  boot: number;
  /** What was thrown. */
  error: unknown;
  /** As Espruino prints it: "Uncaught Error: ...". */
  text: string;
  /**
   * Handed to process.on('uncaughtException') handlers, after which Espruino prints
   * nothing (a handler that throws in turn adds its own record, not handled).
   */
  handled: boolean;
}

/**
 * Thrown where the interpreter process ends (E.reboot() on Espruino's Linux build), so the
 * calling code goes no further; the device has stopped by then.
 */
export class DeviceExitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceExitError';
  }
}


/** One power-on of the device: everything here dies with a power cut. */
class Session implements EState {
  ctx!: vm.Context;
  dead = false;
  wallOffsetMs: number; // device wall = clock.now() + offset; 0 wall at boot = 1970
  watchdog: EState['watchdog'];
  errorFlags: string[] = [];
  readonly E = new Emitter();
  readonly process = new Emitter();
  readonly serials: Record<string, SerialPort> = {};
  /** Calls the setWatch callbacks whose pin changed (pins.ts). */
  pollWatches: () => void = () => {};
  savedCode: string[] = [];
  wifi?: WifiModule;
  constructor(readonly boot: number, readonly clock: VirtualClock) {
    this.wallOffsetMs = -clock.now();
  }
}

export class EmulatedDevice {
  readonly clock: VirtualClock;
  readonly flash: EmuFlashLike;
  readonly network?: EmuNetwork;
  readonly console: EspruinoConsole;
  readonly name: string;
  readonly mac: string;
  /** The Espruino build it imitates: its modules, whether E.reboot() works. */
  readonly espruino: Board['espruino'];
  /** Added to the true time when SNTP sets the clock (tests of a lying time server). */
  clockSkewMs = 0;
  /** Every power-on so far (1 after the first boot). */
  boots = 0;
  /** Why each stop happened, in order (`detail`: what an exiting interpreter printed). */
  stops: { at: number; reason: StopReason; detail?: string }[] = [];
  /**
   * Every exception that reached the top level, in order: printed "Uncaught ..." like
   * Espruino unless a process 'uncaughtException' handler took it (`handled`). Tests
   * assert it stays empty.
   */
  uncaught: UncaughtException[] = [];
  /** Counters of what the emulated hardware did (tests, benchmarks). */
  stats = { watchCalls: 0, afterFires: 0 };
  /** Every byte the console printed, for tests. */
  output = '';
  /** Cap on `output` (older text is dropped). */
  outputLimit = 1 << 20;
  private session?: Session;
  private readonly opts: EmulatedDeviceOptions;
  private readonly seed: number;

  constructor(opts: EmulatedDeviceOptions) {
    this.opts = opts;
    this.clock = opts.clock;
    this.flash = opts.flash;
    this.network = opts.network;
    this.espruino = opts.espruino ?? loadBoard('esp32-devkitc').espruino;
    this.name = opts.name ?? 'bike';
    this.seed = (opts.seed ?? 1) >>> 0;
    const r = new Prng((this.seed ^ 0x5eed) >>> 0);
    this.mac = Array.from({ length: 6 }, (_, i) => ((i === 0 ? 0x24 : r.u32() & 0xff) >>> 0).toString(16).padStart(2, '0')).join(':');
    this.console = new EspruinoConsole({
      evaluate: (code) => this.evalConsole(code),
      format: (v) => formatValue(v, true),
    });
    this.console.onOutput((t) => {
      this.output += t;
      if (this.output.length > this.outputLimit) this.output = this.output.slice(-this.outputLimit / 2);
      opts.tee?.(t);
    });
    this.clock.addAfterFire(() => this.afterFire());
    const prev = this.clock.onError;
    this.clock.onError = (err, owner) => {
      if (owner instanceof Session) this.uncaughtIn(owner, err);
      else prev(err, owner);
    };
  }

  /** True while powered. */
  get running(): boolean { return !!this.session && !this.session.dead; }

  /** The device realm's global object (for tests that look inside), while powered. */
  get global(): Record<string, unknown> | undefined {
    return this.session && !this.session.dead ? (this.session.ctx as Record<string, unknown>) : undefined;
  }

  /** Host-side: stores `code` as `.bootcde` (what the CLI does with "save to flash"). */
  install(code: string): void {
    if (this.flash.dead) this.flash.reboot();
    if (!this.flash.write('.bootcde', toBytes(code))) throw new Error('install: flash full (bundle does not fit)');
  }

  /** Powers the device on (after a cut, a reset or for the first time). */
  powerOn(): void {
    if (this.running) throw new Error('powerOn: already running');
    if (this.flash.dead) this.flash.reboot();
    this.boots++;
    const s = new Session(this.boots, this.clock);
    this.session = s;
    this.makeContext(s);
    this.console.start('\r\n ____                 _\r\n|  __|___ ___ ___ _ _|_|___ ___\r\n(emulated) 2v25 ' + this.espruino.build + '\r\n\r\n');
    this.runBootCode(s);
  }

  /** Cuts power now: RAM, timers and the radio are gone; flash keeps what was written. */
  powerCut(reason: StopReason = 'power-cut'): void {
    const s = this.session;
    if (!s || s.dead) return;
    this.stop(s, reason);
    this.console.print(`\r\n[power ${reason}]\r\n`);
  }

  private stop(s: Session, reason: StopReason, detail?: string): void {
    s.dead = true;
    s.wifi?.detach();
    this.clock.clearOwner(s);
    this.stops.push(detail === undefined ? { at: this.clock.now(), reason } : { at: this.clock.now(), reason, detail });
  }

  /**
   * The interpreter process ends, as Espruino's Linux build does on E.reboot() (it prints
   * "Not implemented" and exits): the device stops for good, nothing powers it on again,
   * and the caller is unwound by a DeviceExitError.
   */
  private exit(s: Session, printed: string, why: string): never {
    this.console.print(printed + '\n');
    this.stop(s, 'exit', printed);
    this.console.print('\r\n[interpreter exited]\r\n');
    throw new DeviceExitError(`${this.name}: ${why}: the interpreter printed "${printed}" and exited`);
  }

  /** Evaluates code in the running device (host-side, like typing it without echo). */
  eval(code: string): unknown {
    const s = this.need();
    return vm.runInContext(code, s.ctx, { filename: 'host-eval' });
  }

  /** Raises an Espruino error flag (e.g. 'FIFO_FULL', 'LOW_MEMORY') as the interpreter would. */
  raiseErrorFlag(flag: string): void {
    const s = this.need();
    if (!s.errorFlags.includes(flag)) s.errorFlags.push(flag);
    this.later(s, () => s.E.emit('errorFlag', s.errorFlags.slice()));
  }

  /** Holds a (simulated) button pin low for `ms` virtual ms, then releases it. */
  pressButton(pin: string, ms = 100): void {
    const s = this.need();
    this.buttonLevels[pin] = 0;
    this.later(s, () => { this.buttonLevels[pin] = 1; }, ms);
  }
  private readonly buttonLevels: Record<string, number> = {};

  // ---- internals used by the modules ----------------------------------------------------

  alive(s: Session): void {
    if (s.dead) throw new Error('device has no power');
  }

  /** Runs `fn` on the device's event loop after `ms` virtual ms. */
  later(s: Session, fn: () => void, ms = 0): number {
    return this.clock.setTimeout(() => { if (!s.dead) fn(); }, ms, s);
  }

  clearTimer(id: number): void { this.clock.clear(id); }

  private need(): Session {
    const s = this.session;
    if (!s || s.dead) throw new Error(`${this.name}: device is not powered`);
    return s;
  }

  private afterFire(): void {
    this.stats.afterFires++;
    const s = this.session;
    if (!s || s.dead) return;
    if (this.flash.dead) {
      this.powerCut('power-cut');
      return;
    }
    for (const p of Object.values(s.serials)) {
      try {
        p.poll();
      } catch (err) {
        this.uncaughtIn(s, err);
      }
      if (s.dead) return;
    }
    s.pollWatches();
    const w = s.watchdog;
    if (w && !w.auto && this.clock.now() - w.lastKick > w.timeoutMs) {
      this.powerCut('watchdog');
    }
  }

  /** The level an input pin reads now: a pressed button, a simulator line, else high. */
  private pinLevel(pin: string): number {
    if (pin in this.buttonLevels) return this.buttonLevels[pin];
    const io = this.opts.inputs?.[pin];
    return io ? io.read() : 1; // unconnected inputs read high (pull-up)
  }

  private deviceTime(s: Session): number {
    return (this.clock.now() + s.wallOffsetMs) / 1000;
  }

  /** An exception reached the top level: to the program's handler, else printed (jsiCheckErrors). */
  private uncaughtIn(s: Session, err: unknown): void {
    if (s.dead) return;
    if (isPowerCut(err) || this.flash.dead) {
      this.powerCut('power-cut');
      return;
    }
    if (s.process.listenerCount('uncaughtException') > 0) {
      this.recordUncaught(s, err, true);
      try {
        s.process.emit('uncaughtException', err);
        return;
      } catch (err2) {
        if (s.dead) return;
        if (isPowerCut(err2) || this.flash.dead) {
          this.powerCut('power-cut');
          return;
        }
        err = err2;
      }
    }
    const u = this.recordUncaught(s, err, false);
    this.console.print(u.text + '\n');
  }

  private recordUncaught(s: Session, error: unknown, handled: boolean): UncaughtException {
    const u = { atMs: this.clock.now(), boot: s.boot, error, text: formatUncaught(error), handled };
    this.uncaught.push(u);
    return u;
  }

  private evalConsole(code: string): { value?: unknown; error?: unknown; silent?: boolean } {
    const s = this.session;
    if (!s || s.dead) return { error: new Error('device is not powered') };
    try {
      const value = vm.runInContext(code, s.ctx, { filename: 'REPL' });
      s.savedCode.push(code);
      return { value };
    } catch (err) {
      // Like any top-level exception: to the program's handler, else printed (by
      // uncaughtIn, so nothing more for the console to print).
      this.uncaughtIn(s, err);
      return { silent: true };
    }
  }

  private runBootCode(s: Session): void {
    let code: Uint8Array | undefined;
    try {
      code = this.flash.read('.bootcde');
    } catch (err) {
      this.uncaughtIn(s, err);
      return;
    }
    if (code) {
      try {
        vm.runInContext(Buffer.from(code).toString('latin1'), s.ctx, { filename: '.bootcde' });
      } catch (err) {
        this.uncaughtIn(s, err);
      }
    }
    if (!s.dead) this.later(s, () => s.E.emit('init'));
  }

  private restart(reason: StopReason, runBoot: boolean): void {
    const s = this.session;
    if (!s || s.dead) return;
    // Leave the current call stack first, as the interpreter does.
    this.clock.setTimeout(() => {
      this.powerCut(reason);
      if (runBoot) this.powerOn();
    }, 0);
  }

  private makeContext(s: Session): void {
    const dev = this;
    const clock = this.clock;
    const sandbox: Record<string, unknown> = {};
    const ctx = vm.createContext(sandbox, { name: `${this.name}#${s.boot}` });
    s.ctx = ctx;
    const CtxUint8Array = vm.runInContext('Uint8Array', ctx) as Uint8ArrayConstructor;
    const CtxArrayBuffer = vm.runInContext('ArrayBuffer', ctx) as ArrayBufferConstructor;
    // E.hwRand: deterministic per seed and boot; an int32, as Espruino declares it.
    const hw = new Prng((this.seed * 0x9e3779b1 + s.boot * 0x85ebca6b) >>> 0);

    const build = this.espruino;
    const alive = (): void => dev.alive(s);
    const loop: DeviceLoop = { alive, later: (fn, ms) => dev.later(s, fn, ms), clearTimer: (id) => dev.clearTimer(id) };
    const u8 = (b: Uint8Array): Uint8Array => { const u = new CtxUint8Array(b.length); u.set(b); return u; };

    const storage = storageApi({
      flash: this.flash,
      Uint8Array: CtxUint8Array,
      guard: alive,
      onError: (err) => { if (isPowerCut(err)) dev.powerCut('power-cut'); },
    });
    const E = makeE({
      emitter: s.E,
      state: s,
      now: () => clock.now(),
      hwRand: () => hw.u32() | 0,
      u8,
      setBootCode: (code) => { storage.write('.bootcde', code); },
      reboot: () => {
        if (build.reboot) dev.restart('reboot', true);
        else dev.exit(s, 'Not implemented', `E.reboot() on the ${build.build} build`);
      },
      osRandom: build.modules.includes('fs') ? () => hw.u32() >>> 24 : undefined,
    });
    const proc = makeProcess({
      emitter: s.process,
      env: {
        VERSION: '2v25',
        GIT_COMMIT: 'c5ff787b',
        BOARD: build.build,
        RAM: 520192,
        FLASH: 0,
        STORAGE: 0,
        SERIAL: this.mac.replace(/:/g, ''),
        CONSOLE: 'Serial1',
        MODULES: build.modules.join(','),
        EXPTR: 0,
        EMULATED: 1,
        ...this.opts.env,
      },
      version: '2v25',
      codeChars: () => s.savedCode.reduce((n, c) => n + c.length, 0),
    });

    // Only a build with a Wifi module has a radio to join; the Linux build uses the host's
    // network, up whenever the network is.
    const wifi = build.modules.includes('Wifi')
      ? (s.wifi = new WifiModule({
        loop,
        network: this.network,
        boot: s.boot,
        mac: this.mac,
        sntpSync: () => { s.wallOffsetMs = clock.trueWallMs() - clock.now() + dev.clockSkewMs; },
      }))
      : undefined;
    const emulated: Record<string, unknown> = {
      Storage: storage,
      crypto: makeCrypto(u8),
      http: makeHttp({ loop, network: this.network, linkUp: () => (wifi ? wifi.status === 'connected' : true) }),
      Flash: makeFlashModule(),
    };
    if (wifi) emulated.Wifi = wifi;

    const pins = makePins({
      alive,
      level: (pin) => dev.pinLevel(pin),
      outputs: (dev.pinOutputs = {}),
      time: () => dev.deviceTime(s),
    });
    const callWatch = (fn: () => void): boolean => {
      dev.stats.watchCalls++;
      try {
        fn();
      } catch (err) {
        dev.uncaughtIn(s, err);
      }
      return !s.dead;
    };
    s.pollWatches = () => pins.poll(callWatch);
    for (const name of ['Serial1', 'Serial2', 'Serial3']) {
      s.serials[name] = new SerialPort(alive, name, this.opts.serial?.[name]);
    }
    const spis: Record<string, unknown> = {};
    for (const name of ['SPI1', 'SPI2']) spis[name] = makeSpi(name, this.opts.spi?.[name], alive, u8);

    Object.assign(sandbox, {
      ...makeTimers(clock, s, alive),
      ...pins.globals,
      ...spis,
      ...s.serials,
      E,
      process: proc,
      require: makeRequire({ alive, build: build.build, builtIn: build.modules, emulated, readStorage: (n) => storage.read(n), ctx }),
      ...makeGlobals({
        print: (text) => dev.console.print(text),
        setEcho: (on) => dev.console.setEcho(on),
        savedCode: () => s.savedCode,
        writeBootCode: (code) => { storage.write('.bootcde', code); },
        eraseBootCode: () => storage.erase('.bootcde'),
        reset: () => {
          dev.restart('reboot', false);
          dev.clock.setTimeout(() => { if (!dev.running) dev.powerOnBare(); }, 0);
        },
        load: () => dev.restart('load', true),
      }),
      ...makeTime({ wallMs: () => clock.now() + s.wallOffsetMs, setWallMs: (ms) => { s.wallOffsetMs = ms - clock.now(); } }),
      // The ESP32's RNG_DATA_REG (ESP32 TRM "Random Number Generator"), the board's strong
      // entropy source (firmware/hal/espruino/system.ts); other addresses are not emulated.
      peek32: (addr: number): number => {
        if (addr === 0x3ff75144) return hw.u32() >>> 0;
        throw new Error(`emulator: peek32(0x${(addr >>> 0).toString(16)}) is not an emulated register`);
      },
      url: { parse: urlParse },
      global: undefined as unknown,
    });
    sandbox.global = ctx;
    installDate(ctx);
  }

  /** After reset(): a powered device with no program (the REPL only). */
  private powerOnBare(): void {
    this.boots++;
    const s = new Session(this.boots, this.clock);
    this.session = s;
    this.makeContext(s);
    this.console.print('');
  }

  /** Levels the program wrote to output pins (LED), by pin name. */
  pinOutputs: Record<string, number> = {};
}

export function isPowerCut(err: unknown): boolean {
  return !!err && typeof err === 'object' && (err as { name?: string }).name === 'PowerCutError';
}
