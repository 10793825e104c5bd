// Outside access to emulated devices: the console over TCP (`tcp://127.0.0.1:PORT`, what
// `deep flash --port` and `deep pair --port` accept) or over any Node stream (a
// pseudo-terminal's master side), and a driver that moves the virtual clock in step with
// real time (times `speed`) for interactive use.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { EmulatedDevice } from './device';
import type { VirtualClock } from './clock';

/** Bridges a byte stream to the device console (both ways) until the stream ends. */
export function attachConsole(dev: EmulatedDevice, stream: Duplex): () => void {
  const off = dev.console.onOutput((t) => { if (!stream.destroyed) stream.write(Buffer.from(t, 'latin1')); });
  const onData = (b: Buffer): void => dev.console.input(b.toString('latin1'));
  stream.on('data', onData);
  const detach = (): void => { off(); stream.off('data', onData); };
  stream.on('close', detach);
  stream.on('error', detach);
  return detach;
}

/** A TCP server on 127.0.0.1 whose every connection is the device console. Resolves with the port. */
export function serveConsole(dev: EmulatedDevice, port = 0): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    attachConsole(dev, sock);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address() as net.AddressInfo;
      resolve({
        port: addr.port,
        close: () => new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
      });
    });
  });
}

/**
 * Advances `clock` by (real elapsed ms x speed) every `tickMs` of real time, so consoles
 * and HTTP behave interactively. Returns a stop function.
 */
export function runRealtime(clock: VirtualClock, speed = 1, tickMs = 20): () => void {
  let last = performance.now();
  let stopped = false;
  let busy = false;
  let carry = 0;
  const timer = setInterval(() => {
    if (busy || stopped) return;
    const now = performance.now();
    carry += (now - last) * speed;
    last = now;
    const step = Math.floor(carry);
    if (step <= 0) return;
    carry -= step;
    busy = true;
    clock.advance(step).then(
      () => { busy = false; },
      (err) => { busy = false; stopped = true; clearInterval(timer); console.error(`emulator clock stopped: ${String(err)}`); },
    );
  }, tickMs);
  return () => { stopped = true; clearInterval(timer); };
}
