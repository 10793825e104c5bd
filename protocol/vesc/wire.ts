// Big-endian field reader/writer shared by the UART commands and the CAN messages
// (the VESC's util/buffer.c does the same job). Decoders never throw on bad input: the
// Reader records the first problem (field name and byte offset) and returns zeros after
// it, and the decoder turns that into a WireError. Encoders are only fed by our own code
// (simulator, firmware requests), so a value that does not fit its field is a programming
// error and throws a labelled Error (Espruino has no RangeError).
import { WIRE_ERR } from './enums';
import { MAX_SAFE, copyBytes } from '../bytes';

export interface WireError {
  /** One of WIRE_ERR. */
  code: string;
  /** The field being read when the problem was found. */
  field: string;
  /** Byte offset of that field in the input. */
  offset: number;
  message: string;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: WireError };

export function wireError(code: string, field: string, offset: number, message: string): WireError {
  return { code: code, field: field, offset: offset, message: message + ' (field "' + field + '" at byte ' + offset + ')' };
}

export function okValue<T>(value: T): Decoded<T> {
  return { ok: true, value: value };
}

export function failed<T>(error: WireError): Decoded<T> {
  return { ok: false, error: error };
}

export function isInt(v: unknown): boolean {
  return typeof v === 'number' && isFinite(v) && Math.floor(v) === v;
}

/** Integer division truncating toward zero, like a C cast of value/divisor (bldc buffer.c). */
export function quotTrunc(value: number, divisor: number): number {
  return value < 0 ? -Math.floor(-value / divisor) : Math.floor(value / divisor);
}

/**
 * Round half away from zero, the same on every engine (Espruino's Math.round(-2.5) is -3,
 * the spec says -2, so Math.round is not used on signed values).
 */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

export class Reader {
  bytes: Uint8Array;
  pos: number;
  end: number;
  error: WireError | undefined;
  private view: DataView | undefined;

