// COSE_Sign1 (RFC 9052 §4.2, CBOR tag 18) for DEEP reports and pairing proofs.
//
// Profile (protocol/SPEC.md): protected header {1: alg} with alg -19 (Ed25519, the fully
// specified algorithm of RFC 9864); unprotected header {4: kid}; attached payload; empty
// external_aad. Verifiers also accept the polymorphic EdDSA id -8 (RFC 9053 §2.2).
// The secret key never reaches this module: signing hands the ToBeSigned bytes to an
// injected signer, either in one call (sign1) or step by step (sign1Stepped) so a device
// can yield to its event loop between the steps of a slow software signature.
import { CborMap, CborTag, CborValue, decode, encode, isCborError } from './cbor';

export var COSE_SIGN1_TAG = 18;
/** RFC 9864 Ed25519 (IANA COSE Algorithms). */
export var COSE_ALG_ED25519 = -19;
/** RFC 9053 EdDSA (polymorphic; accepted on verification only). */
export var COSE_ALG_EDDSA = -8;
export var COSE_HDR_ALG = 1;
export var COSE_HDR_CTY = 3;
export var COSE_HDR_KID = 4;

/** Signs the ToBeSigned bytes and returns the signature (64 bytes for Ed25519). */
export type Signer = (toBeSigned: Uint8Array) => Uint8Array;

/** A signature computed in steps: step() does a bounded amount of work, true when done. */
export interface SteppedSignature {
  step(): boolean;
  signature(): Uint8Array;
}

export type SteppedSigner = (toBeSigned: Uint8Array) => SteppedSignature;

/** Sig_structure for COSE_Sign1, RFC 9052 §4.4: ["Signature1", body_protected, external_aad, payload]. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array, externalAad?: Uint8Array): Uint8Array {
  return encode(['Signature1', protectedBytes, externalAad || new Uint8Array(0), payload]);
}

/** A COSE_Sign1 waiting for its signature. */
export interface Sign1Draft {
  /** The bytes to sign (the encoded Sig_structure). */
  toBeSigned: Uint8Array;
  /** The complete tagged COSE_Sign1 carrying `signature`. */
  finish(signature: Uint8Array): Uint8Array;
}

/** Draft with explicit header maps (used for the RFC test vectors; reports use sign1Begin). */
export function sign1BeginHeaders(protectedHeader: CborMap, unprotectedHeader: CborMap, payload: Uint8Array, externalAad?: Uint8Array): Sign1Draft {
  if (!(payload instanceof Uint8Array)) throw new TypeError('"payload" expected Uint8Array');
  // RFC 9052 §3: an empty protected header is encoded as a zero-length byte string.
  var protectedBytes = protectedHeader.entries.length ? encode(protectedHeader) : new Uint8Array(0);
  var tbs = sigStructure(protectedBytes, payload, externalAad);
  return {
    toBeSigned: tbs,
    finish: function (signature: Uint8Array): Uint8Array {
      if (!(signature instanceof Uint8Array) || signature.length === 0) throw new TypeError('"signature" expected non-empty Uint8Array');
      return encode(new CborTag(COSE_SIGN1_TAG, [protectedBytes, unprotectedHeader, payload, signature]));
    },
  };
}

/** Draft of a DEEP COSE_Sign1: protected {1: alg}, unprotected {4: kid}. */
export function sign1Begin(payload: Uint8Array, kid: Uint8Array, alg?: number): Sign1Draft {
  if (!(kid instanceof Uint8Array) || kid.length === 0) throw new TypeError('"kid" expected non-empty Uint8Array');
  var a = alg === undefined ? COSE_ALG_ED25519 : alg;
  if (a !== COSE_ALG_ED25519 && a !== COSE_ALG_EDDSA) throw new TypeError('"alg" expected -19 or -8, got ' + a);
  return sign1BeginHeaders(new CborMap([[COSE_HDR_ALG, a]]), new CborMap([[COSE_HDR_KID, kid]]), payload);
}

/** Signs in one call. */
export function sign1(payload: Uint8Array, kid: Uint8Array, signer: Signer, alg?: number): Uint8Array {
  var d = sign1Begin(payload, kid, alg);
  return d.finish(signer(d.toBeSigned));
}

/** A COSE_Sign1 being signed step by step: call step() until it returns true, then result(). */
export interface SteppedSign1 {
  step(): boolean;
  result(): Uint8Array;
}

