// npm run bench:ingest [-- --duration S --batch N --devices N --load F --preload N --workers N --db sqlite|postgres --nodes N]
//
// Drives a `deep ingest` node (a child process, SQLite in a temp dir) over HTTP on loopback
// with batches of reports (one chain per device, each device posting its batches in order).
// In one run, on the same machine:
//   1. warm-up, then `--duration` s of full load (each device posts its next batch as soon
//      as the last is answered): accepted reports per second, with durable commits;
//   2. raw node:crypto Ed25519 verify rate on all cores (the ceiling), measured just before
//      and just after the full load (the node idle, 1 s after its last answer), their mean
//      used: the machine is shared, and its spare capacity drifts while the bench runs;
//   3. `--duration` s of paced load at `--load` (0.8) of that rate, batches sent on a
//      schedule whether or not the last was answered: acknowledge latency p50/p99 (one POST,
//      until its answer, which follows the durable commit). 2 s at that rate come first,
//      unmeasured: the node leaves full load with a backlog (batches to close, garbage).
//      DEEP_TIMELINE=1 writes each paced POST's schedule time and latency to stderr.
// Ends with one line: accepted_per_s=… p50_ms=… p99_ms=… raw_verify_per_s=… ratio=…
// (p50/p99 of the paced run; ratio = accepted_per_s / raw_verify_per_s).
//
// Reports are the `deep report` rides signed by node:crypto (host-tools/bench/rides.ts: the
// same bytes as the device code path), cached in .tmp/bench-ingest/ by seed; a longer ride
// has the shorter one as its prefix, so the largest file made serves every smaller run.
// `--preload N` runs the same load twice: on an empty database, then on one already holding
// N accepted reports of other devices (valid signed chains inserted through the store
// directly, then batched; cached by N), and prints both rates and their difference.
// `--db postgres` runs the node(s) on a PostgreSQL server of their own (test/_postgres.ts:
// initdb in a temp folder, loopback, fsync on), `--nodes N` starts N nodes on that one
// database, device d posting to node d mod N; CPU figures are the nodes', not the server's.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { parseArgs, intOption } from '../cli/args';
import { decodeSequence } from '../../protocol/cbor';
import { decodeSign1, sign1, sign1ToBeSigned } from '../../protocol/cose';
import { makePairingProof } from '../../protocol/pairing';
import { kidFromPublicKey } from '../../protocol/kid';
import { CLOCK_SYNCED, encodeReport, firmwareVersion, REPORT_VERSION, type EnergyReport } from '../../protocol/report';
import { toHex } from '../../protocol/bytes';
import { ed25519PublicKey } from '../../firmware/keys/ed25519';
import { spawnIngestNode } from '../ingest/child';
import { openSqliteStore } from '../ingest/sqlite';
import { ReportRecord } from '../ingest/facts';
import { createBatcher } from '../ingest/batches';
import { silentLogger } from '../ingest/log';
import { nodeSigner } from './rides';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CACHE = path.join(ROOT, '.tmp/bench-ingest');

const spec = {
  duration: { type: 'string' as const, description: 'seconds of each measured phase (full load, then paced load)', default: '12' },
  batch: { type: 'string' as const, description: 'reports per POST', default: '100' },
  devices: { type: 'string' as const, description: 'devices, each posting its own chain', default: '64' },
  load: { type: 'string' as const, description: 'percent of the full-load rate for the latency phase', default: '80' },
  preload: { type: 'string' as const, description: 'accepted reports already in the database when the node starts', default: '0' },
  workers: { type: 'string' as const, description: 'verify threads of the node (default: one per core)' },
  db: { type: 'string' as const, description: 'store of the nodes: sqlite or postgres', default: 'sqlite' },
  nodes: { type: 'string' as const, description: 'ingest nodes on the one database (postgres only)', default: '1' },
};

function seedOf(i: number): string {
  return (0xb0 + i).toString(16).padStart(2, '0').repeat(32);
}

