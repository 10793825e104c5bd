// Ed25519 signing (RFC 8032 §5.1.6) shaped for an interpreter: the core of ./ed25519 and of
// the Storage module ./ed25519-module. Nothing here touches Espruino globals: the native
// SHA-512 (setSha512), the native dot product (setConvolve, E.convolve) and the base-point
// table (setBaseTable, memory-mapped from Storage on the device) are handed in.
//
// The one scalar multiplication of a signature, [r]B, is a fixed-base comb (Lim-Lee) with
// two tables: the 256-bit scalar is cut into 8 rows of 32 bits, each row into two halves of
// 16; for column i < 16, u_i = sum_m bit(i + 32 m) << m and v_i = sum_m bit(i + 16 + 32 m) << m
// select T[u_i] (sum_m u_m 2^(32 m) B) and T[256 + v_i] (the same times 2^16), and
// [r]B = sum_i 2^i (T[u_i] + T[256 + v_i]): 15 doublings and 32 mixed additions, against
// about 256 doublings and 128 additions for a generic ladder. Every column adds two
// entries, entry 0 being the neutral point, so the sequence of operations never depends
// on the secret scalar.
import { kernel, convolveJs, mB, mR, mFG, mS, Conv } from './_ed25519-field';
import { sha512js } from './sha512';
import { fromHex, toHex } from '../../protocol/bytes';

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

// ---- the base-point table (generated at build time by host-tools/build/gen-ed25519-table.ts,
// which describes its layout; imported as `#ed25519-table`, see ./ed25519-table.d.ts)
export const BASE_TABLE_BYTES = 65536;
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
  // Spot check (erased flash reads 0xFF): entry 0 is the neutral point, y = 1 in its last
  // R(y) limb, x = 0; entry 1 is B, whose y ends in limb 0x6658 (RFC 8032 §5.1).
  const t = new Int16Array(buf, off, 128);
  if (t[15] !== 1 || t[14] !== 0 || t[32] !== 0 || t[47] !== 0 || t[64 + 15] !== 0x6658) {
    throw new TypeError('setBaseTable: "table" is not the Ed25519 comb table (entry 0 or 1 wrong)');
  }
  tbuf = buf;
  toff = off;
}

/** Where the table comes from when setBaseTable() was not called (./ed25519 registers one). */
export function setBaseTableProvider(fn: () => Uint8Array): void { provider = fn; }


// ---- the accumulator point, extended coordinates (RFC 8032 §5.1.4): X, Y, Z, T
// Layouts of ./_ed25519-field. A job's buffers are views into one Int32Array of 320
// (every stored limb, B form included, is an integer below 2^26; the column sums, which
// need doubles, never leave the kernels). One allocation per job, so nothing but code
// stays in RAM between signatures; kept
// in the array S while the job runs. Few top-level names and parameters on purpose: on
// Espruino each costs a variable for as long as the module is loaded.
//   S[0]  YX  = [B(Y) | B(X)]  (S[1] B(X), S[2] plain Y, S[3] plain X)
//   S[4]  B(T)    S[5] B(Z)  (S[6] plain Z)
//   S[7]  [R(Y) | 16 zeros | R(X)] for the doubling (S[8] R(Y), S[9] R(X)), S[10] R(Z)
//   S[11] R(E)  S[12] R(G)  S[13] B(F)  S[14] B(H)  S[15] R(X^2)  S[16] R(Z^2)
// The inversion runs after the comb and reuses the comb's temporaries: registers z, t0..t3
// are S[5], S[4], S[13], S[14], S[17] (over S[7]); squares ping-pong between S[18] and
// S[19] (plain halves S[20], S[21]); S[15] holds an R form.
type V = Int32Array;
let S: V[] = [];
const VIEWS = new Uint16Array([0, 64, 32, 32, 16, 16, 48, 16, 64, 32, 96, 32, 112, 16, 128, 48, 128, 16, 160, 16, 176, 16, 192, 16,
  208, 16, 224, 32, 256, 32, 288, 16, 304, 16, 128, 32, 160, 32, 192, 32, 176, 16, 208, 16]);

/** dst = reverse of src (16 limbs): plain layout to R form. Native where typed arrays have reverse (not Duktape). */
function rev(dst: V, src: V): void {
  if (dst.reverse) { dst.set(src); dst.reverse(); return; }
  for (let i = 0; i < 16; i++) dst[i] = src[15 - i];
}

/**
 * P = 2P (dbl-2008-hwcd, a = -1) when `u` < 0: E = 2XY, G = Y^2 - X^2, F = G - 2Z^2,
 * H = -(X^2 + Y^2). Otherwise P += table entry u (affine x2, y2 and d x2 y2), every
 * quantity halved so the table needs no 2d (add-2008-hwcd-3 with Z2 = 1):
 * H' = Y y2 + X x2, E' = Y x2 + X y2, F' = Z - T d x2 y2, G' = Z + T d x2 y2.
 * Then X3 = E F, Y3 = G H, Z3 = F G, and T3 = E H when `t` (a doubling, which ignores T,
 * needs none: in the comb it follows the second addition of each column).
 */
