import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CborMap, encode } from '../../../protocol/cbor';
import { fromHex } from '../../../protocol/bytes';
import { sign1 } from '../../../protocol/cose';
import { kidFromPublicKey } from '../../../protocol/kid';
import { encodePairingPayload, makePairingProof } from '../../../protocol/pairing';
import { ed25519PublicKey, ed25519Sign } from '../../../firmware/keys/ed25519';
import { verifyPairingProof, REJECT } from '../../../host-tools/verify';

const SEED = new Uint8Array(32).fill(9);
const PUB = ed25519PublicKey(SEED);
const CH = fromHex('a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3');
const signer = (tbs: Uint8Array) => ed25519Sign(tbs, SEED, PUB);

test('a good proof verifies and yields key, kid and firmware', () => {
  const v = verifyPairingProof(makePairingProof({ challenge: CH, publicKey: PUB, firmware: 258 }, signer), CH);
  assert.ok(v.ok);
  if (v.ok) {
    assert.equal(v.publicKey, PUB);
    assert.equal(v.kid, kidFromPublicKey(PUB));
    assert.is(v.firmware, 258);
  }
});

test('bad proofs: other challenge, other signer, wrong kid, flipped bit, report payload', () => {
  const reason = (b: Uint8Array) => { const v = verifyPairingProof(b, CH); return v.ok ? 'ok' : v.reason; };
  const good = makePairingProof({ challenge: CH, publicKey: PUB, firmware: 1 }, signer);
  assert.is(verifyPairingProof(good, CH.slice(1)).ok, false);
  assert.is(reason(makePairingProof({ challenge: CH.slice(1), publicKey: PUB, firmware: 1 }, signer)), REJECT.REPLAY);
  // signed by another key while presenting PUB
  const other = new Uint8Array(32).fill(1);
  assert.is(reason(makePairingProof({ challenge: CH, publicKey: PUB, firmware: 1 }, (t) => ed25519Sign(t, other))), REJECT.BAD_SIGNATURE);
  // kid header not matching the presented key
  assert.is(reason(sign1(encodePairingPayload({ challenge: CH, publicKey: PUB, firmware: 1 }), new Uint8Array(8), signer)), REJECT.MALFORMED);
  const flipped = good.slice();
  flipped[flipped.length - 5] ^= 0x10;
  assert.is(reason(flipped), REJECT.BAD_SIGNATURE);
  assert.is(reason(sign1(encode(new CborMap([[1, 1]])), kidFromPublicKey(PUB), signer)), REJECT.MALFORMED);
  assert.is(reason(new Uint8Array([1, 2, 3])), REJECT.MALFORMED);
});

test.run();
