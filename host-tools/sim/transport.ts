// The simulated VESC UART outside the process: on a TCP port, or on a pseudo-terminal so
// that a real serial client (Espruino's Linux build with the espruino-linux board, a
// terminal program, VESC Tool via socat) can attach. Node has no pty API, so a small
// python3 child (its standard pty module) owns the pty pair and relays the master side
// over its stdin/stdout (openPtyRelay, which the CLI tests also use to put an emulated
// board's console on a serial path). Plus the real-time driver: advance() by the wall clock.
import * as net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { SimBike } from './index';
import type { SerialIO } from '../../firmware/hal/io';

export interface Endpoint {
  /** tcp://host:port or the pty slave path, for printing. */
  where: string;
  close(): Promise<void>;
}

/** Attaches `sink` to the VESC UART: bytes for the device go to sink, returns the device's writer. */
function attach(bike: SimBike, sink: (bytes: Uint8Array) => void): SerialIO {
  let port: SerialIO;
  port = bike.openVescSerial({
    baud: 115200,
    onReadable: () => {
      const b = port.read();
      if (b) sink(b);
    },
  });
  return port;
}

/** One client at a time, like a serial port; a second one is told so and closed. */
export function serveTcp(bike: SimBike, port: number, host = '127.0.0.1'): Promise<Endpoint & { port: number }> {
  return new Promise((resolve, reject) => {
    let current: { socket: net.Socket; serial: SerialIO } | undefined;
    const server = net.createServer((socket) => {
      if (current) {
        socket.end('busy: another client is attached to the simulated VESC UART\n');
        return;
      }
      socket.setNoDelay(true);
      const serial = attach(bike, (b) => socket.write(b));
      current = { socket, serial };
      socket.on('data', (d) => serial.write(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
      const done = (): void => {
        if (current && current.socket === socket) {
          current.serial.close();
          current = undefined;
        }
      };
      socket.on('close', done);
      socket.on('error', done);
    });
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address() as net.AddressInfo;
      resolve({
        where: `tcp://${host}:${addr.port}`,
        port: addr.port,
        close: () =>
          new Promise<void>((res) => {
            current?.socket.destroy();
            server.close(() => res());
          }),
      });
    });
  });
}

const PTY_RELAY = `
import os, pty, sys, select, tty
m, s = pty.openpty()
tty.setraw(s)
tty.setraw(m)
sys.stderr.write(os.ttyname(s) + "\\n")
sys.stderr.flush()
out = sys.stdout.fileno()
inp = sys.stdin.fileno()
while True:
    r, _, _ = select.select([m, inp], [], [])
    if m in r:
        try:
            d = os.read(m, 4096)
        except OSError:
            d = b""
        if d:
            os.write(out, d)
    if inp in r:
        d = os.read(inp, 4096)
        if not d:
            break
        os.write(m, d)
`;

/** Debian's interpreter when present: version-manager shims on PATH can take seconds to start. */
export function defaultPython(): string {
  return process.env.DEEP_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/** A raw pseudo-terminal pair held by the python relay: a serial client opens `path`. */
export interface PtyRelay {
  /** The slave side (/dev/pts/N). */
  path: string;
  /** Bytes for the client. */
  write(bytes: Uint8Array): void;
  /** Receives the bytes the client writes. */
  onData(fn: (bytes: Uint8Array) => void): void;
  close(): Promise<void>;
}

/**
 * Starts the relay (`python`, default DEEP_PYTHON or python3): resolves once it has
 * printed the slave path, rejects naming the interpreter when it cannot start or exits
 * before that.
 */
export function openPtyRelay(python = defaultPython()): Promise<PtyRelay> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(python, ['-u', '-c', PTY_RELAY], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      reject(err);
      return;
    }
    child.once('error', (err) => reject(new Error(`cannot start ${python} for the pseudo-terminal: ${err.message}`)));
    let errText = '';
    let path: string | undefined;
    child.stderr!.on('data', (d: Buffer) => {
      if (path !== undefined) return;
      errText += d.toString();
      const nl = errText.indexOf('\n');
      if (nl < 0) return;
      path = errText.slice(0, nl).trim();
      resolve({
        path,
        write: (b) => { if (!child.stdin!.destroyed) child.stdin!.write(b); },
        onData: (fn) => { child.stdout!.on('data', (b: Buffer) => fn(new Uint8Array(b.buffer, b.byteOffset, b.byteLength))); },
        close: () =>
          new Promise<void>((res) => {
            if (child.exitCode !== null || child.signalCode !== null) return res();
            child.once('exit', () => res());
            child.stdin!.end();
            child.kill();
          }),
      });
    });
    child.once('exit', (code) => {
      if (path === undefined) reject(new Error(`${python} pty relay exited (${code}): ${errText.trim()}`));
    });
  });
}

/** The VESC UART on a pseudo-terminal (raw mode; the baud setting is ignored). */
export async function servePty(bike: SimBike, python = defaultPython()): Promise<Endpoint & { path: string }> {
  const relay = await openPtyRelay(python);
  const serial = attach(bike, (b) => relay.write(b));
  relay.onData((b) => serial.write(b));
  return {
    where: relay.path,
    path: relay.path,
    close: () => {
      serial.close();
      return relay.close();
    },
  };
}

export interface Realtime {
  stop(): void;
}

export interface RealtimeOptions {
  /** Simulated ms per real ms (default 1). */
  speedup?: number;
  /** Calls onMark at every multiple of markMs of simulated time, exactly on it. */
  markMs?: number;
  onMark?: () => void;
  /** Simulated time to stop at (exactly), then onEnd. */
  endMs?: number;
  onEnd?: () => void;
}

/**
 * Drives the bike by the wall clock (× speedup) in small steps so the UART timing stays
 * close to real, stopping exactly at each mark (for a status line) and at the end.
 */
export function runRealtime(bike: SimBike, o: RealtimeOptions = {}): Realtime {
  const speedup = o.speedup ?? 1;
  if (!(speedup > 0 && speedup <= 100000)) throw new RangeError(`"speedup" expected a number in (0, 100000], got ${speedup}`);
  const markMs = o.markMs ?? 0;
  let nextMark = markMs > 0 ? (Math.floor(bike.nowMs() / markMs) + 1) * markMs : Infinity;
  const endMs = o.endMs ?? Infinity;
  let last = performance.now();
  let running = true;
  const timer = setInterval(() => {
    const now = performance.now();
    const target = Math.min(endMs, bike.nowMs() + (now - last) * speedup);
    last = now;
    while (running && nextMark <= target) {
      bike.advance(nextMark - bike.nowMs());
      nextMark += markMs;
      o.onMark?.();
    }
    if (!running) return;
    if (target > bike.nowMs()) bike.advance(target - bike.nowMs());
    if (bike.nowMs() >= endMs) {
      running = false;
      clearInterval(timer);
      o.onEnd?.();
    }
  }, 5);
  return {
    stop: () => {
      running = false;
      clearInterval(timer);
    },
  };
}
