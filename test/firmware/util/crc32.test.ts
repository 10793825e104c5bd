import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32 } from '../../../firmware/util/crc32';
import { latin1ToBytes } from '../../../protocol/bytes';

test('CRC-32/ISO-HDLC check value: "123456789" gives 0xcbf43926; empty input gives 0', () => {
  assert.is(crc32(latin1ToBytes('123456789')), 0xcbf43926);
  assert.is(crc32(new Uint8Array(0)), 0);
});

test('equals node:zlib over any bytes and any [start, end) range, always unsigned', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (b, x, y) => {
    const s = b.length ? x % (b.length + 1) : 0;
    const e = s + (b.length ? y % (b.length - s + 1) : 0);
    const whole = crc32(b);
    assert.is(whole, zlibCrc32(b));
    assert.ok(whole >= 0 && whole <= 0xffffffff);
    assert.is(crc32(b, s, e), zlibCrc32(b.subarray(s, e)));
    assert.is(crc32(b, s), zlibCrc32(b.subarray(s)));
  }), { seed: 32, numRuns: 500 });
});

test.run();
