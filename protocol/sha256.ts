// SHA-256 (FIPS 180-4 §6.2) in plain ES5, for the report chain (`prev`) and key ids.
// Words are kept as signed 32-bit integers (`| 0`), so every bitwise operand stays within
// 32 bits, the range Espruino's and every JS engine's bitwise operators handle exactly.
// The Espruino HAL replaces it with the native, byte-exact require("crypto").SHA256
// through setSha256(); hosts may plug node:crypto the same way.

export type Sha256Fn = (data: Uint8Array) => Uint8Array;

var K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];
for (var ki = 0; ki < 64; ki++) K[ki] = K[ki] | 0;

var W = new Int32Array(64);

/** Processes 64-byte blocks of `m` from `off` into state `H` (FIPS 180-4 §6.2.2). */
function blocks(H: Int32Array, m: Uint8Array, off: number, end: number): void {
  while (off + 64 <= end) {
    var i: number;
    for (i = 0; i < 16; i++) {
      var j = off + i * 4;
      W[i] = (m[j] << 24) | (m[j + 1] << 16) | (m[j + 2] << 8) | m[j + 3];
    }
    for (i = 16; i < 64; i++) {
      var x = W[i - 15];
      var y = W[i - 2];
      var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      W[i] = (((W[i - 16] + s0) | 0) + ((W[i - 7] + s1) | 0)) | 0;
    }
    var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    for (i = 0; i < 64; i++) {
      var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      var ch = (e & f) ^ (~e & g);
      var t1 = (((h + S1) | 0) + ((ch + K[i]) | 0) + W[i]) | 0;
      var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      var maj = (a & b) ^ (a & c) ^ (b & c);
      var t2 = (S0 + maj) | 0;
      h = g; g = f; f = e;
      e = (d + t1) | 0;
      d = c; c = b; b = a;
      a = (t1 + t2) | 0;
    }
    H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0; H[3] = (H[3] + d) | 0;
    H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0; H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
    off += 64;
  }
}

/** The portable implementation, always available (tests compare it with node:crypto). */
export function sha256Portable(data: Uint8Array): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TypeError('"data" expected Uint8Array');
  var H = new Int32Array([
    0x6a09e667, 0xbb67ae85 | 0, 0x3c6ef372, 0xa54ff53a | 0, 0x510e527f, 0x9b05688c | 0, 0x1f83d9ab, 0x5be0cd19,
  ]);
  var n = data.length;
  var full = n - (n % 64);
  blocks(H, data, 0, full);
  // Padding (§5.1.1): 0x80, zeros, then the bit length as a 64-bit big-endian integer.
  var rest = n - full;
  var tail = new Uint8Array(rest < 56 ? 64 : 128);
  for (var i = 0; i < rest; i++) tail[i] = data[full + i];
  tail[rest] = 0x80;
  var bitsHi = Math.floor(n / 536870912); // n * 8 / 2^32
  var bitsLo = (n % 536870912) * 8;
  var t = tail.length;
  tail[t - 8] = (bitsHi >>> 24) & 255; tail[t - 7] = (bitsHi >>> 16) & 255;
  tail[t - 6] = (bitsHi >>> 8) & 255; tail[t - 5] = bitsHi & 255;
  tail[t - 4] = Math.floor(bitsLo / 16777216) & 255; tail[t - 3] = Math.floor(bitsLo / 65536) & 255;
  tail[t - 2] = Math.floor(bitsLo / 256) & 255; tail[t - 1] = bitsLo & 255;
  blocks(H, tail, 0, tail.length);
  var out = new Uint8Array(32);
  for (i = 0; i < 8; i++) {
    var w = H[i];
    out[i * 4] = (w >>> 24) & 255; out[i * 4 + 1] = (w >>> 16) & 255;
    out[i * 4 + 2] = (w >>> 8) & 255; out[i * 4 + 3] = w & 255;
  }
  return out;
}

var impl: Sha256Fn = sha256Portable;

/**
 * Substitutes the implementation (the Espruino HAL passes a wrapper of the native
 * require("crypto").SHA256 returning a Uint8Array). Passing undefined restores the
 * portable one. The substitute must be byte-exact: it feeds signed data.
 */
export function setSha256(fn: Sha256Fn | undefined): void {
  impl = fn || sha256Portable;
}

/** SHA-256 of `data` (32 bytes), through the installed implementation. */
export function sha256(data: Uint8Array): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TypeError('"data" expected Uint8Array');
  var d = impl(data);
  if (!(d instanceof Uint8Array) || d.length !== 32) throw new Error('sha256: installed implementation returned ' + (d && d.length) + ' bytes, expected 32');
  return d;
}
