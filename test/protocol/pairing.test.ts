import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fromHex, toHex } from '../../protocol/bytes';
import { decodeSign1 } from '../../protocol/cose';
import { kidFromPublicKey } from '../../protocol/kid';
import { decodePairingPayload, encodePairingPayload, makePairingProof, makePairingProofStepped, type PairingError } from '../../protocol/pairing';
import { decodeReport } from '../../protocol/report';
import { ed25519PublicKey, ed25519Sign, ed25519SignSteps } from '../../firmware/keys/ed25519';

const SEED = new Uint8Array(32).fill(7);
const PUB = ed25519PublicKey(SEED);
const CH = fromHex('00112233445566778899aabbccddeeff');

test('pairing payload: canonical layout, round trip, strict decoding', () => {
  const p = { challenge: CH, publicKey: PUB, firmware: 256 };
  const b = encodePairingPayload(p);
  assert.is(toHex(b).slice(0, 30), 'a4016b646565702d706169722f3102');
  assert.equal(decodePairingPayload(b), p);
  const field = (f: () => unknown) => { try { f(); } catch (e) { return (e as PairingError).field; } return 'none'; };
  assert.is(field(() => encodePairingPayload({ ...p, challenge: new Uint8Array(15) })), 'challenge');
  assert.is(field(() => encodePairingPayload({ ...p, challenge: new Uint8Array(65) })), 'challenge');
  assert.is(field(() => encodePairingPayload({ ...p, publicKey: new Uint8Array(31) })), 'publicKey');
  assert.is(field(() => encodePairingPayload({ ...p, firmware: -1 })), 'firmware');
  assert.is(field(() => decodePairingPayload(b.subarray(0, b.length - 1))), 'payload');
  // a pairing payload is never a report, and a report payload is never a pairing payload
  assert.throws(() => decodeReport(b), /version/);
});

test('makePairingProof: kid header = kid(public key), one-shot = stepped', () => {
  const p = { challenge: CH, publicKey: PUB, firmware: 256 };
  const one = makePairingProof(p, (tbs) => ed25519Sign(tbs, SEED, PUB));
  const s = decodeSign1(one);
  assert.is(toHex(s.kid!), toHex(kidFromPublicKey(PUB)));
  assert.is(s.alg, -19);
  const st = makePairingProofStepped(p, (tbs) => ed25519SignSteps(tbs, SEED, PUB));
  while (!st.step());
  assert.is(toHex(st.result()), toHex(one));
});

test.run();
