// A link to a device's Espruino console in Node (USB serial, a pseudo-terminal, or
// `tcp://host:port` for a board on the network and for the emulator). The client that
// evaluates an expression on the device over any link is host-tools/pairing/console.ts,
// shared with the web app's Web Serial link. Used by `deep flash` (before and after the
// Espruino CLI uploads), `deep pair` and the testnet.
//
// Port problems become PortError with a kind the CLI turns into a clear message:
// missing (no such device), busy (another program holds it), refused (nothing listens at
// tcp://...), not-espruino (something answered, but not an Espruino console).
import net from 'node:net';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PortError, type Link } from '../pairing/console';

export { PortError, DeviceConsole, type Link, type PortErrorKind } from '../pairing/console';

const TCP = /^tcp:\/\/([^:/]*)(?::(\d+))?\/?$/;

/** Splits `tcp://host:port` (default port 23, as the Espruino CLI does); undefined if not tcp. */
export function parseTcpPort(port: string): { host: string; port: number } | undefined {
  const m = TCP.exec(port);
  if (!m) return undefined;
  const p = m[2] === undefined ? 23 : Number(m[2]);
  if (p < 1 || p > 65535) throw new PortError('missing', port, `TCP port must be 1..65535, got ${m[2]}`);
  return { host: m[1] || 'localhost', port: p };
}

function makeLink(port: string, send: (b: Buffer) => Promise<void>, close: () => Promise<void>): { link: Link; feed: (b: Buffer) => void } {
  const listeners: ((t: string) => void)[] = [];
  let backlog = '';
  const link: Link = {
    port,
    write: (text) => send(Buffer.from(text, 'latin1')),
    onData(fn) {
      listeners.push(fn);
      if (backlog) fn(backlog);
      backlog = '';
      return () => {
        const i = listeners.indexOf(fn);
        if (i >= 0) listeners.splice(i, 1);
      };
    },
    close,
  };
  const feed = (b: Buffer) => {
    const t = b.toString('latin1');
    // Unread output is kept for the next listener, bounded (a chatty device must not grow it).
    if (listeners.length === 0) backlog = (backlog + t).slice(-65536);
    for (const l of [...listeners]) l(t);
  };
  return { link, feed };
}

function openTcp(port: string, host: string, tcpPort: number, timeoutMs: number): Promise<Link> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port: tcpPort });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new PortError('timeout', port, `no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const kind = err.code === 'ECONNREFUSED' ? 'refused' : err.code === 'ENOTFOUND' ? 'missing' : 'closed';
      reject(new PortError(kind, port, kind === 'refused' ? `nothing listens at ${host}:${tcpPort} (is the board on the network, the emulator running?)` : `${err.code ?? ''} ${err.message}`.trim()));
    });
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      sock.on('error', () => { /* surfaced as 'closed' on the next write */ });
      const { link, feed } = makeLink(
        port,
        (b) => new Promise((res, rej) => {
          if (sock.destroyed) return rej(new PortError('closed', port, 'connection closed'));
          sock.write(b, (err) => (err ? rej(new PortError('closed', port, err.message)) : res()));
        }),
        () => new Promise((res) => {
          if (sock.destroyed) return res();
          sock.end(() => res());
          setTimeout(() => { sock.destroy(); res(); }, 500).unref();
        }),
      );
      sock.on('data', feed);
      resolve(link);
    });
  });
}

async function openSerial(port: string, baud: number): Promise<Link> {
  if (!existsSync(port)) {
    throw new PortError('missing', port, 'no such serial port (is the board plugged in? `ls /dev/ttyUSB* /dev/ttyACM*` lists candidates)');
  }
  const require = createRequire(import.meta.url);
  const { SerialPort } = require('serialport') as typeof import('serialport');
  return new Promise((resolve, reject) => {
    // lock: true takes the port with TIOCEXCL, so a port that a terminal, the Web IDE or
    // ModemManager holds fails here instead of two programs interleaving bytes.
    const sp = new SerialPort({ path: port, baudRate: baud, lock: true, autoOpen: false });
    sp.open((err) => {
      if (err) {
        const msg = err.message;
        if (/lock|busy|EBUSY|Resource temporarily unavailable/i.test(msg)) {
          reject(new PortError('busy', port, `port is busy: another program has it open (close the terminal, Web IDE or screen session using it) [${msg}]`));
        } else if (/EACCES|permission/i.test(msg)) {
          reject(new PortError('denied', port, `permission denied (add yourself to the dialout group) [${msg}]`));
        } else {
          reject(new PortError('missing', port, `cannot open: ${msg}`));
        }
        return;
      }
      sp.on('error', () => { /* reported by the next write */ });
      const { link, feed } = makeLink(
        port,
        (b) => new Promise((res, rej) => {
          sp.write(b, (e) => (e ? rej(new PortError('closed', port, e.message)) : sp.drain(() => res())));
        }),
        () => new Promise((res) => (sp.isOpen ? sp.close(() => res()) : res())),
      );
      sp.on('data', feed);
      resolve(link);
    });
  });
}

export async function openLink(port: string, opts: { baud?: number; timeoutMs?: number } = {}): Promise<Link> {
  if (!port) throw new PortError('missing', '(none)', 'no port given');
  const tcp = parseTcpPort(port);
  if (tcp) return openTcp(port, tcp.host, tcp.port, opts.timeoutMs ?? 5000);
  if (port.startsWith('tcp:')) throw new PortError('missing', port, 'expected tcp://host:port');
  return openSerial(port, opts.baud ?? 115200);
}

/**
 * A link to an in-process console (the emulator's EspruinoConsole): what is written is
 * typed into it, what it prints comes back. Same bytes as over a serial port.
 */
export function consoleLink(con: { input(data: string): void; onOutput(fn: (text: string) => void): () => void }, name: string): Link {
  const { link, feed } = makeLink(name, async (b) => { con.input(b.toString('latin1')); }, async () => { off(); });
  const off = con.onOutput((t) => feed(Buffer.from(t, 'latin1')));
  return link;
}
