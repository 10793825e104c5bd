// Deterministic CBOR (RFC 8949) for device and host.
//
// Encoder: core deterministic encoding, RFC 8949 §4.2.1: preferred (shortest) argument
// forms, definite lengths only, map keys sorted by the bytewise order of their encodings;
// floats in their shortest exact form (§4.2.2 preferred serialization, NaN as f97e00).
// Decoder: strict. It accepts exactly what the encoder produces and rejects everything
// else with an error naming what was wrong and the byte offset: non-shortest arguments or
// floats, indefinite lengths, unsorted or duplicate map keys, trailing bytes, unassigned
// simple values, reserved additional info, invalid UTF-8, excessive nesting or counts.
//
// Value model (ES5, no Map/BigInt):
//   unsigned/negative int  <-> JS number, only while exact: |n| <= 2^53-1. A CBOR integer
//                              beyond that is rejected by the decoder ("integer beyond
//                              2^53-1"); a JS number that is not a safe integer encodes as
//                              a float, which is what it is.
//   float                  <-> JS number that is not a safe integer (1.5, NaN, -0, 2^60).
//                              An integral float such as 1.0 decodes to 1, whose
//                              deterministic encoding is the integer 01: callers needing
//                              canonical input re-encode and compare (protocol/report does).
//   On Espruino (measured with its Linux build): strings are 8-bit, so text beyond U+00FF
//   does not survive decoding; -0 does not exist; decimal float literals parse inexactly.
//   DEEP messages carry only integers, byte strings and ASCII text, which are exact there.
//   bstr <-> Uint8Array, tstr <-> string, array <-> Array, map <-> CborMap (ordered
//   entries), tag <-> CborTag, false/true/null/undefined <-> themselves.
import { MAX_SAFE, copyBytes } from './bytes';

export type CborValue =
  | number
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborValue[]
  | CborMap
  | CborTag;

/** A CBOR map as an ordered list of entries; keys may be any CBOR value. */
export class CborMap {
  entries: Array<[CborValue, CborValue]>;
  constructor(entries?: Array<[CborValue, CborValue]>) {
    this.entries = entries || [];
  }
  /** Appends an entry (the encoder sorts; duplicates are caught when encoding). */
  set(key: CborValue, value: CborValue): CborMap {
    this.entries.push([key, value]);
    return this;
  }
  /** The value for a number or string key, or undefined. */
  get(key: number | string): CborValue {
    for (var i = 0; i < this.entries.length; i++) {
      if (this.entries[i][0] === key) return this.entries[i][1];
    }
    return undefined;
  }
  has(key: number | string): boolean {
    for (var i = 0; i < this.entries.length; i++) {
      if (this.entries[i][0] === key) return true;
    }
    return false;
  }
  get size(): number {
    return this.entries.length;
  }
}

export class CborTag {
  tag: number;
  value: CborValue;
  constructor(tag: number, value: CborValue) {
    this.tag = tag;
    this.value = value;
  }
}

/** Error codes of the decoder (err.code), stable for callers and tests. */
export var CBOR_ERR = {
  TRUNCATED: 'truncated',
  NON_SHORTEST: 'non_shortest',
  INDEFINITE: 'indefinite_length',
  RESERVED: 'reserved_info',
  SIMPLE: 'unknown_simple',
  KEY_ORDER: 'map_key_order',
  KEY_DUPLICATE: 'map_key_duplicate',
  TRAILING: 'trailing_bytes',
  TOO_DEEP: 'too_deep',
  TOO_LARGE: 'too_large',
  INT_RANGE: 'int_range',
  UTF8: 'invalid_utf8',
  TYPE: 'unsupported_type',
};

/** A CBOR error: plain Error (Espruino cannot subclass Error) with code and byte offset. */
export interface CborError extends Error {
  code: string;
  offset: number;
}

function cborError(code: string, what: string, offset: number): CborError {
  var e = new Error('CBOR ' + code + ': ' + what + ' at byte ' + offset) as CborError;
  e.code = code;
  e.offset = offset;
  return e;
}

export function isCborError(e: unknown): e is CborError {
  return e instanceof Error && typeof (e as CborError).code === 'string' && typeof (e as CborError).offset === 'number';
}

var TWO32 = 4294967296;

function isSafeInt(n: number): boolean {
  return n === Math.floor(n) && n <= MAX_SAFE && n >= -MAX_SAFE;
}

