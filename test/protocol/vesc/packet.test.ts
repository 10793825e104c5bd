import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encodeFrame, writeFrame, FrameDecoder, PACKET_MAX_PAYLOAD } from '../../../protocol/vesc/packet';
import { crc16 } from '../../../protocol/vesc/crc16';
import { fromHex, toHex } from '../../../protocol/bytes';

/** Test vectors are written with spaces between fields. */
const bytes = (h: string) => fromHex(h.replace(/\s+/g, ''));

function collect(dec: FrameDecoder, chunks: Uint8Array[]): string[] {
  const out: string[] = [];
  for (const c of chunks) dec.feed(c, (p) => out.push(toHex(p)));
  return out;
}

test('short frames of the requests of protocol/BUS.md §1', () => {
  assert.is(toHex(encodeFrame(bytes('04'))), '020104408403');
  assert.is(toHex(encodeFrame(bytes('00'))), '020100000003');
  assert.is(toHex(encodeFrame(bytes('1e'))), '02011ef3ff03');
});

test('frame length boundaries: 255 is short, 256 is long with a big-endian length', () => {
  const p255 = new Uint8Array(255).fill(7);
  const f255 = encodeFrame(p255);
  assert.is(f255.length, 260);
  assert.equal([f255[0], f255[1]], [2, 255]);
  const p256 = new Uint8Array(256).fill(7);
  const f256 = encodeFrame(p256);
  assert.is(f256.length, 262);
  assert.equal([f256[0], f256[1], f256[2]], [3, 1, 0]);
  const crc = crc16(p256);
  assert.equal([f256[259], f256[260], f256[261]], [crc >> 8, crc & 0xff, 3]);
  const p512 = new Uint8Array(512);
  assert.equal([...encodeFrame(p512).subarray(0, 3)], [3, 2, 0]);
});

test('encoder refuses empty and oversized payloads, and writes into a caller buffer', () => {
  assert.throws(() => encodeFrame(new Uint8Array(0)), /"payload" expected 1\.\.512 bytes, got 0/);
  assert.throws(() => encodeFrame(new Uint8Array(513)), /got 513/);
  assert.is(encodeFrame(new Uint8Array(600), 1000).length, 606);
  const out = new Uint8Array(10).fill(0xee);
  assert.is(writeFrame(bytes('04'), out, 2), 6);
  assert.is(toHex(out), 'eeee020104408403eeee');
  assert.throws(() => writeFrame(bytes('0405'), out, 5), /no room/);
});

test('decoder: one frame in any chunking, including byte by byte', () => {
  const f = encodeFrame(bytes('0102030405'));
  for (let cut = 0; cut <= f.length; cut++) {
    assert.equal(collect(new FrameDecoder(), [f.subarray(0, cut), f.subarray(cut)]), ['0102030405']);
  }
  assert.equal(collect(new FrameDecoder(), [...f].map((b) => new Uint8Array([b]))), ['0102030405']);
});

test('decoder: long frames and frames at the 512-byte limit', () => {
  const p = new Uint8Array(512).map((_, i) => i * 7);
  const dec = new FrameDecoder();
  assert.equal(collect(dec, [encodeFrame(p), encodeFrame(p.subarray(0, 300))]), [toHex(p), toHex(p.subarray(0, 300))]);
  assert.is(dec.pending(), 0);
});

test('decoder resynchronises by skipping one byte: garbage, bad CRC, bad end, bad length', () => {
  const good = encodeFrame(bytes('32 0000010b'));
  const badCrc = good.slice();
  badCrc[4] ^= 0x40;
  const badEnd = good.slice();
  badEnd[badEnd.length - 1] = 0x04;
  const dec = new FrameDecoder();
  const got = collect(dec, [bytes('ff 00 7e'), badCrc, good, badEnd, bytes('02 00'), bytes('03 00 10'), good]);
  assert.equal(got, ['320000010b', '320000010b']);
  assert.is(dec.stats.frames, 2);
  assert.ok(dec.stats.badCrc >= 1, 'counted the bad CRC');
  assert.ok(dec.stats.badEnd >= 1, 'counted the bad end byte');
  assert.ok(dec.stats.badLength >= 2, 'counted zero length and long-with-short-length');
  assert.ok(dec.stats.garbage >= 3, 'counted garbage');
});

test('decoder finds a frame hidden inside a rejected candidate (as packet.c does)', () => {
  // 02 0a claims 10 bytes; the real frame sits inside that window
  const inner = encodeFrame(bytes('1e'));
  const stream = new Uint8Array([2, 10, ...inner, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55]);
  assert.equal(collect(new FrameDecoder(), [stream]), ['1e']);
});

test('decoder rejects lengths above maxPayload (oversized) and honours a smaller limit', () => {
  const p = new Uint8Array(300).fill(1);
  const dec = new FrameDecoder(256);
  assert.equal(collect(dec, [encodeFrame(p), encodeFrame(bytes('04'))]), ['04']);
  assert.ok(dec.stats.badLength >= 1);
  assert.throws(() => new FrameDecoder(0), /"maxPayload" expected integer in \[1, 65535\], got 0/);
});

test('0x03 start with a length of 255 is accepted (packet.c accepts >= 255), below is not', () => {
  const p = new Uint8Array(255).fill(9);
  const crc = crc16(p);
  const f = new Uint8Array([3, 0, 255, ...p, crc >> 8, crc & 0xff, 3]);
  assert.equal(collect(new FrameDecoder(), [f]).length, 1);
  const q = new Uint8Array(254).fill(9);
  const c2 = crc16(q);
  const g = new Uint8Array([3, 0, 254, ...q, c2 >> 8, c2 & 0xff, 3]);
  assert.equal(collect(new FrameDecoder(), [g]).length, 0);
});

test('flush() gives up a frame that never completes and recovers whole frames behind it', () => {
  const dec = new FrameDecoder();
  const alive = encodeFrame(bytes('1e'));
  const got = collect(dec, [bytes('02 c8'), alive]);
  assert.equal(got, []);
  assert.is(dec.pending(), 8);
  const flushed: string[] = [];
  dec.flush((p) => flushed.push(toHex(p)));
  assert.equal(flushed, ['1e']);
  assert.is(dec.pending(), 0);
  assert.ok(dec.stats.flushed >= 1);
});

test('payload views stay valid during the callback; reset() drops a partial frame', () => {
  const dec = new FrameDecoder();
  const f = encodeFrame(bytes('0a0b0c'));
  dec.feed(f.subarray(0, 4), () => assert.unreachable());
  dec.reset();
  assert.is(dec.pending(), 0);
  const seen: string[] = [];
  dec.feed(f, (p) => seen.push(toHex(p.slice())));
  assert.equal(seen, ['0a0b0c']);
});

test('property: any payloads framed and split at random points come out in order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: PACKET_MAX_PAYLOAD }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
      (payloads, cuts) => {
        const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)));
        const chunks: Uint8Array[] = [];
        let at = 0, k = 0;
        while (at < stream.length) {
          const n = cuts[k++ % cuts.length];
          chunks.push(new Uint8Array(stream.subarray(at, at + n)));
          at += n;
        }
        const got = collect(new FrameDecoder(), chunks);
        return JSON.stringify(got) === JSON.stringify(payloads.map(toHex));
      },
    ),
    { numRuns: 150 },
  );
});

test.run();
