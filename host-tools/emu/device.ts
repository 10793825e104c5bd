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
// What the emulated APIs do (Espruino reference, ESP32 build):
//   E: hwRand (seeded, different per boot), enableWatchdog/kickWatchdog, on/emit
//     ('errorFlag', 'init', 'kill'), getErrorFlags, toString/toUint8Array/toArrayBuffer,
//     setBootCode, reboot, getSizeOf (rough), dumpStr (none).
//   process: env (VERSION, BOARD, MODULES...), memory() (an estimate, see memory()),
//     on('uncaughtException'), version.
//   Serial1/Serial2/...: setup(baud, opts), on('data'), write(...), removeAllListeners.
//     Bytes come from the bound SerialIO, polled after every timer and clock step, and
//     arrive as binary strings like on the real board.
//   SPI1/SPI2: setup(opts), send(data, csPin) -> same kind as data; bound to a SpiIO.
//   D0..D39 pins: read/write/set/reset/mode; digitalRead/digitalWrite/pinMode; setWatch/
//     clearWatch with falling/rising/both edges (inputs bound to DigitalInIO, polled).
//   require: "Storage" (storage.ts), "Wifi", "http", "crypto" (SHA1/224/256/384/512),
//     and any other name found as a Storage file (Espruino loads modules from Storage).
//   setTimeout/setInterval/clear*, getTime()/setTime(), Date (device wall clock, 1970 at
//     boot until setTime or SNTP), print, reset, save, load, echo, atob/btoa, url.parse.
import vm from 'node:vm';
import { createHash } from 'node:crypto';
import type { VirtualClock } from './clock';
import { EspruinoConsole, formatUncaught } from './console';
import type { EmuNetwork, NetworkListener } from './network';
import { bytesToBinaryString, bytesView, storageApi, toBytes } from './storage';
import type { FlashStore } from '../../firmware/hal/flash';
import type { DigitalInIO, SerialIO, SpiIO } from '../../firmware/hal/io';
import { Prng } from '../sim/prng';

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
  /** process.env overrides. */
  env?: Record<string, string>;
  /** Echo console output to this function as well (e.g. process.stdout.write). */
  tee?: (text: string) => void;
}

/** Why the device last stopped. */
export type StopReason = 'power-cut' | 'watchdog' | 'reboot' | 'load';

interface Listener { fn: (...a: unknown[]) => void }

class Emitter {
  protected handlers: Record<string, Listener[]> = {};
  on(ev: string, fn: (...a: unknown[]) => void): void {
    if (typeof fn !== 'function') throw new TypeError(`on("${ev}"): callback expected a function`);
    (this.handlers[ev] ??= []).push({ fn });
  }
  addListener(ev: string, fn: (...a: unknown[]) => void): void { this.on(ev, fn); }
  removeListener(ev: string, fn: (...a: unknown[]) => void): void {
    const l = this.handlers[ev];
    if (l) this.handlers[ev] = l.filter((x) => x.fn !== fn);
  }
  removeAllListeners(ev?: string): void {
    if (ev === undefined) this.handlers = {};
    else delete this.handlers[ev];
  }
  listenerCount(ev: string): number { return this.handlers[ev]?.length ?? 0; }
  emit(ev: string, ...args: unknown[]): boolean {
    const l = this.handlers[ev];
    if (!l || l.length === 0) return false;
    for (const x of [...l]) x.fn(...args);
    return true;
  }
}

const PIN_NAMES = Array.from({ length: 40 }, (_, i) => `D${i}`);