/** The cached ride of a seed with at least `count` reports, or undefined. */
function cachedRide(seedHex: string, count: number): string | undefined {
  const prefix = `${seedHex.slice(0, 8)}-`;
  const have = readdirSync(CACHE)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.cbor'))
    .map((f) => ({ f, n: Number(f.slice(prefix.length, -5)) }))
    .filter((x) => x.n >= count)
    .sort((a, b) => a.n - b.n);
  return have[0] && path.join(CACHE, have[0].f);
}

/** Rides of `count` reports per device, made one per core (ride-file.ts) when not cached. */
async function rides(devices: number, count: number): Promise<Uint8Array[][]> {
  mkdirSync(CACHE, { recursive: true });
  const todo = Array.from({ length: devices }, (_, i) => i).filter((i) => !cachedRide(seedOf(i), count));
  if (todo.length) process.stdout.write(`making ${todo.length} rides of ${count} reports (node:crypto signer, cached in ${path.relative(ROOT, CACHE)})...\n`);
  const run = async () => {
    for (let i = todo.shift(); i !== undefined; i = todo.shift()) {
      const out = path.join(CACHE, `${seedOf(i).slice(0, 8)}-${count}.cbor`);
      await new Promise<void>((resolve, reject) => {
        const c = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'host-tools/bench/ride-file.ts'), seedOf(i), String(count), out], { stdio: ['ignore', 'ignore', 'inherit'] });
        c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ride-file.ts exited with ${code}`))));
      });
    }
  };
  await Promise.all(Array.from({ length: availableParallelism() }, run));
  return Array.from({ length: devices }, (_, i) => decodeSequence(new Uint8Array(readFileSync(cachedRide(seedOf(i), count)!))).slice(0, count).map((x) => x.bytes));
}

/**
 * A database holding `n` accepted reports: chains of 10,000 signed reports per device
 * (protocol encoder, node:crypto signer), inserted through the store as the node would.
 */
function preloadDb(n: number): string {
  const file = path.join(CACHE, `preload-${n}.db`);
  if (existsSync(file)) return batchAll(file);
  process.stdout.write(`preloading a database with ${n} reports (cached as ${path.relative(ROOT, file)})...\n`);
  const part = `${file}.part`;
  rmSync(part, { force: true });
  rmSync(`${part}-wal`, { force: true });
  const store = openSqliteStore(part);
  const perDevice = 10_000;
  const baseS = Math.floor(Date.now() / 1000) - 30 * 86400;
  const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
  const t0 = performance.now();
  for (let d = 0, done = 0; done < n; d++) {
    const seed = new Uint8Array(createHash('sha256').update(`preload ${d}`).digest());
    const publicKey = ed25519PublicKey(seed);
    const kid = kidFromPublicKey(publicKey);
    const id = toHex(kid);
    const sign = nodeSigner(seed);
    const count = Math.min(perDevice, n - done);
    const life = [0, 0];
    let prev = new Uint8Array(32);
    store.transactionSync(() => store.insertDevice({ id, publicKey, registeredAt: Date.now() }));
    for (let seq = 0; seq < count; ) {
      store.transactionSync(() => {
        for (const end = Math.min(count, seq + 2000); seq < end; seq++) {
          const motor = [900 + (seq % 13), 700 + (seq % 7)];
          life[0] += motor[0];
          life[1] += motor[1];
          const r: EnergyReport = {
            version: REPORT_VERSION, kid, seq, prev, clock: CLOCK_SYNCED, startS: baseS + seq * 60, durationS: 60,
            packs: [0, 1].map((i) => ({
              canId: 10 + i, gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: motor[i], regenToPackMwh: 0, chargeMah: -(motor[i] >> 5),
              lifetime: { gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: life[i], regenToPackMwh: 0 },
            })),
            faults: { vesc: 0, bms: 0, device: 0 },
            firmware: firmwareVersion(0, 1, 0),
          };
          const bytes = sign1(encodeReport(r), kid, sign);
          const hash = sha(bytes);
          store.insertAccepted(new ReportRecord(r, hash, bytes, Date.now()), Date.now());
          store.setHead(id, seq, hash, Date.now(), null);
          prev = hash;
        }
      });
    }
    done += count;
    if (d % 50 === 49) process.stdout.write(`  ${done} reports, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  store.close();
  renameSync(part, file);
  return batchAll(file);
}

/**
 * Closes batches over every report of the file not in one yet, as a node that ran all along
 * would have: a preloaded ledger without them would have the node's batcher working through
 * the backlog during the measurement. Batches of 100,000 (a node's --batch-max-reports).
 */
function batchAll(file: string): string {
  const store = openSqliteStore(file);
  try {
    const backlog = store.batches!.unbatched().count;
    if (backlog) {
      process.stdout.write(`closing batches over ${backlog} preloaded reports...\n`);
      createBatcher(store, { maxReports: 100_000, intervalMs: 1, logger: silentLogger }).closeDue(Date.now() + 86_400_000);
    }
  } finally {
    store.close();
  }
  return file;
}

function startNode(db: string, workers?: number): Promise<{ child: ChildProcess; url: string }> {
  // DEEP_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=.tmp/prof" profiles the node (main thread and workers);
  // DEEP_BENCH_INGEST_ARGS="--max-in-flight 500" passes options to deep ingest.
  const words = (v: string | undefined) => (v ?? '').split(' ').filter(Boolean);
  return spawnIngestNode({ db, workers, nodeArgs: words(process.env.DEEP_BENCH_NODE_ARGS), stderr: 'inherit', args: ['--rate-register', '0', ...words(process.env.DEEP_BENCH_INGEST_ARGS)] });
}

async function registerDevice(url: string, seedHex: string): Promise<void> {
  const seed = Buffer.from(seedHex, 'hex');
  const publicKey = ed25519PublicKey(seed);
  const c = ((await (await fetch(`${url}/v1/devices/challenge`)).json()) as { challenge: string }).challenge;
  const proof = makePairingProof({ challenge: Buffer.from(c, 'hex'), publicKey, firmware: 256 }, nodeSigner(seed));
  const res = await fetch(`${url}/v1/devices`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ challenge: c, proof: Buffer.from(proof).toString('base64') }),
  });
  if (res.status !== 201) throw new Error(`registration failed: HTTP ${res.status} ${await res.text()}`);
}

