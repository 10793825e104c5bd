// The engine check (issue 2): the device-side code, bundled as ES5 (dist/engine-check.js),
// prints the same lines under Debian's Duktape, under Node, and when its TypeScript sources
// run on the host. Duktape being a strict ES5 engine, this is our proof that device code
// has no Node-isms and no ES2015+ library calls. Plus independent checks of some lines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createHash, createPublicKey, verify } from 'node:crypto';
import path from 'node:path';
import { build, ROOT } from '../../host-tools/build/build';
import { fromHex, toHex } from '../../protocol/cbor';
import { decodeSign1, sign1ToBeSigned } from '../../protocol/cose';
import { decodeReport } from '../../protocol/report';

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

/** Uses the bundle `npm test` just built, rebuilding it when a device source is newer. */
test.before(async () => {
  const sources = Math.max(...['protocol', 'firmware', 'test/engine'].map((d) => newestSource(path.join(ROOT, d))));
  if (!existsSync(BUNDLE) || statSync(BUNDLE).mtimeMs < sources) await build({ bundles: ['engine'] });
});
function bundle(): string {
  assert.ok(existsSync(BUNDLE), 'dist/engine-check.js was not built');
  return BUNDLE;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

let duk: string[] = [];
let node: string[] = [];
let host: string[] = [];

test('the ES5 bundle runs under Duktape (duk)', () => {
  const file = bundle();
  const r = spawnSync('duk', [file], { encoding: 'utf8', timeout: 120_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    assert.unreachable('duk is not installed: the engine check needs Debian\'s Duktape (`apt-get install duktape`, as .ci/run does)');
  }
  assert.is(r.status, 0, `duk exited with ${r.status}: ${r.stderr}`);
  duk = lines(r.stdout);
  assert.ok(duk.length > 1);
  assert.equal(duk.filter((l) => / ERROR /.test(l)), [], 'no case may fail under duk');
});

test('the same bundle under Node prints the same lines', () => {
  const r = spawnSync(process.execPath, [bundle()], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  node = lines(r.stdout);
  assert.equal(node, duk);
});

test('the TypeScript sources on the host compute the same lines', async () => {
  const captured: string[] = [];
  const log = console.log;
  console.log = (s: unknown) => { captured.push(String(s)); };
  try {
    await import('./device-entry');
  } finally {
    console.log = log;
  }
  host = captured;
  assert.equal(host, duk);
  const done = host[host.length - 1].match(/^engine-check done (\d+)$/);
  assert.ok(done, 'the entry ends with "engine-check done N"');
  assert.is(Number(done![1]), host.length - 1);
});

test('independent checks of the protocol lines (node:crypto)', () => {
  const get = (name: string) => {
    const l = duk.find((x) => x.startsWith(name + ' '));
    assert.ok(l, `case ${name} missing`);
    return l!.slice(name.length + 1);
  };
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

test.run();
