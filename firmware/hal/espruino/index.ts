// Everything the application needs from the board, built from the board description:
// the only entry into firmware/hal/espruino for firmware/app. On Node the same bundle
// gets the same objects from host-tools/emu, which emulates the Espruino globals below it.
import type { Board } from './board';
import type { DigitalInIO, SerialClass, SpiIO } from '../io';
import type { FlashStore } from '../flash';
import { esp } from './api';
import { vescSerialClass } from './serial';
import { digitalIn, mcp2515Spi, statusLed } from './spi';
import { espruinoTime, EspruinoTime } from './time';
import { espruinoFlash } from './storage';
import { espruinoNet, EspruinoNet } from './net';
import { loadEd25519, Ed25519Load } from './ed25519';
import { memoryUsage, nativeSha256, nativeSha512, onLastWords, randomBytes, startWatchdog, Watchdog, interpreterVersion, entropySources } from './system';
import type { EntropySource } from '../../keys/keystore';

export interface Hal {
  board: Board;
  VescSerial: SerialClass;
  /** The MCP2515's SPI and INT pin; undefined when the board reaches CAN through the VESC. */
  canSpi: SpiIO | undefined;
  canInt: ((onFall?: () => void) => DigitalInIO) | undefined;
  led: { set(on: boolean): void };
  button: ((onFall: () => void) => DigitalInIO) | undefined;
  time: EspruinoTime;
  flash: FlashStore;
  net: EspruinoNet;
  randomBytes(n: number): Uint8Array;
  rand32(): number;
  /** What the device key is made from (./system.ts). */
  entropy(): EntropySource[];
  sha256: ((d: Uint8Array) => Uint8Array) | undefined;
  sha512: ((d: Uint8Array) => Uint8Array) | undefined;
  /** Ed25519 from the Storage module "ed25519" (./ed25519.ts); call once at boot. */
  loadEd25519(): Ed25519Load;
  startWatchdog(timeoutS: number): Watchdog;
  /** Records uncaught errors; resets after them where the board can (board.espruino.reboot). */
  onLastWords(record: (kind: 'errorFlag' | 'uncaught', detail: string) => void, resetAfterMs: number): void;
  memory(): { free: number; usage: number; total: number };
  interpreter: string;
  print(s: string): void;
  /** Makes `value` a global of the console (the `deep` object, `faults`). */
  exposeConsole(name: string, value: unknown): void;
}

declare var global: Record<string, unknown>;

export function createHal(board: Board): Hal {
  var can = board.can;
  var rand32 = function (): number { return esp.E().hwRand(); };
  var sha512 = nativeSha512();
  return {
    board: board,
    VescSerial: vescSerialClass(board),
    canSpi: can.via === 'mcp2515' ? mcp2515Spi(can) : undefined,
    canInt: can.via === 'mcp2515' ? (function (pin: string) {
      return function (onFall?: () => void): DigitalInIO { return digitalIn(pin, onFall ? { onFall: onFall } : undefined); };
    })(can.int) : undefined,
    led: statusLed(board.led),
    button: board.button ? (function (pin: string) {
      return function (onFall: () => void): DigitalInIO { return digitalIn(pin, { onFall: onFall }); };
    })(board.button) : undefined,
    time: espruinoTime(),
    flash: espruinoFlash(),
    net: espruinoNet(rand32),
    randomBytes: randomBytes,
    rand32: rand32,
    entropy: function (): EntropySource[] { return entropySources(board); },
    sha256: nativeSha256(),
    sha512: sha512,
    loadEd25519: function (): Ed25519Load { return loadEd25519(sha512); },
    startWatchdog: startWatchdog,
    onLastWords: function (record: (kind: 'errorFlag' | 'uncaught', detail: string) => void, resetAfterMs: number): void {
      onLastWords(record, resetAfterMs, board.espruino.reboot);
    },
    memory: memoryUsage,
    interpreter: interpreterVersion(),
    print: esp.log,
    exposeConsole: function (name: string, value: unknown): void { global[name] = value; },
  };
}
