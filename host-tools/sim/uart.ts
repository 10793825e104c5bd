// The UART between the device (ESP32) and the VESC, in virtual time: bytes take 10 bit
// times each (8N1), so a 79-byte GET_VALUES reply at 115200 baud takes 6.9 ms and a
// device polling read() in between sees it arrive in pieces, as on the real wire.
// Faults act on bytes in flight, in both directions: noise (a byte replaced by a random
// one), drops, and a link that is down (brown-out: everything written is lost).
import type { SerialIO, SerialOptions, SerialClass } from '../../firmware/hal/io';
import type { VirtualClock } from './clock';
import type { Prng } from './prng';

interface Chunk {
  bytes: Uint8Array;
  /** Arrival of byte i is startUs + (i + 1) * byteUs. */
  startUs: number;
  byteUs: number;
  taken: number;
}

export interface UartFaults {
  /** Probability that a byte in flight is replaced by a random byte (0..1). */
  noise: number;
  /** Probability that a byte in flight is lost (0..1). */
  drop: number;
}

export class UartLink {
  readonly baud: number;
  readonly faults: UartFaults = { noise: 0, drop: 0 };
  /** false while the device is browned out: bytes either way are lost. */
  up = true;
  /** Set by the VESC: bytes that reached it (called from a clock event). */
  onVescReceive: (bytes: Uint8Array) => void = () => {};
  /** Counters of what the faults did. */
  readonly stats = { toDevice: 0, toVesc: 0, corrupted: 0, dropped: 0, lost: 0, garbage: 0 };

  private rx: Chunk[] = [];
  private deviceTxFreeUs = 0;
  private vescTxFreeUs = 0;
  private port: SimSerialPort | undefined;

  constructor(private readonly clock: VirtualClock, private readonly rng: Prng, baud = 115200) {
    this.baud = baud;
  }

  byteUs(baud = this.baud): number {
    return 10_000_000 / baud;
  }

  private garbageTimer: { cancel(): void } | undefined;

  /**
   * Noise on an idle line: random bytes reach the device at about `perSecond` bytes/s
   * (exponential gaps), between and inside real frames; 0 stops it.
   */
  setGarbage(perSecond: number): void {
    this.garbageTimer?.cancel();
    this.garbageTimer = undefined;
    if (perSecond <= 0) return;
    const next = (): void => {
      const gapUs = Math.max(1, Math.round((-Math.log(1 - this.rng.next()) / perSecond) * 1e6));
      this.garbageTimer = this.clock.after(gapUs, () => {
        this.stats.garbage++;
        this.vescWrite(Uint8Array.of(this.rng.int(0, 255)));
        next();
      });
    };
    next();
  }

  /** The VESC transmits: bytes reach the device one by one from now (or when its TX is free). */
  vescWrite(bytes: Uint8Array): void {
    if (!this.up) {
      this.stats.lost += bytes.length;
      return;
    }
    const out = this.mangle(bytes, this.port !== undefined && this.port.baud !== this.baud);
    const byteUs = this.byteUs();
    const startUs = Math.max(this.clock.nowUs, this.vescTxFreeUs);
    this.vescTxFreeUs = startUs + out.length * byteUs;
    this.stats.toDevice += out.length;
    if (!this.port || out.length === 0) return;
    const port = this.port;
    this.rx.push({ bytes: out, startUs, byteUs, taken: 0 });
    this.clock.at(Math.ceil(this.vescTxFreeUs), () => port.readable(this.available()));
  }

  /** The device transmits `bytes` at its own baud rate. */
  deviceWrite(bytes: Uint8Array, baud: number): void {
    if (!this.up) {
      this.stats.lost += bytes.length;
      return;
    }
    const out = this.mangle(bytes, baud !== this.baud);
    const startUs = Math.max(this.clock.nowUs, this.deviceTxFreeUs);
    this.deviceTxFreeUs = startUs + bytes.length * this.byteUs(baud);
    this.stats.toVesc += out.length;
    if (out.length) this.clock.at(Math.ceil(this.deviceTxFreeUs), () => this.onVescReceive(out));
  }

  /** Bytes that have arrived at the device and are not read yet. */
  available(): number {
    let n = 0;
    const now = this.clock.nowUs;
    for (const c of this.rx) n += Math.min(c.bytes.length, Math.floor((now - c.startUs) / c.byteUs + 1e-9)) - c.taken;
    return Math.max(0, n);
  }

  takeArrived(): Uint8Array | undefined {
    const now = this.clock.nowUs;
    const parts: Uint8Array[] = [];
    let total = 0;
    while (this.rx.length) {
      const c = this.rx[0];
      const arrived = Math.min(c.bytes.length, Math.floor((now - c.startUs) / c.byteUs + 1e-9));
      if (arrived > c.taken) {
        parts.push(c.bytes.subarray(c.taken, arrived));
        total += arrived - c.taken;
        c.taken = arrived;
      }
      if (c.taken < c.bytes.length) break;
      this.rx.shift();
    }
    if (total === 0) return undefined;
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /** Link down (brown-out) or back up; going down loses what is in flight to the device. */
  setUp(up: boolean): void {
    this.up = up;
    if (!up) {
      for (const c of this.rx) this.stats.lost += c.bytes.length - c.taken;
      this.rx = [];
    }
  }

  private mangle(bytes: Uint8Array, wrongBaud: boolean): Uint8Array {
    const { noise, drop } = this.faults;
    if (!wrongBaud && noise === 0 && drop === 0) return bytes.slice();
    const out: number[] = [];
    for (const b of bytes) {
      if (drop > 0 && this.rng.chance(drop)) {
        this.stats.dropped++;
        continue;
      }
      if (wrongBaud || (noise > 0 && this.rng.chance(noise))) {
        this.stats.corrupted++;
        out.push(this.rng.int(0, 255));
      } else out.push(b);
    }
    return Uint8Array.from(out);
  }

  /** The device end of the link as an ECMA-419-style SerialIO class (one open port at a time). */
  serialClass(): SerialClass {
    const link = this;
    return class SimVescSerial extends SimSerialPort {
      constructor(options: SerialOptions) {
        super(link, options);
      }
    };
  }

  attach(port: SimSerialPort | undefined): void {
    if (port && this.port) throw new Error('VESC UART is already open; close the other port first');
    this.port = port;
    if (!port) this.rx = [];
  }
}

export class SimSerialPort implements SerialIO {
  readonly baud: number;
  private closed = false;
  private readonly onReadable?: (count: number) => void;

  constructor(private readonly link: UartLink, options: SerialOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('"options" expected an object');
    if (!Number.isInteger(options.baud) || options.baud < 300 || options.baud > 5_000_000) {
      throw new RangeError(`"baud" expected integer in [300, 5000000], got ${String(options.baud)}`);
    }
    if (options.onReadable !== undefined && typeof options.onReadable !== 'function') throw new TypeError('"onReadable" expected a function');
    this.baud = options.baud;
    this.onReadable = options.onReadable;
    link.attach(this);
  }

  read(): Uint8Array | undefined {
    if (this.closed) throw new Error('read() after close()');
    return this.link.takeArrived();
  }

  write(bytes: Uint8Array): void {
    if (this.closed) throw new Error('write() after close()');
    if (!(bytes instanceof Uint8Array)) throw new TypeError('"bytes" expected Uint8Array');
    this.link.deviceWrite(bytes, this.baud);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.attach(undefined);
  }

  /** Called from a clock event, never from read()/write(). */
  readable(count: number): void {
    if (!this.closed && count > 0 && this.onReadable) this.onReadable(count);
  }
}
