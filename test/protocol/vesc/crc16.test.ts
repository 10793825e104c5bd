import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { crc16 } from '../../../protocol/vesc/crc16';

/** Bit-by-bit CRC-16/XMODEM, the definition, as an oracle for the table version. */
function crcBitwise(bytes: Uint8Array): number {
  let c = 0;
  for (const b of bytes) {
    c ^= b << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

test('check value of CRC-16/XMODEM ("123456789" -> 0x31C3, protocol/BUS.md §1)', () => {
  assert.is(crc16(new TextEncoder().encode('123456789')), 0x31c3);
  assert.is(crc16(new Uint8Array(0)), 0);
});

test('CRCs of the request frames of protocol/BUS.md §1', () => {
  assert.is(crc16(new Uint8Array([0x04])), 0x4084);
  assert.is(crc16(new Uint8Array([0x00])), 0x0000);
  assert.is(crc16(new Uint8Array([0x1e])), 0xf3ff);
});

test('range and continuation agree with the whole-buffer CRC', () => {
  const b = new TextEncoder().encode('xx123456789yy');
  assert.is(crc16(b, 2, 11), 0x31c3);
  assert.is(crc16(b, 6, 11, crc16(b, 2, 6)), 0x31c3);
});

test('table CRC equals the bitwise definition', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => crc16(b) === crcBitwise(b)), { numRuns: 300 });
});

test('any single flipped bit changes the CRC', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.nat(), (b, k) => {
      const bit = k % (b.length * 8);
      const c = b.slice();
      c[bit >> 3] ^= 1 << (bit & 7);
      return crc16(c) !== crc16(b);
    }),
    { numRuns: 300 },
  );
});

test.run();
