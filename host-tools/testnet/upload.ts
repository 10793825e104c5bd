// Uploading a bundle through the Espruino CLI library (node_modules/espruino), the same code
// path as the Web IDE's "Save on Send: direct to flash": the bundle is written in 1 KiB
// chunks to Storage file `.bootcde` with `require("Storage").write(...)`, then `load()`
// reboots the interpreter into it, so it runs at every boot.
//
// The library is a browser application wrapped for Node: one global `Espruino`, callbacks,
// and a chatty console. We keep its console output in a log (shown on failure), and cut
// it off from the Internet: board JSON and module downloads are disabled, because the
// bundle is self-contained and a flash must work offline.
import { createRequire } from 'node:module';
import { parseTcpPort } from './device-link';

export interface UploadOptions {
  port: string;
  baud: number;
  /**
   * 'on': small paced writes for UARTs without flow control (the Espruino CLI's "slow
   * write"), 'off': full speed, 'auto': the library decides from the firmware version
   * (fast with XON/XOFF flow control on Espruino >= 1v43). Storage chunks are paced
   * (250 ms each, time for the flash write) unless 'off'.
   */
  throttle: 'auto' | 'on' | 'off';
  /** Called with bytes sent so far and the total. */
  onProgress?: (sent: number, total: number) => void;
  timeoutMs?: number;
  /** Storage files written before `.bootcde` in the same upload (the module "ed25519"). */
  storage?: Record<string, string>;
}

interface EspruinoGlobal {
  Config: Record<string, unknown>;
  Core: {
    Serial: {
      open(port: string, onOpen: (status: unknown) => void, onClose: () => void): void;
      close(): void;
      startListening(fn: (data: ArrayBuffer) => void): unknown;
      isConnected(): boolean;
      devices: SerialDevice[];
    };
    Status: unknown;
    Utils: Record<string, unknown>;
    CodeWriter: { writeToEspruino(code: string, cb: () => void): void };
    Env: { getData(): Record<string, unknown> };
  };
  callProcessor(name: string, data: unknown, cb: (out: string) => void): void;
}

interface SerialDevice {
  name: string;
  getPorts(cb: (ports: { path: string; description?: string }[] | undefined, instant?: boolean) => void): void;
  deepWrapped?: boolean;
}

let initialised: Promise<EspruinoGlobal> | undefined;
let currentSerialPath: string | undefined;
/** Lines the library printed, for diagnostics. */
export const espruinoLog: string[] = [];

/** Routes console output into espruinoLog until the returned function is called. */
function muteConsole(): () => void {
  const saved = { log: console.log, warn: console.warn, error: console.error, info: console.info };
  const keep = (...a: unknown[]) => { espruinoLog.push(a.map(String).join(' ')); };
  console.log = console.warn = console.error = console.info = keep;
  return () => { Object.assign(console, saved); };
}

function loadEspruino(): Promise<EspruinoGlobal> {
  initialised ??= new Promise((resolve) => {
    const require = createRequire(import.meta.url);
    {
      const lib = require('espruino') as { init(cb: () => void): void };
      lib.init(() => {
        const E = (globalThis as unknown as { Espruino: EspruinoGlobal }).Espruino;
        // Offline: no board JSON, no module downloads (the bundle carries everything).
        E.Core.Utils.getJSONURL = (_url: string, cb: (d: unknown) => void) => cb(undefined);
        E.Core.Utils.getURL = (_url: string, cb: (d: unknown) => void) => cb(undefined);
        E.Config.MODULE_URL = '';
        E.Config.BOARD_JSON_URL = '';
        // Serial and TCP only: the Bluetooth transports probe D-Bus and crash without it.
        E.Config.BLUETOOTH_LOW_ENERGY = false;
        E.Config.BLUETOOTH_LOW_ENERGY_DBUS = false;
        resolve(E);
      });
    }
  });
  return initialised;
}

/** Sends `code` to the device and saves it to flash; resolves when the upload completed. */
export async function uploadToFlash(code: string, opts: UploadOptions): Promise<void> {
  const unmute = muteConsole();
  try {
    await upload(await loadEspruino(), code, opts);
  } finally {
    unmute();
  }
}

