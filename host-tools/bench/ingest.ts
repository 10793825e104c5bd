// npm run bench:ingest [-- --duration S --batch N --devices N --reports N --workers N]
//
// Drives a `deep ingest` node (a child process, SQLite in a temp dir) over HTTP on loopback
// with batches of reports made by `deep report` (one chain per device, each device posting
// its batches in order), for a set time. Prints accepted reports per second, acknowledge
// latency (one POST of a batch, until the answer after the durable commit), and the same
// machine's raw node:crypto Ed25519 verify rate on all cores, then the ratio between them.
// Ends with one line: accepted_per_s=… p99_ms=… raw_verify_per_s=… ratio=…
//
// `deep report` signs with the device's JavaScript Ed25519 (slow on purpose: it is the
// device code path), so its files are cached in .tmp/bench-ingest/ by seed and count.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, sign as edSign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseArgs, intOption } from '../cli/args';
import { decodeSequence } from '../../protocol/cbor';
import { decodeSign1, sign1ToBeSigned } from '../../protocol/cose';
import { makePairingProof } from '../../protocol/pairing';
import { ed25519PublicKey } from '../../firmware/keys/ed25519';
import { spawnIngestNode } from '../ingest/child';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEEP = path.join(ROOT, 'host-tools/bin/deep.js');

const spec = {
  duration: { type: 'string' as const, description: 'seconds of load', default: '10' },
  batch: { type: 'string' as const, description: 'reports per POST', default: '100' },
  devices: { type: 'string' as const, description: 'devices, each posting its own chain concurrently', default: '8' },
  reports: { type: 'string' as const, description: 'reports per device made by deep report (cached)', default: '2500' },
  workers: { type: 'string' as const, description: 'verify threads of the node (default: one per core)' },
};

function seedOf(i: number): string {
  return (0xb0 + i).toString(16).padStart(2, '0').repeat(32);
}

/** `deep report` files, made two at a time (one per core) and cached. */
async function reportFiles(devices: number, count: number): Promise<string[]> {
  const dir = path.join(ROOT, '.tmp/bench-ingest');
  mkdirSync(dir, { recursive: true });
  const files = Array.from({ length: devices }, (_, i) => path.join(dir, `${seedOf(i).slice(0, 8)}-${count}.cbor`));
  const todo = files.map((f, i) => ({ f, i })).filter(({ f }) => !existsSync(f));
  if (todo.length) process.stdout.write(`making ${todo.length} x ${count} reports with deep report (cached in ${path.relative(ROOT, dir)})...\n`);
  const run = async () => {
    for (let job = todo.shift(); job; job = todo.shift()) {
      const tmp = `${job.f}.part`;
      await new Promise<void>((resolve, reject) => {
        const c = spawn(process.execPath, [DEEP, 'report', '--seed', seedOf(job!.i), '--count', String(count), '--out', tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
        c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`deep report exited with ${code}`))));
      });
      execFileSync('mv', [tmp, job.f]);
    }
  };
  await Promise.all(Array.from({ length: availableParallelism() }, run));
  return files;
}

