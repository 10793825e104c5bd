// Fast path of report verification for the ingest node: the same answer as
// verifyReportBytes (report.ts) for the reports DEEP devices actually send, at a fraction of
// the cost beyond the Ed25519 check itself. It never rejects: whenever anything is not
// exactly the expected shape, or any check fails, it returns undefined and the caller runs
// verifyReportBytes, which gives the exact rejection. So there is one code path for
// rejections, and the fast path only has to be right about what it accepts:
//
//   if verifyReportFast(b, ring) returns v, verifyReportBytes(b, ring) returns a deep-equal v.
//
// What it skips and why that is safe:
//   - the generic CBOR decoder: a DEEP COSE_Sign1 has one byte layout (openSign1Fast), and a
//     canonical EnergyReport has one grammar (decodeReportFast) that is read in one forward
//     pass. decodeReport proves canonical form by re-encoding; here every head is checked to
//     be the one encodeReport writes (shortest integer heads, keys 1..12 ascending, definite
//     lengths, gap only when non-zero) and every range check of reportToCbor is applied, so
//     the bytes accepted are exactly encodings encodeReport can produce.
//   - the hex string per report for the key lookup: Ed25519KeyRing indexes keys by a number
//     made of the kid's bytes, read straight from the received bytes.
//   - the Sig_structure allocation: it is written into one reused buffer (verification is
//     synchronous, so no two reports share it at once).
//
// Use (e.g. in host-tools/ingest/worker.ts): keep the keys in an Ed25519KeyRing instead of
// a Map of hex ids (ring.set(deviceId, publicKey) on init and key_add, ring.delete(deviceId)
// on key_remove, ring.clear() before init) and verify with
//   verifyReportFast(bytes, ring, { nowS }) ?? verifyReportBytes(bytes, ring, { nowS })
// The ring is a KeyRegistry too, so both paths see the same keys.
//
// test/host-tools/verify/fast.test.ts holds the fast path to the reference on random valid
// reports, mutated bytes, hand-written non-canonical payloads and `deep report` rides.
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { copyBytes, fromHex, MAX_SAFE } from '../../protocol/bytes';
import { COSE_ALG_ED25519, COSE_ALG_EDDSA } from '../../protocol/cose';
import { KID_BYTES } from '../../protocol/kid';
import { MAX_CAN_ID, REPORT_VERSION, type EnergyReport, type PackEnergy } from '../../protocol/report';
import { ed25519KeyObject, pointIsCanonical, scalarIsCanonical } from './ed25519';
import { checkPlausible } from './plausibility';
import { sha256Host, type KeyRegistry, type VerifiedReport, type VerifyOptions } from './report';

// ---------------------------------------------------------------- COSE_Sign1 layout
//
// tag 18, array of 4:               d2 84
// protected bstr {1: alg}:          43 a1 01 27 (alg -8) | 43 a1 01 32 (alg -19)
// unprotected {4: kid}:             a1 04 48 <8 bytes>
// payload bstr:                     40+n | 58 n | 59 nn nn, shortest form, then n bytes
// signature bstr:                   58 40 <64 bytes>, then nothing.
// decodeSign1 requires the tag (an untagged array is rejected), so the fast path does too.

const KID_AT = 9;
const PAYLOAD_HEAD_AT = KID_AT + KID_BYTES;
const SIGNATURE_BYTES = 64;
/** The smallest message: a 0-byte payload (never a valid report, but a valid layout). */
const MIN_SIGN1 = PAYLOAD_HEAD_AT + 1 + 2 + SIGNATURE_BYTES;

/** alg of the protected header byte at offset 5 (-8 is 0x27, -19 is 0x32), 0 for any other. */
function algOf(byte: number): number {
  return byte === 0x32 ? COSE_ALG_ED25519 : byte === 0x27 ? COSE_ALG_EDDSA : 0;
}

// Results of layoutOf, kept in module state so the hot path allocates nothing for them.
let payloadStart = 0;
let payloadEnd = 0;