  constructor(bytes: Uint8Array, start?: number, end?: number) {
    this.bytes = bytes;
    this.pos = start === undefined ? 0 : start;
    this.end = end === undefined ? bytes.length : end;
    this.error = undefined;
    this.view = undefined;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  /** True when n more bytes are there; otherwise records TRUNCATED for `field`. */
  has(n: number, field: string): boolean {
    if (this.error) return false;
    if (this.end - this.pos >= n) return true;
    this.error = wireError(WIRE_ERR.TRUNCATED, field, this.pos, 'input ends ' + (n - (this.end - this.pos)) + ' byte(s) short');
    return false;
  }

  fail(code: string, field: string, offset: number, message: string): void {
    if (!this.error) this.error = wireError(code, field, offset, message);
  }

  u8(field: string): number {
    if (!this.has(1, field)) return 0;
    return this.bytes[this.pos++];
  }

  i8(field: string): number {
    var v = this.u8(field);
    return v > 127 ? v - 256 : v;
  }

  u16(field: string): number {
    if (!this.has(2, field)) return 0;
    var b = this.bytes, p = this.pos;
    this.pos = p + 2;
    return (b[p] << 8) | b[p + 1];
  }

  i16(field: string): number {
    var v = this.u16(field);
    return v > 32767 ? v - 65536 : v;
  }

  u32(field: string): number {
    if (!this.has(4, field)) return 0;
    var b = this.bytes, p = this.pos;
    this.pos = p + 4;
    // b[p] * 2^24 keeps the value positive and exact (no bitwise op above 2^31).
    return b[p] * 16777216 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
  }

  i32(field: string): number {
    var v = this.u32(field);
    return v > 2147483647 ? v - 4294967296 : v;
  }

  /** IEEE-754 binary32, big-endian (bldc buffer_get_float32_auto), as the exact double. */
  f32(field: string): number {
    if (!this.has(4, field)) return 0;
    if (!this.view) this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
    var v = this.view.getFloat32(this.pos, false);
    this.pos += 4;
    return v;
  }

  /**
   * A float32 quantity in base units (V, A, Ah, Wh) converted once to thousandths
   * (mV, mA, mAh, mWh): round half away from zero of the exact float times 1000.
   * NaN, infinities and values beyond 2^53 are BAD_VALUE.
   */
  f32Milli(field: string): number {
    var at = this.pos;
    var f = this.f32(field);
    if (this.error) return 0;
    var m = roundHalfAway(f * 1000);
    if (!isFinite(m) || m > MAX_SAFE || m < -MAX_SAFE) {
      this.fail(WIRE_ERR.BAD_VALUE, field, at, 'float32 is ' + f + ', not a finite quantity');
      return 0;
    }
    // -0 would print as 0 but compare oddly in deep-equality tests
    return m === 0 ? 0 : m;
  }

  /** A NUL-terminated string of at most maxLen characters (bytes as Latin-1). */
  cstring(field: string, maxLen: number): string {
    if (this.error) return '';
    var at = this.pos;
    var s = '';
    for (var i = this.pos; i < this.end; i++) {
      var c = this.bytes[i];
      if (c === 0) {
        this.pos = i + 1;
        return s;
      }
      if (s.length >= maxLen) {
        this.fail(WIRE_ERR.TOO_LONG, field, at, 'string longer than ' + maxLen + ' bytes');
        return '';
      }
      s += String.fromCharCode(c);
    }
    this.fail(WIRE_ERR.TRUNCATED, field, at, 'string has no terminating NUL');
    return '';
  }

  take(n: number, field: string): Uint8Array {
    if (!this.has(n, field)) return new Uint8Array(0);
    var out = copyBytes(this.bytes, this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Records TRAILING_BYTES if anything is left. */
  finish(field: string): void {
    if (!this.error && this.pos !== this.end) {
      this.fail(WIRE_ERR.TRAILING_BYTES, field, this.pos, (this.end - this.pos) + ' unexpected byte(s) after the last field');
    }
  }

  result<T>(value: T): Decoded<T> {
    return this.error ? failed<T>(this.error) : okValue(value);
  }
}

function checkInt(v: number, lo: number, hi: number, field: string): void {
  if (!isInt(v) || v < lo || v > hi) {
    throw new Error('"' + field + '" expected integer in [' + lo + ', ' + hi + '], got ' + v);
  }
}

export class Writer {
  buf: Uint8Array;
  pos: number;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.pos = 0;
  }

  private room(n: number, field: string): void {
    if (this.pos + n > this.buf.length) throw new Error('"' + field + '" does not fit: message longer than ' + this.buf.length + ' bytes');
  }

  u8(v: number, field: string): void {
    checkInt(v, 0, 255, field);
    this.room(1, field);
    this.buf[this.pos++] = v;
  }

  i8(v: number, field: string): void {
    checkInt(v, -128, 127, field);
    this.room(1, field);
    this.buf[this.pos++] = v & 0xff;
  }

  u16(v: number, field: string): void {
    checkInt(v, 0, 65535, field);
    this.room(2, field);
    this.buf[this.pos++] = (v >> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }

  i16(v: number, field: string): void {
    checkInt(v, -32768, 32767, field);
    this.room(2, field);
    this.buf[this.pos++] = (v >> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }

  u32(v: number, field: string): void {
    checkInt(v, 0, 4294967295, field);
    this.room(4, field);
    var hi = Math.floor(v / 65536), lo = v - hi * 65536;
    this.buf[this.pos++] = (hi >> 8) & 0xff;
    this.buf[this.pos++] = hi & 0xff;
    this.buf[this.pos++] = (lo >> 8) & 0xff;
    this.buf[this.pos++] = lo & 0xff;
  }

  i32(v: number, field: string): void {
    checkInt(v, -2147483648, 2147483647, field);
    this.u32(v < 0 ? v + 4294967296 : v, field);
  }

  /** IEEE-754 binary32 big-endian, nearest float to `v` (bldc buffer_append_float32_auto). */
  f32(v: number, field: string): void {
    if (typeof v !== 'number' || isNaN(v)) throw new Error('"' + field + '" expected a number, got ' + v);
    this.room(4, field);
    // bldc sends |x| < 1.5e-38 as 0 (buffer_append_float32_auto)
    if (v < 1.5e-38 && v > -1.5e-38) v = 0;
    new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length).setFloat32(this.pos, v, false);
    this.pos += 4;
  }

  /** A quantity in thousandths (mV, mA, mAh, mWh) sent as float32 of the base unit. */
  f32Milli(v: number, field: string): void {
    checkInt(v, -MAX_SAFE, MAX_SAFE, field);
    this.f32(v / 1000, field);
  }

  cstring(s: string, maxLen: number, field: string): void {
    if (typeof s !== 'string' || s.length > maxLen) throw new Error('"' + field + '" expected a string of at most ' + maxLen + ' characters');
    this.room(s.length + 1, field);
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c === 0 || c > 255) throw new Error('"' + field + '" has a character outside 1..255 at index ' + i);
      this.buf[this.pos++] = c;
    }
    this.buf[this.pos++] = 0;
  }

  bytes(b: Uint8Array, field: string): void {
    this.room(b.length, field);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The bytes written (a copy when the buffer was larger, so .buffer holds only them). */
  done(): Uint8Array {
    return this.pos === this.buf.length ? this.buf : copyBytes(this.buf, 0, this.pos);
  }
}