function step(u: number, t: boolean): void {
  const s = S;
  if (u < 0) {
    rev(s[8], s[2]);
    rev(s[9], s[3]);
    rev(s[10], s[6]);
    mR(s[15], s[9], s[1], 1);
    mR(s[16], s[10], s[5], 1);
    mR(s[11], s[7], s[0], 33);
    mS(s[14], s[12], s[13], s[7], s[0], s[15], s[16]);
  } else {
    const at = toff + u * 128;
    const w = new Int16Array(tbuf as ArrayBuffer, at, 48);
    mB(s[14], w, s[0], 1);
    mR(s[11], w, s[0], 33);
    mFG(s[13], s[12], new Int16Array(tbuf as ArrayBuffer, at + 96, 16), s[4], s[5]);
  }
  mB(s[1], s[11], s[13], 1);
  mB(s[0], s[12], s[14], 1);
  mB(s[5], s[12], s[13], 1);
  if (t) mB(s[4], s[11], s[14], 1);
}

// ---- inversion z^(p-2) (Fermat) as an addition chain of 254 squarings and 11 products,
// run as a little program so that it can be split across steps. [op, dst, a, b]: op 0 =
// square a, b times, into dst; op 1 = dst = a * b; registers are indices of S.
const CHAIN = new Uint8Array([
  0, 4, 5, 1, // t0 = z^2
  0, 13, 4, 2, // t1 = z^8
  1, 13, 5, 13, // t1 = z^9
  1, 4, 4, 13, // t0 = z^11
  0, 14, 4, 1, // t2 = z^22
  1, 13, 13, 14, // t1 = z^(2^5 - 1)
  0, 14, 13, 5, 1, 13, 14, 13, // t1 = z^(2^10 - 1)
  0, 14, 13, 10, 1, 14, 14, 13, // t2 = z^(2^20 - 1)
  0, 17, 14, 20, 1, 14, 17, 14, // t2 = z^(2^40 - 1)
  0, 14, 14, 10, 1, 13, 14, 13, // t1 = z^(2^50 - 1)
  0, 14, 13, 50, 1, 14, 14, 13, // t2 = z^(2^100 - 1)
  0, 17, 14, 100, 1, 14, 17, 14, // t2 = z^(2^200 - 1)
  0, 14, 14, 50, 1, 13, 14, 13, // t1 = z^(2^250 - 1)
  0, 13, 13, 5, // t1 = z^(2^255 - 32)
  1, 5, 13, 4, // z = z^(2^255 - 21) = 1/z
]);

/** dst = a * b, all B form (dst may alias a or b); S[18] is scratch. */
function fmul(dst: V, a: V, b: V): void {
  rev(S[15], a.subarray(16, 32));
  mB(S[18], S[15], b, 1);
  dst.set(S[18]);
}

