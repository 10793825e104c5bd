// Strict Ed25519 verification for ledger nodes: node:crypto (OpenSSL) does the curve work;
// the encodings are checked here first so that every node, whatever its OpenSSL, agrees on
// which signatures are valid (RFC 8032 §5.1.7 with the strictness of §8.4/§8.7 made explicit):
//   - signature exactly 64 bytes, public key exactly 32 bytes;
//   - S < L (rejects malleable signatures, RFC 8032 §5.1.7 step 1 / Wycheproof
//     SignatureMalleability);
//   - the y coordinates of A and R below p = 2^255 - 19 (canonical point encodings).
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';

/** L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

/** True when the 32-byte little-endian integer `s` is below L. */
export function scalarIsCanonical(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i] < L[i]) return true;
    if (s[i] > L[i]) return false;
  }
  return false; // equal to L
}

/** True when the encoded point's y (sign bit masked) is below p = 2^255 - 19. */
export function pointIsCanonical(p: Uint8Array): boolean {
  // y >= p only when y's 255 bits are 2^255-19 .. 2^255-1: bytes 1..30 all 0xff,
  // byte 31 (sign bit masked) 0x7f, and byte 0 >= 0xed.
  if ((p[31] & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (p[i] !== 0xff) return true;
  return p[0] < 0xed;
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keyCache = new Map<string, KeyObject | null>();

/** The node:crypto key for a raw public key, or null when it is not a valid point. */
export function ed25519KeyObject(publicKey: Uint8Array): KeyObject | null {
  const hex = Buffer.from(publicKey).toString('hex');
  let k = keyCache.get(hex);
  if (k !== undefined) return k;
  try {
    k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
  } catch {
    // Not decodable as a point: no signature can be valid under it (the caller is told false).
    k = null;
  }
  if (keyCache.size > 10000) keyCache.clear();
  keyCache.set(hex, k);
  return k;
}

/** Strict Ed25519 verification. Returns false for any invalid input; never throws on bytes. */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || !(message instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  if (!scalarIsCanonical(signature.subarray(32))) return false;
  if (!pointIsCanonical(publicKey) || !pointIsCanonical(signature.subarray(0, 32))) return false;
  const key = ed25519KeyObject(publicKey);
  if (!key) return false;
  try {
    return cryptoVerify(null, message, key, signature);
  } catch {
    return false;
  }
}
