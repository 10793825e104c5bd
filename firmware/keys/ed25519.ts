// Ed25519 signing (RFC 8032 §5.1) for the device, in ES5 that Espruino interprets.
// The device only signs; verification happens on the ledger (node:crypto).
import { sha512js } from './sha512';

type Hash = (data: Uint8Array) => Uint8Array;
let hash: Hash = sha512js;

/**
 * Uses `fn` as SHA-512 (e.g. Espruino's native `require("crypto").SHA512` wrapped to return
 * a Uint8Array); `null` restores the JavaScript fallback. The result must be 64 bytes.
 */
export function setSha512(fn: Hash | null): void {
  if (fn !== null && typeof fn !== 'function') throw new TypeError('setSha512: "fn" expected function or null');
  hash = fn || sha512js;
}

function sha512(data: Uint8Array): Uint8Array {
  const h = hash(data);
  if (!h || h.length !== 64) throw new Error('sha512: hash function returned ' + (h ? h.length : 'nothing') + ' bytes, expected 64');
  return h;
}

// ---- field GF(2^255 - 19): 16 limbs of 16 bits in a Float64Array, 2^256 = 38 (mod p)
type Fe = Float64Array;
function fe(): Fe { return new Float64Array(16); }

// d2 = 2*d, d = -121665/121666 (RFC 8032 §5.1); base point coordinates (§5.1).
function feFromHex(hex: string): Fe {
  const o = fe();
  // hex is big-endian 64 digits
  for (let i = 0; i < 16; i++) o[i] = parseInt(hex.substr(60 - 4 * i, 4), 16);
  return o;
}
const D2 = feFromHex('2406d9dc56dffce7198e80f2eef3d13000e0149a8283b156ebd69b9426b2f159');
const BX = feFromHex('216936d3cd6e53fec0a4e231fdd6dc5c692cc7609525a7b2c9562d608f25d51a');
const BY = feFromHex('6666666666666666666666666666666666666666666666666666666666666658');

function carry(o: Fe): void {
  let c: number;
  for (let i = 0; i < 16; i++) {
    c = Math.floor(o[i] / 65536);
    o[i] -= c * 65536;
    if (i < 15) o[i + 1] += c;
    else o[0] += 38 * c;
  }
}

function add(o: Fe, a: Fe, b: Fe): void { for (let i = 0; i < 16; i++) o[i] = a[i] + b[i]; }
function sub(o: Fe, a: Fe, b: Fe): void { for (let i = 0; i < 16; i++) o[i] = a[i] - b[i]; }

const prod = new Float64Array(31);
function mul(o: Fe, a: Fe, b: Fe): void {
  let i: number, j: number;
  for (i = 0; i < 31; i++) prod[i] = 0;
  for (i = 0; i < 16; i++) for (j = 0; j < 16; j++) prod[i + j] += a[i] * b[j];
  for (i = 0; i < 15; i++) prod[i] += 38 * prod[i + 16];
  for (i = 0; i < 16; i++) o[i] = prod[i];
  carry(o);
  carry(o);
}

function copy(o: Fe, a: Fe): void { for (let i = 0; i < 16; i++) o[i] = a[i]; }

/** o = a^(p-2) = 1/a (Fermat); p - 2 = 2^255 - 21: every bit set except bits 2 and 4. */
function inv(o: Fe, a: Fe): void {
  const c = fe();
  copy(c, a);
  for (let i = 253; i >= 0; i--) {
    mul(c, c, c);
    if (i !== 2 && i !== 4) mul(c, c, a);
  }
  copy(o, c);
}

/** Canonical 32-byte little-endian encoding of a (fully reduced mod p). */
function pack(out: Uint8Array, a: Fe): void {
  const t = fe();
  const m = fe();
  copy(t, a);
  carry(t); carry(t); carry(t);
  // Now 0 <= t < 2^256; subtract p up to twice, keeping the result when it does not go negative.
  for (let k = 0; k < 2; k++) {
    m[0] = t[0] - 0xffed;
    for (let i = 1; i < 15; i++) {
      m[i] = t[i] - 0xffff - ((m[i - 1] >> 16) & 1);
      m[i - 1] &= 0xffff;
    }
    m[15] = t[15] - 0x7fff - ((m[14] >> 16) & 1);
    const borrow = (m[15] >> 16) & 1;
    m[14] &= 0xffff;
    if (!borrow) { m[15] &= 0xffff; copy(t, m); }
  }
  for (let i = 0; i < 16; i++) { out[2 * i] = t[i] & 255; out[2 * i + 1] = t[i] >> 8; }
}

