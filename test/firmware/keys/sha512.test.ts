import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { sha512js } from '../../../firmware/keys/sha512';
import { toHex } from '../../../protocol/bytes';

const oracle = (b: Uint8Array) => createHash('sha512').update(b).digest('hex');

test('FIPS 180-4 examples: "abc" and the empty string', () => {
  assert.is(toHex(sha512js(new Uint8Array([0x61, 0x62, 0x63]))),
    'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f');
  assert.is(toHex(sha512js(new Uint8Array(0))),
    'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e');
});

test('matches node:crypto at every length from 0 to 300 (block and padding boundaries)', () => {
  for (let n = 0; n <= 300; n++) {
    const m = new Uint8Array(n);
    for (let i = 0; i < n; i++) m[i] = (i * 131 + n * 7 + 0xa5) & 255;
    assert.is(toHex(sha512js(m)), oracle(m), `length ${n}`);
  }
});

test('all-0xff and all-0x00 inputs around the 112/128-byte padding edges', () => {
  for (const n of [111, 112, 113, 127, 128, 129, 239, 240, 241, 255, 256, 257]) {
    for (const fill of [0, 0xff]) {
      const m = new Uint8Array(n).fill(fill);
      assert.is(toHex(sha512js(m)), oracle(m), `length ${n} fill ${fill}`);
    }
  }
});

test('long input (10,000 bytes) and a subarray view with an offset', () => {
  const big = new Uint8Array(10000);
  for (let i = 0; i < big.length; i++) big[i] = (i * i) & 255;
  assert.is(toHex(sha512js(big)), oracle(big));
  const view = big.subarray(3, 200);
  assert.is(toHex(sha512js(view)), oracle(view));
});

test('rejects input that is not a Uint8Array', () => {
  assert.throws(() => sha512js('abc' as unknown as Uint8Array), /"msg" expected Uint8Array/);
});

test.run();
