// Ed25519 signing (RFC 8032 §5.1.6) shaped for an interpreter: the core of ./ed25519 and of
// the Storage module ./ed25519-module. Nothing here touches Espruino globals: the native
// SHA-512 (setSha512), the native dot product (setConvolve, E.convolve) and the base-point
// table (setBaseTable, memory-mapped from Storage on the device) are handed in.
//
// The one scalar multiplication of a signature, [r]B, is a fixed-base comb (Lim-Lee): with
// the 253-bit scalar cut into 8 rows of 32 bits, column i selects entry
// u = sum_m bit(i + 32 m) << m of a 256-entry table of sum_m u_m 2^(32 m) B, and
// [r]B = sum_i 2^i T[u_i]: 31 doublings and 32 mixed additions, against about 256 doublings
// and 128 additions for a generic ladder. Every column adds an entry, entry 0 being the
// neutral point, so the sequence of operations never depends on the secret scalar.
import { kernel, convolveJs, mB, mR, mP, mFG, mS, Conv } from './_ed25519-field';
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

/**
 * Uses `fn` for the field products: `fn(a, b, off) = sum a[i] * b[(i + off) % b.length]` in
 * doubles, i.e. Espruino's `E.convolve`. `null` restores the JavaScript loop.
 */
export function setConvolve(fn: Conv | null): void {
  if (fn !== null && typeof fn !== 'function') throw new TypeError('setConvolve: "fn" expected function or null');
  kernel.conv = fn || convolveJs;
}

function sha512(data: Uint8Array): Uint8Array {
  const h = hash(data);
  if (!h || h.length !== 64) throw new Error('sha512: hash function returned ' + (h ? h.length : 'nothing') + ' bytes, expected 64');
  return h;
}

// ---- the base-point table (see host-tools/build/gen-ed25519-table.ts for its layout)
export const BASE_TABLE_BYTES = 32768;
let tbuf: ArrayBuffer | null = null;
let toff = 0;
let provider: (() => Uint8Array) | null = null;

/**
 * Sets the comb table: BASE_TABLE_BYTES bytes as made by gen-ed25519-table (on the device,
 * `E.toArrayBuffer(require("Storage").read("ed25519.tbl"))`, read in place from flash).
 * Entries are viewed, never copied.
 */
export function setBaseTable(table: ArrayBuffer | Uint8Array): void {
  let buf: ArrayBuffer, off = 0, len: number;
  if (table instanceof Uint8Array) { buf = table.buffer as ArrayBuffer; off = table.byteOffset; len = table.length; }
  else if (table instanceof ArrayBuffer) { buf = table; len = table.byteLength; }
  else throw new TypeError('setBaseTable: "table" expected ArrayBuffer or Uint8Array');
  if (len !== BASE_TABLE_BYTES) throw new TypeError('setBaseTable: "table" expected ' + BASE_TABLE_BYTES + ' bytes, got ' + len);
  if (off % 2) throw new TypeError('setBaseTable: "table" must start at an even byte offset, got ' + off);
  tbuf = buf;
  toff = off;
}

/** Where the table comes from when setBaseTable() was not called (./ed25519 registers one). */
export function setBaseTableProvider(fn: () => Uint8Array): void { provider = fn; }

function needTable(): void {
  if (tbuf) return;
  if (!provider) throw new Error('ed25519: no base-point table: call setBaseTable() first');
  setBaseTable(provider());
}

