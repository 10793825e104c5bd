import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { composeId, splitId, frame } from '../../../protocol/can/id';

test('29-bit id = (CAN_PACKET_ID << 8) | controller id (protocol/BUS.md §3; BMS_V_TOT from 10 = 0x260A)', () => {
  assert.is(composeId(38, 10), 0x260a);
  assert.equal(splitId(0x260a), { packetId: 38, controllerId: 10 });
  assert.equal(splitId(0x9ff), { packetId: 9, controllerId: 255 });
  assert.equal(frame(8, 10, new Uint8Array([2, 0, 96])), { id: 0x080a, ext: true, data: new Uint8Array([2, 0, 96]) });
});

test('ids with bits above 15 are not VESC ids; bad arguments are labelled', () => {
  assert.is(splitId(0x1260a).packetId, -1);
  assert.throws(() => splitId(0x20000000), /"id" expected integer in \[0, 0x1FFFFFFF\]/);
  assert.throws(() => composeId(256, 1), /"packetId"/);
  assert.throws(() => composeId(1, -1), /"controllerId"/);
  assert.throws(() => frame(9, 1, new Uint8Array(9)), /at most 8 bytes/);
});

test('compose/split round trip', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (p, c) => {
    const s = splitId(composeId(p, c));
    return s.packetId === p && s.controllerId === c;
  }));
});

test.run();
