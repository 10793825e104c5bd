// The Espruino globals the HAL uses, typed once. This is the only file that names them;
// the other HAL files import from here. Declarations are module-scoped (`declare var` in a
// module), so host TypeScript never sees a global `E` or a second `process`.
// Reference: https://www.espruino.com/Reference (2v25), ESP32 and Linux builds.

export interface EspSerial {
  setup(baud: number, options?: { rx?: unknown; tx?: unknown; path?: string }): void;
  on(event: 'data', fn: (data: string) => void): void;
  removeAllListeners(event?: string): void;
  write(data: Uint8Array | string): void;
}

export interface EspSpi {
  setup(options: { sck?: unknown; miso?: unknown; mosi?: unknown; baud?: number; mode?: number }): void;
  send(data: Uint8Array, cs?: unknown): Uint8Array;
}

export interface EspStorage {
  read(name: string, offset?: number, length?: number): string | undefined;
  readArrayBuffer(name: string): ArrayBuffer | undefined;
  write(name: string, data: Uint8Array | string, offset?: number, size?: number): boolean;
  erase(name: string): void;
  list(): string[];
  getFree(): number;
  compact(): void;
}

export interface EspWifi {
  connect(ssid: string, options: { password?: string }, cb: (err: string | null) => void): void;
  disconnect(cb?: () => void): void;
  getStatus(): { station?: string };
  on(event: string, fn: (details: { reason?: string }) => void): void;
  setSNTP?(server: string, zone: string): void;
  setHostname?(name: string): void;
}

export interface EspHttpResponse {
  statusCode: string | number;
  on(event: 'data', fn: (data: string) => void): void;
  on(event: 'close' | 'end', fn: () => void): void;
  on(event: 'error', fn: (e: unknown) => void): void;
}

export interface EspHttpRequest {
  on(event: 'error', fn: (e: unknown) => void): void;
  on(event: 'timeout', fn: () => void): void;
  write(data: string): void;
  end(data?: string): void;
}

export interface EspHttp {
  request(options: { host: string; port: number; path: string; method: string; protocol?: string; headers?: Record<string, string | number> }, cb: (res: EspHttpResponse) => void): EspHttpRequest;
}

export interface EspCrypto {
  SHA256?(data: Uint8Array): ArrayBuffer;
  SHA512?(data: Uint8Array): ArrayBuffer;
}

export interface EspE {
  hwRand(): number;
  enableWatchdog(timeoutS: number, isAuto?: boolean): void;
  kickWatchdog(): void;
  on(event: string, fn: (arg: unknown) => void): void;
  getErrorFlags(): string[];
  toUint8Array(data: string | ArrayBuffer | Uint8Array): Uint8Array;
  toString(data: Uint8Array): string;
  /** A string read from Storage becomes a view of the flash it lives in (no copy). */
  toArrayBuffer(s: string): ArrayBuffer;
  /** Native dot product sum a[i] * b[(i + off) % b.length]; absent on SAVE_ON_FLASH builds. */
  convolve?(a: ArrayLike<number>, b: ArrayLike<number>, offset: number): number;
  reboot?(): void;
  /** FILESYSTEM builds (the Linux build): a file of the host. */
  openFile?(path: string, mode: string): { read(length: number): string | undefined; close(): void } | undefined;
}

export interface EspProcess {
  env: { VERSION?: string; BOARD?: string; MODULES?: string; EMULATED?: number };
  memory(): { free: number; usage: number; total: number };
  on(event: 'uncaughtException', fn: (e: unknown) => void): void;
}

declare var E: EspE;
declare var process: EspProcess;
declare var require: (name: string) => unknown;
declare var getTime: () => number;
declare var setWatch: (fn: (e: { state: boolean; time: number }) => void, pin: unknown, opts: { edge: string; repeat: boolean; debounce?: number }) => number;
declare var clearWatch: (id: number) => void;
declare var digitalRead: (pin: unknown) => number;
declare var digitalWrite: (pin: unknown, v: number) => void;
declare var pinMode: (pin: unknown, mode: string) => void;
declare var global: Record<string, unknown>;
declare var peek32: (addr: number) => number;
declare var console: { log(...a: unknown[]): void };
declare function setTimeout(fn: () => void, ms: number): number;
declare function clearTimeout(id: number): void;
declare function setInterval(fn: () => void, ms: number): number;

export var esp = {
  E: function (): EspE { return E; },
  process: function (): EspProcess { return process; },
  require: function (name: string): unknown { return require(name); },
  getTime: function (): number { return getTime(); },
  setWatch: function (fn: (e: { state: boolean; time: number }) => void, pin: unknown, opts: { edge: string; repeat: boolean; debounce?: number }): number { return setWatch(fn, pin, opts); },
  clearWatch: function (id: number): void { clearWatch(id); },
  digitalRead: function (pin: unknown): number { return digitalRead(pin); },
  digitalWrite: function (pin: unknown, v: number): void { digitalWrite(pin, v); },
  pinMode: function (pin: unknown, mode: string): void { pinMode(pin, mode); },
  setTimeout: function (fn: () => void, ms: number): number { return setTimeout(fn, ms); },
  clearTimeout: function (id: number): void { clearTimeout(id); },
  setInterval: function (fn: () => void, ms: number): number { return setInterval(fn, ms); },
  log: function (s: string): void { console.log(s); },
  peek32: function (addr: number): number { return peek32(addr); },
  /** A global by name: pins (`D17`), ports (`Serial2`), buses (`SPI2`). */
  named: function (name: string): unknown {
    var v = global[name];
    if (v === undefined) throw new Error('hal: this Espruino build has no "' + name + '"');
    return v;
  },
};

/**
 * A module built into this interpreter, or undefined when the build lacks it. The build's
 * own list (process.env.MODULES, e.g. "...,http,Wifi,ESP32,...") decides, not a
 * `try { require() }`: in Espruino a thrown error costs memory (its trace prints the source
 * line; see firmware/README.md), so no code path probes with exceptions.
 */
export function builtinModule(name: string): unknown {
  var env = process.env;
  var list = env && env.MODULES;
  if (typeof list !== 'string') return undefined;
  // Compared name by name: Espruino 2v29's String#indexOf answers a needle that is absent
  // but starts with the haystack's last character with that last position
  // (",a,b,".indexOf(",c,") === 4), so a ",Wifi," search "finds" Wifi in every list.
  var names = list.split(',');
  for (var i = 0; i < names.length; i++) if (names[i] === name) return require(name);
  return undefined;
}

/** A module stored in Storage (as `deep flash` puts "ed25519"), or undefined when absent. */
export function storageModule(name: string): unknown {
  var S = require('Storage') as EspStorage;
  // One byte only: on a build whose Storage is not memory-mapped a whole read is a copy.
  if (S.read(name, 0, 1) === undefined) return undefined;
  return require(name);
}