// ---- the accumulator point, extended coordinates (RFC 8032 §5.1.4): X, Y, Z, T
// Layouts of ./_ed25519-field: YX = [B(Y) | B(X)], BT = B(T), ZB = B(Z).
type V = Float64Array;
function f64(buf: ArrayBuffer, at: number, n: number): V { return new Float64Array(buf, at * 8, n); }
const YX = new Float64Array(64);
const YXh = f64(YX.buffer as ArrayBuffer, 32, 32); // B(X)
const Yp = f64(YX.buffer as ArrayBuffer, 16, 16);  // plain Y
const Xp = f64(YX.buffer as ArrayBuffer, 48, 16);  // plain X
const BT = new Float64Array(32);
const ZB = new Float64Array(32);
const Zp = f64(ZB.buffer as ArrayBuffer, 16, 16);
// R side of the doubling: [R(Y) | 0 | R(X)], and R(Z).
const RYX = new Float64Array(48);
const rY = f64(RYX.buffer as ArrayBuffer, 0, 16);
const rX = f64(RYX.buffer as ArrayBuffer, 32, 16);
const rZ = new Float64Array(16);
// Intermediates E, F, G, H of the addition and doubling formulas, and X^2, Z^2.
const RE = new Float64Array(16), RG = new Float64Array(16);
const FB = new Float64Array(32), HB = new Float64Array(32);
const AA = new Float64Array(16), ZZ = new Float64Array(16);

/** dst = reverse of src (16 limbs): plain layout to R form. Native where typed arrays have reverse (not Duktape). */
const nativeReverse = typeof Float64Array.prototype.reverse === 'function';
function rev(dst: V, src: V): void {
  if (nativeReverse) { dst.set(src); dst.reverse(); return; }
  for (let i = 0; i < 16; i++) dst[i] = src[15 - i];
}

function setNeutral(): void {
  // (0, 1, 1, 0); B(1) = [38, 0..., 1, 0...]
  for (let i = 0; i < 64; i++) YX[i] = 0;
  for (let i = 0; i < 32; i++) { BT[i] = 0; ZB[i] = 0; }
  YX[0] = 38; YX[16] = 1; ZB[0] = 38; ZB[16] = 1;
}

/** X3 = E F, Y3 = G H, Z3 = F G and, when `t`, T3 = E H (add-2008-hwcd / dbl-2008-hwcd). */
function finish(t: boolean): void {
  mB(YXh, RE, FB, 1);
  mB(YX, RG, HB, 1);
  mB(ZB, RG, FB, 1);
  if (t) mB(BT, RE, HB, 1);
}

/** P = 2P (dbl-2008-hwcd, a = -1): E = 2XY, G = Y^2 - X^2, F = G - 2Z^2, H = -(X^2 + Y^2). */
function dbl(): void {
  rev(rY, Yp);
  rev(rX, Xp);
  rev(rZ, Zp);
  mP(AA, rX, YXh, 1);
  mP(ZZ, rZ, ZB, 1);
  mR(RE, RYX, YX, 33);
  mS(HB, RG, FB, RYX, YX, AA, ZZ);
  finish(true);
}

/**
 * P += table entry u (affine x2, y2, with d x2 y2), all quantities halved so the table needs
 * no 2d: H' = Y y2 + X x2, E' = Y x2 + X y2, F' = Z - T d x2 y2, G' = Z + T d x2 y2. T3 is
 * not computed: in the comb a doubling, which ignores T, always follows.
 */
function addEntry(u: number): void {
  const at = toff + u * 128;
  const w = new Int16Array(tbuf as ArrayBuffer, at, 48);
  const d = new Int16Array(tbuf as ArrayBuffer, at + 96, 16);
  mB(HB, w, YX, 1);
  mR(RE, w, YX, 33);
  mFG(FB, RG, d, BT, ZB);
  finish(false);
}

/** Comb column i of the 32-byte scalar s: bits i, i + 32, ..., i + 224 as an 8-bit index. */
function column(s: Uint8Array, i: number): number {
  const b = i >> 3, k = i & 7;
  return ((s[b] >> k) & 1) | (((s[b + 4] >> k) & 1) << 1) | (((s[b + 8] >> k) & 1) << 2) |
    (((s[b + 12] >> k) & 1) << 3) | (((s[b + 16] >> k) & 1) << 4) | (((s[b + 20] >> k) & 1) << 5) |
    (((s[b + 24] >> k) & 1) << 6) | (((s[b + 28] >> k) & 1) << 7);
}