function cborArray(items: Uint8Array[]): Buffer {
  const n = items.length;
  const head = n < 24 ? [0x80 + n] : n < 256 ? [0x98, n] : [0x99, n >> 8, n & 255];
  return Buffer.concat([Buffer.from(head), ...items]);
}

/**
 * Raw node:crypto verify of one report's ToBeSigned, one thread per core, for `ms`: the
 * rate, and the CPU time one verify took (this process does nothing else meanwhile).
 */
async function rawVerifyRate(report: Uint8Array, publicKey: Uint8Array, ms: number): Promise<RawRate> {
  const s = decodeSign1(report);
  const data = { tbs: sign1ToBeSigned(s), sig: s.signature, pub: publicKey, ms };
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { createPublicKey, verify } = require('node:crypto');
    const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), workerData.pub]), format: 'der', type: 'spki' });
    const tbs = Buffer.from(workerData.tbs), sig = Buffer.from(workerData.sig);
    for (let i = 0; i < 200; i++) verify(null, tbs, key, sig);
    let n = 0; const t0 = performance.now(); let t = t0;
    while (t - t0 < workerData.ms) { for (let i = 0; i < 100; i++) if (!verify(null, tbs, key, sig)) throw new Error('bad'); n += 100; t = performance.now(); }
    parentPort.postMessage({ n, rate: n / ((t - t0) / 1000) });`;
  const cpu0 = process.cpuUsage();
  const runs = await Promise.all(
    Array.from({ length: availableParallelism() }, () => new Promise<{ n: number; rate: number }>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: data });
      w.once('message', resolve);
      w.once('error', reject);
    })),
  );
  const cpu = process.cpuUsage(cpu0);
  const n = runs.reduce((a, r) => a + r.n, 0);
  // The 200 warm-up verifies per thread count too.
  return { rate: runs.reduce((a, r) => a + r.rate, 0), cpuUs: (cpu.user + cpu.system) / (n + 200 * runs.length) };
}

/**
 * CPU seconds (user + system, all threads) a process used so far, from /proc (Linux; NaN
 * elsewhere). Unlike rates, CPU per report does not drift with what else the machine runs.
 */
function cpuSecondsOf(pid: number | undefined, thread?: number): number {
  try {
    const file = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
    const fields = readFileSync(file, 'utf8').replace(/^.*\) /, '').split(' ');
    // After "pid (comm) ": state is field 3, utime 14 and stime 15 (proc(5)), in clock ticks (100/s).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds and nice value of each thread of a process (Linux /proc/PID/task/TID/stat,
 * proc(5): utime, stime in ticks, nice); empty elsewhere. Node 20 names every thread "node":
 * the verify workers are told apart by their nice value (worker.ts lowers it to 10).
 */
function cpuByThread(pid: number): Map<number, { nice: number; s: number }> {
  const out = new Map<number, { nice: number; s: number }>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // After "tid (comm) ": state is field 3, utime 14, stime 15, nice 19.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), { nice: Number(fields[16]), s: (Number(fields[11]) + Number(fields[12])) / 100 });
    }
  } catch {
    // not Linux, or the process is gone
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Phase {
  accepted: number;
  seconds: number;
  latMs: number[];
  /** Devices that had no reports left before the phase ended. */
  exhausted: number;
}

/** Where each device's chain stands: the next batch to send. */
type Cursors = number[];

/**
 * Each device's chain as the POSTs that carry it (requestOf a CBOR array of `batch` reports
 * each), made before the node starts: building them while measuring took CPU from the node
 * it measures (the load generator shares the machine).
 */
function bodiesOf(chains: Uint8Array[][], batch: number): Buffer[][] {
  return chains.map((chain) => {
    const out: Buffer[] = [];
    for (let i = 0; i + batch <= chain.length; i += batch) out.push(requestOf(cborArray(chain.slice(i, i + batch))));
    return out;
  });
}

// The load generator shares the machine with the node, so it is kept light: requests are
// written whole on kept-alive TCP connections, and only the answer's summary is parsed
// unless something was rejected. Node's http client had cost ~4.5 us of CPU per report
// here (fetch ~10 us), CPU the node being measured did not get.
const SUMMARY = /^\{"accepted":(\d+),"duplicate":(\d+),"rejected":(\d+)/;

/** One POST /v1/reports with its body, as the bytes a client writes (made once, sent as is). */
function requestOf(body: Buffer): Buffer {
  const head = `POST /v1/reports HTTP/1.1\r\nHost: bench\r\nContent-Type: application/cbor\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

