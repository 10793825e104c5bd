// `deep pair`: a rider's one-time setup. Writes the WiFi and ledger endpoint to the bike's
// device over its console, fetches a one-time challenge from the ingest node, has the
// device sign it (the pairing proof: challenge + public key + firmware version, COSE_Sign1,
// protocol/pairing.ts), registers the proof with the node, and prints the device id.
// The secret key never leaves the device; the WiFi password is typed without echo and
// sent only to the device, with console echo off.
import { parseArgs, UsageError, intOption } from '../args';
import { EXIT, type Command } from '../command';
import { openLink, DeviceConsole, PortError } from '../../testnet/device-link';
import { deviceInfo, DEVICE_EXPR } from '../../testnet/device-api';

/** Reads a password from a TTY with echo off (raw mode), or the first line of piped stdin. */
export function readPassword(prompt: string, opts: { stdin?: NodeJS.ReadStream; stderr?: NodeJS.WritableStream; fromStdin: boolean }): Promise<string> {
  const input = opts.stdin ?? process.stdin;
  const out = opts.stderr ?? process.stderr;
  if (opts.fromStdin) {
    return new Promise((resolve, reject) => {
      let data = '';
      input.setEncoding('utf8');
      input.on('data', (d: string) => { data += d; });
      input.on('end', () => resolve(data.replace(/\r?\n[\s\S]*$/, '')));
      input.on('error', reject);
    });
  }
  if (!input.isTTY) {
    return Promise.reject(new UsageError('standard input is not a terminal, so the WiFi password cannot be asked without echo; pipe it with --password-stdin'));
  }
  return new Promise((resolve, reject) => {
    out.write(prompt);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.resume();
    let pw = '';
    const done = (err?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.removeListener('data', onData);
      out.write('\n');
      if (err) reject(err);
      else resolve(pw);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\x03') return done(new UsageError('cancelled'));
        if (ch === '\x04') return done();
        if (ch === '\x7f' || ch === '\b') pw = pw.slice(0, -1);
        else if (ch >= ' ') pw += ch;
      }
    };
    input.on('data', onData);
  });
}

async function http(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new PortError('refused', url, `ingest node unreachable (${cause})`);
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    json = { error: text.slice(0, 200) };
  }
  return { status: res.status, json };
}

const command: Command = {
  name: 'pair',
  summary: "pair a bike's device with a ledger ingest node (WiFi, endpoint, signed registration)",
  usage: 'deep pair --port PATH|tcp://HOST:PORT --wifi SSID --endpoint URL [--password-stdin] [--force]',
  options: {
    port: { type: 'string', description: "the device's console: serial port (/dev/ttyUSB0) or tcp://host:port" },
    wifi: { type: 'string', description: 'WiFi network (SSID) the bike joins' },
    endpoint: { type: 'string', description: 'ingest node base URL, e.g. http://ledger.example:8080' },
    'password-stdin': { type: 'boolean', description: 'read the WiFi password from the first line of standard input (for scripts)' },
    force: { type: 'boolean', description: 'pair again even if the device is already paired' },
    baud: { type: 'string', description: 'serial speed', default: '115200' },
    'sign-timeout': { type: 'string', description: 'seconds the device may take to sign the proof', default: '30' },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const port = p.options.port as string | undefined;
    const ssid = p.options.wifi as string | undefined;
    const endpointRaw = p.options.endpoint as string | undefined;
    if (!port) throw new UsageError('--port is required');
    if (!ssid) throw new UsageError('--wifi SSID is required');
    if (!endpointRaw) throw new UsageError('--endpoint URL is required');
    if (ssid.length > 32) throw new UsageError(`--wifi: an SSID has at most 32 bytes, got ${ssid.length}`);
    let endpoint: string;
    try {
      const u = new URL(endpointRaw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
      endpoint = u.href.replace(/\/+$/, '');
    } catch {
      throw new UsageError(`--endpoint expected an http:// or https:// URL, got "${endpointRaw}"`);
    }
    const baud = intOption(p, 'baud', 300, 4_000_000)!;
    const signTimeoutS = intOption(p, 'sign-timeout', 1, 600)!;
    const err = (s: string) => process.stderr.write(s);

    let link;
    try {
      link = await openLink(port, { baud });
    } catch (e) {
      if (e instanceof PortError) { err(`deep pair: ${e.message}\n`); return EXIT.IO; }
      throw e;
    }
    try {
      const c = new DeviceConsole(link);
      await c.identify();
      const info = await deviceInfo(c);
      if (info.paired && !p.options.force) {
        process.stdout.write(`device ${info.id} is already paired (endpoint ${info.endpoint || '?'}, WiFi ${info.ssid || '?'}); nothing changed. Use --force to pair again.\n`);
        return EXIT.OK;
      }
      const password = await readPassword(`WiFi password for "${ssid}": `, { fromStdin: p.options['password-stdin'] === true });
      if (password.length > 0 && (password.length < 8 || password.length > 63)) {
        throw new UsageError(`a WPA2 password has 8..63 characters, got ${password.length}`);
      }

      // 1. Settings first, so a device that is paired can also reach the node.
      const ok = await c.eval(DEVICE_EXPR.settings({ ssid, password, endpoint }));
      if (ok !== true) throw new Error(`the device refused the settings: ${JSON.stringify(ok)}`);
      err(`settings written: WiFi "${ssid}", endpoint ${endpoint}\n`);

      // 2. A one-time challenge from the node, signed by the device.
      const ch = await http('GET', `${endpoint}/v1/devices/challenge`);
      if (ch.status !== 200 || typeof ch.json.challenge !== 'string') {
        err(`deep pair: ${endpoint} did not give a challenge (HTTP ${ch.status}: ${JSON.stringify(ch.json).slice(0, 200)})\n`);
        return EXIT.IO;
      }
      const proof = await c.eval<unknown>(DEVICE_EXPR.proof(ch.json.challenge), signTimeoutS * 1000);
      if (typeof proof !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(proof)) {
        throw new Error(`the device did not return a pairing proof (base64), got ${JSON.stringify(proof)?.slice(0, 120)}`);
      }

      // 3. Register; the node checks the signature over its challenge.
      const reg = await http('POST', `${endpoint}/v1/devices`, { challenge: ch.json.challenge, proof });
      if (reg.status !== 201 && reg.status !== 200) {
        err(`deep pair: registration refused by ${endpoint} (HTTP ${reg.status}): ${reg.json.error ?? JSON.stringify(reg.json)}\n`);
        return EXIT.FAILED;
      }
      const id = String(reg.json.id ?? '');
      if (id !== info.id) {
        err(`deep pair: the node registered ${id}, but the device's id is ${info.id}\n`);
        return EXIT.FAILED;
      }
      await c.eval(DEVICE_EXPR.paired(id));
      process.stdout.write(`paired: device id ${id}\n`);
      return EXIT.OK;
    } catch (e) {
      if (e instanceof PortError) { err(`deep pair: ${e.message}\n`); return EXIT.IO; }
      throw e;
    } finally {
      await link.close();
    }
  },
};
export default command;
