// `deep testnet` (what `npm start` runs): the smart-testnet mini-grid on this machine,
// see host-tools/testnet/testnet.ts. Ends with one line
//   bikes=… reports=… verified=… rejected=… max_error_mwh=…
// and exits 0 when every chain is complete and every total within tolerance, 1 otherwise.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs, UsageError, intOption } from '../args';
import { EXIT, type Command } from '../command';
import { build, builtBoard, DIST, ROOT } from '../../build/build';
import { runTestnet } from '../../testnet/testnet';
import { PriceFileError } from '../../testnet/prices';

/** "24h", "90m", "3600s", "3600" (seconds) -> seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(h|m|s)?$/.exec(text);
  if (!m) throw new UsageError(`--duration expected a number with an optional unit h, m or s (e.g. 24h, 90m, 3600s), got "${text}"`);
  const n = Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
  if (n < 60 || n > 7 * 86400) throw new UsageError(`--duration expected 1m..168h, got "${text}"`);
  return n;
}

/**
 * What an emulated bike runs: the firmware and the Ed25519 signer it loads from Storage
 * (without the module a bike boots with no key and cannot pair).
 */
export const TESTNET_BUNDLES = ['firmware', 'ed25519-module'];

/**
 * True when dist/firmware.js or dist/ed25519-module.js is missing, the firmware was built
 * for another board than `board` (after `deep build --board espruino-linux`, say), or
 * either is older than any source it is built from (firmware/, protocol/, boards/,
 * rollup.config.js): a fresh clone builds once, later runs start at once. The bundle's
 * board is also checked at boot (group.ts).
 */
export function bundleStale(board: string, dist: string = DIST): boolean {
  const outs = TESTNET_BUNDLES.map((b) => path.join(dist, b + '.js'));
  if (outs.some((f) => !existsSync(f)) || builtBoard(dist) !== board) return true;
  const built = Math.min(...outs.map((f) => statSync(f).mtimeMs));
  const newer = (p: string): boolean => {
    const st = statSync(p);
    if (!st.isDirectory()) return st.mtimeMs > built;
    return readdirSync(p).some((n) => newer(path.join(p, n)));
  };
  return ['firmware', 'protocol', 'boards', 'rollup.config.js'].some((n) => existsSync(path.join(ROOT, n)) && newer(path.join(ROOT, n)));
}

/** True when the web app (dist/app) is missing or older than its sources: the node serves it during the run. */
export function appStale(dist: string = DIST): boolean {
  const out = path.join(dist, 'app', 'app.js');
  if (!existsSync(out) || !existsSync(path.join(dist, 'app', 'index.html'))) return true;
  const built = statSync(out).mtimeMs;
  const newer = (p: string): boolean => {
    const st = statSync(p);
    if (!st.isDirectory()) return st.mtimeMs > built;
    return readdirSync(p).some((n) => newer(path.join(p, n)));
  };
  return ['host-tools/app', 'host-tools/pairing'].some((n) => existsSync(path.join(ROOT, n)) && newer(path.join(ROOT, n)));
}

/** The board the testnet wires its emulated bikes as (MCP2515 on SPI, VESC on Serial2). */
const TESTNET_BOARD = 'esp32-devkitc';