async function upload(E: EspruinoGlobal, code: string, opts: UploadOptions): Promise<void> {
  const tcp = parseTcpPort(opts.port);
  Object.assign(E.Config, {
    BAUD_RATE: String(opts.baud),
    SERIAL_TCPIP: tcp ? [opts.port] : [],
    SAVE_ON_SEND: 1, // direct to flash: Storage ".bootcde", run at boot
    LOAD_STORAGE_FILE: 1, // then load() it
    RESET_BEFORE_SEND: true,
    MINIFICATION_LEVEL: '', // dist/firmware.js is already minified by `deep build`
    MODULE_MINIFICATION_LEVEL: '',
    PRETOKENISE: false,
    SET_TIME_ON_WRITE: false, // the device's time comes from SNTP only, never from a laptop
    SERIAL_THROTTLE_SEND: opts.throttle === 'auto' ? 0 : opts.throttle === 'on' ? 1 : 2,
    STORAGE_UPLOAD_METHOD: opts.throttle === 'off' ? 1 : 0,
    ENV_ON_CONNECT: true, // the device's process.env tells the tools which modules are built in
  });
  // The library finds serial ports through serialport.list(), which needs udev; a port we
  // were given by path (a pseudo-terminal, a container without udev) must be opened anyway.
  if (!tcp) {
    const dev = E.Core.Serial.devices.find((d) => d.name === 'Node Serial');
    if (!dev) throw new Error('the Espruino CLI library has no Node serial transport (is the serialport package installed?)');
    if (!dev.deepWrapped) {
      const list = dev.getPorts;
      dev.getPorts = (cb) => list((ports, instant) => {
        const have = (ports ?? []).some((x) => x.path === currentSerialPath);
        cb(have || !currentSerialPath ? ports : [...(ports ?? []), { path: currentSerialPath, description: 'given by --port' }], instant);
      });
      dev.deepWrapped = true;
    }
  }
  currentSerialPath = tcp ? undefined : opts.port;
  let total = 0;
  let sent = 0;
  E.Core.Status = {
    setStatus(_text: string, len?: number) {
      if (len) { total = len; sent = 0; opts.onProgress?.(0, total); }
    },
    hasProgress: () => total > 0,
    incrementProgress(n: number) {
      sent = Math.min(total, sent + n);
      opts.onProgress?.(sent, total);
    },
  };
  await new Promise<void>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => finish(new Error(`upload did not finish within ${(opts.timeoutMs ?? 300000) / 1000} s`)), opts.timeoutMs ?? 300000);
    function finish(err?: Error) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        if (E.Core.Serial.isConnected()) E.Core.Serial.close();
        reject(err);
      } else resolve();
    }
    {
      E.Core.Serial.startListening(() => {});
      E.Core.Serial.open(opts.port, (status) => {
        if (status === undefined) return finish(new Error(`the Espruino CLI could not open ${opts.port}`));
        {
          E.callProcessor('transformForEspruino', code, (transformed) => {
            if (!/require\("Storage"\)\.write\("\.bootcde"/.test(transformed)) {
              return finish(new Error('the Espruino CLI did not produce a flash upload (device reported no Storage support: Espruino older than 1v96?)'));
            }
            // Modules first, with the CLI's own Storage chunk writes (paced like .bootcde's).
            const files = Object.keys(opts.storage ?? {}).map((n) => (E.Core.Utils.getUploadFileCode as (f: string, c: string) => string)(n, opts.storage![n]) + '\n').join('');
            const at = transformed.indexOf('require("Storage").write(".bootcde"');
            if (files) transformed = transformed.slice(0, at) + files + transformed.slice(at);
            E.Core.CodeWriter.writeToEspruino(transformed, () => {
              opts.onProgress?.(total, total);
              // Give load() time to start before the port closes.
              setTimeout(() => E.Core.Serial.close(), 300);
            });
          });
        }
      }, () => finish());
    }
  });
}