interface Answer {
  status: number;
  text: string;
}

/**
 * A minimal HTTP/1.1 client: kept-alive connections to one node, one request at a time on
 * each (a new connection when none is idle), answers read by their Content-Length (the node
 * always sends one: server.ts send()).
 */
class RawClient {
  private idle: net.Socket[] = [];

  constructor(private readonly host: string, private readonly port: number) {}

  request(raw: Buffer): Promise<Answer> {
    const reused = this.idle.pop();
    return this.send(reused ?? this.connect(), raw).catch((err: NodeJS.ErrnoException) => {
      // A kept-alive connection the node closed (idle past its keep-alive timeout) as it was
      // reused: the request never reached the node. Sent again on a fresh connection; a
      // resend is answered as duplicates at worst.
      if (reused && (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.message === 'closed before the answer')) return this.send(this.connect(), raw);
      throw err;
    });
  }

  private connect(): net.Socket {
    const socket = net.connect(this.port, this.host);
    socket.setNoDelay(true);
    // Closed while idle: out of the pool.
    socket.on('close', () => {
      const i = this.idle.indexOf(socket);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return socket;
  }

  private send(socket: net.Socket, raw: Buffer): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      let got: Buffer = Buffer.alloc(0);
      const done = (err: Error | null, a?: Answer) => {
        socket.off('data', onData);
        socket.off('error', done);
        socket.off('close', onClose);
        if (err) {
          socket.destroy();
          reject(err);
          return;
        }
        this.idle.push(socket);
        resolve(a!);
      };
      const onClose = () => done(new Error('closed before the answer'));
      const onData = (c: Buffer) => {
        got = got.length ? Buffer.concat([got, c]) : c;
        const end = got.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = got.toString('latin1', 0, end);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
        if (!status || !Number.isFinite(length)) return done(new Error(`unexpected answer head: ${head.slice(0, 200)}`));
        if (got.length < end + 4 + length) return;
        done(null, { status, text: got.toString('utf8', end + 4, end + 4 + length) });
      };
      socket.on('data', onData);
      socket.on('error', done);
      socket.on('close', onClose);
      socket.write(raw);
    });
  }

  close(): void {
    for (const s of this.idle.splice(0)) s.destroy();
  }
}