/** Espruino-like printing of a value for console.log and "=result". */
export function formatValue(v: unknown, quoteStrings: boolean, depth = 0): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'string') return quoteStrings ? JSON.stringify(v) : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'function') return 'function () { [code] }';
  if (depth > 4) return '...';
  if (ArrayBuffer.isView(v)) {
    const name = Object.prototype.toString.call(v).slice(8, -1);
    return `new ${name}([${Array.from(v as unknown as ArrayLike<number>).join(', ')}])`;
  }
  if (Array.isArray(v)) return '[ ' + v.map((x) => formatValue(x, true, depth + 1)).join(', ') + ' ]';
  if (typeof v === 'object') {
    if (v instanceof Error || Object.prototype.toString.call(v) === '[object Error]') return String(v);
    const keys = Object.keys(v as object);
    if (keys.length === 0) return '{ }';
    return '{\n' + keys.map((k) => `  ${JSON.stringify(k).slice(1, -1)}: ${formatValue((v as Record<string, unknown>)[k], true, depth + 1)}`).join(',\n') + '\n }';
  }
  return String(v);
}

/** One power-on of the device: everything here dies with a power cut. */
class Session {
  ctx!: vm.Context;
  dead = false;
  wallOffsetMs: number; // device wall = clock.now() + offset; 0 wall at boot = 1970
  watchdog: { timeoutMs: number; auto: boolean; lastKick: number } | undefined;
  readonly E = new Emitter();
  readonly process = new Emitter();
  readonly serials: Record<string, SerialPort> = {};
  watches: { id: number; pin: string; edge: string; repeat: boolean; fn: (e: unknown) => void; last: number; lastTime: number }[] = [];
  nextWatch = 1;
  errorFlags: string[] = [];
  savedCode: string[] = [];
  wifi?: WifiModule;
  constructor(readonly boot: number, readonly clock: VirtualClock) {
    this.wallOffsetMs = -clock.now();
  }
}

class SerialPort extends Emitter {
  baud = 0;
  options: Record<string, unknown> = {};
  constructor(private readonly dev: EmulatedDevice, private readonly session: Session, readonly name: string, private readonly io: SerialIO | undefined) { super(); }
  setup(baud: number, options?: Record<string, unknown>): void {
    this.dev.alive(this.session);
    this.baud = baud;
    this.options = options ?? {};
  }
  write(...args: unknown[]): void {
    this.dev.alive(this.session);
    const bytes = toBytes(args.length === 1 ? args[0] : args);
    if (!this.io) return; // nothing wired on this port: bytes go nowhere, as on a bare pin
    this.io.write(bytes);
  }
  print(s: unknown): void { this.write(String(s)); }
  println(s: unknown): void { this.write(String(s) + '\r\n'); }
  /** Pulls bytes from the wire into 'data' events (the idle loop of the real board). */
  poll(): void {
    if (!this.io) return;
    const b = this.io.read();
    if (b && b.length) {
      if (this.listenerCount('data') === 0) return;
      this.emit('data', bytesToBinaryString(b));
    }
  }
}

