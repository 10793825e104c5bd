// SHA-512 (FIPS 180-4 §6.4) in plain ES5 for interpreters without 64-bit integers.
// Used when the runtime has no native SHA-512 (Duktape, Node bundles, Espruino builds
// without the crypto module); firmware/hal/espruino hands the native one to setSha512()
// in ./ed25519 instead.
//
// Every 64-bit word is a pair of signed 32-bit halves (hi, lo). Bitwise operators only
// ever see 32-bit values (tweetnacl-js 1.0.3 is the warning: shifts of values beyond 32
// bits silently gave wrong signatures), and 64-bit sums are done in 16-bit pieces so no
// intermediate exceeds 2^31.

/** SHA-512 of `msg` (FIPS 180-4), 64 bytes. */
export function sha512js(msg: Uint8Array): Uint8Array {
  if (!(msg instanceof Uint8Array)) throw new TypeError('sha512: "msg" expected Uint8Array');
  // Everything is local (one top-level name: on Espruino each costs a variable for as long
  // as the module is loaded, and this fallback rarely runs there).
  let H: Int32Array, W: Int32Array, V: Int32Array, K: Int32Array;
  // Result of add64: sum hi / lo.
  let sh = 0;
  let sl = 0;
  // The constants, made when a hash starts (nothing stays allocated between hashes).
  // FIPS 180-4 §4.2.3: first 64 bits of the fractional parts of the cube roots of the
  // first 80 primes, as (hi, lo) pairs. Int32Array turns the literals above 2^31 into
  // signed 32-bit values, so the bitwise code below never sees a larger number.
  const constants = function(): Int32Array {
    return new Int32Array([
    0x428a2f98, 0xd728ae22, 0x71374491, 0x23ef65cd, 0xb5c0fbcf, 0xec4d3b2f, 0xe9b5dba5, 0x8189dbbc,
    0x3956c25b, 0xf348b538, 0x59f111f1, 0xb605d019, 0x923f82a4, 0xaf194f9b, 0xab1c5ed5, 0xda6d8118,
    0xd807aa98, 0xa3030242, 0x12835b01, 0x45706fbe, 0x243185be, 0x4ee4b28c, 0x550c7dc3, 0xd5ffb4e2,
    0x72be5d74, 0xf27b896f, 0x80deb1fe, 0x3b1696b1, 0x9bdc06a7, 0x25c71235, 0xc19bf174, 0xcf692694,
    0xe49b69c1, 0x9ef14ad2, 0xefbe4786, 0x384f25e3, 0x0fc19dc6, 0x8b8cd5b5, 0x240ca1cc, 0x77ac9c65,
    0x2de92c6f, 0x592b0275, 0x4a7484aa, 0x6ea6e483, 0x5cb0a9dc, 0xbd41fbd4, 0x76f988da, 0x831153b5,
    0x983e5152, 0xee66dfab, 0xa831c66d, 0x2db43210, 0xb00327c8, 0x98fb213f, 0xbf597fc7, 0xbeef0ee4,
    0xc6e00bf3, 0x3da88fc2, 0xd5a79147, 0x930aa725, 0x06ca6351, 0xe003826f, 0x14292967, 0x0a0e6e70,
    0x27b70a85, 0x46d22ffc, 0x2e1b2138, 0x5c26c926, 0x4d2c6dfc, 0x5ac42aed, 0x53380d13, 0x9d95b3df,
    0x650a7354, 0x8baf63de, 0x766a0abb, 0x3c77b2a8, 0x81c2c92e, 0x47edaee6, 0x92722c85, 0x1482353b,
    0xa2bfe8a1, 0x4cf10364, 0xa81a664b, 0xbc423001, 0xc24b8b70, 0xd0f89791, 0xc76c51a3, 0x0654be30,
    0xd192e819, 0xd6ef5218, 0xd6990624, 0x5565a910, 0xf40e3585, 0x5771202a, 0x106aa070, 0x32bbd1b8,
    0x19a4c116, 0xb8d2d0c8, 0x1e376c08, 0x5141ab53, 0x2748774c, 0xdf8eeb99, 0x34b0bcb5, 0xe19b48a8,
    0x391c0cb3, 0xc5c95a63, 0x4ed8aa4a, 0xe3418acb, 0x5b9cca4f, 0x7763e373, 0x682e6ff3, 0xd6b2b8a3,
    0x748f82ee, 0x5defb2fc, 0x78a5636f, 0x43172f60, 0x84c87814, 0xa1f0ab72, 0x8cc70208, 0x1a6439ec,
    0x90befffa, 0x23631e28, 0xa4506ceb, 0xde82bde9, 0xbef9a3f7, 0xb2c67915, 0xc67178f2, 0xe372532b,
    0xca273ece, 0xea26619c, 0xd186b8c7, 0x21c0c207, 0xeada7dd6, 0xcde0eb1e, 0xf57d4f7f, 0xee6ed178,
    0x06f067aa, 0x72176fba, 0x0a637dc5, 0xa2c898a6, 0x113f9804, 0xbef90dae, 0x1b710b35, 0x131c471b,
    0x28db77f5, 0x23047d84, 0x32caab7b, 0x40c72493, 0x3c9ebe0a, 0x15c9bebc, 0x431d67c4, 0x9c100d4c,
    0x4cc5d4be, 0xcb3e42b6, 0x597f299c, 0xfc657e2a, 0x5fcb6fab, 0x3ad6faec, 0x6c44198c, 0x4a475817,
      // FIPS 180-4 §5.3.5: initial hash value, (hi, lo) pairs, at offset 160.
      0x6a09e667, 0xf3bcc908, 0xbb67ae85, 0x84caa73b, 0x3c6ef372, 0xfe94f82b, 0xa54ff53a, 0x5f1d36f1,
      0x510e527f, 0xade682d1, 0x9b05688c, 0x2b3e6c1f, 0x1f83d9ab, 0xfb41bd6b, 0x5be0cd19, 0x137e2179,
    ]);
  };
  /** (ah,al) + (bh,bl) mod 2^64 into (sh, sl), in 16-bit pieces. */
  const add64 = function (ah: number, al: number, bh: number, bl: number): void {
    let a = (al & 0xffff) + (bl & 0xffff);
    let b = (al >>> 16) + (bl >>> 16) + (a >>> 16);
    let c = (ah & 0xffff) + (bh & 0xffff) + (b >>> 16);
    let d = (ah >>> 16) + (bh >>> 16) + (c >>> 16);
    sl = (a & 0xffff) | (b << 16);
    sh = (c & 0xffff) | (d << 16);
  }

  /** Processes the 128-byte blocks of `m` from `off` to `end` (a multiple of 128 apart). */
  const blocks = function (m: Uint8Array, off: number, end: number): void {
    let i: number, j: number, h: number, l: number, th: number, tl: number, t2h: number, t2l: number;
    for (; off < end; off += 128) {
      for (i = 0; i < 32; i++) {
        j = off + 4 * i;
        W[i] = (m[j] << 24) | (m[j + 1] << 16) | (m[j + 2] << 8) | m[j + 3];
      }
      for (i = 32; i < 160; i += 2) {
        // σ0(W[t-15]) = ROTR1 ^ ROTR8 ^ SHR7 (§4.1.3, 4.10)
        h = W[i - 30]; l = W[i - 29];
        th = ((h >>> 1) | (l << 31)) ^ ((h >>> 8) | (l << 24)) ^ (h >>> 7);
        tl = ((l >>> 1) | (h << 31)) ^ ((l >>> 8) | (h << 24)) ^ ((l >>> 7) | (h << 25));
        // σ1(W[t-2]) = ROTR19 ^ ROTR61 ^ SHR6
        h = W[i - 4]; l = W[i - 3];
        t2h = ((h >>> 19) | (l << 13)) ^ ((l >>> 29) | (h << 3)) ^ (h >>> 6);
        t2l = ((l >>> 19) | (h << 13)) ^ ((h >>> 29) | (l << 3)) ^ ((l >>> 6) | (h << 26));
        add64(th, tl, t2h, t2l);
        add64(sh, sl, W[i - 14], W[i - 13]);
        add64(sh, sl, W[i - 32], W[i - 31]);
        W[i] = sh; W[i + 1] = sl;
      }
      for (i = 0; i < 16; i++) V[i] = H[i];
      for (i = 0; i < 160; i += 2) {
        // T1 = h + Σ1(e) + Ch(e,f,g) + K[t] + W[t]; Σ1 = ROTR14 ^ ROTR18 ^ ROTR41
        h = V[8]; l = V[9];
        th = ((h >>> 14) | (l << 18)) ^ ((h >>> 18) | (l << 14)) ^ ((l >>> 9) | (h << 23));
        tl = ((l >>> 14) | (h << 18)) ^ ((l >>> 18) | (h << 14)) ^ ((h >>> 9) | (l << 23));
        add64(V[14], V[15], th, tl);
        add64(sh, sl, (h & V[10]) ^ (~h & V[12]), (l & V[11]) ^ (~l & V[13]));
        add64(sh, sl, K[i], K[i + 1]);
        add64(sh, sl, W[i], W[i + 1]);
        th = sh; tl = sl;
        // T2 = Σ0(a) + Maj(a,b,c); Σ0 = ROTR28 ^ ROTR34 ^ ROTR39
        h = V[0]; l = V[1];
        t2h = ((h >>> 28) | (l << 4)) ^ ((l >>> 2) | (h << 30)) ^ ((l >>> 7) | (h << 25));
        t2l = ((l >>> 28) | (h << 4)) ^ ((h >>> 2) | (l << 30)) ^ ((h >>> 7) | (l << 25));
        add64(t2h, t2l, (h & V[2]) ^ (h & V[4]) ^ (V[2] & V[4]), (l & V[3]) ^ (l & V[5]) ^ (V[3] & V[5]));
        for (j = 15; j > 1; j--) V[j] = V[j - 2];
        V[0] = sh; V[1] = sl;
        add64(V[0], V[1], th, tl);
        V[0] = sh; V[1] = sl;
        add64(V[8], V[9], th, tl);
        V[8] = sh; V[9] = sl;
      }
      for (i = 0; i < 16; i += 2) {
        add64(H[i], H[i + 1], V[i], V[i + 1]);
        H[i] = sh; H[i + 1] = sl;
      }
    }
  };

  const n = msg.length;
  let i: number;
  K = constants();
  H = new Int32Array(16);
  W = new Int32Array(160);
  V = new Int32Array(16);
  for (i = 0; i < 16; i++) H[i] = K[160 + i];
  const full = n - (n % 128);
  blocks(msg, 0, full);
  // §5.1.2 padding: 0x80, zeros, then the 128-bit big-endian bit length (n < 2^53 / 8,
  // so only the low 64 bits can be non-zero).
  const rest = n - full;
  const tail = new Uint8Array(rest < 112 ? 128 : 256);
  for (i = 0; i < rest; i++) tail[i] = msg[full + i];
  tail[rest] = 0x80;
  const hiBits = Math.floor(n / 0x20000000);
  const loBits = (n % 0x20000000) * 8;
  const t = tail.length;
  tail[t - 8] = hiBits >>> 24; tail[t - 7] = (hiBits >>> 16) & 255; tail[t - 6] = (hiBits >>> 8) & 255; tail[t - 5] = hiBits & 255;
  // loBits may reach 2^32 - 8: split it with division, not with shifts.
  tail[t - 4] = Math.floor(loBits / 0x1000000);
  tail[t - 3] = Math.floor(loBits / 0x10000) % 256;
  tail[t - 2] = Math.floor(loBits / 0x100) % 256;
  tail[t - 1] = loBits % 256;
  blocks(tail, 0, t);
  const out = new Uint8Array(64);
  for (i = 0; i < 16; i++) {
    const w = H[i];
    out[4 * i] = (w >>> 24) & 255; out[4 * i + 1] = (w >>> 16) & 255; out[4 * i + 2] = (w >>> 8) & 255; out[4 * i + 3] = w & 255;
  }
  return out;
}
