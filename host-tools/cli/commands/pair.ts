// `deep pair`: a rider's one-time setup. Writes the WiFi and ledger endpoint to the bike's
// device over its console, fetches a one-time challenge from the ingest node, has the
// device sign it (the pairing proof: challenge + public key + firmware version, COSE_Sign1,
// protocol/pairing.ts), registers the proof with the node, and prints the device id.
// The secret key never leaves the device; the WiFi password is typed without echo and
// sent only to the device, with console echo off.
import { parseArgs, UsageError, intOption, httpUrlOption } from '../args';
import { EXIT, type Command } from '../command';
import { openLink } from '../../testnet/device-link';
import { DeviceConsole, PortError } from '../../pairing/console';
import { pairDevice, httpPairingNode, PairingError } from '../../pairing/pair';
import { readTokenFile } from '../token-file';

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
    // Echo off before the prompt shows: whatever is typed once it is visible (or pasted
    // ahead of it) must not appear on the screen.
    input.setRawMode(true);
    out.write(prompt);
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

const command: Command = {
  name: 'pair',
  summary: "pair a bike's device with a ledger ingest node (WiFi, endpoint, signed registration)",
  usage: 'deep pair --port PATH|tcp://HOST:PORT --wifi SSID --endpoint URL [--password-stdin] [--force] [--owner-key-file FILE] [--enroll-token-file FILE]',
  options: {
    port: { type: 'string', description: "the device's console: serial port (/dev/ttyUSB0) or tcp://host:port" },
    wifi: { type: 'string', description: 'WiFi network (SSID) the bike joins' },
    endpoint: { type: 'string', description: 'ingest node base URL, e.g. http://ledger.example:8080' },
    'password-stdin': { type: 'boolean', description: 'read the WiFi password from the first line of standard input (for scripts)' },
    force: { type: 'boolean', description: 'pair again even if the device is already paired' },
    baud: { type: 'string', description: 'serial speed', default: '115200' },
    'sign-timeout': { type: 'string', description: 'seconds the device may take to sign the proof', default: '30' },
    'enroll-token-file': { type: 'string', description: 'file holding the enrollment token of a node started with --enroll-token-file (ask its operator)' },
    'owner-key-file': { type: 'string', description: "the rider's EVM account key (64 hex digits): signs ownership of the bike (EIP-712), recorded on chain by a node that anchors" },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const port = p.options.port as string | undefined;
    const ssid = p.options.wifi as string | undefined;
    if (!port) throw new UsageError('--port is required');
    if (!ssid) throw new UsageError('--wifi SSID is required');
    if (p.options.endpoint === undefined) throw new UsageError('--endpoint URL is required');
    if (ssid.length > 32) throw new UsageError(`--wifi: an SSID has at most 32 bytes, got ${ssid.length}`);
    const endpoint = httpUrlOption(p, 'endpoint')!;
    const baud = intOption(p, 'baud', 300, 4_000_000)!;
    const signTimeoutS = intOption(p, 'sign-timeout', 1, 600)!;
    const err = (s: string) => process.stderr.write(s);
    let owner: Parameters<typeof pairDevice>[0]['owner'];
    const tokenFile = p.options['enroll-token-file'] as string | undefined;
    const enrollToken = tokenFile === undefined ? undefined : readTokenFile('enroll-token-file', tokenFile);
    const ownerKeyFile = p.options['owner-key-file'] as string | undefined;
    if (ownerKeyFile !== undefined) {
      // Read before touching the device: a bad key file stops here, with nothing written.
      const { loadAnchorKey } = await import('../../ledger/evm/publisher');
      const { bindDeviceTypedData } = await import('../../ledger/evm/contract');
      const account = loadAnchorKey({ file: ownerKeyFile });
      owner = async (ctx) => ({
        address: account.address,
        signature: await account.signTypedData(bindDeviceTypedData(ctx.chainId, ctx.contract as `0x${string}`, ctx.kid, ctx.publicKey, ctx.challenge)),
      });
    }

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
      const r = await pairDevice({
        console: c,
        node: httpPairingNode(endpoint, enrollToken),
        ssid,
        endpoint,
        force: p.options.force === true,
        signTimeoutMs: signTimeoutS * 1000,
        wait: (ms) => new Promise((res) => setTimeout(res, ms)),
        log: (l) => err(l + '\n'),
        owner,
        async password() {
          const pw = await readPassword(`WiFi password for "${ssid}": `, { fromStdin: p.options['password-stdin'] === true });
          if (pw.length > 0 && (pw.length < 8 || pw.length > 63)) throw new UsageError(`a WPA2 password has 8..63 characters, got ${pw.length}`);
          return pw;
        },
      });
      if (r.status === 'already') {
        const i = r.info;
        process.stdout.write(`device ${i.id} is already paired (endpoint ${i.endpoint || '?'}, WiFi ${i.ssid || '?'}); nothing changed. Use --force to pair again.\n`);
      } else {
        process.stdout.write(`paired: device id ${r.id}${owner ? ' (owner sent; the node records it on chain)' : ''}\n`);
      }
      return EXIT.OK;
    } catch (e) {
      if (e instanceof PortError) { err(`deep pair: ${e.message}\n`); return EXIT.IO; }
      if (e instanceof PairingError) { err(`deep pair: ${e.message}\n`); return e.exit === 'io' ? EXIT.IO : EXIT.FAILED; }
      throw e;
    } finally {
      await link.close();
    }
  },
};
export default command;
