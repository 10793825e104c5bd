import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  MAX_SAFE, bytesEqual, bytesToLatin1, copyBytes, fromHex, latin1ToBytes, readU16LE, readU32LE, toHex, writeU16LE, writeU32LE,
} from '../../protocol/bytes';

test('MAX_SAFE is 2^53 - 1', () => {
  assert.is(MAX_SAFE, Number.MAX_SAFE_INTEGER);
});

test('toHex and fromHex agree with Buffer, both ways, either case in', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
    const h = Buffer.from(b).toString('hex');
    assert.is(toHex(b), h);
    assert.equal([...fromHex(h)], [...b]);
    assert.equal([...fromHex(h.toUpperCase())], [...b]);
  }), { seed: 16, numRuns: 300 });
});

test('fromHex names the value and shows what it got', () => {
  assert.throws(() => fromHex('abc'), /^hex: expected an even number of hex digits, got "abc"$/);
  assert.throws(() => fromHex('0g', '--pub'), /^--pub: expected an even number of hex digits, got "0g"$/);
  assert.throws(() => fromHex('00 11', 'x'), /got "00 11"/);
  assert.throws(() => fromHex(undefined as unknown as string, 'x'), /^x: .* got undefined$/);
  assert.throws(() => fromHex('a'.repeat(101), 'x'), /got "a{40}"\.\.\.$/);
});

test('copyBytes copies (never shares memory) and clamps like subarray', () => {
  const a = new Uint8Array([1, 2, 3, 4, 5]);
  const c = copyBytes(a, 1, 4);
  assert.ok(c instanceof Uint8Array);
  assert.equal([...c], [2, 3, 4]);
  c[0] = 99;
  assert.is(a[1], 2, 'the source is untouched');
  const v = new Uint8Array(a.buffer, 2, 3);
  assert.equal([...copyBytes(v)], [3, 4, 5], 'a view copies its own window');
  assert.is(copyBytes(v).buffer === a.buffer, false);
  assert.equal([...copyBytes(a, 3)], [4, 5]);
  assert.is(copyBytes(a, 4, 2).length, 0);
});

test('bytesEqual', () => {
  assert.ok(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  assert.not.ok(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
  assert.not.ok(bytesEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0])));
  assert.ok(bytesEqual(new Uint8Array(0), new Uint8Array(0)));
});

test('little-endian integers match Buffer at any offset, including 2^31..2^32-1 and negative int32', () => {
  fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 4 }), (v, o) => {
    const b = new Uint8Array(8).fill(0xaa);
    writeU32LE(b, o, v);
    const want = Buffer.alloc(8, 0xaa);
    want.writeUInt32LE(v >>> 0, o);
    assert.is(toHex(b), want.toString('hex'));
    assert.is(readU32LE(b, o), v >>> 0);
  }), { seed: 32, numRuns: 500 });
  fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 6 }), (v, o) => {
    const b = new Uint8Array(8).fill(0xaa);
    writeU16LE(b, o, v);
    const want = Buffer.alloc(8, 0xaa);
    want.writeUInt16LE(v, o);
    assert.is(toHex(b), want.toString('hex'));
    assert.is(readU16LE(b, o), v);
  }), { seed: 16, numRuns: 300 });
});

test('latin1 strings: one byte per character, low byte of wider code units; end capped', () => {
  const s = 'DEEP \u00e9\u00ff';
  assert.is(toHex(latin1ToBytes(s)), Buffer.from(s, 'latin1').toString('hex'));
  assert.is(toHex(latin1ToBytes('\u0141')), '41');
  const b = latin1ToBytes(s);
  assert.is(bytesToLatin1(b), s);
  assert.is(bytesToLatin1(b, 5), '\u00e9\u00ff');
  assert.is(bytesToLatin1(b, 0, 4), 'DEEP');
  assert.is(bytesToLatin1(b, 0, 100), s);
});

test.run();