// ---- inversion z^(p-2) (Fermat) as an addition chain of 254 squarings and 11 products,
// run as a little program so that it can be split across steps.
const REG: V[] = [new Float64Array(32), new Float64Array(32), new Float64Array(32), new Float64Array(32), new Float64Array(32)];
const Q0 = new Float64Array(32), Q1 = new Float64Array(32);
const Q0h = f64(Q0.buffer as ArrayBuffer, 16, 16), Q1h = f64(Q1.buffer as ArrayBuffer, 16, 16);
const RR = new Float64Array(16);
// [op, dst, a, b]: op 0 = square a, b times, into dst; op 1 = dst = a * b. Registers: 0 = z,
// 1..3 = t0..t2, 4 = t3. Exponents noted as the value reached.
const CHAIN = [
  0, 1, 0, 1, // t0 = z^2
  0, 2, 1, 2, // t1 = z^8
  1, 2, 0, 2, // t1 = z^9
  1, 1, 1, 2, // t0 = z^11
  0, 3, 1, 1, // t2 = z^22
  1, 2, 2, 3, // t1 = z^(2^5 - 1)
  0, 3, 2, 5, 1, 2, 3, 2, // t1 = z^(2^10 - 1)
  0, 3, 2, 10, 1, 3, 3, 2, // t2 = z^(2^20 - 1)
  0, 4, 3, 20, 1, 3, 4, 3, // t2 = z^(2^40 - 1)
  0, 3, 3, 10, 1, 2, 3, 2, // t1 = z^(2^50 - 1)
  0, 3, 2, 50, 1, 3, 3, 2, // t2 = z^(2^100 - 1)
  0, 4, 3, 100, 1, 3, 4, 3, // t2 = z^(2^200 - 1)
  0, 3, 3, 50, 1, 2, 3, 2, // t1 = z^(2^250 - 1)
  0, 2, 2, 5, // t1 = z^(2^255 - 32)
  1, 0, 2, 1, // z = z^(2^255 - 21) = 1/z
];

/** dst = a * b, all B form (dst may alias a or b). */
function fmul(dst: V, a: V, b: V): void {
  rev(RR, a.subarray(16, 32));
  mB(Q0, RR, b, 1);
  dst.set(Q0);
}

interface Inv { pc: number; left: number; cur: V }

/** Runs the inversion program from `st` for about `budget` squarings; true when done. */
function invRun(st: Inv, budget: number): boolean {
  while (st.pc < CHAIN.length && budget > 0) {
    const op = CHAIN[st.pc], dst = REG[CHAIN[st.pc + 1]], a = REG[CHAIN[st.pc + 2]], n = CHAIN[st.pc + 3];
    if (op === 1) {
      fmul(dst, a, REG[n]);
      budget--;
      st.pc += 4;
      continue;
    }
    if (st.left === 0) { st.left = n; st.cur = a; }
    while (st.left > 0 && budget > 0) {
      // Ping-pong between Q0 and Q1 (a square cannot be written over its input).
      const nxt = st.cur === Q0 ? Q1 : Q0;
      rev(RR, st.cur === Q0 ? Q0h : st.cur === Q1 ? Q1h : st.cur.subarray(16, 32));
      mB(nxt, RR, st.cur, 1);
      st.cur = nxt;
      st.left--;
      budget--;
    }
    if (st.left === 0) { dst.set(st.cur); st.pc += 4; }
  }
  return st.pc >= CHAIN.length;
}

/** Canonical 32-byte little-endian encoding of the plain limbs at a[16..32) (B form). */
const PK = new Float64Array(16), PM = new Float64Array(16);
function pack(out: Uint8Array, a: V): void {
  const t = PK, m = PM;
  let i: number, k: number, c: number;
  for (i = 0; i < 16; i++) t[i] = a[16 + i];
  for (k = 0; k < 3; k++) {
    for (i = 0; i < 16; i++) {
      c = Math.floor(t[i] / 65536);
      t[i] -= c * 65536;
      if (i < 15) t[i + 1] += c; else t[0] += 38 * c;
    }
  }
  // 0 <= t < 2^256 = 2p + 38: subtract p while that does not go negative (twice at most).
  for (k = 0; k < 2; k++) {
    c = 0;
    for (i = 0; i < 16; i++) {
      m[i] = t[i] - (i === 0 ? 0xffed : i === 15 ? 0x7fff : 0xffff) + c;
      c = Math.floor(m[i] / 65536);
      m[i] -= c * 65536;
    }
    if (c === 0) for (i = 0; i < 16; i++) t[i] = m[i];
  }
  for (i = 0; i < 16; i++) { out[2 * i] = t[i] & 255; out[2 * i + 1] = t[i] >> 8; }
}

