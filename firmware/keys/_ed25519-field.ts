// Field arithmetic mod p = 2^255 - 19 for an interpreter that re-reads source text:
// 16 signed limbs of radix 2^16 in Int32Arrays, 2^256 = 38 (mod p). The schoolbook
// product is done by a native dot product, `conv(a, b, off) = sum a[i] * b[(i + off) % b.length]`
// (Espruino's E.convolve; a plain loop elsewhere), one call per output limb, so the
// interpreter only runs the carry chain. Two layouts make a column a single dot product:
//   R form (16): limbs reversed, R[j] = x[15 - j];
//   B form (32): B[j] = 38 * x[j], B[16 + j] = x[j].
// Then limb k of x*y (before carrying) is conv(R(x), B(y), k + 1): the high half of B pairs
// the terms with i + j = k, the low half those with i + j = k + 16, already times 38.
// The same holds for a 48-long R side [R(u) | 16 zeros | R(v)] against a 64-long B side
// [B(p) | B(q)]: offset k + 1 gives u*p + v*q, offset k + 33 gives u*q + v*p.
//
// Exactness: every partial sum stays an integer below 2^53. Inputs to a product have
// |limb| < 2^20 (carried limbs are below 2^16, limb 1 below 2^18, and sums of a few), so a
// column is below 32 * 2^20 * 38 * 2^20 < 2^51; its carry v / 2^16 is below 2^31, so
// `v / 65536 | 0` (truncation toward zero) is a bitwise operation on a 32-bit value.
// The kernels are unrolled on purpose: a loop costs the interpreter its condition and
// increment tokens on every limb, about a fifth of the work.
/* eslint-disable */

export type Conv = (a: ArrayLike<number>, b: ArrayLike<number>, offset: number) => number;

/** conv() in plain JavaScript, with Espruino's E.convolve semantics (arr2 wraps around). */
export function convolveJs(a: ArrayLike<number>, b: ArrayLike<number>, offset: number): number {
  const n = b.length;
  let s = 0;
  let j = offset % n;
  if (j < 0) j += n;
  for (let i = 0; i < a.length; i++) {
    s += a[i] * b[j];
    if (++j === n) j = 0;
  }
  return s;
}

export const kernel = { conv: convolveJs as Conv };

type V = Int32Array;
type In = ArrayLike<number>;

/** o (B form) = carried limbs k of conv(a, b, s + k). */
export function mB(o: V, a: In, b: In, s: number): void {
  const C = kernel.conv;
  let v = C(a, b, s), c = v / 65536 | 0;
  o[0] = 38 * (o[16] = v - c * 65536);
  v = C(a, b, s + 1) + c; c = v / 65536 | 0; o[1] = 38 * (o[17] = v - c * 65536);
  v = C(a, b, s + 2) + c; c = v / 65536 | 0; o[2] = 38 * (o[18] = v - c * 65536);
  v = C(a, b, s + 3) + c; c = v / 65536 | 0; o[3] = 38 * (o[19] = v - c * 65536);
  v = C(a, b, s + 4) + c; c = v / 65536 | 0; o[4] = 38 * (o[20] = v - c * 65536);
  v = C(a, b, s + 5) + c; c = v / 65536 | 0; o[5] = 38 * (o[21] = v - c * 65536);
  v = C(a, b, s + 6) + c; c = v / 65536 | 0; o[6] = 38 * (o[22] = v - c * 65536);
  v = C(a, b, s + 7) + c; c = v / 65536 | 0; o[7] = 38 * (o[23] = v - c * 65536);
  v = C(a, b, s + 8) + c; c = v / 65536 | 0; o[8] = 38 * (o[24] = v - c * 65536);
  v = C(a, b, s + 9) + c; c = v / 65536 | 0; o[9] = 38 * (o[25] = v - c * 65536);
  v = C(a, b, s + 10) + c; c = v / 65536 | 0; o[10] = 38 * (o[26] = v - c * 65536);
  v = C(a, b, s + 11) + c; c = v / 65536 | 0; o[11] = 38 * (o[27] = v - c * 65536);
  v = C(a, b, s + 12) + c; c = v / 65536 | 0; o[12] = 38 * (o[28] = v - c * 65536);
  v = C(a, b, s + 13) + c; c = v / 65536 | 0; o[13] = 38 * (o[29] = v - c * 65536);
  v = C(a, b, s + 14) + c; c = v / 65536 | 0; o[14] = 38 * (o[30] = v - c * 65536);
  v = C(a, b, s + 15) + c; c = v / 65536 | 0; o[15] = 38 * (o[31] = v - c * 65536);
  v = o[16] + 38 * c; c = v / 65536 | 0; o[0] = 38 * (o[16] = v - c * 65536);
  o[1] = 38 * (o[17] += c);
}

