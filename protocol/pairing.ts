// Pairing proof (protocol/SPEC.md "Pairing proof"): the device proves to a ledger node that
// it holds the secret key of the public key it presents, by signing the node's one-time
// challenge together with that public key and its firmware version, as a COSE_Sign1 with
// the same profile as reports (protected {1: -19}, unprotected {4: kid}).
//
// The payload's key 1 is the text "deep-pair/1" where a report has the integer version:
// neither decoder accepts the other's payload, so a report can never pass as a pairing
// proof nor a proof as a report, even though both are signed by the same key.
import { CborMap, CborValue, decode, encode, isCborError } from './cbor';
import { bytesEqual } from './bytes';
import { sign1, sign1Stepped, Signer, SteppedSigner, SteppedSign1 } from './cose';
import { kidFromPublicKey } from './kid';

export var PAIRING_CONTEXT = 'deep-pair/1';
export var CHALLENGE_MIN_BYTES = 16;
export var CHALLENGE_MAX_BYTES = 64;

export var PK = {
  context: 1,
  challenge: 2,
  publicKey: 3,
  firmware: 4,
};

export interface PairingPayload {
  /** The ledger node's one-time challenge, 16..64 random bytes. */
  challenge: Uint8Array;
  /** The device's raw Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
  /** Firmware version major*65536 + minor*256 + patch. */
  firmware: number;
}

export interface PairingError extends Error {
  code: string;
  field: string;
}

function pairingError(field: string, what: string): PairingError {
  var e = new Error('pairing ' + field + ': ' + what) as PairingError;
  e.code = 'malformed';
  e.field = field;
  return e;
}

function check(p: PairingPayload): void {
  if (!p || typeof p !== 'object') throw pairingError('payload', 'expected an object');
  var c = p.challenge;
  if (!(c instanceof Uint8Array) || c.length < CHALLENGE_MIN_BYTES || c.length > CHALLENGE_MAX_BYTES) {
    throw pairingError('challenge', 'expected ' + CHALLENGE_MIN_BYTES + '..' + CHALLENGE_MAX_BYTES + ' bytes, got ' + (c instanceof Uint8Array ? c.length + ' bytes' : String(c)));
  }
  if (!(p.publicKey instanceof Uint8Array) || p.publicKey.length !== 32) throw pairingError('publicKey', 'expected 32 bytes');
  var f = p.firmware;
  if (typeof f !== 'number' || f !== Math.floor(f) || f < 0 || f > 16777215) throw pairingError('firmware', 'expected integer in [0, 16777215], got ' + String(f));
}

export function encodePairingPayload(p: PairingPayload): Uint8Array {
  check(p);
  return encode(new CborMap([[PK.context, PAIRING_CONTEXT], [PK.challenge, p.challenge], [PK.publicKey, p.publicKey], [PK.firmware, p.firmware]]));
}

/** Strict: canonical bytes only, exactly the four keys. */
export function decodePairingPayload(bytes: Uint8Array): PairingPayload {
  var v: CborValue;
  try {
    v = decode(bytes, { maxDepth: 2, maxItems: 8, maxBytes: 128 });
  } catch (e) {
    if (isCborError(e)) throw pairingError('payload', e.message);
    throw e;
  }
  if (!(v instanceof CborMap) || v.entries.length !== 4) throw pairingError('payload', 'expected a map of 4 entries');
  if (v.get(PK.context) !== PAIRING_CONTEXT) throw pairingError('context', 'expected "' + PAIRING_CONTEXT + '"');
  var p: PairingPayload = {
    challenge: v.get(PK.challenge) as Uint8Array,
    publicKey: v.get(PK.publicKey) as Uint8Array,
    firmware: v.get(PK.firmware) as number,
  };
  if (!bytesEqual(encodePairingPayload(p), bytes)) throw pairingError('payload', 'not in canonical form');
  return p;
}

/** The device side: a signed pairing proof (COSE_Sign1 bytes). */
export function makePairingProof(p: PairingPayload, signer: Signer): Uint8Array {
  return sign1(encodePairingPayload(p), kidFromPublicKey(p.publicKey), signer);
}

/** The device side, for a stepped signer. */
export function makePairingProofStepped(p: PairingPayload, signer: SteppedSigner): SteppedSign1 {
  return sign1Stepped(encodePairingPayload(p), kidFromPublicKey(p.publicKey), signer);
}
