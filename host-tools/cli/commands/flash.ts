// `deep flash`: build the firmware for a board, upload it through the Espruino CLI library
// to the board's Storage (runs at every boot), then check the board answers with the
// firmware version just built. Makers run this once per board.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs, UsageError, intOption } from '../args';
import { EXIT, type Command } from '../command';
import { build, checkBoard, ROOT, DIST } from '../../build/build';
import { openLink, DeviceConsole, PortError } from '../../testnet/device-link';
import { deviceInfo } from '../../pairing/pair';
import { uploadToFlash, espruinoLog } from '../../testnet/upload';

/** FIRMWARE_VERSION as declared in the firmware sources (what the device will report). */
export function expectedFirmwareVersion(dir = path.join(ROOT, 'firmware')): string {
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const name of readdirSync(d)) {
      const f = path.join(d, name);
      if (statSync(f).isDirectory()) stack.push(f);
      else if (name.endsWith('.ts')) {
        const m = /FIRMWARE_VERSION\s*=\s*['"]([^'"]+)['"]/.exec(readFileSync(f, 'utf8'));
        if (m) return m[1];
      }
    }
  }
  throw new Error('no FIRMWARE_VERSION = "x.y.z" found under firmware/');
}

function bar(sent: number, total: number): string {
  const pct = total ? Math.floor((sent * 100) / total) : 0;
  const n = Math.floor(pct / 5);
  return `[${'#'.repeat(n)}${' '.repeat(20 - n)}] ${String(pct).padStart(3)}% ${sent}/${total} bytes`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const command: Command = {
  name: 'flash',
  summary: 'build the firmware and upload it to a board running Espruino, saved to flash',
  usage: 'deep flash --port PATH|tcp://HOST:PORT [--board NAME] [options]',
  options: {
    board: { type: 'string', description: 'board file boards/NAME.json', default: 'esp32-devkitc' },
    port: { type: 'string', description: 'serial port (/dev/ttyUSB0) or tcp://host:port of the Espruino console' },
    baud: { type: 'string', description: 'serial speed', default: '115200' },
    throttle: { type: 'string', description: "paced writes: on (UARTs without flow control), off, auto (the Espruino CLI's choice on serial, off over tcp)", default: 'auto' },
    'skip-build': { type: 'boolean', description: 'upload the existing dist/firmware.js without rebuilding' },
    'boot-timeout': { type: 'string', description: 'seconds to wait for the device to answer after the upload', default: '20' },
    verbose: { type: 'boolean', description: 'print the Espruino CLI library log' },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const port = p.options.port as string | undefined;
    if (!port) throw new UsageError('--port is required (a serial port such as /dev/ttyUSB0, or tcp://host:port)');
    const baud = intOption(p, 'baud', 300, 4_000_000)!;
    const bootTimeoutS = intOption(p, 'boot-timeout', 1, 600)!;
    const throttleOpt = p.options.throttle as string;
    if (!['auto', 'on', 'off'].includes(throttleOpt)) throw new UsageError(`--throttle expected auto, on or off, got "${throttleOpt}"`);
    // Over TCP (the board's telnet console, the emulator) TCP does the flow control.
    const throttle = (throttleOpt === 'auto' && port.startsWith('tcp://') ? 'off' : throttleOpt) as 'auto' | 'on' | 'off';
    const err = (s: string) => process.stderr.write(s);

    let code = '';
    if (p.options['skip-build']) {
      try {
        code = readFileSync(path.join(DIST, 'firmware.js'), 'latin1');
      } catch {
        err('deep flash: no dist/firmware.js to upload; run without --skip-build\n');
        return EXIT.IO;
      }
    } else checkBoard(p.options.board as string);
    const expected = expectedFirmwareVersion();

    try {
      // 1. Is there an Espruino console on this port? (missing / busy / not Espruino)
      // Asked before the build, which takes a minute on a small machine: a board that is
      // not plugged in is reported at once.
      let link = await openLink(port, { baud });
      try {
        const env = await new DeviceConsole(link).identify();
        err(`found Espruino ${env.VERSION} on ${env.BOARD} at ${port}\n`);
      } finally {
        await link.close();
      }

      if (!p.options['skip-build']) {
        // Only what goes on the board: the firmware and the signer module it loads.
        const r = await build({ board: p.options.board as string, bundles: ['firmware', 'ed25519-module'], log: (line) => err(`building ${line}\n`) });
        code = readFileSync(path.join(DIST, 'firmware.js'), 'latin1');
        err(`built dist/firmware.js for ${r.board}: ${r.firmwareBytes} bytes\n`);
      }

      // 2. Upload and save through the Espruino CLI library.
      let lastPct = -1;
      const tty = process.stderr.isTTY === true;
      // The Ed25519 signer lives in Storage as module "ed25519" (firmware/hal/espruino/ed25519.ts).
      const storage = { ed25519: readFileSync(path.join(DIST, 'ed25519-module.js'), 'latin1') };
      await uploadToFlash(code, {
        port, baud, throttle, storage,
        onProgress(sent, total) {
          const pct = total ? Math.floor((sent * 100) / total) : 0;
          if (pct === lastPct) return;
          if (tty) err(`\ruploading ${bar(sent, total)}`);
          else if (pct % 25 === 0 || sent === total) err(`uploading ${bar(sent, total)}\n`);
          lastPct = pct;
        },
      });
      if (tty) err('\n');
      err('saved to flash (.bootcde), rebooting into it\n');

      // 3. The device must come back with the version just built.
      const deadline = Date.now() + bootTimeoutS * 1000;
      let lastErr: unknown;
      for (;;) {
        try {
          link = await openLink(port, { baud });
          try {
            const info = await deviceInfo(new DeviceConsole(link), 3000);
            const board = p.options.board as string;
            if (!p.options['skip-build'] && info.board !== undefined && info.board !== board) {
              err(`deep flash: the device runs firmware built for board ${info.board}, expected ${board}\n`);
              return EXIT.FAILED;
            }
            if (info.version !== expected) {
              err(`deep flash: the device answers firmware ${info.version}, expected ${expected}: the upload did not take\n`);
              return EXIT.FAILED;
            }
            process.stdout.write(`flashed: firmware ${info.version} running, device id ${info.id}\n`);
            return EXIT.OK;
          } finally {
            await link.close();
          }
        } catch (e) {
          lastErr = e;
          if (Date.now() > deadline) break;
          await sleep(500);
        }
      }
      err(`deep flash: the device did not answer with its firmware version within ${bootTimeoutS} s after the upload: ${(lastErr as Error)?.message}\n`);
      if (p.options.verbose) err(espruinoLog.join('\n') + '\n');
      return EXIT.FAILED;
    } catch (e) {
      if (p.options.verbose) err(espruinoLog.join('\n') + '\n');
      if (e instanceof PortError) {
        err(`deep flash: ${e.message}\n`);
        return EXIT.IO;
      }
      throw e;
    }
  },
};
export default command;
