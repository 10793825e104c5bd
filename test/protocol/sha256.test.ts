import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { sha256, sha256Portable, setSha256 } from '../../protocol/sha256';
import { toHex } from '../../protocol/bytes';

const node = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('FIPS 180-4 examples and every padding boundary agree with node:crypto', () => {
  assert.is(toHex(sha256Portable(new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.is(toHex(sha256Portable(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (let n = 0; n <= 200; n++) {
    const b = new Uint8Array(n).map((_, i) => (i * 31 + n) & 255);
    assert.is(toHex(sha256Portable(b)), node(b), `length ${n}`);
  }
  const big = new Uint8Array(1 << 20).fill(0x61);
  assert.is(toHex(sha256Portable(big)), node(big));
});

test('property: random inputs agree with node:crypto', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => toHex(sha256Portable(b)) === node(b)), { numRuns: 200 });
});

test('setSha256 substitutes the implementation and checks its output', () => {
  let calls = 0;
  setSha256((b) => {
    calls++;
    return new Uint8Array(createHash('sha256').update(b).digest());
  });
  assert.is(toHex(sha256(new Uint8Array([1]))), node(new Uint8Array([1])));
  assert.is(calls, 1);
  setSha256(() => new Uint8Array(31));
  assert.throws(() => sha256(new Uint8Array(1)), /31 bytes, expected 32/);
  setSha256(undefined);
  assert.is(toHex(sha256(new Uint8Array([1]))), node(new Uint8Array([1])));
  assert.throws(() => sha256([1] as unknown as Uint8Array), TypeError);
});

test.run();
