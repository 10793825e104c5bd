// Ed25519 signing for the device (RFC 8032 §5.1), with the base-point table built in.
// This is what firmware code imports. On Espruino the same API comes from the Storage
// module dist/ed25519-module.js (see ./ed25519-module.ts), which reads the table from flash
// instead of carrying it; firmware/hal/espruino also hands over the native SHA-512 and
// E.convolve there (setSha512, setConvolve). Without them the JavaScript fallbacks run:
// same results, slower.
import { BASE_TABLE_B64 } from './_ed25519-table';
import { setBaseTableProvider } from './_ed25519-core';

export {
  ed25519PublicKey, ed25519Sign, ed25519SignSteps, setSha512, setConvolve, setBaseTable, BASE_TABLE_BYTES,
} from './_ed25519-core';
export type { SignSteps } from './_ed25519-core';

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

setBaseTableProvider(function () { return base64Decode(BASE_TABLE_B64); });