/** True when `b` is a DEEP COSE_Sign1 byte for byte; sets payloadStart/payloadEnd. */
function layoutOf(b: Uint8Array): boolean {
  const n = b.length;
  if (n < MIN_SIGN1) return false;
  if (b[0] !== 0xd2 || b[1] !== 0x84 || b[2] !== 0x43 || b[3] !== 0xa1 || b[4] !== 0x01 || algOf(b[5]) === 0) return false;
  if (b[6] !== 0xa1 || b[7] !== 0x04 || b[8] !== 0x40 + KID_BYTES) return false;
  const h = b[PAYLOAD_HEAD_AT];
  let len: number;
  let start: number;
  if (h >= 0x40 && h < 0x58) {
    len = h - 0x40;
    start = PAYLOAD_HEAD_AT + 1;
  } else if (h === 0x58) {
    len = b[PAYLOAD_HEAD_AT + 1];
    if (len < 24) return false;
    start = PAYLOAD_HEAD_AT + 2;
  } else if (h === 0x59) {
    // at most 65535 bytes: within decodeSign1's 65536-byte string limit
    len = b[PAYLOAD_HEAD_AT + 1] * 256 + b[PAYLOAD_HEAD_AT + 2];
    if (len < 256) return false;
    start = PAYLOAD_HEAD_AT + 3;
  } else return false;
  const end = start + len;
  if (end + 2 + SIGNATURE_BYTES !== n || b[end] !== 0x58 || b[end + 1] !== SIGNATURE_BYTES) return false;
  payloadStart = start;
  payloadEnd = end;
  return true;
}

export interface Sign1Fast {
  /** The protected header bstr's content as received (what the signature covers). */
  protectedBytes: Uint8Array;
  kid: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
  /** -19 (Ed25519) or -8 (EdDSA). */
  alg: number;
}

/**
 * The parts of a COSE_Sign1 in exactly the shape DEEP devices send, as views into `bytes`
 * (no copies); undefined for anything else, which the reference path (openSign1) then
 * accepts or rejects with its reason.
 */
export function openSign1Fast(bytes: Uint8Array): Sign1Fast | undefined {
  if (!(bytes instanceof Uint8Array) || !layoutOf(bytes)) return undefined;
  return {
    protectedBytes: bytes.subarray(3, 6),
    kid: bytes.subarray(KID_AT, PAYLOAD_HEAD_AT),
    payload: bytes.subarray(payloadStart, payloadEnd),
    signature: bytes.subarray(payloadEnd + 2),
    alg: algOf(bytes[5]),
  };
}

// ---------------------------------------------------------------- EnergyReport payload

// Read position of the payload reader (module state: the reader is synchronous).
let at = 0;
const TWO32 = 4294967296;

/**
 * The argument of a head of major type `major` (0 or 1) at `at`, in shortest form and at
 * most 2^53-1, advancing `at`; -1 when the byte is another type or anything is off.
 */
function argAt(b: Uint8Array, end: number, major: number): number {
  if (at >= end) return -1;
  const ai = b[at] - (major << 5);
  if (ai >= 0 && ai < 24) {
    at++;
    return ai;
  }
  let v: number;
  if (ai === 24) {
    if (at + 2 > end) return -1;
    v = b[at + 1];
    if (v < 24) return -1;
    at += 2;
    return v;
  }
  if (ai === 25) {
    if (at + 3 > end) return -1;
    v = (b[at + 1] << 8) | b[at + 2];
    if (v < 0x100) return -1;
    at += 3;
    return v;
  }
  if (ai === 26) {
    if (at + 5 > end) return -1;
    v = ((b[at + 1] << 24) | (b[at + 2] << 16) | (b[at + 3] << 8) | b[at + 4]) >>> 0;
    if (v < 0x10000) return -1;
    at += 5;
    return v;
  }
  if (ai === 27) {
    if (at + 9 > end) return -1;
    const hi = ((b[at + 1] << 24) | (b[at + 2] << 16) | (b[at + 3] << 8) | b[at + 4]) >>> 0;
    const lo = ((b[at + 5] << 24) | (b[at + 6] << 16) | (b[at + 7] << 8) | b[at + 8]) >>> 0;
    // hi 0 would fit 4 bytes (not shortest); hi >= 2^21 is beyond 2^53-1
    if (hi === 0 || hi >= 0x200000) return -1;
    at += 9;
    return hi * TWO32 + lo;
  }
  return -1;
}

/** An unsigned integer (reportToCbor's uint: 0..MAX_SAFE), -1 when not one. */
function uintAt(b: Uint8Array, end: number): number {
  return argAt(b, end, 0);
}

/** A signed integer within +-MAX_SAFE (reportToCbor's sint), NaN when not one. */
function sintAt(b: Uint8Array, end: number): number {
  if (at >= end) return NaN;
  if (b[at] < 0x20) {
    const v = argAt(b, end, 0);
    return v < 0 ? NaN : v;
  }
  const n = argAt(b, end, 1);
  // -1 - n >= -MAX_SAFE
  return n < 0 || n >= MAX_SAFE ? NaN : -1 - n;
}

