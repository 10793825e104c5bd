// Host verification of a pairing proof (protocol/pairing.ts, SPEC.md "Pairing proof").
import { bytesEqual, toHex } from '../../protocol/bytes';
import { sign1ToBeSigned } from '../../protocol/cose';
import { kidFromPublicKey } from '../../protocol/kid';
import { decodePairingPayload, type PairingPayload } from '../../protocol/pairing';
import { ed25519Verify } from './ed25519';
import { reject, REJECT, type Rejection } from './reasons';
import { openSign1 } from './report';

export interface VerifiedPairing extends PairingPayload {
  ok: true;
  kid: Uint8Array;
  alg: number;
}

/**
 * Checks that `bytes` is a pairing proof over exactly `challenge`, signed by the key it
 * presents, whose kid header matches that key. Returns the device's key and firmware.
 * A wrong challenge is 'replay' (a proof made for another challenge or session).
 */
export function verifyPairingProof(bytes: Uint8Array, challenge: Uint8Array): VerifiedPairing | Rejection {
  const opened = openSign1(bytes);
  if (!opened.ok) return opened;
  const s = opened.sign1;
  let p: PairingPayload;
  try {
    p = decodePairingPayload(s.payload);
  } catch (e) {
    const err = e as Error & { field?: string };
    return reject(REJECT.MALFORMED, err.message, err.field);
  }
  const kid = kidFromPublicKey(p.publicKey);
  if (!s.kid || !bytesEqual(s.kid, kid)) return reject(REJECT.MALFORMED, `kid header ${s.kid ? toHex(s.kid) : 'absent'} is not the kid of the presented key (${toHex(kid)})`, 'kid');
  if (!ed25519Verify(s.signature, sign1ToBeSigned(s), p.publicKey)) return reject(REJECT.BAD_SIGNATURE, 'pairing proof signature does not verify under the presented key');
  if (!bytesEqual(p.challenge, challenge)) return reject(REJECT.REPLAY, 'pairing proof is for another challenge', 'challenge');
  return { ok: true, challenge: p.challenge, publicKey: p.publicKey, firmware: p.firmware, kid, alg: opened.alg };
}
