import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sign1ToBeSigned, decodeSign1 } from '../../../protocol/cose';
import { sigStructureBytes } from '../../../host-tools/verify/tbs';
import { makeSignedRide } from '../../../host-tools/cli/commands/report';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test("Sig_structure written directly equals the protocol encoder's, at every length class", () => {
  for (const cose of makeSignedRide(new Uint8Array(32).fill(7), 3).reports) {
    const s = decodeSign1(cose);
    assert.is(hex(sigStructureBytes(s.protectedBytes, s.payload)), hex(sign1ToBeSigned(s)));
  }
  for (const [p, n] of [[0, 0], [3, 23], [23, 24], [24, 255], [255, 256], [1, 65535], [2, 65536], [0, 70_000]]) {
    const s = { protectedBytes: new Uint8Array(p).fill(0xa1), payload: new Uint8Array(n).map((_, i) => i & 255) } as Parameters<typeof sign1ToBeSigned>[0];
    assert.is(hex(sigStructureBytes(s.protectedBytes, s.payload)), hex(sign1ToBeSigned(s)), `protected ${p}, payload ${n}`);
  }
});

test.run();