/** o (R form) = carried limbs k of conv(a, b, s + k). */
export function mR(o: V, a: In, b: In, s: number): void {
  const C = kernel.conv;
  let v = C(a, b, s), c = v / 65536 | 0;
  o[15] = v - c * 65536;
  v = C(a, b, s + 1) + c; c = v / 65536 | 0; o[14] = v - c * 65536;
  v = C(a, b, s + 2) + c; c = v / 65536 | 0; o[13] = v - c * 65536;
  v = C(a, b, s + 3) + c; c = v / 65536 | 0; o[12] = v - c * 65536;
  v = C(a, b, s + 4) + c; c = v / 65536 | 0; o[11] = v - c * 65536;
  v = C(a, b, s + 5) + c; c = v / 65536 | 0; o[10] = v - c * 65536;
  v = C(a, b, s + 6) + c; c = v / 65536 | 0; o[9] = v - c * 65536;
  v = C(a, b, s + 7) + c; c = v / 65536 | 0; o[8] = v - c * 65536;
  v = C(a, b, s + 8) + c; c = v / 65536 | 0; o[7] = v - c * 65536;
  v = C(a, b, s + 9) + c; c = v / 65536 | 0; o[6] = v - c * 65536;
  v = C(a, b, s + 10) + c; c = v / 65536 | 0; o[5] = v - c * 65536;
  v = C(a, b, s + 11) + c; c = v / 65536 | 0; o[4] = v - c * 65536;
  v = C(a, b, s + 12) + c; c = v / 65536 | 0; o[3] = v - c * 65536;
  v = C(a, b, s + 13) + c; c = v / 65536 | 0; o[2] = v - c * 65536;
  v = C(a, b, s + 14) + c; c = v / 65536 | 0; o[1] = v - c * 65536;
  v = C(a, b, s + 15) + c; c = v / 65536 | 0; o[0] = v - c * 65536;
  v = o[15] + 38 * c; c = v / 65536 | 0; o[15] = v - c * 65536;
  o[14] += c;
}

/**
 * Mixed-addition middle step: e = conv(d, t, k + 1) carried, then f (B form) = z - e and
 * g (R form) = z + e, with z in B form. Limbs 0 and 1 wait for the wrap-around carry.
 */
export function mFG(f: V, g: V, d: In, t: In, z: V): void {
  const C = kernel.conv;
  let v = C(d, t, 1), c = v / 65536 | 0, e = v - c * 65536;
  v = C(d, t, 2) + c; c = v / 65536 | 0; let e1 = v - c * 65536;
  const e0 = e;
  v = C(d, t, 3) + c; c = v / 65536 | 0; e = v - c * 65536; f[2] = 38 * (f[18] = z[18] - e); g[13] = z[18] + e;
  v = C(d, t, 4) + c; c = v / 65536 | 0; e = v - c * 65536; f[3] = 38 * (f[19] = z[19] - e); g[12] = z[19] + e;
  v = C(d, t, 5) + c; c = v / 65536 | 0; e = v - c * 65536; f[4] = 38 * (f[20] = z[20] - e); g[11] = z[20] + e;
  v = C(d, t, 6) + c; c = v / 65536 | 0; e = v - c * 65536; f[5] = 38 * (f[21] = z[21] - e); g[10] = z[21] + e;
  v = C(d, t, 7) + c; c = v / 65536 | 0; e = v - c * 65536; f[6] = 38 * (f[22] = z[22] - e); g[9] = z[22] + e;
  v = C(d, t, 8) + c; c = v / 65536 | 0; e = v - c * 65536; f[7] = 38 * (f[23] = z[23] - e); g[8] = z[23] + e;
  v = C(d, t, 9) + c; c = v / 65536 | 0; e = v - c * 65536; f[8] = 38 * (f[24] = z[24] - e); g[7] = z[24] + e;
  v = C(d, t, 10) + c; c = v / 65536 | 0; e = v - c * 65536; f[9] = 38 * (f[25] = z[25] - e); g[6] = z[25] + e;
  v = C(d, t, 11) + c; c = v / 65536 | 0; e = v - c * 65536; f[10] = 38 * (f[26] = z[26] - e); g[5] = z[26] + e;
  v = C(d, t, 12) + c; c = v / 65536 | 0; e = v - c * 65536; f[11] = 38 * (f[27] = z[27] - e); g[4] = z[27] + e;
  v = C(d, t, 13) + c; c = v / 65536 | 0; e = v - c * 65536; f[12] = 38 * (f[28] = z[28] - e); g[3] = z[28] + e;
  v = C(d, t, 14) + c; c = v / 65536 | 0; e = v - c * 65536; f[13] = 38 * (f[29] = z[29] - e); g[2] = z[29] + e;
  v = C(d, t, 15) + c; c = v / 65536 | 0; e = v - c * 65536; f[14] = 38 * (f[30] = z[30] - e); g[1] = z[30] + e;
  v = C(d, t, 16) + c; c = v / 65536 | 0; e = v - c * 65536; f[15] = 38 * (f[31] = z[31] - e); g[0] = z[31] + e;
  v = e0 + 38 * c; c = v / 65536 | 0; e = v - c * 65536; e1 += c;
  f[0] = 38 * (f[16] = z[16] - e); g[15] = z[16] + e;
  f[1] = 38 * (f[17] = z[17] - e1); g[14] = z[17] + e1;
}

