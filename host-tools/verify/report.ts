// Stateless verification of one received report: decode, algorithm, key, signature,
// schema, plausibility. Chain rules (seq/prev) are in chain.ts, driven by a chain view, so
// the CLI and the ingest node apply exactly the same rules.
import * as nodeCrypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { bytesEqual, toHex } from '../../protocol/bytes';
import { COSE_ALG_ED25519, COSE_ALG_EDDSA, decodeSign1, type Sign1 } from '../../protocol/cose';
import { sigStructureBytes } from './tbs';
import { decodeReport, type EnergyReport } from '../../protocol/report';
import { KID_BYTES, kidFromPublicKey } from '../../protocol/kid';
import { ed25519Verify } from './ed25519';
import { checkPlausible, type PlausibilityOptions } from './plausibility';
import { reject, REJECT, type Rejection } from './reasons';

/** Where public keys come from: every registered (not revoked) key with this kid. */
export interface KeyRegistry {
  keysFor(kid: Uint8Array): Uint8Array[];
}

/** An in-memory registry of raw 32-byte public keys (kid = kidFromPublicKey by default). */
export function keyRegistry(publicKeys: Uint8Array[], kidOf: (pub: Uint8Array) => Uint8Array = kidFromPublicKey): KeyRegistry {
  const byKid = new Map<string, Uint8Array[]>();
  for (const pub of publicKeys) {
    const k = toHex(kidOf(pub));
    byKid.set(k, [...(byKid.get(k) ?? []), pub]);
  }
  return { keysFor: (kid) => byKid.get(toHex(kid)) ?? [] };
}

export interface VerifiedReport {
  ok: true;
  report: EnergyReport;
  /** The key that verified the signature. */
  publicKey: Uint8Array;
  kid: Uint8Array;
  alg: number;
  /** SHA-256 of the received bytes: what the next report's prev must be. */
  hash: Uint8Array;
  /** The bytes received (not a re-encoding). */
  bytes: Uint8Array;
}

export type VerifyResult = VerifiedReport | Rejection;

export interface VerifyOptions extends PlausibilityOptions {}

// crypto.hash (one-shot, Node >= 20.12) costs about half of a createHash object fed the
// same bytes; older Nodes take the object. Per report on the ingest node, and twice more
// per report it batches (ledger/merkle.ts). Its digest is asked for as base64 text and
// decoded here: a 'buffer' digest is a new external buffer per call, which cost more to
// allocate and collect than the hash itself (~0.35 us of 1 us).
const oneShot = (nodeCrypto as { hash?: (alg: string, data: Uint8Array, enc: 'base64') => string }).hash;

/** Base64 alphabet (RFC 4648 §4) -> 6-bit value, by character code. */
const BASE64 = new Uint8Array(128);
for (let i = 0; i < 64; i++) BASE64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

/** SHA-256 of `bytes`, written to out[at..at + 32). */
export function sha256Into(bytes: Uint8Array, out: Uint8Array, at: number): void {
  if (!oneShot) {
    out.set(createHash('sha256').update(bytes).digest(), at);
    return;
  }
  // 32 bytes are 43 base64 characters and one '=': ten groups of 4 -> 3, then 3 -> 2.
  const t = oneShot('sha256', bytes, 'base64');
  let o = at;
  for (let i = 0; i < 40; i += 4) {
    const n = (BASE64[t.charCodeAt(i)] << 18) | (BASE64[t.charCodeAt(i + 1)] << 12) | (BASE64[t.charCodeAt(i + 2)] << 6) | BASE64[t.charCodeAt(i + 3)];
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 255;
    out[o++] = n & 255;
  }
  const n = (BASE64[t.charCodeAt(40)] << 12) | (BASE64[t.charCodeAt(41)] << 6) | BASE64[t.charCodeAt(42)];
  out[o++] = n >> 10;
  out[o] = (n >> 2) & 255;
}

/** SHA-256 of `bytes`, as a Uint8Array of its own (no pool slab kept alive by it). */
export function sha256Host(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  sha256Into(bytes, out, 0);
  return out;
}

/** Decoding + algorithm checks shared by reports and pairing proofs. */
export function openSign1(bytes: Uint8Array): { ok: true; sign1: Sign1; alg: number } | Rejection {
  if (!(bytes instanceof Uint8Array)) return reject(REJECT.MALFORMED, 'expected bytes');
  let s: Sign1;
  try {
    s = decodeSign1(bytes);
  } catch (e) {
    return reject(REJECT.MALFORMED, (e as Error).message);
  }
  if (s.alg !== COSE_ALG_ED25519 && s.alg !== COSE_ALG_EDDSA) {
    return reject(REJECT.UNSUPPORTED_ALG, s.alg === undefined ? 'no alg in the protected header' : `alg ${s.alg} (accepted: -19 Ed25519, -8 EdDSA)`);
  }
  // Any other header is outside the profile: it could carry meaning we would ignore.
  for (const [k] of s.protectedHeader.entries) if (k !== 1) return reject(REJECT.MALFORMED, `protected header ${String(k)} not in the profile`);
  for (const [k] of s.unprotectedHeader.entries) if (k !== 4) return reject(REJECT.MALFORMED, `unprotected header ${String(k)} not in the profile`);
  if (s.signature.length !== 64) return reject(REJECT.MALFORMED, `signature of ${s.signature.length} bytes, Ed25519 has 64`);
  return { ok: true, sign1: s, alg: s.alg };
}

/** Tries each registered key for the kid (normally one); the first that verifies wins. */
export function verifySignature(s: Sign1, registry: KeyRegistry): { ok: true; publicKey: Uint8Array } | Rejection {
  if (!s.kid || s.kid.length !== KID_BYTES) return reject(REJECT.MALFORMED, `kid (header 4) expected ${KID_BYTES} bytes`);
  const keys = registry.keysFor(s.kid);
  if (keys.length === 0) return reject(REJECT.UNKNOWN_KEY, `no registered key with kid ${toHex(s.kid)}`);
  // Verify the bytes received: ToBeSigned is rebuilt from the received protected and
  // payload byte strings, never from decoded-then-re-encoded values.
  const tbs = sigStructureBytes(s.protectedBytes, s.payload);
  for (const pub of keys) if (ed25519Verify(s.signature, tbs, pub)) return { ok: true, publicKey: pub };
  return reject(REJECT.BAD_SIGNATURE, `signature does not verify under the key of kid ${toHex(s.kid)}`);
}

/** Everything that can be decided from the bytes and the registry alone. */
export function verifyReportBytes(bytes: Uint8Array, registry: KeyRegistry, opts: VerifyOptions = {}): VerifyResult {
  const opened = openSign1(bytes);
  if (!opened.ok) return opened;
  const s = opened.sign1;
  const sig = verifySignature(s, registry);
  if (!sig.ok) return sig;
  let report: EnergyReport;
  try {
    report = decodeReport(s.payload);
  } catch (e) {
    const err = e as Error & { field?: string };
    return { ...reject(REJECT.MALFORMED, err.message, err.field), signed: true };
  }
  if (!bytesEqual(report.kid, s.kid!)) return { ...reject(REJECT.MALFORMED, 'payload kid differs from the kid header', 'kid'), signed: true };
  const bad = checkPlausible(report, opts);
  if (bad) return { ...bad, signed: true };
  return { ok: true, report, publicKey: sig.publicKey, kid: s.kid!, alg: opened.alg, hash: sha256Host(bytes), bytes };
}