const command: Command = {
  name: 'testnet',
  summary: 'run the smart-testnet mini-grid: emulated bikes, charging hubs and a ledger node (npm start)',
  usage: 'deep testnet [--bikes N] [--hubs N] [--duration 24h] [--speedup X] [--seed N] [--port P] [--data DIR] [--prices CSV] [--workers N] [--poll-ms MS] [--anchor on|off] [--market on|off] [--ledger evm|fabric-inproc] [--serve]',
  options: {
    bikes: { type: 'string', description: 'number of bikes, each the firmware bundle in the emulator', default: '3' },
    hubs: { type: 'string', description: 'number of charging hubs', default: '2' },
    duration: { type: 'string', description: 'simulated time the bikes ride (h, m or s)', default: '24h' },
    speedup: { type: 'string', description: 'simulated seconds per real second; 0 = as fast as possible', default: '0' },
    seed: { type: 'string', description: 'seed of the rides, keys and sensor noise: same seed, same totals', default: '1' },
    port: { type: 'string', description: 'ingest node port on 127.0.0.1; 0 = a free port', default: '0' },
    data: { type: 'string', description: 'folder for the SQLite ledger and the node log (default: a new temporary folder)' },
    prices: { type: 'string', description: 'price CSV (start,import[,export] per interval; see host-tools/testnet/prices.ts); default: the bundled sample' },
    workers: { type: 'string', description: 'worker threads running the bikes (default: one per bike, up to 8; 0 = all in the main thread)' },
    'poll-ms': { type: 'string', description: "the devices' bus poll period in ms, also the simulator's physics step (100 is the firmware's own; the compressed day polls once a simulated second)", default: '1000' },
    'skip-build': { type: 'boolean', description: 'use dist/firmware.js as it is (by default it is rebuilt when older than its sources)' },
    anchor: { type: 'string', description: 'on: anchor the ledger on a local EVM chain (Hardhat, London, chain id 73799) and settle on it; off: no chain', default: 'on' },
    serve: { type: 'boolean', description: 'after the summary, keep the ingest node and the web app up (Ctrl-C stops them) to browse the finished day' },
    market: { type: 'string', description: "on: each hub's local market clears every 15 min and runs the plugged bikes at their matched power (protocol/MARKET.md); off: the ride scripts charge and export", default: 'on' },
    ledger: { type: 'string', description: 'evm: the EVM chain of --anchor; fabric-inproc: instead, every report through the DEEP Fabric chaincode in this process (contract API, in-memory state), balances compared with the settlement', default: 'evm' },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const bikes = intOption(p, 'bikes', 1, 50)!;
    const hubs = intOption(p, 'hubs', 1, 20)!;
    const speedup = intOption(p, 'speedup', 0, 1_000_000)!;
    const seed = intOption(p, 'seed', 0, 0xffffffff)!;
    const port = intOption(p, 'port', 0, 65535)!;
    const durationS = parseDuration(p.options.duration as string);
    const workers = intOption(p, 'workers', 0, 64);
    const pollMs = intOption(p, 'poll-ms', 20, 2000)!;
    const anchorOpt = p.options.anchor as string;
    if (anchorOpt !== 'on' && anchorOpt !== 'off') throw new UsageError(`--anchor expected on or off, got ${JSON.stringify(anchorOpt)}`);
    const marketOpt = p.options.market as string;
    if (marketOpt !== 'on' && marketOpt !== 'off') throw new UsageError(`--market expected on or off, got ${JSON.stringify(marketOpt)}`);
    const ledger = p.options.ledger as string;
    if (ledger !== 'evm' && ledger !== 'fabric-inproc') throw new UsageError(`--ledger expected evm or fabric-inproc, got ${JSON.stringify(ledger)}`);
    // The physics steps at the poll period and each BMS broadcasts about once per poll:
    // the simulated current is constant over a step and the device samples every step, so
    // the compressed day stays exact to the report's mWh while doing a tenth of the work.
    const tuning = { pollMs, bmsRateHz: Math.max(1, Math.min(10, Math.round(1000 / pollMs))), simStepMs: Math.min(pollMs, 1000) };
    const err = (s: string) => process.stderr.write(s + '\n');

    if (!p.options['skip-build'] && bundleStale(TESTNET_BOARD)) {
      const r = await build({ board: TESTNET_BOARD, bundles: TESTNET_BUNDLES, log: (line) => err(`building ${line}`) });
      err(`built ${r.bundles.map((x) => `${x.file} (${x.bytes} bytes)`).join(', ')}`);
    }
    if (!p.options['skip-build'] && appStale()) {
      const r = await build({ board: TESTNET_BOARD, bundles: ['app'], log: (line) => err(`building ${line}`) });
      err(`built the web app: JavaScript ${r.app?.jsGzipBytes} bytes gzipped`);
    }
    // Without --data the ledger goes to a temporary folder of our own, kept (and named)
    // only when the run reached its summary: a crash or Ctrl-C leaves nothing behind.
    const ownDir = p.options.data === undefined ? mkdtempSync(path.join(tmpdir(), 'deep-testnet-')) : undefined;
    const dropOwnDir = () => { if (ownDir) rmSync(ownDir, { recursive: true, force: true }); };
    const onSignal = (sig: NodeJS.Signals) => { dropOwnDir(); process.exit(sig === 'SIGINT' ? 130 : 143); };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let result;
    try {
      result = await runTestnet({
        bikes, hubs, seed, durationS, speedup, port, workers, tuning, anchor: anchorOpt === 'on', market: marketOpt === 'on', ledger,
        dataDir: ownDir ?? (p.options.data as string),
        prices: p.options.prices as string | undefined,
        out: process.stdout,
        log: err,
        serve: p.options.serve === true,
      });
    } catch (e) {
      dropOwnDir();
      if (e instanceof PriceFileError) {
        err(`deep testnet: ${e.message}`);
        return EXIT.USAGE;
      }
      throw e;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    process.stdout.write(result.lines.join('\n') + '\n');
    err(`ledger and node log kept in ${result.dataDir}`);
    if (result.serving) {
      err(`serving the finished day: ${result.serving.url}/app/#/grid (Ctrl-C stops the node)`);
      const sig = await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      err(`deep testnet: ${sig}, node stopped`);
      await result.serving.close();
    }
    return result.ok ? EXIT.OK : EXIT.FAILED;
  },
};
export default command;
