// A console link over Web Serial (Chrome and Edge on desktop and Android), as Espruino's
// Web IDE talks to boards: 115200 baud, bytes as Latin-1 text both ways.
import { PortError, type Link } from '../../pairing/console';

/** The part of the Web Serial API we use (not in TypeScript's DOM lib yet). */
interface SerialPortLike {
  open(o: { baudRate: number }): Promise<void>;
  close(): Promise<void>;
  readable: ReadableStream<Uint8Array> | null;
  writable: WritableStream<Uint8Array> | null;
}
interface SerialLike {
  requestPort(o?: object): Promise<SerialPortLike>;
}

export function webSerial(): SerialLike | undefined {
  return (navigator as unknown as { serial?: SerialLike }).serial;
}

const NAME = 'USB serial';

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** Asks the person for a port (the browser's chooser), opens it and returns the link. */
export async function openWebSerial(serial: SerialLike, baudRate = 115200): Promise<Link> {
  let port: SerialPortLike;
  try {
    port = await serial.requestPort();
  } catch (e) {
    throw new PortError('missing', NAME, `no port chosen (${(e as Error).message}): plug the bike's USB cable in, press Pair again and pick its port in the list`);
  }
  try {
    await port.open({ baudRate });
  } catch (e) {
    throw new PortError('busy', NAME, `the port cannot be opened (${(e as Error).message}): close any other program or tab using it (Espruino Web IDE, a terminal)`);
  }
  if (!port.readable || !port.writable) throw new PortError('closed', NAME, 'the port opened without streams');
  const writer = port.writable.getWriter();
  const reader = port.readable.getReader();
  const listeners: ((t: string) => void)[] = [];
  let backlog = '';
  let closed = false;
  void (async () => {
    while (!closed) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch {
        break;
      }
      if (r.done) break;
      const t = latin1(r.value);
      if (listeners.length === 0) backlog = (backlog + t).slice(-65536);
      for (const l of [...listeners]) l(t);
    }
  })();
  return {
    port: NAME,
    async write(text) {
      if (closed) throw new PortError('closed', NAME, 'port closed');
      const b = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) b[i] = text.charCodeAt(i) & 0xff;
      try {
        await writer.write(b);
      } catch (e) {
        throw new PortError('closed', NAME, `write failed: ${(e as Error).message} (was the cable pulled?)`);
      }
    },
    onData(fn) {
      listeners.push(fn);
      if (backlog) fn(backlog);
      backlog = '';
      return () => {
        const i = listeners.indexOf(fn);
        if (i >= 0) listeners.splice(i, 1);
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await reader.cancel().catch(() => {});
      reader.releaseLock();
      writer.releaseLock();
      await port.close().catch(() => {});
    },
  };
}