/**
 * Whether the encoder writes n as a CBOR integer (major type 0 or 1): a safe integer other
 * than -0, which compares equal to 0 but is the float f98000. A message's integer fields
 * accept exactly these (protocol/report.ts).
 */
export function isCborInt(n: number): boolean {
  return isSafeInt(n) && !(n === 0 && 1 / n < 0);
}

function pow2(k: number): number {
  var r = 1;
  while (k > 0) { r *= 2; k--; }
  while (k < 0) { r /= 2; k++; }
  return r;
}

// ---------------------------------------------------------------- UTF-8

/** UTF-8 encoding of a JS string (lone surrogates are an error: they have no UTF-8 form). */
export function utf8Encode(s: string): number[] {
  var out: number[] = [];
  for (var i = 0; i < s.length; i++) {
    var c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      var d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) throw new Error('CBOR: lone surrogate in text string at char ' + i);
      c = 0x10000 + (c - 0xd800) * 1024 + (d - 0xdc00);
      i++;
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

/** Strict UTF-8 decoding (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF. */
function utf8Decode(b: Uint8Array, start: number, end: number): string {
  var s = '';
  var i = start;
  while (i < end) {
    var c = b[i];
    var need = 0;
    var min = 0;
    if (c < 0x80) { s += String.fromCharCode(c); i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) { need = 1; c &= 0x1f; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2; c &= 0x0f; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3; c &= 0x07; min = 0x10000; }
    else throw cborError(CBOR_ERR.UTF8, 'invalid UTF-8 lead byte 0x' + b[i].toString(16), i);
    if (i + need >= end) throw cborError(CBOR_ERR.UTF8, 'truncated UTF-8 sequence', i);
    for (var k = 1; k <= need; k++) {
      var cc = b[i + k];
      if ((cc & 0xc0) !== 0x80) throw cborError(CBOR_ERR.UTF8, 'invalid UTF-8 continuation byte', i + k);
      c = c * 64 + (cc & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) throw cborError(CBOR_ERR.UTF8, 'overlong or out-of-range UTF-8 sequence', i);
    if (c >= 0x10000) {
      c -= 0x10000;
      s += String.fromCharCode(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
    } else s += String.fromCharCode(c);
    i += need + 1;
  }
  return s;
}

// ---------------------------------------------------------------- floats

/** The binary16 bits of v when v is exactly representable in half precision, else -1. */
function toHalf(v: number): number {
  if (v !== v) return 0x7e00;
  var sign = v < 0 || (v === 0 && 1 / v < 0) ? 0x8000 : 0;
  var a = v < 0 ? -v : v;
  if (a === 0) return sign;
  if (a === Infinity) return sign | 0x7c00;
  if (a < 6.103515625e-5) {
    // subnormal: a = m * 2^-24, m < 1024
    var m = a * 16777216;
    return m === Math.floor(m) ? sign | m : -1;
  }
  if (a > 65504) return -1;
  var e = 15;
  var p = 32768;
  while (p > a) { p /= 2; e--; }
  var mant = (a / p) * 1024 - 1024;
  if (mant !== Math.floor(mant)) return -1;
  return sign | ((e + 15) << 10) | mant;
}

function fromHalf(h: number): number {
  var sign = h & 0x8000 ? -1 : 1;
  var exp = (h >> 10) & 0x1f;
  var mant = h & 0x3ff;
  if (exp === 0) return sign * mant * pow2(-24);
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (mant + 1024) * pow2(exp - 25);
}

var f32 = new Float32Array(1);
function fitsFloat32(v: number): boolean {
  f32[0] = v;
  return f32[0] === v;
}

// ---------------------------------------------------------------- encoder

function writeHead(major: number, n: number, out: number[]): void {
  var m = major << 5;
  if (n < 24) out.push(m | n);
  else if (n < 256) out.push(m | 24, n);
  else if (n < 65536) out.push(m | 25, n >> 8, n & 255);
  else if (n < TWO32) {
    out.push(m | 26, Math.floor(n / 16777216), Math.floor(n / 65536) % 256, Math.floor(n / 256) % 256, n % 256);
  } else {
    var hi = Math.floor(n / TWO32);
    var lo = n - hi * TWO32;
    out.push(m | 27, (hi >> 24) & 255, (hi >> 16) & 255, (hi >> 8) & 255, hi & 255,
      Math.floor(lo / 16777216), Math.floor(lo / 65536) % 256, Math.floor(lo / 256) % 256, lo % 256);
  }
}

function writeFloat(v: number, out: number[]): void {
  var h = toHalf(v);
  if (h >= 0) { out.push(0xf9, h >> 8, h & 255); return; }
  var dv: DataView;
  var i: number;
  if (fitsFloat32(v)) {
    dv = new DataView(new ArrayBuffer(4));
    dv.setFloat32(0, v);
    out.push(0xfa);
    for (i = 0; i < 4; i++) out.push(dv.getUint8(i));
  } else {
    dv = new DataView(new ArrayBuffer(8));
    dv.setFloat64(0, v);
    out.push(0xfb);
    for (i = 0; i < 8; i++) out.push(dv.getUint8(i));
  }
}

function compareBytes(a: number[], b: number[]): number {
  var n = a.length < b.length ? a.length : b.length;
  for (var i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function encodeInto(v: CborValue, out: number[], depth: number): void {
  if (depth > 64) throw new Error('CBOR encode: nesting deeper than 64');
  var i: number;
  if (typeof v === 'number') {
    if (isCborInt(v)) {
      if (v >= 0) writeHead(0, v, out);
      else writeHead(1, -1 - v, out);
    } else writeFloat(v, out);
  } else if (typeof v === 'string') {
    var s = utf8Encode(v);
    writeHead(3, s.length, out);
    for (i = 0; i < s.length; i++) out.push(s[i]);
  } else if (v instanceof Uint8Array) {
    writeHead(2, v.length, out);
    for (i = 0; i < v.length; i++) out.push(v[i]);
  } else if (v === false) out.push(0xf4);
  else if (v === true) out.push(0xf5);
  else if (v === null) out.push(0xf6);
  else if (v === undefined) out.push(0xf7);
  else if (v instanceof Array) {
    writeHead(4, v.length, out);
    for (i = 0; i < v.length; i++) encodeInto(v[i], out, depth + 1);
  } else if (v instanceof CborMap) {
    // RFC 8949 §4.2.1: keys sorted by the bytewise lexicographic order of their encodings.
    var pairs: Array<[number[], number[]]> = [];
    for (i = 0; i < v.entries.length; i++) {
      var kb: number[] = [];
      var vb: number[] = [];
      encodeInto(v.entries[i][0], kb, depth + 1);
      encodeInto(v.entries[i][1], vb, depth + 1);
      pairs.push([kb, vb]);
    }
    pairs.sort(function (a, b) { return compareBytes(a[0], b[0]); });
    writeHead(5, pairs.length, out);
    for (i = 0; i < pairs.length; i++) {
      if (i > 0 && compareBytes(pairs[i - 1][0], pairs[i][0]) === 0) throw new Error('CBOR encode: duplicate map key');
      var k = pairs[i][0];
      var val = pairs[i][1];
      var j: number;
      for (j = 0; j < k.length; j++) out.push(k[j]);
      for (j = 0; j < val.length; j++) out.push(val[j]);
    }
  } else if (v instanceof CborTag) {
    if (!isSafeInt(v.tag) || v.tag < 0) throw new Error('CBOR encode: tag number expected integer in [0, 2^53-1], got ' + v.tag);
    writeHead(6, v.tag, out);
    encodeInto(v.value, out, depth + 1);
  } else {
    throw new Error('CBOR encode: unsupported value of type ' + typeof v);
  }
}

/** Deterministic encoding (RFC 8949 §4.2.1) of one value. */
export function encode(v: CborValue): Uint8Array {
  var out: number[] = [];
  encodeInto(v, out, 0);
  return new Uint8Array(out);
}

// ---------------------------------------------------------------- decoder

export interface DecodeOptions {
  /** Maximum nesting of arrays, maps and tags (default 16). */
  maxDepth?: number;
  /** Maximum number of elements of one array or entries of one map (default 1024). */
  maxItems?: number;
  /** Maximum length of one byte or text string (default 65536). */
  maxBytes?: number;
}

interface DecodeState {
  b: Uint8Array;
  p: number;
  end: number;
  maxDepth: number;
  maxItems: number;
  maxBytes: number;
}

function need(st: DecodeState, n: number, at: number): void {
  if (st.p + n > st.end) throw cborError(CBOR_ERR.TRUNCATED, 'need ' + n + ' more byte(s), have ' + (st.end - st.p), at);
}

/** Reads the argument of an initial byte (ai < 28), enforcing the shortest form. */
function readArg(st: DecodeState, ai: number, at: number): number {
  var b = st.b;
  var n: number;
  if (ai < 24) return ai;
  if (ai === 24) {
    need(st, 1, at);
    n = b[st.p++];
    if (n < 24) throw cborError(CBOR_ERR.NON_SHORTEST, 'argument ' + n + ' in 1 byte', at);
    return n;
  }
  if (ai === 25) {
    need(st, 2, at);
    n = b[st.p] * 256 + b[st.p + 1];
    st.p += 2;
    if (n < 256) throw cborError(CBOR_ERR.NON_SHORTEST, 'argument ' + n + ' in 2 bytes', at);
    return n;
  }
  if (ai === 26) {
    need(st, 4, at);
    n = b[st.p] * 16777216 + b[st.p + 1] * 65536 + b[st.p + 2] * 256 + b[st.p + 3];
    st.p += 4;
    if (n < 65536) throw cborError(CBOR_ERR.NON_SHORTEST, 'argument ' + n + ' in 4 bytes', at);
    return n;
  }
  need(st, 8, at);
  var hi = b[st.p] * 16777216 + b[st.p + 1] * 65536 + b[st.p + 2] * 256 + b[st.p + 3];
  var lo = b[st.p + 4] * 16777216 + b[st.p + 5] * 65536 + b[st.p + 6] * 256 + b[st.p + 7];
  st.p += 8;
  if (hi === 0) throw cborError(CBOR_ERR.NON_SHORTEST, 'argument ' + lo + ' in 8 bytes', at);
  if (hi >= 2097152) throw cborError(CBOR_ERR.INT_RANGE, 'integer beyond 2^53-1', at);
  return hi * TWO32 + lo;
}

function compareRange(b: Uint8Array, s1: number, e1: number, s2: number, e2: number): number {
  var n1 = e1 - s1;
  var n2 = e2 - s2;
  var n = n1 < n2 ? n1 : n2;
  for (var i = 0; i < n; i++) if (b[s1 + i] !== b[s2 + i]) return b[s1 + i] - b[s2 + i];
  return n1 - n2;
}

function decodeItem(st: DecodeState, depth: number): CborValue {
  var at = st.p;
  need(st, 1, at);
  var ib = st.b[st.p++];
  var major = ib >> 5;
  var ai = ib & 31;
  var n: number;
  var i: number;
  if (major === 7) {
    if (ai === 20) return false;
    if (ai === 21) return true;
    if (ai === 22) return null;
    if (ai === 23) return undefined;
    if (ai === 25) {
      need(st, 2, at);
      var h = st.b[st.p] * 256 + st.b[st.p + 1];
      st.p += 2;
      var hv = fromHalf(h);
      if (hv !== hv && h !== 0x7e00) throw cborError(CBOR_ERR.NON_SHORTEST, 'NaN other than f97e00', at);
      return hv;
    }
    if (ai === 26 || ai === 27) {
      var len = ai === 26 ? 4 : 8;
      need(st, len, at);
      var dv = new DataView(st.b.buffer, st.b.byteOffset + st.p, len);
      var fv = ai === 26 ? dv.getFloat32(0) : dv.getFloat64(0);
      st.p += len;
      if (fv !== fv) throw cborError(CBOR_ERR.NON_SHORTEST, 'NaN other than f97e00', at);
      if (toHalf(fv) >= 0 || (ai === 27 && fitsFloat32(fv))) throw cborError(CBOR_ERR.NON_SHORTEST, 'float ' + fv + ' in ' + len + ' bytes', at);
      return fv;
    }
    if (ai === 31) throw cborError(CBOR_ERR.INDEFINITE, 'unexpected break (0xff)', at);
    if (ai >= 28) throw cborError(CBOR_ERR.RESERVED, 'reserved additional info ' + ai + ' in major type 7', at);
    if (ai === 24) {
      need(st, 1, at);
      n = st.b[st.p++];
      if (n < 32) throw cborError(CBOR_ERR.NON_SHORTEST, 'simple value ' + n + ' in 2 bytes', at);
      throw cborError(CBOR_ERR.SIMPLE, 'unassigned simple value ' + n, at);
    }
    throw cborError(CBOR_ERR.SIMPLE, 'unassigned simple value ' + ai, at);
  }
  if (ai >= 28) {
    if (ai === 31 && major >= 2) throw cborError(CBOR_ERR.INDEFINITE, 'indefinite length in major type ' + major, at);
    throw cborError(CBOR_ERR.RESERVED, 'reserved additional info ' + ai + ' in major type ' + major, at);
  }
  n = readArg(st, ai, at);
  if (major === 0) return n;
  if (major === 1) {
    if (n === MAX_SAFE) throw cborError(CBOR_ERR.INT_RANGE, 'integer beyond -(2^53-1)', at);
    return -1 - n;
  }
  if (major === 2 || major === 3) {
    if (n > st.maxBytes) throw cborError(CBOR_ERR.TOO_LARGE, 'string of ' + n + ' bytes exceeds ' + st.maxBytes, at);
    need(st, n, at);
    var start = st.p;
    st.p += n;
    if (major === 2) return copyBytes(st.b, start, start + n);
    return utf8Decode(st.b, start, start + n);
  }
  if (major === 6) {
    if (depth >= st.maxDepth) throw cborError(CBOR_ERR.TOO_DEEP, 'nesting deeper than ' + st.maxDepth, at);
    return new CborTag(n, decodeItem(st, depth + 1));
  }
  // arrays and maps: every element takes at least one byte, so a count beyond the bytes
  // left is truncation, found before allocating anything.
  if (depth >= st.maxDepth) throw cborError(CBOR_ERR.TOO_DEEP, 'nesting deeper than ' + st.maxDepth, at);
  if (n > st.maxItems) throw cborError(CBOR_ERR.TOO_LARGE, (major === 4 ? 'array' : 'map') + ' of ' + n + ' items exceeds ' + st.maxItems, at);
  need(st, major === 4 ? n : 2 * n, at);
  if (major === 4) {
    var arr: CborValue[] = [];
    for (i = 0; i < n; i++) arr.push(decodeItem(st, depth + 1));
    return arr;
  }
  var map = new CborMap();
  var prevStart = -1;
  var prevEnd = -1;
  for (i = 0; i < n; i++) {
    var ks = st.p;
    var key = decodeItem(st, depth + 1);
    var ke = st.p;
    if (prevStart >= 0) {
      var c = compareRange(st.b, prevStart, prevEnd, ks, ke);
      if (c === 0) throw cborError(CBOR_ERR.KEY_DUPLICATE, 'duplicate map key', ks);
      if (c > 0) throw cborError(CBOR_ERR.KEY_ORDER, 'map key out of bytewise order (RFC 8949 §4.2.1)', ks);
    }
    prevStart = ks;
    prevEnd = ke;
    map.entries.push([key, decodeItem(st, depth + 1)]);
  }
  return map;
}

function makeState(b: Uint8Array, offset: number, opts?: DecodeOptions): DecodeState {
  if (!(b instanceof Uint8Array)) throw new TypeError('"bytes" expected Uint8Array');
  var o = opts || {};
  return {
    b: b,
    p: offset,
    end: b.length,
    maxDepth: o.maxDepth === undefined ? 16 : o.maxDepth,
    maxItems: o.maxItems === undefined ? 1024 : o.maxItems,
    maxBytes: o.maxBytes === undefined ? 65536 : o.maxBytes,
  };
}

/** Decodes one data item starting at `offset`; returns it and the offset just after it. */
export function decodeFirst(b: Uint8Array, offset: number, opts?: DecodeOptions): { value: CborValue; end: number } {
  var st = makeState(b, offset, opts);
  var v = decodeItem(st, 0);
  return { value: v, end: st.p };
}

/** Decodes exactly one data item filling all of `b` (trailing bytes are an error). */
export function decode(b: Uint8Array, opts?: DecodeOptions): CborValue {
  var st = makeState(b, 0, opts);
  var v = decodeItem(st, 0);
  if (st.p !== b.length) throw cborError(CBOR_ERR.TRAILING, (b.length - st.p) + ' trailing byte(s)', st.p);
  return v;
}

/**
 * Splits a CBOR sequence (RFC 8742) into its items, each with the exact bytes it came from,
 * so a verifier can check the bytes received rather than a re-encoding.
 */
export function decodeSequence(b: Uint8Array, opts?: DecodeOptions): Array<{ value: CborValue; bytes: Uint8Array; offset: number }> {
  var items: Array<{ value: CborValue; bytes: Uint8Array; offset: number }> = [];
  var p = 0;
  while (p < b.length) {
    var r = decodeFirst(b, p, opts);
    items.push({ value: r.value, bytes: b.subarray(p, r.end), offset: p });
    p = r.end;
  }
  return items;
}