/** True when `b[key]` is the one-byte map key `key` (keys 1..12 are their own heads). */
function keyAt(b: Uint8Array, key: number): boolean {
  if (b[at] !== key) return false;
  at++;
  return true;
}

function packAt(b: Uint8Array, end: number, previousCanId: number): PackEnergy | undefined {
  if (b[at] !== 0x8a) return undefined; // array of 10
  at++;
  const canId = uintAt(b, end);
  if (canId < 0 || canId > MAX_CAN_ID || canId <= previousCanId) return undefined;
  const gridToPackMwh = uintAt(b, end);
  const packToGridMwh = uintAt(b, end);
  const packToMotorMwh = uintAt(b, end);
  const regenToPackMwh = uintAt(b, end);
  if (gridToPackMwh < 0 || packToGridMwh < 0 || packToMotorMwh < 0 || regenToPackMwh < 0) return undefined;
  const chargeMah = sintAt(b, end);
  if (chargeMah !== chargeMah) return undefined;
  const lg = uintAt(b, end);
  const lp = uintAt(b, end);
  const lm = uintAt(b, end);
  const lr = uintAt(b, end);
  if (lg < 0 || lp < 0 || lm < 0 || lr < 0) return undefined;
  return {
    canId,
    gridToPackMwh,
    packToGridMwh,
    packToMotorMwh,
    regenToPackMwh,
    chargeMah,
    lifetime: { gridToPackMwh: lg, packToGridMwh: lp, packToMotorMwh: lm, regenToPackMwh: lr },
  };
}

/** decodeReportFast over b[start, end). */
function reportAt(b: Uint8Array, start: number, end: number): EnergyReport | undefined {
  // map of 10 entries, or 11 with the gap; 1: 1 (version); 2: bstr of KID_BYTES (kid)
  const mapHead = b[start];
  if (mapHead !== 0xaa && mapHead !== 0xab) return undefined;
  if (end - start < 5 + KID_BYTES + 1 + 1 + 3 + 32) return undefined;
  if (b[start + 1] !== 0x01 || b[start + 2] !== REPORT_VERSION || b[start + 3] !== 0x02 || b[start + 4] !== 0x40 + KID_BYTES) return undefined;
  const kidAt = start + 5;
  at = kidAt + KID_BYTES;
  if (!keyAt(b, 0x03)) return undefined;
  const seq = uintAt(b, end);
  if (seq < 0) return undefined;
  // 4: bstr of 32 (prev), all zero for seq 0
  if (at + 3 + 32 > end || b[at] !== 0x04 || b[at + 1] !== 0x58 || b[at + 2] !== 32) return undefined;
  const prevAt = at + 3;
  at = prevAt + 32;
  if (seq === 0) for (let i = prevAt; i < at; i++) if (b[i] !== 0) return undefined;
  // 5: clock 0 or 1, then 6: startEpochS (synced) or 7: startUptimeS (unsynced)
  if (!keyAt(b, 0x05)) return undefined;
  const clock = b[at];
  if (clock !== 0 && clock !== 1) return undefined;
  at++;
  if (!keyAt(b, clock === 1 ? 0x06 : 0x07)) return undefined;
  const startS = uintAt(b, end);
  if (startS < 0) return undefined;
  // 8: durationS in 1..2^32-1
  if (!keyAt(b, 0x08)) return undefined;
  const durationS = uintAt(b, end);
  if (durationS < 1 || durationS > 4294967295) return undefined;
  // 9: array of 1..4 packs in strictly ascending canId order
  if (!keyAt(b, 0x09)) return undefined;
  const packsHead = b[at];
  if (!(packsHead >= 0x81 && packsHead <= 0x84)) return undefined;
  at++;
  const packs: PackEnergy[] = [];
  let canId = -1;
  for (let i = 0x80; i < packsHead; i++) {
    const p = packAt(b, end, canId);
    if (!p) return undefined;
    packs.push(p);
    canId = p.canId;
  }
  // 10: [vesc, bms, device]
  if (!keyAt(b, 0x0a) || !keyAt(b, 0x83)) return undefined;
  const vesc = uintAt(b, end);
  const bms = uintAt(b, end);
  const device = uintAt(b, end);
  if (vesc < 0 || bms < 0 || device < 0) return undefined;
  // 11: firmware in 0..2^24-1
  if (!keyAt(b, 0x0b)) return undefined;
  const firmware = uintAt(b, end);
  if (firmware < 0 || firmware > 16777215) return undefined;
  const r: EnergyReport = {
    version: REPORT_VERSION,
    kid: copyBytes(b, kidAt, kidAt + KID_BYTES),
    seq,
    prev: copyBytes(b, prevAt, prevAt + 32),
    clock,
    startS,
    durationS,
    packs,
    faults: { vesc, bms, device },
    firmware,
  };
  if (mapHead === 0xab) {
    // 12: [mergedWindows, lostS], lostS <= durationS, never both zero (no gap is no key)
    if (!keyAt(b, 0x0c) || !keyAt(b, 0x82)) return undefined;
    const mergedWindows = uintAt(b, end);
    const lostS = uintAt(b, end);
    if (mergedWindows < 0 || lostS < 0 || lostS > durationS || (mergedWindows === 0 && lostS === 0)) return undefined;
    r.gap = { mergedWindows, lostS };
  }
  return at === end ? r : undefined;
}