const clients = new Map<string, RawClient>();

async function post(url: string, raw: Buffer): Promise<{ accepted: number; ms: number }> {
  const t = performance.now();
  let client = clients.get(url);
  if (!client) {
    const u = new URL(url);
    clients.set(url, (client = new RawClient(u.hostname, Number(u.port))));
  }
  const { status, text } = await client.request(raw);
  const ms = performance.now() - t;
  const m = status === 200 ? SUMMARY.exec(text) : null;
  if (!m) throw new Error(`POST answered ${status}: ${text.slice(0, 500)}`);
  if (Number(m[3])) {
    const j = JSON.parse(text) as { results: { reason?: string; detail?: string }[] };
    throw new Error(`rejected: ${JSON.stringify(j.results.find((r) => r.reason))}`);
  }
  return { accepted: Number(m[1]), ms };
}

/** Every device posts its next batch as soon as its last one was answered. */
async function fullLoad(urls: string[], chains: Buffer[][], at: Cursors, seconds: number): Promise<Phase> {
  const p: Phase = { accepted: 0, seconds: 0, latMs: [], exhausted: 0 };
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(chains.map(async (chain, d) => {
    while (performance.now() < deadline) {
      if (at[d] >= chain.length) {
        p.exhausted++;
        return;
      }
      const r = await post(urls[d % urls.length], chain[at[d]++]);
      p.accepted += r.accepted;
      p.latMs.push(r.ms);
    }
  }));
  p.seconds = (performance.now() - t0) / 1000;
  return p;
}

/**
 * Batches sent on a fixed schedule adding up to `rate` reports/s, round robin over the
 * devices, whether or not earlier ones were answered (an open loop: latency is not hidden
 * by the sender slowing down).
 */
