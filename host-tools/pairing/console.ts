// The DEEP console client, whatever carries the bytes: a serial port or TCP in Node
// (host-tools/testnet/device-link.ts), Web Serial in the browser (host-tools/app). It types
// one expression at a time into the Espruino console and reads back its JSON value.
// No Node APIs here: the web app bundles this file.
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
