// IO contracts between drivers and the hardware, in the style of ECMA-419 (see
// firmware/README.md): an IO object is made from one options object, validated before any
// hardware is touched; read() never waits and returns undefined when there is nothing;
// write() writes all or throws; callbacks come only from the options and never
// synchronously from a method; close() twice is harmless, anything else after it throws.
//
// firmware/hal/espruino implements these on Espruino (Serial2, SPI, pins, timers);
// host-tools/sim and host-tools/emu implement them on Node, so drivers never know which.

/** A byte stream: the VESC UART, a pseudo-terminal, a TCP socket. */
export interface SerialIO {
  /** Bytes received since the last read, or undefined when there are none. Never waits. */
  read(): Uint8Array | undefined;
  /** Queues all of `bytes` for transmission or throws. */
  write(bytes: Uint8Array): void;
  close(): void;
}

export interface SerialOptions {
  /** Bits per second, e.g. 115200. */
  baud: number;
  /** Called (asynchronously) when read() has bytes; `count` is how many are waiting. */
  onReadable?: (count: number) => void;
  /** Called (asynchronously) on a line error (framing, overrun, port gone). */
  onError?: (err: Error) => void;
}

export type SerialClass = new (options: SerialOptions) => SerialIO;

/** A SPI bus with one device selected by its chip-select for the length of each transfer. */
export interface SpiIO {
  /**
   * Full duplex: sends `bytes` with chip-select held low for the whole buffer and returns
   * the bytes clocked in (same length). One call is one SPI transaction.
   */
  transfer(bytes: Uint8Array): Uint8Array;
  close(): void;
}

/** A digital input such as the MCP2515 INT pin (active low). */
export interface DigitalInIO {
  read(): 0 | 1;
  close(): void;
}

export interface DigitalInOptions {
  /** Called (asynchronously) on a falling edge; absent means the driver polls. */
  onFall?: () => void;
}

/** Time and timers, injected so that tests and the emulator can drive the clock. */
export interface Timers {
  /** Monotonic milliseconds since boot (integer or fractional), never goes back. */
  now(): number;
  setTimeout(fn: () => void, ms: number): number;
  clearTimeout(id: number): void;
}