const XB = new Uint8Array(32);
/** RFC 8032 §5.1.2 encoding of the accumulator, given 1/Z in REG[0]. */
function encode(out: Uint8Array): void {
  fmul(REG[1], YX, REG[0]);
  pack(out, REG[1]);
  fmul(REG[1], YXh, REG[0]);
  pack(XB, REG[1]);
  out[31] |= (XB[0] & 1) << 7;
}

/**
 * A fixed-base scalar multiplication [s]B and its encoding, in steps. The working state
 * lives in shared buffers (allocated once); when steps of two jobs interleave (a pairing
 * proof signed while a report is half signed), the state of the one set aside is copied
 * into its own snapshot and copied back when it resumes.
 */
interface Job { s: Uint8Array; i: number; inv: Inv; out: Uint8Array; snap: V | null; done: boolean }
const STATE: V[] = [YX, BT, ZB, REG[0], REG[1], REG[2], REG[3], REG[4], Q0, Q1];
let active: Job | null = null;
function claim(j: Job): void {
  if (active === j) return;
  if (active && !active.done) {
    const a = active;
    if (!a.snap) a.snap = new Float64Array(352);
    for (let i = 0, at = 0; i < STATE.length; at += STATE[i].length, i++) a.snap.set(STATE[i], at);
  }
  if (j.snap) {
    for (let i = 0, at = 0; i < STATE.length; at += STATE[i].length, i++) STATE[i].set(j.snap.subarray(at, at + STATE[i].length));
  }
  active = j;
}
function jobStart(s: Uint8Array, out: Uint8Array): Job {
  needTable();
  const j: Job = { s: s, i: 31, inv: { pc: 0, left: 0, cur: Q0 }, out: out, snap: null, done: false };
  claim(j);
  setNeutral();
  return j;
}
// Work per step: comb columns, or inversion squarings (about the same time on Espruino).
const COLS_PER_STEP = 2;
const SQUARES_PER_STEP = 24;
/** Runs one slice of the job; true when `out` holds the encoded point. */
function jobRun(j: Job): boolean {
  claim(j);
  if (j.i >= 0) {
    for (let n = 0; n < COLS_PER_STEP && j.i >= 0; n++, j.i--) {
      if (j.i < 31) dbl();
      addEntry(column(j.s, j.i));
    }
    if (j.i < 0) REG[0].set(ZB);
    return false;
  }
  if (!invRun(j.inv, SQUARES_PER_STEP)) return false;
  encode(j.out);
  j.done = true;
  j.snap = null;
  return true;
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

const MT = new Float64Array(32);
/** out = x mod L, x given as 64 base-256 digits (any sign and size below 2^40) in a Float64Array. */
function modL(out: Uint8Array, x: Float64Array): void {
  let i: number, j: number, c: number, v: number;
  // 2^256 = 16 * 2^252 = -16 * (L - 2^252) (mod L): fold each top digit 32 places down
  // onto 16 digits, keep those in [-128, 128) and leave the carry one place above them.
  for (i = 63; i >= 32; i--) {
    v = x[i];
    x[i] = 0;
    c = 0;
    for (j = i - 32; j < i - 16; j++) {
      x[j] += c - 16 * v * L[j - i + 32];
      c = Math.floor((x[j] + 128) / 256);
      x[j] -= c * 256;
    }
    x[j] += c;
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
  const t = MT;
  for (;;) {
    for (j = 0; j < 32; j++) t[j] = x[j] - (j < 16 ? L[j] : 0);
    t[31] -= 16;
    if (norm32(t) < 0) break;
    for (j = 0; j < 32; j++) x[j] = t[j];
  }
  for (j = 0; j < 32; j++) out[j] = x[j];
}

const WIDE = new Float64Array(64);
function reduceHash(out: Uint8Array, h: Uint8Array): void {
  for (let i = 0; i < 64; i++) WIDE[i] = h[i];
  modL(out, WIDE);
}

const KA = new Float64Array(32), AR = new Float64Array(94);
/** out = (r + k * a) mod L (RFC 8032 §5.1.6 step 5); the 63 columns of k * a are dot products. */
function mulAdd(out: Uint8Array, r: Uint8Array, k: Uint8Array, a: Uint8Array): void {
  const C = kernel.conv;
  let i: number;
  // AR[t] = a[62 - t] for 31 <= t <= 62, else 0: then conv(k, AR, 62 - m) = sum k[i] a[m - i].
  for (i = 0; i < 94; i++) AR[i] = 0;
  for (i = 0; i < 32; i++) { AR[62 - i] = a[i]; KA[i] = k[i]; }
  for (i = 0; i < 63; i++) WIDE[i] = C(KA, AR, 62 - i) + (i < 32 ? r[i] : 0);
  WIDE[63] = 0;
  modL(out, WIDE);
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

/** Stepwise signer: each step() does a bounded slice of the work. */
export interface SignSteps {
  /** Does one slice of work; true once the signature is ready. */
  step(): boolean;
  /** The 64-byte signature; throws if step() has not returned true yet. */
  signature(): Uint8Array;
}

/**
 * RFC 8032 §5.1.6 signing, split into steps so the caller can yield to the event loop
 * between them (`function go() { if (!s.step()) setTimeout(go, 0); else use(s.signature()); }`).
 * A step is two comb columns or 24 field squarings: about 1/25 of a signature.
 * `publicKey32`, when given, must be ed25519PublicKey(seed32) (it saves one scalar
 * multiplication); a wrong one gives a signature that does not verify. Several signers may
 * be stepped in turn; an abandoned one costs nothing but its garbage.
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
  function step(): boolean {
    if (done) return true;
    if (phase === 0) {
      e = expand(seed32);
      if (!pub) { pub = new Uint8Array(32); job = jobStart(e.a, pub); phase = 1; } else phase = 2;
    } else if (phase === 1) {
      if (jobRun(job)) phase = 2;
    } else if (phase === 2) {
      // §5.1.6 steps 2-3: r = SHA-512(prefix || M) mod L; R = [r]B
      reduceHash(r, sha512(concat(e.prefix, message)));
      job = jobStart(r, sig);
      phase = 3;
    } else if (phase === 3) {
      if (jobRun(job)) phase = 4;
    } else {
      // §5.1.6 steps 4-5: k = SHA-512(R || A || M) mod L; S = (r + k * s) mod L
      const k = new Uint8Array(32);
      reduceHash(k, sha512(concat(sig.subarray(0, 32), pub as Uint8Array, message)));
      mulAdd(sig.subarray(32, 64), r, k, e.a);
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

/** RFC 8032 §5.1.5: the 32-byte public key of a 32-byte seed. */
export function ed25519PublicKey(seed32: Uint8Array): Uint8Array {
  checkBytes('seed32', seed32, 32);
  const out = new Uint8Array(32);
  const j = jobStart(expand(seed32).a, out);
  while (!jobRun(j)) { /* run to completion */ }
  return out;
}

/** RFC 8032 §5.1.6: the 64-byte signature of `message` under `seed32`. */
export function ed25519Sign(message: Uint8Array, seed32: Uint8Array, publicKey32?: Uint8Array): Uint8Array {
  const s = ed25519SignSteps(message, seed32, publicKey32);
  while (!s.step()) { /* run to completion */ }
  return s.signature();
}
