import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fastRide } from '../../../host-tools/bench/rides';
import { makeSignedRide } from '../../../host-tools/cli/commands/report';

test("the bench's fast rides are byte for byte the device code path's (deep report)", () => {
  for (const byte of [0x01, 0xb3]) {
    const seed = new Uint8Array(32).fill(byte);
    const device = makeSignedRide(seed, 25);
    const fast = fastRide(seed, 25);
    assert.equal(fast.publicKey, device.publicKey);
    assert.is(fast.reports.length, 25);
    for (let i = 0; i < 25; i++) assert.equal(Buffer.from(fast.reports[i]).toString('hex'), Buffer.from(device.reports[i]).toString('hex'), `report ${i}`);
  }
});

test.run();