class WifiModule extends Emitter implements NetworkListener {
  status: 'off' | 'connecting' | 'connected' | 'no_ap_found' | 'wrong_password' = 'off';
  ssid = '';
  password = '';
  hostname = 'espruino';
  sntp: { server: string; zone: string } | undefined;
  private sntpTimer = 0;
  private connectTimer = 0;
  constructor(private readonly dev: EmulatedDevice, private readonly session: Session) {
    super();
    dev.network?.subscribe(this);
  }
  detach(): void { this.dev.network?.unsubscribe(this); }
  onNetworkChange(up: boolean): void {
    if (!up && this.status === 'connected') {
      this.status = 'off';
      this.dev.later(this.session, () => this.emit('disconnected', { reason: 'beacon_timeout', ssid: this.ssid }));
    }
  }
  connect(ssid: string, options: { password?: string } | undefined, cb?: (err: string | null) => void): void {
    this.dev.alive(this.session);
    this.ssid = String(ssid);
    this.password = options?.password ?? '';
    this.status = 'connecting';
    const net = this.dev.network;
    if (this.connectTimer) this.dev.clearTimer(this.connectTimer);
    this.connectTimer = this.dev.later(this.session, () => {
      this.connectTimer = 0;
      const err = net ? net.joinError(this.ssid, this.password) : 'no_ap_found';
      if (err) {
        this.status = err as WifiModule['status'];
        if (cb) cb(err);
        this.emit('disconnected', { reason: err, ssid: this.ssid });
        return;
      }
      this.status = 'connected';
      if (cb) cb(null);
      this.emit('connected', { ip: '192.168.4.' + (10 + (this.session.boot % 200)) });
      this.scheduleSntp(200);
    }, net?.associateMs ?? 1500);
  }
  disconnect(cb?: () => void): void {
    this.dev.alive(this.session);
    const was = this.status === 'connected';
    this.status = 'off';
    if (this.connectTimer) { this.dev.clearTimer(this.connectTimer); this.connectTimer = 0; }
    this.dev.later(this.session, () => {
      if (cb) cb();
      if (was) this.emit('disconnected', { reason: 'assoc_leave', ssid: this.ssid });
    });
  }
  getStatus(cb?: (s: unknown) => void): unknown {
    const s = { mode: 'STA', station: this.status, ap: 'disabled', phy: '11n', powersave: 'none', savedMode: 'off' };
    if (cb) this.dev.later(this.session, () => cb(s));
    return s;
  }
  getDetails(cb?: (s: unknown) => void): unknown {
    const s = { status: this.status, ssid: this.ssid };
    if (cb) this.dev.later(this.session, () => cb(s));
    return s;
  }
  getIP(cb?: (err: unknown, ip: unknown) => void): unknown {
    const ip = { ip: this.status === 'connected' ? '192.168.4.' + (10 + (this.session.boot % 200)) : '0.0.0.0', netmask: '255.255.255.0', gw: '192.168.4.1', mac: this.dev.mac };
    if (cb) this.dev.later(this.session, () => cb(null, ip));
    return ip;
  }
  setHostname(h: string): void { this.hostname = String(h); }
  stopAP(cb?: () => void): void { if (cb) this.dev.later(this.session, cb); }
  save(): void { /* the firmware keeps its own settings; nothing to do */ }
  /** ESP32 build: setSNTP(server, zone) starts the IDF SNTP client (polls hourly). */
  setSNTP(server: string, zone: string): void {
    this.sntp = { server: String(server), zone: String(zone) };
    if (this.status === 'connected') this.scheduleSntp(200);
  }
  private scheduleSntp(ms: number): void {
    if (!this.sntp) return;
    if (this.sntpTimer) this.dev.clearTimer(this.sntpTimer);
    this.sntpTimer = this.dev.later(this.session, () => {
      this.sntpTimer = 0;
      if (this.status === 'connected' && this.dev.network?.up) {
        this.session.wallOffsetMs = this.dev.clock.trueWallMs() - this.dev.clock.now() + this.dev.clockSkewMs;
        this.scheduleSntp(3600000);
      } else {
        this.scheduleSntp(15000);
      }
    }, ms);
  }
}

