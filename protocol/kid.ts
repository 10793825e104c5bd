// Key id of a device key, shared by device and host: the first 8 bytes of the SHA-256 of
// the raw 32-byte Ed25519 public key (RFC 8032 §5.1.5 encoding). 8 bytes keep the COSE
// unprotected header and the report small; a collision between two registered devices
// needs about 2^32 devices (birthday bound), and a collision is harmless anyway: the
// registry then holds two keys for one kid and the signature decides (host-tools/verify).
import { sha256 } from './sha256';
import { copyBytes } from './bytes';

export var KID_BYTES = 8;

/** kid = SHA-256(publicKey)[0..8). */
export function kidFromPublicKey(publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new TypeError('"publicKey" expected 32-byte Uint8Array, got ' + (publicKey && publicKey.length) + ' bytes');
  }
  return copyBytes(sha256(publicKey), 0, KID_BYTES);
}