/** Signs through a stepped signer, e.g. (tbs) => ed25519SignSteps(tbs, seed, pub). */
export function sign1Stepped(payload: Uint8Array, kid: Uint8Array, signer: SteppedSigner, alg?: number): SteppedSign1 {
  var d = sign1Begin(payload, kid, alg);
  var s = signer(d.toBeSigned);
  var done = false;
  var out: Uint8Array | undefined;
  return {
    step: function (): boolean {
      if (!done) done = s.step();
      return done;
    },
    result: function (): Uint8Array {
      if (!done) throw new Error('sign1Stepped: result() called before step() returned true');
      if (!out) out = d.finish(s.signature());
      return out;
    },
  };
}

/** A decoded COSE_Sign1, with the exact byte strings received. */
export interface Sign1 {
  /** The protected header bstr exactly as received (what the signature covers). */
  protectedBytes: Uint8Array;
  protectedHeader: CborMap;
  unprotectedHeader: CborMap;
  /** Header 1 from the protected header (undefined when absent). */
  alg: number | undefined;
  /** Header 4 (unprotected, or protected), undefined when absent. */
  kid: Uint8Array | undefined;
  payload: Uint8Array;
  signature: Uint8Array;
}

export interface CoseError extends Error {
  code: string;
}

function coseError(what: string): CoseError {
  var e = new Error('COSE_Sign1: ' + what) as CoseError;
  e.code = 'malformed';
  return e;
}

/**
 * Strict structural decoding (RFC 9052 §4.2): tag 18, four elements, protected header a
 * bstr holding a map, unprotected header a map, attached payload, no header in both
 * buckets. Algorithm and key are the verifier's business (host-tools/verify).
 */
export function decodeSign1(bytes: Uint8Array): Sign1 {
  var v: CborValue;
  try {
    v = decode(bytes, { maxDepth: 8, maxItems: 64, maxBytes: 65536 });
  } catch (e) {
    if (isCborError(e)) throw coseError(e.message);
    throw e;
  }
  if (!(v instanceof CborTag) || v.tag !== COSE_SIGN1_TAG) throw coseError('expected CBOR tag 18 (COSE_Sign1)');
  var a = v.value;
  if (!(a instanceof Array) || a.length !== 4) throw coseError('expected an array of 4 after tag 18');
  var pb = a[0];
  var u = a[1];
  var payload = a[2];
  var sig = a[3];
  if (!(pb instanceof Uint8Array)) throw coseError('protected header must be a byte string');
  if (!(u instanceof CborMap)) throw coseError('unprotected header must be a map');
  if (!(payload instanceof Uint8Array)) throw coseError('payload must be an attached byte string (detached payloads are not used)');
  if (!(sig instanceof Uint8Array)) throw coseError('signature must be a byte string');
  var p: CborValue = new CborMap();
  if (pb.length > 0) {
    try {
      p = decode(pb, { maxDepth: 4, maxItems: 16, maxBytes: 256 });
    } catch (e) {
      if (isCborError(e)) throw coseError('protected header: ' + e.message);
      throw e;
    }
    if (!(p instanceof CborMap)) throw coseError('protected header must encode a map');
    // RFC 9052 §3: an empty map is sent as a zero-length bstr, never as h'a0'.
    if (p.entries.length === 0) throw coseError('empty protected header must be a zero-length byte string');
  }
  for (var i = 0; i < u.entries.length; i++) {
    var k = u.entries[i][0];
    if ((typeof k === 'number' || typeof k === 'string') && p.has(k)) throw coseError('header ' + k + ' in both protected and unprotected buckets (RFC 9052 §3)');
  }
  var alg = p.get(COSE_HDR_ALG);
  if (alg !== undefined && typeof alg !== 'number') throw coseError('alg (header 1) must be an integer');
  if (u.has(COSE_HDR_ALG)) throw coseError('alg (header 1) must be protected');
  var kid = p.has(COSE_HDR_KID) ? p.get(COSE_HDR_KID) : u.get(COSE_HDR_KID);
  if (kid !== undefined && !(kid instanceof Uint8Array)) throw coseError('kid (header 4) must be a byte string');
  return {
    protectedBytes: pb,
    protectedHeader: p,
    unprotectedHeader: u,
    alg: alg as number | undefined,
    kid: kid as Uint8Array | undefined,
    payload: payload,
    signature: sig,
  };
}

/** The ToBeSigned bytes of a received COSE_Sign1, rebuilt from the byte strings received. */
export function sign1ToBeSigned(s: Sign1, externalAad?: Uint8Array): Uint8Array {
  return sigStructure(s.protectedBytes, s.payload, externalAad);
}
