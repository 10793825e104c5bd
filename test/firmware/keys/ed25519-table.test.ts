// The comb table of the device signer, checked against points computed here independently:
// BigInt scalar multiplication of the base point by the entry's scalar, in projective
// coordinates (not the generator's affine subset sums). `#ed25519-table` is the host module
// (host-tools/build/ed25519-table.ts); the device bundles get tableModuleSource(), checked
// against it below.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as hostTable from '#ed25519-table';
import { baseTableB64, baseTableChunkB64, BASE_TABLE_BYTES, BASE_TABLE_CHUNKS, BASE_TABLE_CHUNK_BYTES } from '#ed25519-table';
import { base64Decode } from '../../../firmware/keys/ed25519';
import { tableModuleSource, TABLE_MODULE_EXPORTS } from '../../../host-tools/build/gen-ed25519-table';

// The declaration the device code is compiled against (firmware/keys/ed25519-table.d.ts)
// describes the host module: a type error here if they part.
const declared: typeof import('#ed25519-table') = hostTable;

const p = (1n << 255n) - 19n;
const md = (a: bigint) => ((a % p) + p) % p;
function inv(a: bigint): bigint {
  let r = 1n, b = md(a), e = p - 2n;
  while (e > 0n) { if (e & 1n) r = (r * b) % p; b = (b * b) % p; e >>= 1n; }
  return r;
}
// RFC 8032 §5.1: d and the base point, written independently of the generator.
const d = md(-121665n * inv(121666n));
const By = md(4n * inv(5n));
// x from y (RFC 8032 §5.1.3): x^2 = (y^2 - 1) / (d y^2 + 1), even root for B.
function recoverX(y: bigint): bigint {
  const u = md(y * y - 1n), v = md(d * y * y + 1n);
  const x2 = md(u * inv(v));
  let x = 1n, b = x2, e = (p + 3n) / 8n;
  while (e > 0n) { if (e & 1n) x = (x * b) % p; b = (b * b) % p; e >>= 1n; }
  if (md(x * x) !== x2) x = md(x * 19681161376707505956807079304988542015446066515923890162744021073123829784752n);
  return x % 2n === 0n ? x : p - x;
}
const Bx = recoverX(By);
type Pt = [bigint, bigint, bigint, bigint];
// RFC 8032 §5.1.4 point addition in extended coordinates.
function add([X1, Y1, Z1, T1]: Pt, [X2, Y2, Z2, T2]: Pt): Pt {
  const A = md((Y1 - X1) * (Y2 - X2)), B = md((Y1 + X1) * (Y2 + X2));
  const C = md(T1 * 2n * d * T2), D = md(Z1 * 2n * Z2);
  const E = B - A, F = D - C, G = D + C, H = B + A;
  return [md(E * F), md(G * H), md(F * G), md(E * H)];
}
function mul(s: bigint): [bigint, bigint] {
  let q: Pt = [0n, 1n, 1n, 0n];
  let b: Pt = [Bx, By, 1n, md(Bx * By)];
  while (s > 0n) { if (s & 1n) q = add(q, b); b = add(b, b); s >>= 1n; }
  const zi = inv(q[2]);
  return [md(q[0] * zi), md(q[1] * zi)];
}

const bytes = base64Decode(baseTableB64());
const table = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
/** Value mod p of 16 reversed signed limbs starting at `at`. */
function limbs(at: number): bigint {
  let v = 0n;
  for (let k = 0; k < 16; k++) v = v * 65536n + BigInt(table[at + k]);
  return md(v);
}

test('table has 2 x 256 entries of 64 int16, the 16-limb gap is zero', () => {
  assert.is(bytes.length, BASE_TABLE_BYTES);
  assert.is(BASE_TABLE_BYTES, 512 * 64 * 2);
  for (let u = 0; u < 512; u++) for (let k = 16; k < 32; k++) assert.is(table[u * 64 + k], 0, `entry ${u} gap limb ${k}`);
});

test('entry 256 h + u = sum of bit m of u times 2^(16 h + 32 m) B, with d x y: all 512 entries', () => {
  for (let u = 0; u < 512; u++) {
    let s = 0n;
    for (let m = 0; m < 8; m++) if (u & (1 << m)) s += 1n << BigInt((u >> 8) * 16 + 32 * m);
    const [x, y] = s === 0n ? [0n, 1n] : mul(s);
    assert.is(limbs(u * 64), y, `entry ${u} y`);
    assert.is(limbs(u * 64 + 32), x, `entry ${u} x`);
    assert.is(limbs(u * 64 + 48), md(d * x * y), `entry ${u} d x y`);
  }
});

test('the chunks of the Storage module put together are the table', () => {
  const parts: Buffer[] = [];
  for (let i = 0; i < BASE_TABLE_CHUNKS; i++) parts.push(Buffer.from(base64Decode(baseTableChunkB64(i))));
  assert.ok(Buffer.concat(parts).equals(Buffer.from(bytes)));
  assert.is(parts[0].length, BASE_TABLE_CHUNK_BYTES);
  assert.throws(() => baseTableChunkB64(BASE_TABLE_CHUNKS), /expected 0\.\.31, got 32/);
  assert.throws(() => baseTableChunkB64(-1), /expected 0\.\.31, got -1/);
});

test('the module generated for the device bundles has the host module\'s exports and bytes', () => {
  const src = tableModuleSource();
  // ES5 up to one final export statement, as rollup receives it
  const at = src.lastIndexOf('\nexport { ');
  assert.ok(at > 0, 'ends in an export statement');
  assert.is(src.slice(at + 1).trim(), `export { ${TABLE_MODULE_EXPORTS.join(', ')} };`);
  assert.equal([...TABLE_MODULE_EXPORTS].sort(), Object.keys(hostTable).sort());
  assert.not.match(src.slice(0, at), /\b(const|let|class|import|export)\b|=>/);
  const device = new Function(src.slice(0, at) + '\nreturn { ' + TABLE_MODULE_EXPORTS.join(', ') + ' };')() as typeof hostTable;
  assert.is(device.BASE_TABLE_BYTES, BASE_TABLE_BYTES);
  assert.is(device.BASE_TABLE_CHUNKS, BASE_TABLE_CHUNKS);
  assert.is(device.BASE_TABLE_CHUNK_BYTES, BASE_TABLE_CHUNK_BYTES);
  assert.is(device.baseTableB64(), baseTableB64());
  for (let i = 0; i < BASE_TABLE_CHUNKS; i++) assert.is(device.baseTableChunkB64(i), baseTableChunkB64(i), `chunk ${i}`);
  let hostErr = '', deviceErr = '';
  try { baseTableChunkB64(32); } catch (e) { hostErr = (e as Error).message; }
  try { device.baseTableChunkB64(32); } catch (e) { deviceErr = (e as Error).message; }
  assert.is(deviceErr, hostErr);
});

test('base64Decode: RFC 4648 §10 vectors and errors', () => {
  const dec = (s: string) => Buffer.from(base64Decode(s)).toString('latin1');
  assert.is(dec(''), '');
  assert.is(dec('Zg=='), 'f');
  assert.is(dec('Zm8='), 'fo');
  assert.is(dec('Zm9v'), 'foo');
  assert.is(dec('Zm9vYmFy'), 'foobar');
  assert.throws(() => base64Decode('Zm9'), /not a multiple of 4/);
  assert.throws(() => base64Decode('Zm9*'), /bad character "\*" at offset 3/);
});

test.run();
