// The engine check (issue 2): the device-side code, bundled as ES5 (dist/engine-check.js),
// prints the same lines under Debian's Duktape, under Node, and when its TypeScript sources
// run on the host. Duktape being a strict ES5 engine, this is our proof that device code
// has no Node-isms and no ES2015+ library calls. Plus independent checks of some lines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import path from 'node:path';
import { build, ROOT } from '../../host-tools/build/build';
import { fromHex, toHex } from '../../protocol/bytes';
import { decodeSign1, sign1ToBeSigned } from '../../protocol/cose';
import { decodeReport } from '../../protocol/report';
import { ENGINE_U32_VALUES } from './cases/bytes';

const BUNDLE = path.join(ROOT, 'dist/engine-check.js');

function newestSource(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Each test asks for what it compares; each result is computed once and kept, failure
 * included, so one broken engine fails the tests that need its output and no others, and
 * no test depends on another having run first.
 */
function once<T>(compute: () => T): () => T {
  let done = false, value: T, error: unknown;
  return () => {
    if (!done) {
      try { value = compute(); } catch (err) { error = err; }
      done = true;
    }
    if (error !== undefined) throw error;
    return value;
  };
}

/** Uses the bundle `npm test` just built, rebuilt when a device source or the build is newer. */
test.before(async () => {
  const sources = Math.max(
    ...['protocol', 'firmware', 'test/engine', 'host-tools/build'].map((d) => newestSource(path.join(ROOT, d))),
    statSync(path.join(ROOT, 'rollup.config.js')).mtimeMs,
  );
  if (!existsSync(BUNDLE) || statSync(BUNDLE).mtimeMs < sources) await build({ bundles: ['engine'] });
});

const bundle = once((): string => {
  if (!existsSync(BUNDLE)) throw new Error('dist/engine-check.js was not built');
  return BUNDLE;
});

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

/** The bundle's output under an engine; throws with the engine's stderr unless it exits 0. */
function runBundle(cmd: string, what: string): string[] {
  const r = spawnSync(cmd, [bundle()], { encoding: 'utf8', timeout: 120_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT' && cmd === 'duk') {
    throw new Error('duk is not installed: the engine check needs Debian\'s Duktape (`apt-get install duktape`, as .ci/run does)');
  }
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${what} exited with ${r.status}: ${r.stderr}`);
  return lines(r.stdout);
}

const dukLines = once(() => runBundle('duk', 'duk'));
const nodeLines = once(() => runBundle(process.execPath, 'node'));

/** What the TypeScript sources print on the host (the entry runs its cases on import). */
const hostLines = once(async (): Promise<string[]> => {
  const captured: string[] = [];
  const log = console.log;
  console.log = (s: unknown) => { captured.push(String(s)); };
  try {
    await import('./device-entry');
  } finally {
    console.log = log;
  }
  return captured;
});

/** Checks a run is complete: no failed case, and it ends with "engine-check done N". */
function assertComplete(out: string[], engine: string): void {
  assert.ok(out.length > 1, `${engine} printed ${out.length} lines`);
  assert.equal(out.filter((l) => / ERROR /.test(l)), [], `no case may fail under ${engine}`);
  const done = out[out.length - 1].match(/^engine-check done (\d+)$/);
  assert.ok(done, `${engine}: the entry ends with "engine-check done N"`);
  assert.is(Number(done![1]), out.length - 1);
}

test('the ES5 bundle runs under Duktape (duk), every case passing', () => {
  assertComplete(dukLines(), 'duk');
});

test('the same bundle runs under Node, every case passing', () => {
  assertComplete(nodeLines(), 'node');
});

test('Duktape and Node print the same lines', () => {
  assert.equal(dukLines(), nodeLines());
});

test('the TypeScript sources on the host compute the same lines as the bundle', async () => {
  const host = await hostLines();
  assertComplete(host, 'the host');
  assert.equal(host, nodeLines());
});

/** The output of case `name`: the bundle under Node; the tests above hold Duktape's and the host's to it. */
function get(name: string): string {
  const l = nodeLines().find((x) => x.startsWith(name + ' '));
  assert.ok(l, `case ${name} missing`);
  return l!.slice(name.length + 1);
}

test('independent checks of the protocol lines (node:crypto)', () => {
  assert.is(get('sha256.abc'), createHash('sha256').update('abc').digest('hex'));
  assert.is(get('sha256.empty'), createHash('sha256').update('').digest('hex'));
  const b = Buffer.alloc(1000);
  for (let i = 0; i < 1000; i++) b[i] = (i * 7 + 3) & 255;
  assert.is(get('sha256.1000'), createHash('sha256').update(b).digest('hex'));
  // RFC 8032 §7.1 TEST 1 public key of the engine's seed
  const pub = get('ed25519.public');
  assert.is(pub, 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  assert.is(get('kid'), createHash('sha256').update(Buffer.from(pub, 'hex')).digest('hex').slice(0, 16));
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pub, 'hex')]), format: 'der', type: 'spki' });
  const c0 = fromHex(get('report.cose.0'));
  const c1 = fromHex(get('report.cose.1.stepped'));
  for (const c of [c0, c1, fromHex(get('pairing.proof'))]) {
    const s = decodeSign1(c);
    assert.ok(verify(null, sign1ToBeSigned(s), key, s.signature), 'device signature verifies with node:crypto');
  }
  assert.is(toHex(decodeSign1(c0).payload), get('report.payload'));
  const r1 = decodeReport(decodeSign1(c1).payload);
  assert.is(r1.seq, 1);
  assert.is(toHex(r1.prev), createHash('sha256').update(c0).digest('hex'));
  assert.is(get('cbor.roundtrip'), get('cbor.encode'));
});

test('independent checks of the byte lines (Buffer, node:zlib)', () => {
  const le = Buffer.alloc(ENGINE_U32_VALUES.length * 4);
  ENGINE_U32_VALUES.forEach((v, i) => le.writeUInt32LE(v >>> 0, i * 4));
  assert.is(get('bytes.u32le'), le.toString('hex') + ' ' + ENGINE_U32_VALUES.map((v) => v >>> 0).join(','));
  assert.is(get('bytes.u16le'), '00003412ffff 0,4660,65535');
  assert.is(get('bytes.copy'), 'true 01020304 6303 0 01020304');
  assert.is(get('bytes.latin1'), Buffer.from('DEEP \u00ff\u0000', 'latin1').toString('hex') + ' "DEEP" 255');
  const big = Buffer.alloc(600);
  for (let k = 0; k < 600; k++) big[k] = (k * 31 + 7) & 255;
  // 0xcbf43926: the published check value of CRC-32/ISO-HDLC
  assert.is(get('crc32'), [0xcbf43926, zlibCrc32(big), zlibCrc32(big.subarray(10, 500))].join(' '));
});

test.run();