/**
 * Doubling middle step (RFC 8032 §5.1.4 doubling, a = -1): s = conv(q, yx, k + 1) = X^2 + Y^2
 * carried; h (B form) = -s = H; g (R form) = s - 2 X^2 = G; f (B form) = G - 2 Z^2 = F.
 * a = X^2 and zz = Z^2 come in R form.
 */
export function mS(h: V, g: V, f: V, q: In, yx: In, a: V, zz: V): void {
  const C = kernel.conv;
  let v = C(q, yx, 1), c = v / 65536 | 0, e = v - c * 65536;
  v = C(q, yx, 2) + c; c = v / 65536 | 0; let e1 = v - c * 65536;
  const e0 = e;
  v = C(q, yx, 3) + c; c = v / 65536 | 0; e = v - c * 65536; h[2] = 38 * (h[18] = -e); g[13] = e - 2 * a[13]; f[2] = 38 * (f[18] = e - 2 * (a[13] + zz[13]));
  v = C(q, yx, 4) + c; c = v / 65536 | 0; e = v - c * 65536; h[3] = 38 * (h[19] = -e); g[12] = e - 2 * a[12]; f[3] = 38 * (f[19] = e - 2 * (a[12] + zz[12]));
  v = C(q, yx, 5) + c; c = v / 65536 | 0; e = v - c * 65536; h[4] = 38 * (h[20] = -e); g[11] = e - 2 * a[11]; f[4] = 38 * (f[20] = e - 2 * (a[11] + zz[11]));
  v = C(q, yx, 6) + c; c = v / 65536 | 0; e = v - c * 65536; h[5] = 38 * (h[21] = -e); g[10] = e - 2 * a[10]; f[5] = 38 * (f[21] = e - 2 * (a[10] + zz[10]));
  v = C(q, yx, 7) + c; c = v / 65536 | 0; e = v - c * 65536; h[6] = 38 * (h[22] = -e); g[9] = e - 2 * a[9]; f[6] = 38 * (f[22] = e - 2 * (a[9] + zz[9]));
  v = C(q, yx, 8) + c; c = v / 65536 | 0; e = v - c * 65536; h[7] = 38 * (h[23] = -e); g[8] = e - 2 * a[8]; f[7] = 38 * (f[23] = e - 2 * (a[8] + zz[8]));
  v = C(q, yx, 9) + c; c = v / 65536 | 0; e = v - c * 65536; h[8] = 38 * (h[24] = -e); g[7] = e - 2 * a[7]; f[8] = 38 * (f[24] = e - 2 * (a[7] + zz[7]));
  v = C(q, yx, 10) + c; c = v / 65536 | 0; e = v - c * 65536; h[9] = 38 * (h[25] = -e); g[6] = e - 2 * a[6]; f[9] = 38 * (f[25] = e - 2 * (a[6] + zz[6]));
  v = C(q, yx, 11) + c; c = v / 65536 | 0; e = v - c * 65536; h[10] = 38 * (h[26] = -e); g[5] = e - 2 * a[5]; f[10] = 38 * (f[26] = e - 2 * (a[5] + zz[5]));
  v = C(q, yx, 12) + c; c = v / 65536 | 0; e = v - c * 65536; h[11] = 38 * (h[27] = -e); g[4] = e - 2 * a[4]; f[11] = 38 * (f[27] = e - 2 * (a[4] + zz[4]));
  v = C(q, yx, 13) + c; c = v / 65536 | 0; e = v - c * 65536; h[12] = 38 * (h[28] = -e); g[3] = e - 2 * a[3]; f[12] = 38 * (f[28] = e - 2 * (a[3] + zz[3]));
  v = C(q, yx, 14) + c; c = v / 65536 | 0; e = v - c * 65536; h[13] = 38 * (h[29] = -e); g[2] = e - 2 * a[2]; f[13] = 38 * (f[29] = e - 2 * (a[2] + zz[2]));
  v = C(q, yx, 15) + c; c = v / 65536 | 0; e = v - c * 65536; h[14] = 38 * (h[30] = -e); g[1] = e - 2 * a[1]; f[14] = 38 * (f[30] = e - 2 * (a[1] + zz[1]));
  v = C(q, yx, 16) + c; c = v / 65536 | 0; e = v - c * 65536; h[15] = 38 * (h[31] = -e); g[0] = e - 2 * a[0]; f[15] = 38 * (f[31] = e - 2 * (a[0] + zz[0]));
  v = e0 + 38 * c; c = v / 65536 | 0; e = v - c * 65536; e1 += c;
  h[0] = 38 * (h[16] = -e); g[15] = e - 2 * a[15]; f[0] = 38 * (f[16] = e - 2 * (a[15] + zz[15]));
  h[1] = 38 * (h[17] = -e1); g[14] = e1 - 2 * a[14]; f[1] = 38 * (f[17] = e1 - 2 * (a[14] + zz[14]));
}