async function pacedLoad(urls: string[], chains: Buffer[][], at: Cursors, batch: number, seconds: number, rate: number): Promise<Phase> {
  const p: Phase = { accepted: 0, seconds: 0, latMs: [], exhausted: 0 };
  const gapMs = (batch / rate) * 1000;
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let k = 0; ; k++) {
    const due = t0 + k * gapMs;
    if (due - t0 >= seconds * 1000) break;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const d = k % chains.length;
    if (at[d] >= chains[d].length) {
      p.exhausted++;
      break;
    }
    const sent = post(urls[d % urls.length], chains[d][at[d]++]).then((r) => {
      p.accepted += r.accepted;
      p.latMs.push(r.ms);
      if (process.env.DEEP_TIMELINE) process.stderr.write(`lat ${((due - t0) / 1000).toFixed(2)} ${r.ms.toFixed(1)}\n`);
    });
    // Handled here, thrown by Promise.all below: an unhandled rejection would end the
    // process before runNode stops the node it started.
    sent.catch(() => undefined);
    inflight.push(sent);
  }
  await Promise.all(inflight);
  p.seconds = (performance.now() - t0) / 1000;
  return p;
}

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), spec);
  const durationS = intOption(p, 'duration', 1, 3600)!;
  const batch = intOption(p, 'batch', 1, 10_000)!;
  const devices = intOption(p, 'devices', 1, 64)!;
  const loadPct = intOption(p, 'load', 1, 100)!;
  const preload = intOption(p, 'preload', 0, 100_000_000)!;
  const workers = intOption(p, 'workers', 1, 64);
  const nodes = intOption(p, 'nodes', 1, 16)!;
  const dbKind = p.options.db as string;
  if (dbKind !== 'sqlite' && dbKind !== 'postgres') throw new Error(`--db expected sqlite or postgres, got ${JSON.stringify(dbKind)}`);
  if (dbKind === 'sqlite' && nodes !== 1) throw new Error('--nodes: a SQLite file takes one node; use --db postgres for several');
  if (dbKind === 'postgres' && preload) throw new Error('--preload is measured on SQLite only');
  const cores = availableParallelism();
  // Loaded only for PostgreSQL: the harness lives with the tests.
  const pgServer = dbKind === 'postgres' ? await (await import('../../test/_postgres')).startPostgres() : undefined;
  if (dbKind === 'postgres' && !pgServer) throw new Error('--db postgres: PostgreSQL is not installed here (Debian: apt-get install postgresql)');
  try {
    await measure();
  } finally {
    await pgServer?.stop();
  }

  async function measure(): Promise<void> {

  mkdirSync(CACHE, { recursive: true });
  // 1. The ceiling, measured on a report of the same kind (a 193-byte COSE_Sign1).
  const sample = (await rides(1, 30))[0][20];
  const samplePub = ed25519PublicKey(Buffer.from(seedOf(0), 'hex'));
  const raw = () => rawVerifyRate(sample, samplePub, 2000);
  // Enough reports that no device runs dry: the raw rate bounds what the node can take.
  const sizing = (await rawVerifyRate(sample, samplePub, 500)).rate;
  const warmS = 3;
  const perDevice = Math.ceil((Math.max(sizing * 1.3, 25_000) * (warmS + durationS * (1 + loadPct / 100) + 2)) / devices / batch) * batch;
  const chains = bodiesOf(await rides(devices, perDevice), batch);
  const f1 = (x: number) => x.toFixed(1);
  const lines: string[] = [];
  // With --preload, the same load first on an empty database, then on the preloaded one.
  const pgDb = async () => ({ postgres: await pgServer!.createDatabase(), nodes });
  const empty = preload ? await runNode(undefined, chains, { batch, durationS, warmS, loadPct, workers, raw }) : undefined;
  const run = await runNode(pgServer ? await pgDb() : preload ? preloadDb(preload) : undefined, chains, { batch, durationS, warmS, loadPct, workers, raw });
  const describe = (r: NodeRun, label: string) => {
    const raw = meanRaw(r);
    lines.push(
      `${label}: raw node:crypto Ed25519 verify on ${cores} cores: ${f1(r.raw[0].rate)}/s before the full load, ${f1(r.raw[1].rate)}/s after, mean ${f1(raw.rate)}/s (one verify: ${f1(raw.cpuUs)} us of CPU; the node used ${f1(r.nodeCpuDuringRawMs)} ms of CPU meanwhile)`,
      `${label}: full load ${r.full.accepted} accepted in ${f1(r.full.seconds)} s = ${f1(r.acceptedPerS)}/s; latency p50 ${f1(percentile(r.full.latMs, 50))} ms, p99 ${f1(percentile(r.full.latMs, 99))} ms (${r.full.latMs.length} requests)`,
      `${label}: paced at ${loadPct}% (${f1((r.acceptedPerS * loadPct) / 100)}/s offered): ${r.paced.accepted} accepted in ${f1(r.paced.seconds)} s; latency p50 ${f1(percentile(r.paced.latMs, 50))} ms, p99 ${f1(percentile(r.paced.latMs, 99))} ms (${r.paced.latMs.length} requests)`,
      `${label}: node CPU per accepted report under full load ${f1(r.nodeCpuUs)} us (main thread ${f1(r.mainCpuUs)} us, other threads ${f1(r.nodeCpuUs - r.mainCpuUs)} us); ${r.commits} group commits; load generator ${f1(r.clientCpuUs)} us`,
    );
    const byThread = Object.entries(r.threadCpuUs).filter(([, us]) => us >= 0.05).sort((a, b) => b[1] - a[1]);
    if (byThread.length) lines.push(`${label}: node CPU per report by thread: ${byThread.map(([k, us]) => `${k} ${f1(us)} us`).join(', ')}`);
    if (r.full.exhausted || r.paced.exhausted) lines.push(`${label}: note: devices ran out of reports before the time was up (full ${r.full.exhausted}, paced ${r.paced.exhausted}): the figures are low`);
  };
  lines.push(
    pgServer
      ? `nodes: ${nodes} on one PostgreSQL database, ${workers ?? cores} verify workers each; ${devices} devices x batches of ${batch}`
      : `node: SQLite, ${workers ?? cores} verify workers; ${devices} devices x batches of ${batch}`,
  );
  if (empty) describe(empty, 'empty database');
  describe(run, preload ? `preloaded with ${preload} reports` : 'empty database');
  if (empty) {
    lines.push(
      `preloaded vs empty: accepted rate ${f1(((run.acceptedPerS - empty.acceptedPerS) / empty.acceptedPerS) * 100)}%, CPU per report ${f1(((run.nodeCpuUs - empty.nodeCpuUs) / empty.nodeCpuUs) * 100)}%`,
      `empty_accepted_per_s=${f1(empty.acceptedPerS)} preload_accepted_per_s=${f1(run.acceptedPerS)} preload_change_pct=${f1(((run.acceptedPerS - empty.acceptedPerS) / empty.acceptedPerS) * 100)}`,
    );
  }
  const ceiling = meanRaw(run);
  lines.push(
    // cpu_ratio: one raw verify's CPU over the node's CPU per accepted report. Unlike ratio it
    // does not move with what else the machine runs: it is the ratio an idle machine would show
    // if the node kept every core busy.
    `accepted_per_s=${f1(run.acceptedPerS)} p50_ms=${f1(percentile(run.paced.latMs, 50))} p99_ms=${f1(percentile(run.paced.latMs, 99))} raw_verify_per_s=${f1(ceiling.rate)} ratio=${(run.acceptedPerS / ceiling.rate).toFixed(3)} cpu_ratio=${(ceiling.cpuUs / run.nodeCpuUs).toFixed(3)}`,
  );
  process.stdout.write(lines.join('\n') + '\n');
  }
}