/**
 * The EnergyReport of a payload in canonical form, read in one forward pass: deep-equal to
 * decodeReport(payload) whenever it returns one; undefined when the payload is anything but
 * an encoding encodeReport can produce (decodeReport then names what is wrong).
 */
export function decodeReportFast(payload: Uint8Array): EnergyReport | undefined {
  if (!(payload instanceof Uint8Array) || payload.length === 0) return undefined;
  return reportAt(payload, 0, payload.length);
}

// ---------------------------------------------------------------- keys

interface RingEntry {
  kid: Uint8Array;
  publicKey: Uint8Array;
  /** null when the key can never verify (not 32 bytes, non-canonical or not a point). */
  key: KeyObject | null;
}

/**
 * A number identifying the 8-byte kid at b[o..o+8) except for its last 11 bits: 53 bits
 * exact in a double, so the Map lookup needs no string. Entries compare all 8 bytes.
 */
function kidIndex(b: Uint8Array, o: number): number {
  const hi = ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  const lo = ((b[o + 4] << 13) | (b[o + 5] << 5) | (b[o + 6] >> 3)) >>> 0;
  return hi * 0x200000 + lo;
}

function kidIs(entry: RingEntry, b: Uint8Array, o: number): boolean {
  const k = entry.kid;
  for (let i = 0; i < KID_BYTES; i++) if (k[i] !== b[o + i]) return false;
  return true;
}

function kidBytes(kid: Uint8Array | string): Uint8Array {
  const k = typeof kid === 'string' ? fromHex(kid, 'kid') : kid;
  if (!(k instanceof Uint8Array) || k.length !== KID_BYTES) throw new TypeError(`kid: expected ${KID_BYTES} bytes, got ${typeof kid === 'string' ? JSON.stringify(kid) : String(k && k.length) + ' bytes'}`);
  return k;
}

/**
 * The public keys of a verifier by kid, with their node:crypto KeyObjects made once when a
 * key is added. It is also a KeyRegistry, so the fallback (verifyReportBytes) sees the very
 * same keys. Kids are given as bytes or as hex (the ingest node's device ids).
 */
export class Ed25519KeyRing implements KeyRegistry {
  private readonly byIndex = new Map<number, RingEntry[]>();

  /** Makes `publicKey` the only key of `kid` (what the ingest worker's key_add means). */
  set(kid: Uint8Array | string, publicKey: Uint8Array): void {
    this.delete(kid);
    this.add(kid, publicKey);
  }

  /** Adds one more key for `kid`; keys are tried in the order added, as keyRegistry does. */
  add(kid: Uint8Array | string, publicKey: Uint8Array): void {
    const k = copyBytes(kidBytes(kid));
    if (!(publicKey instanceof Uint8Array)) throw new TypeError('publicKey: expected bytes');
    const usable = publicKey.length === 32 && pointIsCanonical(publicKey);
    const entry: RingEntry = { kid: k, publicKey, key: usable ? ed25519KeyObject(publicKey) : null };
    const i = kidIndex(k, 0);
    const list = this.byIndex.get(i);
    if (list) list.push(entry);
    else this.byIndex.set(i, [entry]);
  }