// ---- points: extended twisted Edwards coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z
type Pt = Fe[];
function pt(): Pt { return [fe(), fe(), fe(), fe()]; }
const ta = fe(), tb = fe(), tc = fe(), td = fe(), te = fe(), tf = fe(), tg = fe(), th = fe();

/** p += q (RFC 8032 §5.1.4, unified: also doubles). */
function padd(p: Pt, q: Pt): void {
  sub(ta, p[1], p[0]); sub(tf, q[1], q[0]); mul(ta, ta, tf);
  add(tb, p[0], p[1]); add(tf, q[0], q[1]); mul(tb, tb, tf);
  mul(tc, p[3], q[3]); mul(tc, tc, D2);
  mul(td, p[2], q[2]); add(td, td, td);
  sub(te, tb, ta); sub(tf, td, tc); add(tg, td, tc); add(th, tb, ta);
  mul(p[0], te, tf); mul(p[1], tg, th); mul(p[2], tf, tg); mul(p[3], te, th);
}

function encodePoint(out: Uint8Array, p: Pt): void {
  const zi = fe(), x = fe(), y = fe();
  const xb = new Uint8Array(32);
  inv(zi, p[2]);
  mul(x, p[0], zi);
  mul(y, p[1], zi);
  pack(out, y);
  pack(xb, x);
  out[31] |= (xb[0] & 1) << 7;
}

/** A scalar multiplication of the base point by a 32-byte little-endian scalar, in steps. */
interface Job { q: Pt; b: Pt; s: Uint8Array; i: number }
function jobStart(s: Uint8Array): Job {
  const q = pt();
  q[1][0] = 1; q[2][0] = 1;
  const b = pt();
  copy(b[0], BX); copy(b[1], BY); b[2][0] = 1; mul(b[3], BX, BY);
  return { q: q, b: b, s: s, i: 255 };
}
/** Runs up to `bits` bits of the double-and-add; true when done. */
function jobRun(j: Job, bits: number): boolean {
  for (; bits > 0 && j.i >= 0; bits--, j.i--) {
    padd(j.q, j.q);
    if ((j.s[j.i >> 3] >> (j.i & 7)) & 1) padd(j.q, j.b);
  }
  return j.i < 0;
}

// ---- scalars mod L = 2^252 + 27742317777372353535851937790883648493 (RFC 8032 §5.1)
const L = [0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14];

/** Normalizes x[0..31] to digits 0..255; returns the carry out of 2^256 (value = digits + c * 2^256). */
function norm32(x: Float64Array): number {
  let c = 0;
  for (let j = 0; j < 32; j++) {
    x[j] += c;
    c = Math.floor(x[j] / 256);
    x[j] -= c * 256;
  }
  return c;
}

/** out = x mod L, x given as 64 base-256 digits (possibly larger than 255) in a Float64Array. */
function modL(out: Uint8Array, x: Float64Array): void {
  let i: number, j: number, c: number, v: number;
  // 2^256 = 16 * 2^252 = -16 * (L - 2^252) (mod L): fold each top digit 32 places down
  // onto 16 digits, keep those in [-128, 128) and leave the carry one place above them.
  for (i = 63; i >= 32; i--) {
    v = x[i];
    x[i] = 0;
    c = 0;
    for (j = 0; j < 16; j++) {
      x[i - 32 + j] += c - 16 * v * L[j];
      c = Math.floor((x[i - 32 + j] + 128) / 256);
      x[i - 32 + j] -= c * 256;
    }
    x[i - 16] += c;
  }
  // Fold the part at 2^252 and above (2^252 = -(L - 2^252) mod L), twice: the first fold
  // leaves |x| within a small multiple of 2^252, the second within (-L, 2L).
  for (i = 0; i < 2; i++) {
    c = norm32(x);
    v = Math.floor(x[31] / 16);
    x[31] -= v * 16;
    v += 16 * c;
    for (j = 0; j < 16; j++) x[j] -= v * L[j];
  }
  c = norm32(x);
  while (c < 0) {
    for (j = 0; j < 16; j++) x[j] += L[j];
    x[31] += 16;
    c += norm32(x);
  }
  // 0 <= x < 2L: subtract L while that does not go negative.
  const t = new Float64Array(32);
  for (;;) {
    for (j = 0; j < 32; j++) t[j] = x[j] - (j < 16 ? L[j] : 0);
    t[31] -= 16;
    if (norm32(t) < 0) break;
    for (j = 0; j < 32; j++) x[j] = t[j];
  }
  for (j = 0; j < 32; j++) out[j] = x[j];
}

function reduceHash(out: Uint8Array, h: Uint8Array): void {
  const x = new Float64Array(64);
  for (let i = 0; i < 64; i++) x[i] = h[i];
  modL(out, x);
}