interface RawRate {
  rate: number;
  cpuUs: number;
}

/** The mean of a run's two raw measurements: the ceiling its full load is divided by. */
const meanRaw = (r: NodeRun): RawRate => ({ rate: (r.raw[0].rate + r.raw[1].rate) / 2, cpuUs: (r.raw[0].cpuUs + r.raw[1].cpuUs) / 2 });

interface NodeRun {
  /** The raw verify rate just before and just after the full load. */
  raw: [RawRate, RawRate];
  /** What the node used while the raw rate was measured (it should idle). */
  nodeCpuDuringRawMs: number;
  full: Phase;
  paced: Phase;
  acceptedPerS: number;
  nodeCpuUs: number;
  mainCpuUs: number;
  /** This process's CPU (the load generator) per accepted report: taken from the node on a shared machine. */
  clientCpuUs: number;
  commits: number;
  /** Node CPU per accepted report under full load by kind of thread (Linux). */
  threadCpuUs: Record<string, number>;
}

/**
 * Nodes on one database: a copy of `dbFile` or an empty SQLite file (one node), or a
 * PostgreSQL database (`nodes` of them). Warm-up, full load, paced load.
 */
async function runNode(
  dbFile: string | { postgres: string; nodes: number } | undefined,
  chains: Buffer[][],
  o: { batch: number; durationS: number; warmS: number; loadPct: number; workers: number | undefined; raw: () => Promise<RawRate> },
): Promise<NodeRun> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'deep-bench-ingest-'));
  let db = path.join(tmp, 'ledger.db');
  let count = 1;
  if (typeof dbFile === 'string') copyFileSync(dbFile, db);
  else if (dbFile) [db, count] = [dbFile.postgres, dbFile.nodes];
  const started: { child: ChildProcess; url: string }[] = [];
  try {
    for (let i = 0; i < count; i++) started.push(await startNode(db, o.workers));
    const urls = started.map((s) => s.url);
    const pids = started.map((s) => s.child.pid!);
    const cpu = () => pids.reduce((a, pid) => a + cpuSecondsOf(pid), 0);
    const mainCpu = () => pids.reduce((a, pid) => a + cpuSecondsOf(pid, pid), 0);
    for (let i = 0; i < chains.length; i++) await registerDevice(urls[i % urls.length], seedOf(i));
    const at: Cursors = chains.map(() => 0);
    // Warm-up (tsx compiling the workers, JIT, SQLite pages), then full load.
    await fullLoad(urls, chains, at, o.warmS);
    // The ceiling on either side of the full load, the node idle: 1 s to settle its
    // leftovers (batches, garbage), then the raw rate; the node's CPU meanwhile is printed.
    let nodeCpuDuringRaw = 0;
    const rawNow = async (): Promise<RawRate> => {
      await new Promise((r) => setTimeout(r, 1000));
      const c0 = cpu();
      const r = await o.raw();
      nodeCpuDuringRaw += cpu() - c0;
      return r;
    };
    const rawBefore = await rawNow();
    // The main thread's id is the process id (Linux): the rest is the workers and libuv's pool.
    const cpu0 = cpu();
    const main0 = mainCpu();
    const threads0 = pids.map(cpuByThread);
    const client0 = process.cpuUsage();
    const full = await fullLoad(urls, chains, at, o.durationS);
    const client = process.cpuUsage(client0);
    const threadCpuUs: Record<string, number> = {};
    pids.forEach((pid, i) => {
      for (const [tid, t] of cpuByThread(pid)) {
        const kind = tid === pid ? 'main' : t.nice === 10 ? 'verify workers' : 'V8 and libuv helpers';
        threadCpuUs[kind] = (threadCpuUs[kind] ?? 0) + ((t.s - (threads0[i].get(tid)?.s ?? 0)) / full.accepted) * 1e6;
      }
    });
    const clientCpuUs = (client.user + client.system) / full.accepted;
    const nodeCpuUs = ((cpu() - cpu0) / full.accepted) * 1e6;
    const mainCpuUs = ((mainCpu() - main0) / full.accepted) * 1e6;
    const acceptedPerS = full.accepted / full.seconds;
    const rawAfter = await rawNow();
    // Paced load for the latency.
    // The node leaves full load with work behind (batches to close, garbage to collect): 2 s
    // at the paced rate first, so the latency measured is that of the paced load itself.
    await pacedLoad(urls, chains, at, o.batch, 2, (acceptedPerS * o.loadPct) / 100);
    const paced = await pacedLoad(urls, chains, at, o.batch, o.durationS, (acceptedPerS * o.loadPct) / 100);
    let commits = 0;
    for (const url of urls) {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      commits += Number(/^deep_ingest_commits_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
    }
    for (const url of urls) {
      clients.get(url)?.close();
      clients.delete(url);
    }
    for (const { child } of started) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    full.latMs.sort((a, b) => a - b);
    paced.latMs.sort((a, b) => a - b);
    return {
      raw: [rawBefore, rawAfter],
      nodeCpuDuringRawMs: nodeCpuDuringRaw * 1000, full, paced, acceptedPerS, nodeCpuUs, mainCpuUs, clientCpuUs, commits, threadCpuUs,
    };
  } finally {
    for (const { child } of started) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench:ingest: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