  /** Removes every key of `kid`. */
  delete(kid: Uint8Array | string): void {
    const k = kidBytes(kid);
    const i = kidIndex(k, 0);
    const list = this.byIndex.get(i);
    if (!list) return;
    const rest = list.filter((e) => !kidIs(e, k, 0));
    if (rest.length) this.byIndex.set(i, rest);
    else this.byIndex.delete(i);
  }

  clear(): void {
    this.byIndex.clear();
  }

  /** KeyRegistry: the keys of `kid` in the order added. */
  keysFor(kid: Uint8Array): Uint8Array[] {
    if (!(kid instanceof Uint8Array) || kid.length !== KID_BYTES) return [];
    const list = this.byIndex.get(kidIndex(kid, 0));
    const out: Uint8Array[] = [];
    if (list) for (const e of list) if (kidIs(e, kid, 0)) out.push(e.publicKey);
    return out;
  }

  /** The entries whose kid is b[o..o+KID_BYTES), or undefined. */
  entriesAt(b: Uint8Array, o: number): RingEntry[] | undefined {
    return this.byIndex.get(kidIndex(b, o));
  }
}

// ---------------------------------------------------------------- verification

/** "Signature1" Sig_structure head (RFC 9052 §4.4): array of 4, tstr "Signature1". */
const TBS_PREFIX = Buffer.from([0x84, 0x6a, ...Buffer.from('Signature1', 'ascii')]);
let tbs = Buffer.alloc(1024);

/**
 * ["Signature1", protected, h'', payload] of a message laid out by layoutOf: the protected
 * bstr is bytes[2..6) and the payload bstr with its head is bytes[PAYLOAD_HEAD_AT..payloadEnd),
 * so the structure is those two runs around the prefix and the empty external_aad.
 */
function toBeSignedOf(b: Uint8Array): Uint8Array {
  const size = TBS_PREFIX.length + 4 + 1 + (payloadEnd - PAYLOAD_HEAD_AT);
  if (tbs.length < size) tbs = Buffer.alloc(Math.max(size, tbs.length * 2));
  TBS_PREFIX.copy(tbs, 0);
  let o = TBS_PREFIX.length;
  tbs[o++] = b[2];
  tbs[o++] = b[3];
  tbs[o++] = b[4];
  tbs[o++] = b[5];
  tbs[o++] = 0x40;
  tbs.set(b.subarray(PAYLOAD_HEAD_AT, payloadEnd), o);
  return tbs.subarray(0, size);
}


/**
 * verifyReportBytes for the common case: the same VerifiedReport for a DEEP report that
 * verifies under a key of `ring` and is canonical and plausible; undefined for anything
 * else, and the caller then runs verifyReportBytes(bytes, ring, opts) for the rejection
 * (or for an acceptance in a shape the fast path does not read).
 */
export function verifyReportFast(bytes: Uint8Array, ring: Ed25519KeyRing, opts: VerifyOptions = {}): VerifiedReport | undefined {
  if (!(bytes instanceof Uint8Array) || !layoutOf(bytes)) return undefined;
  const entries = ring.entriesAt(bytes, KID_AT);
  if (!entries) return undefined;
  const sigAt = payloadEnd + 2;
  const signature = bytes.subarray(sigAt, sigAt + SIGNATURE_BYTES);
  // ed25519Verify's encoding checks: S < L, R canonical (A's were checked when added)
  if (!scalarIsCanonical(signature.subarray(32)) || !pointIsCanonical(signature)) return undefined;
  const start = payloadStart;
  const end = payloadEnd;
  const message = toBeSignedOf(bytes);
  let publicKey: Uint8Array | undefined;
  for (const e of entries) {
    if (e.key === null || !kidIs(e, bytes, KID_AT)) continue;
    let ok = false;
    try {
      ok = cryptoVerify(null, message, e.key, signature);
    } catch {
      // ed25519Verify answers false here too
    }
    if (ok) {
      publicKey = e.publicKey;
      break;
    }
  }
  if (!publicKey) return undefined;
  const report = reportAt(bytes, start, end);
  if (!report) return undefined;
  // the payload kid equals the kid header
  for (let i = 0; i < KID_BYTES; i++) if (report.kid[i] !== bytes[KID_AT + i]) return undefined;
  if (checkPlausible(report, opts) !== null) return undefined;
  return {
    ok: true,
    report,
    publicKey,
    kid: copyBytes(bytes, KID_AT, KID_AT + KID_BYTES),
    alg: algOf(bytes[5]),
    hash: sha256Host(bytes),
    bytes,
  };
}
