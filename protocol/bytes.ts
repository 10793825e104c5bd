// Byte helpers shared by device and host: copies, equality, hex, little-endian integers,
// and the largest exact integer. ES5 only (the firmware bundle and Duktape run it).
//
// Copies go through subarray + set. Espruino's Uint8Array#slice (2v29, measured on its
// ESP32-like Linux build) is Array.prototype.slice: it copies, but returns a plain Array,
// not a Uint8Array; Duktape has no slice on typed arrays at all. subarray shares memory
// on every engine, so a copy is new Uint8Array + set(subarray).
//
// Public API
//   MAX_SAFE                          2^53 - 1 (Espruino has no Number.MAX_SAFE_INTEGER)
//   copyBytes(b, start?, end?)        a copy of b[start, end), a Uint8Array on every engine
//   bytesEqual(a, b)                  bytewise equality
//   toHex(b) / fromHex(s, what?)      lowercase hex; fromHex throws naming `what`
//   readU16LE / writeU16LE            little-endian 16-bit at an offset
//   readU32LE / writeU32LE            little-endian unsigned 32-bit at an offset
//   latin1ToBytes(s) / bytesToLatin1(b, start?, end?)   one byte per character (Espruino's
//                                     strings are 8-bit); code units above 255 keep their low byte

/** 2^53 - 1, built from an integer literal (Math.pow is inexact on Espruino). */
export var MAX_SAFE = 9007199254740991;

/** A copy of b[start, end) (default: all of b); empty when end <= start. */
export function copyBytes(b: Uint8Array, start?: number, end?: number): Uint8Array {
  var s = start === undefined ? 0 : start;
  var e = end === undefined ? b.length : end;
  var out = new Uint8Array(e > s ? e - s : 0);
  if (e > s) out.set(b.subarray(s, e));
  return out;
}

/** Bytewise equality of two byte arrays. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

var HEX = '0123456789abcdef';

/** Lowercase hex, two digits a byte. */
export function toHex(b: Uint8Array): string {
  var s = '';
  for (var i = 0; i < b.length; i++) s += HEX.charAt(b[i] >> 4) + HEX.charAt(b[i] & 15);
  return s;
}

/**
 * The bytes of a hex string (either case). Anything else throws an Error that starts with
 * `what` (the caller's name for the value, "hex" by default) and shows what it got.
 */
export function fromHex(s: string, what?: string): Uint8Array {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    var got = typeof s === 'string' ? (s.length > 40 ? JSON.stringify(s.substr(0, 40)) + '...' : JSON.stringify(s)) : typeof s;
    throw new Error((what === undefined ? 'hex' : what) + ': expected an even number of hex digits, got ' + got);
  }
  var out = new Uint8Array(s.length / 2);
  for (var i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}

export function readU16LE(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

/** Writes the low 16 bits of v. */
export function writeU16LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 255; b[o + 1] = (v >>> 8) & 255;
}

/** Unsigned: the top byte is multiplied in, so values of 2^31 and above stay positive. */
export function readU32LE(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 16777216;
}

/** Writes v modulo 2^32 (a negative int32, e.g. from E.hwRand, as its two's complement). */
export function writeU32LE(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 255; b[o + 1] = (v >>> 8) & 255; b[o + 2] = (v >>> 16) & 255; b[o + 3] = (v >>> 24) & 255;
}

/** One byte per character: the low 8 bits of each UTF-16 code unit. */
export function latin1ToBytes(s: string): Uint8Array {
  var b = new Uint8Array(s.length);
  for (var i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 255;
  return b;
}

/** One character per byte of b[start, end) (end is capped at b.length). */
export function bytesToLatin1(b: Uint8Array, start?: number, end?: number): string {
  var e = end === undefined || end > b.length ? b.length : end;
  var s = '';
  for (var i = start === undefined ? 0 : start; i < e; i++) s += String.fromCharCode(b[i]);
  return s;
}