/** Canonical 32-byte little-endian encoding of the plain limbs at a[16..32) (B form). */
function pack(out: Uint8Array, a: V): void {
  const t = new Float64Array(16), m = new Float64Array(16);
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

/**
 * A fixed-base scalar multiplication [s]B and its encoding, in steps. Each job has its own
 * buffers (st); S points at those of the job being run, so stepped signers may interleave
 * (a pairing proof signed while a report is half signed). A finished job drops them.
 * i: next comb column (15..0), then -1; pc, left, cur: the inversion program's state.
 */
interface Job { s: Uint8Array; out: Uint8Array; st: V[]; i: number; pc: number; left: number; cur: V | null }
let active: Job | null = null;

function jobStart(s: Uint8Array, out: Uint8Array): Job {
  if (!tbuf) {
    if (!provider) throw new Error('ed25519: no base-point table: call setBaseTable() first');
    setBaseTable(provider());
  }
  const buf = new Int32Array(320).buffer as ArrayBuffer;
  const st: V[] = [];
  for (let i = 0; i < VIEWS.length; i += 2) st.push(new Int32Array(buf, VIEWS[i] * 4, VIEWS[i + 1]));
  // The neutral point (0, 1, 1, 0): B(1) = [38, 0..., 1, 0...].
  st[0][0] = st[5][0] = 38;
  st[0][16] = st[5][16] = 1;
  return { s: s, out: out, st: st, i: 15, pc: 0, left: 0, cur: null };
}

/**
 * Runs one slice of the job: one comb column (a doubling and two additions), or 24 field
 * squarings of the inversion, about the same time on Espruino. True when `out` holds the
 * encoded point.
 */
function jobRun(j: Job): boolean {
  if (active !== j) { S = j.st; active = j; }
  let n: number;
  if (j.i >= 0) {
    // Bit i + 32 m of the scalar is bit k of byte b + 4 m; bit i + 16 + 32 m, of byte b + 2 + 4 m.
    const b = j.i >> 3, k = j.i & 7, s = j.s;
    if (j.i < 15) step(-1, true);
    step(((s[b] >> k) & 1) | (((s[b + 4] >> k) & 1) << 1) | (((s[b + 8] >> k) & 1) << 2) |
      (((s[b + 12] >> k) & 1) << 3) | (((s[b + 16] >> k) & 1) << 4) | (((s[b + 20] >> k) & 1) << 5) |
      (((s[b + 24] >> k) & 1) << 6) | (((s[b + 28] >> k) & 1) << 7), true);
    step(256 + (((s[b + 2] >> k) & 1) | (((s[b + 6] >> k) & 1) << 1) | (((s[b + 10] >> k) & 1) << 2) |
      (((s[b + 14] >> k) & 1) << 3) | (((s[b + 18] >> k) & 1) << 4) | (((s[b + 22] >> k) & 1) << 5) |
      (((s[b + 26] >> k) & 1) << 6) | (((s[b + 30] >> k) & 1) << 7)), false);
    j.i--;
    return false;
  }
  for (n = 24; j.pc < CHAIN.length && n > 0;) {
    const op = CHAIN[j.pc], dst = S[CHAIN[j.pc + 1]], a = S[CHAIN[j.pc + 2]], b = CHAIN[j.pc + 3];
    if (op === 1) {
      fmul(dst, a, S[b]);
      n--;
      j.pc += 4;
      continue;
    }
    if (j.left === 0) { j.left = b; j.cur = a; }
    while (j.left > 0 && n > 0) {
      // Ping-pong between S[18] and S[19] (a square cannot be written over its input).
      const cur = j.cur as V, q = cur === S[18];
      rev(S[15], q ? S[20] : cur === S[19] ? S[21] : cur.subarray(16, 32));
      j.cur = q ? S[19] : S[18];
      mB(j.cur, S[15], cur, 1);
      j.left--;
      n--;
    }
    if (j.left === 0) { dst.set(j.cur as V); j.pc += 4; }
  }
  if (j.pc < CHAIN.length) return false;
  // RFC 8032 §5.1.2: y = Y/Z with the sign of x = X/Z in the top bit.
  const xb = new Uint8Array(32);
  fmul(S[4], S[0], S[5]);
  pack(j.out, S[4]);
  fmul(S[4], S[1], S[5]);
  pack(xb, S[4]);
  j.out[31] |= (xb[0] & 1) << 7;
  active = null;
  S = [];
  j.st = [];
  return true;
}

// ---- scalars mod L = 2^252 + 27742317777372353535851937790883648493 (RFC 8032 §5.1)
const L = new Uint8Array([0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14]);

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

/** out = x mod L, x given as 64 base-256 digits (any sign, magnitude below 2^40; copied). */
function modL(out: Uint8Array, src: ArrayLike<number>): void {
  const x = new Float64Array(64);
  for (let k = 0; k < 64; k++) x[k] = src[k] || 0;
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
  const t = new Float64Array(32);
  for (;;) {
    for (j = 0; j < 32; j++) t[j] = x[j] - (j < 16 ? L[j] : 0);
    t[31] -= 16;
    if (norm32(t) < 0) break;
    for (j = 0; j < 32; j++) x[j] = t[j];
  }
  for (j = 0; j < 32; j++) out[j] = x[j];
}


/** out = (r + k * a) mod L (RFC 8032 §5.1.6 step 5); the 63 columns of k * a are dot products. */
function mulAdd(out: Uint8Array, r: Uint8Array, k: Uint8Array, a: Uint8Array): void {
  const C = kernel.conv, KA = new Float64Array(32), AR = new Float64Array(94), WIDE = new Float64Array(64);
  let i: number;
  // AR[t] = a[62 - t] for 31 <= t <= 62, else 0: then conv(k, AR, 62 - m) = sum k[i] a[m - i].
  for (i = 0; i < 32; i++) { AR[62 - i] = a[i]; KA[i] = k[i]; }
  for (i = 0; i < 63; i++) WIDE[i] = C(KA, AR, 62 - i) + (i < 32 ? r[i] : 0);
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
 * A step is one comb column, 24 field squarings or one reduction mod L: about 1/32 of a
 * signature.
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
  const k = new Uint8Array(32);
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
      modL(r, sha512(concat(e.prefix, message)));
      job = jobStart(r, sig);
      phase = 3;
    } else if (phase === 3) {
      if (jobRun(job)) phase = 4;
    } else if (phase === 4) {
      // §5.1.6 step 4: k = SHA-512(R || A || M) mod L (its own step: each reduction is
      // one of the longest slices of a signature)
      modL(k, sha512(concat(sig.subarray(0, 32), pub as Uint8Array, message)));
      phase = 5;
    } else {
      // §5.1.6 step 5: S = (r + k * s) mod L
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

/**
 * Signs RFC 8032 §7.1 TEST 1 and compares with the published signature: true when the
 * table, the injected natives and the code on this device agree with the standard.
 * Costs two scalar multiplications; firmware/hal runs it once after installing the table.
 */
export function ed25519SelfTest(): boolean {
  const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const want = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
  return toHex(ed25519Sign(new Uint8Array(0), seed)) === want;
}
