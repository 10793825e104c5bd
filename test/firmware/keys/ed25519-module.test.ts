// dist/ed25519-module.js, the Storage module of the device signer, loaded the way Espruino
// loads a module (its text run with an `exports` object), with the table installed from
// its own chunks as firmware/hal does (see firmware/keys/ed25519-module.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, build } from '../../../host-tools/build/build';
import { toHex } from '../../../protocol/bytes';

const FILE = path.join(ROOT, 'dist/ed25519-module.js');
let src = '';
test.before(async () => {
  if (!existsSync(FILE)) await build({ bundles: ['ed25519-module'] });
  src = readFileSync(FILE, 'utf8');
});

interface Mod {
  BASE_TABLE_BYTES: number; BASE_TABLE_CHUNKS: number; BASE_TABLE_CHUNK_BYTES: number;
  baseTableChunk(i: number): Uint8Array;
  setBaseTable(t: ArrayBuffer | Uint8Array): void;
  setSha512(fn: ((d: Uint8Array) => Uint8Array) | null): void;
  ed25519PublicKey(seed: Uint8Array): Uint8Array;
  ed25519Sign(m: Uint8Array, seed: Uint8Array, pub?: Uint8Array): Uint8Array;
  ed25519SelfTest(): boolean;
}
function load(): Mod {
  const exports: Record<string, unknown> = {};
  new Function('exports', src)(exports);
  return exports as unknown as Mod;
}
const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');

test('the module is ES5 text with no import/export syntax and no table constant', () => {
  assert.not.match(src, /^\s*(import|export)\s/m);
  assert.not.match(src, /\bconst\b|\blet\b|=>/);
  // The table only travels inside baseTableChunkB64's switch, never as a top-level string.
  assert.not.match(src, /^var [A-Za-z_$]+ = '[A-Za-z0-9+/=]{1000,}/m);
});

test('without a table it refuses to sign, with a clear error', () => {
  const m = load();
  assert.throws(() => m.ed25519PublicKey(new Uint8Array(32)), /no base-point table: call setBaseTable\(\) first/);
});

test('table installed from its chunks (as in Storage): self-test and signatures match node:crypto', () => {
  const m = load();
  const table = new Uint8Array(m.BASE_TABLE_BYTES);
  for (let i = 0; i < m.BASE_TABLE_CHUNKS; i++) table.set(m.baseTableChunk(i), i * m.BASE_TABLE_CHUNK_BYTES);
  m.setBaseTable(table.buffer);
  m.setSha512((d) => new Uint8Array(createHash('sha512').update(d).digest()));
  assert.ok(m.ed25519SelfTest());
  for (let n = 0; n < 5; n++) {
    const seed = new Uint8Array(createHash('sha256').update(`module seed ${n}`).digest());
    const msg = new Uint8Array(createHash('sha512').update(`module msg ${n}`).digest()).subarray(0, 10 * n);
    const key = createPrivateKey({ key: Buffer.concat([PKCS8, seed]), format: 'der', type: 'pkcs8' });
    assert.is(toHex(m.ed25519Sign(msg, seed)), sign(null, msg, key).toString('hex'), `pair ${n}`);
  }
  assert.throws(() => m.setBaseTable(new Uint8Array(m.BASE_TABLE_BYTES)), /not the Ed25519 comb table/);
});

test.run();
