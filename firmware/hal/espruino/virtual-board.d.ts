// `import board from 'virtual:board'`: the JSON of the board being built (rollup.config.js
// resolves it to boards/NAME.json, which boards/schema.json describes). A script file (no
// imports) so that the ambient module can name the global interfaces below.
declare module 'virtual:board' {
  const board: DeepBoard;
  export default board;
}

interface DeepBoardVesc {
  uart: string;
  tx?: string;
  rx?: string;
  /** Linux builds: device file of the UART. */
  path?: string;
  baud: number;
}

interface DeepBoardCanMcp2515 {
  via: 'mcp2515';
  spi: string;
  sck: string;
  miso: string;
  mosi: string;
  cs: string;
  int: string;
  spiBaud?: number;
  crystalHz: 8000000 | 16000000;
  bitrate: number;
}

interface DeepBoardCanVesc {
  via: 'vesc';
}

/** The Espruino build the board runs (boards/schema.json "espruino"). */
interface DeepBoardEspruino {
  /** process.env.BOARD of the build. */
  build: string;
  /** Built-in modules (process.env.MODULES); require() of any other name needs a Storage file. */
  modules: string[];
  /** E.reboot() restarts the interpreter (false on Linux: it prints "Not implemented" and exits). */
  reboot: boolean;
}

interface DeepBoard {
  name: string;
  description: string;
  espruino: DeepBoardEspruino;
  vesc: DeepBoardVesc;
  can: DeepBoardCanMcp2515 | DeepBoardCanVesc;
  bms?: { ids?: number[] };
  led: string | null;
  button: string | null;
  /** Strong entropy source for the device key (boards/schema.json). */
  rng?: 'esp32-rng-register' | 'os-random-device';
}
