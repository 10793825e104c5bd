// Base64 for the signer's table, which travels as text in the bundles (ES5, no atob in Duktape).
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes standard base64 (RFC 4648 §4, with padding) into bytes. */
export function base64Decode(s: string): Uint8Array {
  if (s.length % 4) throw new TypeError('base64Decode: length ' + s.length + ' is not a multiple of 4');
  const pad = s.charAt(s.length - 1) === '=' ? (s.charAt(s.length - 2) === '=' ? 2 : 1) : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const q = [0, 0, 0, 0];
    for (let k = 0; k < 4; k++) {
      const ch = s.charAt(i + k);
      const v = ch === '=' ? 0 : B64.indexOf(ch);
      if (v < 0) throw new TypeError('base64Decode: bad character ' + JSON.stringify(ch) + ' at offset ' + (i + k));
      q[k] = v;
    }
    const n = (q[0] << 18) | (q[1] << 12) | (q[2] << 6) | q[3];
    if (o < out.length) out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

