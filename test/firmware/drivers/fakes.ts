// Fake IO for the driver tests: a virtual clock with timers, a serial port whose bytes
// arrive in random pieces with callbacks fired asynchronously, and a scripted VESC that
// answers with the real codecs. Not a test file itself (no .test.ts suffix).
import type { SerialIO, SerialOptions, SerialClass, Timers } from '../../../firmware/hal/io';
import { FrameDecoder, encodeFrame } from '../../../protocol/vesc/packet';
import { Prng } from '../../../host-tools/sim/prng';

/** Uniform 32-bit integers from the simulator's seeded generator, for FakeLine's chunking. */
export function prng(seed: number): () => number {
  const rng = new Prng(seed);
  return () => rng.u32();
}

/** Timers on a virtual clock; advance() runs what falls due, in time order. */
export class FakeTimers implements Timers {
  t = 0;
  private seq = 1;
  private q: Array<{ id: number; at: number; fn: () => void }> = [];
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): number {
    const id = this.seq++;
    this.q.push({ id, at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(id: number): void { this.q = this.q.filter((e) => e.id !== id); }
  pending(): number { return this.q.length; }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.q.length; i++) {
        if (this.q[i].at <= end && (best < 0 || this.q[i].at < this.q[best].at || (this.q[i].at === this.q[best].at && this.q[i].id < this.q[best].id))) best = i;
      }
      if (best < 0) break;
      const e = this.q.splice(best, 1)[0];
      this.t = Math.max(this.t, e.at);
      e.fn();
    }
    this.t = end;
  }
}

/**
 * A serial line between the driver and a peer. Bytes to the driver are cut at random
 * points and each piece arrives a little later, announced by onReadable from a timer
 * (never from inside a method). `onWrite` gets what the driver writes.
 */
export class FakeLine {
  opened = 0;
  options: SerialOptions | undefined;
  written: Uint8Array[] = [];
  onWrite: (bytes: Uint8Array) => void = () => {};
  private inbox: Uint8Array[] = [];
  private closed = false;
  constructor(readonly timers: FakeTimers, readonly rnd: () => number) {}

  /** The class handed to the driver (`io`). */
  get Serial(): SerialClass {
    const line = this;
    return class implements SerialIO {
      constructor(options: SerialOptions) {
        line.opened++;
        line.options = options;
      }
      read(): Uint8Array | undefined {
        if (line.closed) throw new Error('read after close');
        return line.inbox.shift();
      }
      write(bytes: Uint8Array): void {
        if (line.closed) throw new Error('write after close');
        const copy = bytes.slice();
        line.written.push(copy);
        line.onWrite(copy);
      }
      close(): void { line.closed = true; }
    };
  }

  get isClosed(): boolean { return this.closed; }

  /** Sends bytes to the driver in random pieces over the next few ms. */
  toDriver(bytes: Uint8Array, delayMs = 1): void {
    let at = 0;
    let t = delayMs;
    while (at < bytes.length) {
      const n = 1 + (this.rnd() % 24);
      const piece = bytes.slice(at, at + n);
      at += n;
      this.timers.setTimeout(() => {
        if (this.closed) return;
        this.inbox.push(piece);
        this.options?.onReadable?.(piece.length);
      }, t);
      t += this.rnd() % 2;
    }
  }

  lineError(message: string): void {
    this.timers.setTimeout(() => this.options?.onError?.(new Error(message)), 0);
  }
}

/**
 * A scripted VESC: decodes the driver's frames and answers each with `respond(payload)`
 * (undefined = no answer) after `latencyMs`. Optional noise between frames. Checks that
 * the driver never has two requests in flight.
 */
export class ScriptedVesc {
  requests: Uint8Array[] = [];
  inFlight = 0;
  maxInFlight = 0;
  noise = false;
  dropNext = 0;
  latencyMs = 3;
  private dec = new FrameDecoder();
  constructor(readonly line: FakeLine, public respond: (payload: Uint8Array) => Uint8Array | undefined) {
    line.onWrite = (bytes) => this.dec.feed(bytes, (p) => this.onRequest(p.slice()));
  }
  private onRequest(p: Uint8Array): void {
    this.requests.push(p);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.dropNext > 0) {
      this.dropNext--;
      this.inFlight--;
      return;
    }
    const reply = this.respond(p);
    this.line.timers.setTimeout(() => {
      this.inFlight--;
      if (!reply) return;
      const frame = encodeFrame(reply);
      if (this.noise) {
        const junk = new Uint8Array(1 + (this.line.rnd() % 12)).map(() => this.line.rnd() & 0xff);
        this.line.toDriver(new Uint8Array([...junk, ...frame]), 0);
      } else this.line.toDriver(frame, 0);
    }, this.latencyMs);
  }
}
