import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encodeCanBuffer, CanBufferRx } from '../../../protocol/can/buffer';
import { crc16 } from '../../../protocol/vesc/crc16';
import { WIRE_ERR } from '../../../protocol/vesc/enums';
import type { CanFrame } from '../../../protocol/can/id';
import { fromHex, toHex } from '../../../protocol/bytes';

/** Test vectors are written with spaces between fields. */
const bytes = (h: string) => fromHex(h.replace(/\s+/g, ''));
const show = (fs: CanFrame[]) => fs.map((f) => f.id.toString(16) + ':' + toHex(f.data));

function feed(rx: CanBufferRx, frames: CanFrame[]) {
  const out = [];
  for (const f of frames) {
    const r = rx.accept(f.id >> 8, f.data);
    if (r) out.push(r);
  }
  return out;
}

test('a request of <= 6 bytes is one PROCESS_SHORT_BUFFER (protocol/BUS.md §3: [my_id, 0, 96] to (8<<8)|bms_id)', () => {
  assert.equal(show(encodeCanBuffer(10, 2, bytes('60'), 0)), ['80a:020060']);
  assert.equal(show(encodeCanBuffer(10, 2, bytes('010203040506'), 1)), ['80a:0201010203040506']);
});

test('a 10-byte buffer: FILL at 0 and 7, then PROCESS_RX_BUFFER with length and CRC', () => {
  const p = bytes('00112233445566778899');
  const crc = crc16(p).toString(16).padStart(4, '0');
  assert.equal(show(encodeCanBuffer(10, 2, p, 1)), ['50a:0000112233445566', '50a:07778899', `70a:0201000a${crc}`]);
});

test('offsets: FILL_RX_BUFFER up to 252, FILL_RX_BUFFER_LONG from 259 (comm_can_send_buffer)', () => {
  const p = new Uint8Array(300).map((_, i) => i);
  const fs = encodeCanBuffer(3, 4, p, 0);
  const fills = fs.filter((f) => f.id >> 8 === 5);
  const longs = fs.filter((f) => f.id >> 8 === 6);
  assert.is(fills.length, 37);
  assert.is(fills[36].data[0], 252);
  assert.is(longs[0].data[0] * 256 + longs[0].data[1], 259);
  assert.is(longs.length, 7);
  assert.is(longs[6].data.length, 2 + (300 - 259 - 36));
  const r = feed(new CanBufferRx(), fs);
  assert.is(r.length, 1);
  assert.ok(r[0].ok && toHex(r[0].value.payload) === toHex(p) && r[0].value.senderId === 4 && !r[0].value.short);
});

test('repeated frames are harmless; a lost frame gives MISSING_FRAMES, then the next transfer works', () => {
  const p = new Uint8Array(107).map((_, i) => 255 - i);
  const fs = encodeCanBuffer(2, 10, p, 1);
  const rx = new CanBufferRx();
  const doubled = fs.flatMap((f, i) => (i % 3 === 0 ? [f, f] : [f]));
  let r = feed(rx, doubled);
  assert.ok(r.length === 1 && r[0].ok && toHex(r[0].value.payload) === toHex(p));
  r = feed(rx, fs.filter((_, i) => i !== 5));
  assert.is(r.length, 1);
  assert.is(!r[0].ok && r[0].error.code, WIRE_ERR.MISSING_FRAMES);
  assert.match((r[0] as { error: { message: string } }).error.message, /107 bytes announced, 35 received/);
  assert.is(rx.stats.missing, 1);
  assert.ok(rx.stats.ignored > 0);
  r = feed(rx, fs);
  assert.ok(r.length === 1 && r[0].ok && toHex(r[0].value.payload) === toHex(p));
});

test('a PROCESS_RX_BUFFER repeated after completing is ignored, not reported as missing frames', () => {
  const p = new Uint8Array(50).fill(3);
  const fs = encodeCanBuffer(2, 10, p, 1);
  const rx = new CanBufferRx();
  const r = feed(rx, [...fs, fs[fs.length - 1], fs[fs.length - 1]]);
  assert.is(r.length, 1);
  assert.ok(r[0].ok);
  assert.is(rx.stats.duplicates, 2);
  assert.is(rx.stats.missing, 0);
  const again = feed(rx, fs);
  assert.ok(again.length === 1 && again[0].ok, 'the same buffer sent again is a new transfer');
});

test('a corrupted byte gives BAD_CRC; oversized or malformed PROCESS frames are reported', () => {
  const p = new Uint8Array(20).fill(5);
  const fs = encodeCanBuffer(2, 10, p, 1);
  fs[1] = { ...fs[1], data: fs[1].data.slice() };
  fs[1].data[3] ^= 1;
  const rx = new CanBufferRx();
  const r = feed(rx, fs);
  assert.is(!r[0].ok && r[0].error.code, WIRE_ERR.BAD_CRC);
  assert.is(rx.stats.badCrc, 1);
  let e = rx.accept(7, bytes('0a01 0201 0000'));
  assert.is(e && !e.ok && e.error.code, WIRE_ERR.TOO_LONG);
  e = rx.accept(7, bytes('0a01 0014'));
  assert.is(e && !e.ok && e.error.code, WIRE_ERR.TRUNCATED);
  e = rx.accept(8, bytes('0a01'));
  assert.is(e && !e.ok && e.error.code, WIRE_ERR.TRUNCATED);
  assert.is(rx.accept(9, bytes('0000000000000000')), undefined, 'not a buffer frame');
  assert.throws(() => encodeCanBuffer(1, 2, new Uint8Array(513), 0), /"payload" expected 1\.\.512 bytes, got 513/);
});

test('two transfers interleaved frame by frame both complete (3 slots, like the VESC)', () => {
  const a = new Uint8Array(40).fill(1), b = new Uint8Array(40).fill(2);
  const fa = encodeCanBuffer(2, 10, a, 1), fb = encodeCanBuffer(2, 11, b, 1);
  // b starts one frame later, so their offsets differ at every step
  const mixed: CanFrame[] = [fa[0]];
  for (let i = 0; i < fb.length; i++) { if (fa[i + 1]) mixed.push(fa[i + 1]); mixed.push(fb[i]); }
  const r = feed(new CanBufferRx(), mixed);
  assert.equal(r.map((x) => x.ok && x.value.senderId), [10, 11]);
  assert.ok(r.every((x) => x.ok && x.value.payload.every((v) => v === (x.value.senderId === 10 ? 1 : 2))));
});

test('property: any payload survives duplicated frames and comes out intact', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.array(fc.nat(), { maxLength: 10 }), (p, dups) => {
    const fs = encodeCanBuffer(2, 10, p, 1);
    const stream = [...fs];
    for (const d of dups) { const k = d % fs.length; if (k < fs.length - 1) stream.splice(stream.indexOf(fs[k]) + 1, 0, fs[k]); }
    const r = feed(new CanBufferRx(), stream);
    return r.length === 1 && r[0].ok && toHex(r[0].value.payload) === toHex(p);
  }), { numRuns: 200 });
});

test.run();
