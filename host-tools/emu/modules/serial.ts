// Serial1/Serial2/...: setup(baud, opts), write(...), print/println and 'data' events.
// Bytes come from the bound SerialIO, pulled by poll() (after every timer and clock step,
// the idle loop of the real board), and arrive as binary strings like on the real board.
import type { SerialIO } from '../../../firmware/hal/io';
import { bytesToBinaryString, toBytes } from './bytes';
import { Emitter } from './emitter';

export class SerialPort extends Emitter {
  baud = 0;
  options: Record<string, unknown> = {};
  constructor(private readonly alive: () => void, readonly name: string, private readonly io: SerialIO | undefined) { super(); }
  setup(baud: number, options?: Record<string, unknown>): void {
    this.alive();
    this.baud = baud;
    this.options = options ?? {};
  }
  write(...args: unknown[]): void {
    this.alive();
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
