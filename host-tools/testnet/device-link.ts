// A link to a device's Espruino console (USB serial, a pseudo-terminal, or `tcp://host:port`
// for a board on the network and for the emulator), and a small client that evaluates an
// expression on the device and reads back its JSON result. Used by `deep flash` (before and
// after the Espruino CLI uploads) and by `deep pair`.
//
// Port problems become PortError with a kind the CLI turns into a clear message:
// missing (no such device), busy (another program holds it), refused (nothing listens at
// tcp://...), not-espruino (something answered, but not an Espruino console).
import net from 'node:net';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

export type PortErrorKind = 'missing' | 'busy' | 'refused' | 'denied' | 'not-espruino' | 'timeout' | 'closed';

export class PortError extends Error {
  constructor(
    readonly kind: PortErrorKind,
    readonly port: string,
    detail: string,
  ) {
    super(`${port}: ${detail}`);
    this.name = 'PortError';
  }
}

export interface Link {
  readonly port: string;
  write(text: string): Promise<void>;
  /** Everything received so far is delivered to `fn`, then every later chunk. */
  onData(fn: (text: string) => void): () => void;
  close(): Promise<void>;
}

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

/** Waits until `pred(buffer)` returns a value, or times out. */
function waitFor<T>(link: Link, pred: (received: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let received = '';
    let off: () => void = () => {};
    const timer = setTimeout(() => {
      off();
      reject(new PortError('timeout', link.port, `no answer to ${what} within ${timeoutMs} ms` + (received ? `; got ${JSON.stringify(received.slice(-200))}` : '; got nothing')));
    }, timeoutMs);
    off = link.onData((t) => {
      received += t;
      const v = pred(received);
      if (v !== undefined) {
        clearTimeout(timer);
        off();
        resolve(v);
      }
    });
  });
}

// The markers are built by concatenation on the device, so the command text itself (if a
// console echoes it) never contains them.
const START = '<DEEP<';
const END = '>DEEP>';
let evalCount = 0;

export class DeviceConsole {
  constructor(readonly link: Link) {}

  /**
   * Evaluates `js` on the device and returns its value through JSON. DLE (0x10) at the
   * start of the line turns echo off for that line (Espruino's jsinteractive), Ctrl-C first
   * clears any half-typed input.
   */
  async eval<T = unknown>(js: string, timeoutMs = 4000): Promise<T> {
    if (/[\r\n]/.test(js)) throw new TypeError('"js" expected a single line');
    // A tag of its own per call: output a console still holds from an earlier command (or
    // an earlier connection: Espruino's telnet server delivers what a closed client left
    // unread) cannot be taken for this answer.
    const tag = `${++evalCount}.${Math.floor(Math.random() * 1e9)}`;
    const start = `${START}${tag}<`;
    const cmd = `\x10print("<DEEP"+"<${tag}<"+JSON.stringify((function(){return ${js};})())+">DEEP"+">")\n`;
    const p = waitFor(this.link, (r) => {
      const a = r.indexOf(start);
      if (a < 0) {
        const err = /Uncaught ([^\r\n]*)/.exec(r);
        return err ? { error: err[1] } : undefined;
      }
      const b = r.indexOf(END, a);
      return b < 0 ? undefined : { text: r.slice(a + start.length, b) };
    }, timeoutMs, js);
    await this.link.write(cmd);
    const res = await p;
    if ('error' in res) throw new Error(`device error for ${js}: ${res.error}`);
    if (res.text === 'undefined' || res.text === '') return undefined as T;
    try {
      return JSON.parse(res.text) as T;
    } catch {
      throw new Error(`device answered ${js} with something that is not JSON: ${JSON.stringify(res.text.slice(0, 200))}`);
    }
  }

  /**
   * Checks that an Espruino console answers: `process.env` has VERSION and BOARD. Anything
   * else (silence, a bootloader, another firmware's prompt) is PortError 'not-espruino'.
   */
  async identify(timeoutMs = 4000): Promise<{ VERSION: string; BOARD: string; [k: string]: unknown }> {
    await this.sync();
    let env: unknown;
    try {
      env = await this.eval('process.env', timeoutMs);
    } catch (e) {
      const got = e instanceof PortError && e.kind === 'timeout' ? e.message.replace(/^.*no answer[^;]*;?\s*/, '') : String((e as Error).message);
      throw new PortError('not-espruino', this.link.port, `no Espruino console answered (${got || 'silence'}); is this board running the Espruino firmware? See https://www.espruino.com/ESP32 to flash it first`);
    }
    const e = env as { VERSION?: unknown; BOARD?: unknown } | undefined;
    if (!e || typeof e.VERSION !== 'string' || typeof e.BOARD !== 'string') {
      throw new PortError('not-espruino', this.link.port, `the console answered but process.env has no VERSION/BOARD: not an Espruino interpreter (${JSON.stringify(env)?.slice(0, 120)})`);
    }
    return e as { VERSION: string; BOARD: string };
  }

  /**
   * Drops any half-typed input so the next line starts clean: one character, then Ctrl-C,
   * which clears a line that is not empty. Never a Ctrl-C on an empty line: Espruino's
   * Linux build exits on the second one within 5 s (jsinteractive.c, "exit if ctrl-c on
   * empty input line"), which a `deep pair` after a `deep flash` would do.
   */
  async sync(): Promise<void> {
    await this.link.write('x');
    await new Promise((r) => setTimeout(r, 150));
    await this.link.write('\x03');
    await new Promise((r) => setTimeout(r, 100));
    await this.link.write('\x10;\n');
    await new Promise((r) => setTimeout(r, 100));
  }

  /** Sends a line for its side effects (DLE: no echo), waiting `settleMs` for output. */
  async send(js: string): Promise<void> {
    await this.sync();
    await this.link.write(`\x10${js}\n`);
  }
}