function concat(a: Uint8Array, b: Uint8Array, c?: Uint8Array): Uint8Array {
  const o = new Uint8Array(a.length + b.length + (c ? c.length : 0));
  o.set(a, 0);
  o.set(b, a.length);
  if (c) o.set(c, a.length + b.length);
  return o;
}

function checkBytes(name: string, v: unknown, len: number): void {
  if (!(v instanceof Uint8Array)) throw new TypeError('ed25519: "' + name + '" expected Uint8Array');
  if (len >= 0 && v.length !== len) throw new TypeError('ed25519: "' + name + '" expected ' + len + ' bytes, got ' + v.length);
}

/** RFC 8032 §5.1.5: the secret scalar (clamped) and the prefix from SHA-512(seed). */
function expand(seed: Uint8Array): { a: Uint8Array; prefix: Uint8Array } {
  const h = sha512(seed);
  const a = new Uint8Array(32);
  for (let i = 0; i < 32; i++) a[i] = h[i];
  a[0] &= 248;
  a[31] &= 127;
  a[31] |= 64;
  return { a: a, prefix: h.subarray(32, 64) };
}

/** RFC 8032 §5.1.5: the 32-byte public key of a 32-byte seed. */
export function ed25519PublicKey(seed32: Uint8Array): Uint8Array {
  checkBytes('seed32', seed32, 32);
  const e = expand(seed32);
  const j = jobStart(e.a);
  jobRun(j, 256);
  const out = new Uint8Array(32);
  encodePoint(out, j.q);
  return out;
}

/** Stepwise signer: each step() does a bounded slice of the work. */
export interface SignSteps {
  /** Does one slice of work; true once the signature is ready. */
  step(): boolean;
  /** The 64-byte signature; throws if step() has not returned true yet. */
  signature(): Uint8Array;
}

/**
 * RFC 8032 §5.1.6 signing, split into steps so the caller can yield to the event loop
 * between them (firmware: `function go() { if (!s.step()) setTimeout(go, 0); else ... }`).
 * `publicKey32`, when given, must be ed25519PublicKey(seed32) (saves one scalar
 * multiplication); a wrong one gives a signature that does not verify.
 */
export function ed25519SignSteps(message: Uint8Array, seed32: Uint8Array, publicKey32?: Uint8Array): SignSteps {
  checkBytes('message', message, -1);
  checkBytes('seed32', seed32, 32);
  if (publicKey32 !== undefined) checkBytes('publicKey32', publicKey32, 32);
  let phase = 0;
  let e: { a: Uint8Array; prefix: Uint8Array };
  let pub: Uint8Array | undefined = publicKey32;
  let job: Job;
  const r = new Uint8Array(32);
  const sig = new Uint8Array(64);
  let done = false;
  const BITS = 32;
  function step(): boolean {
    if (done) return true;
    if (phase === 0) {
      e = expand(seed32);
      if (!pub) job = jobStart(e.a);
      phase = pub ? 2 : 1;
    } else if (phase === 1) {
      if (jobRun(job, BITS)) {
        pub = new Uint8Array(32);
        encodePoint(pub, job.q);
        phase = 2;
      }
    } else if (phase === 2) {
      // §5.1.6 step 2: r = SHA-512(prefix || M) mod L; R = [r]B
      reduceHash(r, sha512(concat(e.prefix, message)));
      job = jobStart(r);
      phase = 3;
    } else if (phase === 3) {
      if (jobRun(job, BITS)) {
        encodePoint(sig, job.q);
        phase = 4;
      }
    } else {
      // §5.1.6 steps 4-5: k = SHA-512(R || A || M) mod L; S = (r + k * s) mod L
      const k = new Uint8Array(32);
      reduceHash(k, sha512(concat(sig.subarray(0, 32), pub as Uint8Array, message)));
      const x = new Float64Array(64);
      for (let i = 0; i < 32; i++) x[i] = r[i];
      for (let i = 0; i < 32; i++) for (let j = 0; j < 32; j++) x[i + j] += k[i] * e.a[j];
      modL(sig.subarray(32, 64), x);
      done = true;
    }
    return done;
  }
  function signature(): Uint8Array {
    if (!done) throw new Error('ed25519SignSteps: signature() called before step() returned true');
    return sig;
  }
  return { step: step, signature: signature };
}

/** RFC 8032 §5.1.6: the 64-byte signature of `message` under `seed32`. */
export function ed25519Sign(message: Uint8Array, seed32: Uint8Array, publicKey32?: Uint8Array): Uint8Array {
  const s = ed25519SignSteps(message, seed32, publicKey32);
  while (!s.step()) { /* run to completion */ }
  return s.signature();
}