export class EmulatedDevice {
  readonly clock: VirtualClock;
  readonly flash: EmuFlashLike;
  readonly network?: EmuNetwork;
  readonly console: EspruinoConsole;
  readonly name: string;
  readonly mac: string;
  /** Added to the true time when SNTP sets the clock (tests of a lying time server). */
  clockSkewMs = 0;
  /** Every power-on so far (1 after the first boot). */
  boots = 0;
  /** Why each stop happened, in order. */
  stops: { at: number; reason: StopReason }[] = [];
  /** Errors no handler caught (printed "Uncaught ..." like Espruino). */
  uncaught: unknown[] = [];
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
    this.console.start('\r\n ____                 _\r\n|  __|___ ___ ___ _ _|_|___ ___\r\n(emulated) 2v25 ESP32\r\n\r\n');
    this.runBootCode(s);
  }

  /** Cuts power now: RAM, timers and the radio are gone; flash keeps what was written. */
  powerCut(reason: StopReason = 'power-cut'): void {
    const s = this.session;
    if (!s || s.dead) return;
    s.dead = true;
    s.wifi?.detach();
    this.clock.clearOwner(s);
    this.stops.push({ at: this.clock.now(), reason });
    this.console.print(`\r\n[power ${reason}]\r\n`);
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
    this.pollWatches(s);
    const w = s.watchdog;
    if (w && !w.auto && this.clock.now() - w.lastKick > w.timeoutMs) {
      this.powerCut('watchdog');
    }
  }

  private pinLevel(pin: string): number {
    if (pin in this.buttonLevels) return this.buttonLevels[pin];
    const io = this.opts.inputs?.[pin];
    return io ? io.read() : 1; // unconnected inputs read high (pull-up)
  }

  private pollWatches(s: Session): void {
    for (const w of [...s.watches]) {
      const v = this.pinLevel(w.pin);
      if (v === w.last) continue;
      const prev = w.last;
      w.last = v;
      const fire = w.edge === 'both' || (w.edge === 'falling' && prev === 1 && v === 0) || (w.edge === 'rising' && prev === 0 && v === 1);
      if (!fire) continue;
      const time = this.deviceTime(s);
      const ev = { state: v === 1, time, lastTime: w.lastTime, pin: w.pin };
      w.lastTime = time;
      if (!w.repeat) s.watches = s.watches.filter((x) => x !== w);
      this.stats.watchCalls++;
      try {
        w.fn(ev);
      } catch (err) {
        this.uncaughtIn(s, err);
      }
      if (s.dead) return;
    }
    // The callbacks may have changed the levels themselves (an interrupt handler that
    // empties the chip releases its INT line): what they leave is the new reference, so
    // the next fall is seen as an edge.
    for (const w of s.watches) w.last = this.pinLevel(w.pin);
  }

  private deviceTime(s: Session): number {
    return (this.clock.now() + s.wallOffsetMs) / 1000;
  }

  private uncaughtIn(s: Session, err: unknown): void {
    if (s.dead) return;
    if (isPowerCut(err) || this.flash.dead) {
      this.powerCut('power-cut');
      return;
    }
    if (s.process.listenerCount('uncaughtException') > 0) {
      try {
        s.process.emit('uncaughtException', err);
        return;
      } catch (err2) {
        err = err2;
      }
    }
    this.uncaught.push(err);
    this.console.print(formatUncaught(err) + '\n');
  }

  private evalConsole(code: string): { value?: unknown; error?: unknown } {
    const s = this.session;
    if (!s || s.dead) return { error: new Error('device is not powered') };
    try {
      const value = vm.runInContext(code, s.ctx, { filename: 'REPL' });
      s.savedCode.push(code);
      return { value };
    } catch (err) {
      if (isPowerCut(err) || this.flash.dead) {
        this.powerCut('power-cut');
        return { value: undefined };
      }
      return { error: err };
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

    const print = (...args: unknown[]): void => {
      dev.console.print(args.map((a) => formatValue(a, false)).join(' ') + '\n');
    };
    const u8 = (b: Uint8Array): Uint8Array => { const u = new CtxUint8Array(b.length); u.set(b); return u; };

    const timers = {
      setTimeout(fn: unknown, ms?: number, ...args: unknown[]): number {
        dev.alive(s);
        if (typeof fn !== 'function') throw new TypeError('setTimeout: function expected');
        return clock.setTimeout(() => (fn as (...a: unknown[]) => void)(...args), ms ?? 0, s);
      },
      setInterval(fn: unknown, ms?: number, ...args: unknown[]): number {
        dev.alive(s);
        if (typeof fn !== 'function') throw new TypeError('setInterval: function expected');
        return clock.setInterval(() => (fn as (...a: unknown[]) => void)(...args), ms ?? 0, s);
      },
      clearTimeout(id?: number): void { if (id !== undefined) clock.clear(id); else clock.clearOwner(s); },
      clearInterval(id?: number): void { if (id !== undefined) clock.clear(id); else clock.clearOwner(s); },
    };

    const E = Object.assign(s.E, {
      hwRand: (): number => hw.u32() | 0,
      enableWatchdog(timeout: number, isAuto?: boolean): void {
        if (!(timeout > 0)) throw new Error('enableWatchdog: timeout (s) expected > 0');
        s.watchdog = { timeoutMs: timeout * 1000, auto: isAuto !== false, lastKick: clock.now() };
      },
      kickWatchdog(): void { if (s.watchdog) s.watchdog.lastKick = clock.now(); },
      getErrorFlags(): string[] { const f = s.errorFlags; s.errorFlags = []; return f; },
      toString(...args: unknown[]): string { return bytesToBinaryString(toBytes(args.length === 1 ? args[0] : args)); },
      toUint8Array(...args: unknown[]): Uint8Array { return u8(toBytes(args.length === 1 ? args[0] : args)); },
      toArrayBuffer(str: string): ArrayBuffer { return u8(toBytes(str)).buffer as ArrayBuffer; },
      setBootCode(code: string): void { storage.write('.bootcde', code); },
      reboot(): void { dev.restart('reboot', true); },
      getSizeOf(): number { return 0; },
      getAddressOf(): number { return 0; },
      getTemperature(): number { return 40; },
    });

    const env = {
      VERSION: '2v25',
      GIT_COMMIT: 'c5ff787b',
      BOARD: 'ESP32',
      RAM: 520192,
      FLASH: 0,
      STORAGE: 0,
      SERIAL: this.mac.replace(/:/g, ''),
      CONSOLE: 'Serial1',
      MODULES: 'Flash,Storage,heatshrink,fs,net,dgram,http,NetworkJS,Wifi,ESP32,TelnetServer,crypto,neopixel',
      EXPTR: 0,
      EMULATED: 1,
      ...this.opts.env,
    };
    const proc = Object.assign(s.process, {
      env,
      version: '2v25',
      memory(): object {
        // Espruino counts 16-byte variables; the emulator cannot see them. This is the
        // source size of what was loaded divided by a typical bytes-per-variable, a rough
        // stand-in so that code checking memory has something plausible, never a measure.
        const code = s.savedCode.reduce((n, c) => n + c.length, 0);
        const total = 16383;
        const usage = Math.min(total, Math.ceil(code / 24));
        return { free: total - usage, usage, total, history: 0, gc: 0, gctime: 0, blocksize: 16 };
      },
    });

    const storage = storageApi({
      flash: this.flash,
      Uint8Array: CtxUint8Array,
      guard: () => dev.alive(s),
      onError: (err) => { if (isPowerCut(err)) dev.powerCut('power-cut'); },
    }) as { write(n: string, d: unknown): boolean };

    const hash = (alg: string) => (data: unknown): ArrayBuffer => u8(new Uint8Array(createHash(alg).update(toBytes(data)).digest())).buffer as ArrayBuffer;
    const crypto = { SHA1: hash('sha1'), SHA224: hash('sha224'), SHA256: hash('sha256'), SHA384: hash('sha384'), SHA512: hash('sha512') };

    const http = {
      request(options: Record<string, unknown> | string, cb?: (res: unknown) => void): unknown {
        dev.alive(s);
        const o = typeof options === 'string' ? urlParse(options) : options;
        const req = new Emitter() as Emitter & Record<string, unknown>;
        const chunks: Uint8Array[] = [];
        let ended = false;
        req.write = (d: unknown): boolean => { if (ended) throw new Error('http: write after end'); chunks.push(toBytes(d)); return true; };
        req.end = (d?: unknown): void => {
          if (ended) return;
          ended = true;
          if (d !== undefined) chunks.push(toBytes(d));
          send();
        };
        function send(): void {
          const wifiUp = s.wifi?.status === 'connected' && dev.network?.up;
          if (!wifiUp || !dev.network) {
            dev.later(s, () => req.emit('error', new Error('Not connected')), 10);
            return;
          }
          const body = toBytes(chunks);
          const protocol = String(o.protocol ?? 'http:');
          const host = String(o.host ?? o.hostname ?? '');
          const url = `${protocol}//${host}${o.port ? ':' + o.port : ''}${String(o.path ?? '/')}`;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries((o.headers as Record<string, unknown>) ?? {})) headers[k.toLowerCase()] = String(v);
          dev.network.request({ method: String(o.method ?? 'GET'), url, headers, body }).then(
            (r) => dev.later(s, () => {
              const res = new Emitter() as Emitter & Record<string, unknown>;
              res.statusCode = String(r.status);
              res.statusMessage = r.status < 400 ? 'OK' : 'Error';
              res.headers = r.headers ?? {};
              res.httpVersion = '1.1';
              if (cb) cb(res);
              const b = typeof r.body === 'string' ? r.body : bytesToBinaryString(r.body ?? new Uint8Array(0));
              if (b.length) res.emit('data', b);
              res.emit('end');
              res.emit('close');
            }),
            (err: unknown) => dev.later(s, () => req.emit('error', new Error(err instanceof Error ? err.message : String(err)))),
          );
        }
        return req;
      },
      get(options: Record<string, unknown> | string, cb?: (res: unknown) => void): unknown {
        const r = http.request(options, cb) as { end(): void };
        r.end();
        return r;
      },
    };

    function urlParse(u: string): Record<string, unknown> {
      const x = new URL(String(u));
      const query = x.search ? x.search.slice(1) : null;
      return { method: 'GET', host: x.hostname, path: x.pathname + x.search, pathname: x.pathname, search: x.search || null, port: x.port ? Number(x.port) : 80, query, protocol: x.protocol };
    }

    const modules: Record<string, unknown> = { Storage: storage, crypto, http };
    modules.Wifi = (() => { s.wifi ??= new WifiModule(dev, s); return s.wifi; })();
    modules.Flash = {
      getFree: (): unknown[] => [],
      read: (): never => { throw new Error('Flash: raw access is not emulated; use Storage'); },
    };
    const loaded: Record<string, unknown> = {};
    function requireModule(name: string): unknown {
      dev.alive(s);
      const n = String(name);
      if (n in modules) return modules[n];
      if (n in loaded) return loaded[n];
      // Espruino looks for a module in Storage when it is not built in.
      const src = (storage as unknown as { read(n: string): string | undefined }).read(n);
      if (src === undefined) throw new Error(`Module ${n} not found`);
      const fn = vm.runInContext(`(function(exports, module){${src}\n})`, ctx, { filename: n }) as (e: unknown, m: unknown) => void;
      const module = { exports: {} as unknown };
      fn(module.exports, module);
      loaded[n] = module.exports;
      return module.exports;
    }

    const pins: Record<string, unknown> = {};
    for (const p of PIN_NAMES) {
      pins[p] = {
        name: p,
        read: (): boolean => dev.pinLevel(p) === 1,
        write: (v: unknown): void => { outputs[p] = v ? 1 : 0; },
        set: (): void => { outputs[p] = 1; },
        reset: (): void => { outputs[p] = 0; },
        mode: (): void => { /* modes do not matter to the emulator */ },
        toString: (): string => p,
      };
    }
    const outputs: Record<string, number> = (dev.pinOutputs = {});
    const pinName = (pin: unknown): string => {
      if (typeof pin === 'string') return pin;
      if (pin && typeof pin === 'object' && 'name' in pin) return String((pin as { name: string }).name);
      if (typeof pin === 'number') return `D${pin}`;
      throw new Error(`not a pin: ${String(pin)}`);
    };

    for (const name of ['Serial1', 'Serial2', 'Serial3']) {
      s.serials[name] = new SerialPort(dev, s, name, this.opts.serial?.[name]);
    }
    const spis: Record<string, unknown> = {};
    for (const name of ['SPI1', 'SPI2']) {
      const io = this.opts.spi?.[name];
      spis[name] = {
        setup(): void { dev.alive(s); },
        send(data: unknown, cs?: unknown): unknown {
          dev.alive(s);
          if (!io) throw new Error(`${name}: nothing wired`);
          void cs;
          // SpiIO.transfer returns fresh bytes and keeps nothing of its input: no copy in.
          const out = io.transfer(bytesView(data));
          if (typeof data === 'string') return bytesToBinaryString(out);
          if (typeof data === 'number') return out[0];
          return u8(out);
        },
        write(...args: unknown[]): void {
          dev.alive(s);
          if (io) io.transfer(toBytes(args));
        },
      };
    }

    const wall = (): number => clock.now() + s.wallOffsetMs;

    Object.assign(sandbox, {
      ...timers,
      ...pins,
      ...spis,
      ...s.serials,
      E,
      process: proc,
      require: requireModule,
      console: { log: print, warn: print, error: print, info: print, debug: print },
      print,
      getTime: (): number => wall() / 1000,
      // The ESP32's RNG_DATA_REG (ESP32 TRM "Random Number Generator"), the board's strong
      // entropy source (firmware/hal/espruino/system.ts); other addresses are not emulated.
      peek32: (addr: number): number => {
        if (addr === 0x3ff75144) return hw.u32() >>> 0;
        throw new Error(`emulator: peek32(0x${(addr >>> 0).toString(16)}) is not an emulated register`);
      },
      setTime: (sec: number): void => { s.wallOffsetMs = sec * 1000 - clock.now(); },
      __emuWallMs: wall,
      digitalRead: (pin: unknown): number => dev.pinLevel(pinName(pin)),
      digitalWrite: (pin: unknown, v: unknown): void => { outputs[pinName(pin)] = v ? 1 : 0; },
      pinMode: (): void => { /* emulated pins need no mode */ },
      setWatch(fn: unknown, pin: unknown, opts?: { edge?: string | number; repeat?: boolean } | boolean): number {
        dev.alive(s);
        if (typeof fn !== 'function') throw new TypeError('setWatch: function expected');
        const o = typeof opts === 'object' && opts ? opts : { repeat: !!opts };
        const edge = o.edge === 'falling' || o.edge === -1 ? 'falling' : o.edge === 'rising' || o.edge === 1 ? 'rising' : 'both';
        const p = pinName(pin);
        const id = s.nextWatch++;
        s.watches.push({ id, pin: p, edge, repeat: !!o.repeat, fn: fn as (e: unknown) => void, last: dev.pinLevel(p), lastTime: 0 });
        return id;
      },
      clearWatch(id?: number): void { s.watches = id === undefined ? [] : s.watches.filter((w) => w.id !== id); },
      reset(clearFlash?: boolean): void {
        if (clearFlash) (storage as unknown as { erase(n: string): void }).erase('.bootcde');
        dev.restart('reboot', false);
        dev.clock.setTimeout(() => { if (!dev.running) dev.powerOnBare(); }, 0);
      },
      save(): void {
        // The real save() snapshots RAM; the emulator stores the code typed since the last
        // reset(), which re-creates the same state when run at boot.
        storage.write('.bootcde', s.savedCode.filter((c) => !/^\s*save\(\)\s*;?\s*$/.test(c)).join('\n'));
      },
      load(): void { dev.restart('load', true); },
      echo(on: unknown): void { dev.console.setEcho(!!on); },
      atob: (b: string): string => Buffer.from(String(b), 'base64').toString('latin1'),
      btoa: (t: string): string => Buffer.from(String(t), 'latin1').toString('base64'),
      url: { parse: urlParse },
      global: undefined as unknown,
    });
    sandbox.global = ctx;
    // Date follows the device wall clock (1970 at boot until setTime or SNTP).
    vm.runInContext(
      `(function(){var D=Date,w=__emuWallMs;function ED(a,b,c,d,e,f,g){var n=arguments.length;` +
        `if(!(this instanceof ED))return new D(w()).toString();if(n===0)return new D(w());if(n===1)return new D(a);` +
        `return new D(a,b,c===undefined?1:c,d||0,e||0,f||0,g||0);}ED.now=function(){return w()};ED.UTC=D.UTC;ED.parse=D.parse;` +
        `ED.prototype=D.prototype;Date=ED;})()`,
      ctx,
    );
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