function startNode(db: string, workers?: number): Promise<{ child: ChildProcess; url: string }> {
  // DEEP_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=.tmp/prof" profiles the node's main thread.
  const nodeArgs = (process.env.DEEP_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawnIngestNode({ db, workers, nodeArgs, stderr: 'inherit' });
}

function signerOf(seedHex: string): (m: Uint8Array) => Uint8Array {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return (m) => new Uint8Array(edSign(null, m, key));
}

async function registerDevice(url: string, seedHex: string): Promise<void> {
  const publicKey = ed25519PublicKey(Buffer.from(seedHex, 'hex'));
  const c = ((await (await fetch(`${url}/v1/devices/challenge`)).json()) as { challenge: string }).challenge;
  const proof = makePairingProof({ challenge: Buffer.from(c, 'hex'), publicKey, firmware: 256 }, signerOf(seedHex));
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

/** Raw node:crypto verify of one report's ToBeSigned, one thread per core, for `ms`. */
async function rawVerifyRate(report: Uint8Array, publicKey: Uint8Array, ms: number): Promise<number> {
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
    parentPort.postMessage(n / ((t - t0) / 1000));`;
  const rates = await Promise.all(
    Array.from({ length: availableParallelism() }, () => new Promise<number>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: data });
      w.once('message', resolve);
      w.once('error', reject);
    })),
  );
  return rates.reduce((a, b) => a + b, 0);
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const p = parseArgs(process.argv.slice(2), spec);
  const durationS = intOption(p, 'duration', 1, 3600)!;
  const batch = intOption(p, 'batch', 1, 10_000)!;
  const devices = intOption(p, 'devices', 1, 64)!;
  const perDevice = intOption(p, 'reports', 10, 9000)!;
  const workers = intOption(p, 'workers', 1, 64);

  const files = await reportFiles(devices, perDevice);
  const chains = files.map((f) => decodeSequence(new Uint8Array(readFileSync(f))).map((x) => x.bytes));
  const tmp = mkdtempSync(path.join(tmpdir(), 'deep-bench-ingest-'));
  const { child, url } = await startNode(path.join(tmp, 'ledger.db'), workers);
  try {
    for (let i = 0; i < devices; i++) await registerDevice(url, seedOf(i));
    // Warm-up: the first batch of each device (tsx compiling the workers, SQLite pages).
    for (let i = 0; i < devices; i++) {
      await fetch(`${url}/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: cborArray(chains[i].slice(0, 10)) });
    }
    const latMs: number[] = [];
    let accepted = 0;
    let other = 0;
    let exhausted = 0;
    const t0 = performance.now();
    const deadline = t0 + durationS * 1000;
    await Promise.all(chains.map(async (chain) => {
      for (let i = 10; i < chain.length && performance.now() < deadline; i += batch) {
        const body = cborArray(chain.slice(i, i + batch));
        const t = performance.now();
        const res = await fetch(`${url}/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body });
        const j = (await res.json()) as { accepted: number; duplicate: number; rejected: number; results: { reason?: string; detail?: string }[] };
        latMs.push(performance.now() - t);
        if (res.status !== 200) throw new Error(`POST answered ${res.status}: ${JSON.stringify(j)}`);
        accepted += j.accepted;
        other += j.duplicate + j.rejected;
        if (j.rejected) throw new Error(`rejected: ${JSON.stringify(j.results.find((r) => r.reason))}`);
      }
      if (performance.now() < deadline) exhausted++;
    }));
    const elapsedS = (performance.now() - t0) / 1000;
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const commits = Number(/^deep_ingest_commits_total (\d+)/m.exec(metrics)?.[1] ?? NaN);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));

    latMs.sort((a, b) => a - b);
    const acceptedPerS = accepted / elapsedS;
    const publicKey = ed25519PublicKey(Buffer.from(seedOf(0), 'hex'));
    const raw = await rawVerifyRate(chains[0][20], publicKey, 2000);
    const ratio = acceptedPerS / raw;
    const f1 = (x: number) => x.toFixed(1);
    process.stdout.write(
      [
        `load: ${devices} devices x batches of ${batch}, ${f1(elapsedS)} s, node with ${workers ?? availableParallelism()} verify workers`,
        `accepted reports: ${accepted} (${other} duplicate/rejected), ${f1(acceptedPerS)}/s, in ${commits} group commits`,
        `acknowledge latency per batch: p50 ${f1(percentile(latMs, 50))} ms, p99 ${f1(percentile(latMs, 99))} ms (${latMs.length} requests)`,
        `raw node:crypto Ed25519 verify on ${availableParallelism()} cores: ${f1(raw)}/s`,
        exhausted ? `note: ${exhausted} device(s) ran out of reports before the time was up (raise --reports)` : '',
        `accepted_per_s=${f1(acceptedPerS)} p99_ms=${f1(percentile(latMs, 99))} raw_verify_per_s=${f1(raw)} ratio=${ratio.toFixed(3)}`,
      ].filter(Boolean).join('\n') + '\n',
    );
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench:ingest: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

