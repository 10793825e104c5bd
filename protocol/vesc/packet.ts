// VESC UART framing (bldc comm/packet.c; protocol/BUS.md §1):
//   short: 02 len        payload crc_hi crc_lo 03   (len 1..255)
//   long:  03 len_hi len_lo payload crc_hi crc_lo 03 (len 256..65535; the VESC accepts >= 255)
// CRC-16/XMODEM over the payload only, high byte first.
import { crc16 } from './crc16';

/** The VESC's PACKET_MAX_PL_LEN (bldc comm/packet.h): it neither sends nor accepts more. */
export var PACKET_MAX_PAYLOAD = 512;

/** Bytes a frame adds around its payload. */
export function frameOverhead(payloadLength: number): number {
  return payloadLength <= 255 ? 5 : 6;
}

/**
 * Writes the frame of `payload` into out[offset...] and returns the frame length, so a
 * driver can reuse one transmit buffer. Throws on an empty or too long payload (the VESC
 * would drop it silently: packet_send_packet).
 */
export function writeFrame(payload: Uint8Array, out: Uint8Array, offset?: number, maxPayload?: number): number {
  var max = maxPayload === undefined ? PACKET_MAX_PAYLOAD : maxPayload;
  var len = payload.length;
  if (len < 1 || len > max || len > 65535) throw new Error('"payload" expected 1..' + max + ' bytes, got ' + len);
  var o = offset === undefined ? 0 : offset;
  var total = len + frameOverhead(len);
  if (o < 0 || o + total > out.length) throw new Error('"out" has no room for a ' + total + '-byte frame at offset ' + o);
  var p = o;
  if (len <= 255) {
    out[p++] = 2;
    out[p++] = len;
  } else {
    out[p++] = 3;
    out[p++] = len >> 8;
    out[p++] = len & 0xff;
  }
  out.set(payload, p);
  p += len;
  var crc = crc16(payload);
  out[p++] = crc >> 8;
  out[p++] = crc & 0xff;
  out[p++] = 3;
  return total;
}

/** The frame of `payload` in a new array. */
export function encodeFrame(payload: Uint8Array, maxPayload?: number): Uint8Array {
  var out = new Uint8Array(payload.length + frameOverhead(payload.length));
  writeFrame(payload, out, 0, maxPayload);
  return out;
}

/** What the decoder skipped, by cause; each counts skipped start positions (bytes). */
export interface FrameStats {
  /** Frames delivered. */
  frames: number;
  /** Bytes that could not start a frame (not 0x02/0x03). */
  garbage: number;
  /** Start bytes followed by an impossible length (0, long < 255, > max). */
  badLength: number;
  /** Candidate frames whose last byte was not 0x03. */
  badEnd: number;
  /** Candidate frames whose CRC did not match. */
  badCrc: number;
  /** Bytes given up by flush() (a frame that never completed). */
  flushed: number;
}

/**
 * Streaming decoder: feed it bytes in any chunking. Like packet_process_byte it scans for a
 * start byte, and on a bad length, end byte or CRC it skips ONE byte and tries again from
 * the next offset, so a real frame hidden behind garbage is still found. It works in one
 * buffer of maxPayload + 8 bytes allocated at construction; nothing is allocated per byte
 * or per frame. Payloads handed to the callback are views into that buffer, valid only
 * during the call (copy with slice() to keep one).
 */
export class FrameDecoder {
  readonly maxPayload: number;
  readonly stats: FrameStats;
  private buf: Uint8Array;
  private head: number;
  private tail: number;

  constructor(maxPayload?: number) {
    var max = maxPayload === undefined ? PACKET_MAX_PAYLOAD : maxPayload;
    if (typeof max !== 'number' || Math.floor(max) !== max || max < 1 || max > 65535) {
      throw new Error('"maxPayload" expected integer in [1, 65535], got ' + max);
    }
    this.maxPayload = max;
    this.buf = new Uint8Array(max + 8);
    this.head = 0;
    this.tail = 0;
    this.stats = { frames: 0, garbage: 0, badLength: 0, badEnd: 0, badCrc: 0, flushed: 0 };
  }

  /** Bytes held waiting for the rest of a frame. */
  pending(): number {
    return this.tail - this.head;
  }

  /** Forgets any partial frame (after a port reopen, say). */
  reset(): void {
    this.head = 0;
    this.tail = 0;
  }

  /** Takes bytes[start, end) and calls onPayload (synchronously) once per valid frame. */
  feed(bytes: Uint8Array, onPayload: (payload: Uint8Array) => void, start?: number, end?: number): void {
    var i = start === undefined ? 0 : start;
    var e = end === undefined ? bytes.length : end;
    var cap = this.buf.length;
    while (i < e) {
      if (this.tail === cap) {
        // compact: what remains is less than one frame, so it always fits at the front
        // (a plain loop: copyWithin is not among the typed-array methods Espruino was probed for)
        for (var k = this.head; k < this.tail; k++) this.buf[k - this.head] = this.buf[k];
        this.tail -= this.head;
        this.head = 0;
      }
      var n = e - i;
      if (n > cap - this.tail) n = cap - this.tail;
      this.buf.set(bytes.subarray(i, i + n), this.tail);
      this.tail += n;
      i += n;
      this.scan(onPayload);
    }
  }

  /**
   * The line went quiet: the bytes held can never complete the frame they seem to start.
   * Gives up that start byte and rescans the rest (finding any whole frame behind it), until
   * nothing is held. Call it after a receive timeout, as the VESC resets its parser.
   */
  flush(onPayload: (payload: Uint8Array) => void): void {
    while (this.tail > this.head) {
      this.head++;
      this.stats.flushed++;
      this.scan(onPayload);
    }
    this.head = 0;
    this.tail = 0;
  }

  private scan(onPayload: (payload: Uint8Array) => void): void {
    var b = this.buf, st = this.stats, max = this.maxPayload;
    for (;;) {
      var n = this.tail - this.head;
      if (n === 0) {
        this.head = 0;
        this.tail = 0;
        return;
      }
      var h = this.head;
      var s = b[h];
      if (s !== 2 && s !== 3) {
        st.garbage++;
        this.head = h + 1;
        continue;
      }
      if (n < s) return; // 2 bytes for a short header, 3 for a long one
      var len = s === 2 ? b[h + 1] : (b[h + 1] << 8) | b[h + 2];
      // packet.c: no zero length; a long header must carry >= 255; never more than max
      if ((s === 2 && len === 0) || (s === 3 && len < 255) || len > max) {
        st.badLength++;
        this.head = h + 1;
        continue;
      }
      var total = s + len + 3;
      if (n < total) return;
      if (b[h + total - 1] !== 3) {
        st.badEnd++;
        this.head = h + 1;
        continue;
      }
      var crc = crc16(b, h + s, h + s + len);
      if (((b[h + s + len] << 8) | b[h + s + len + 1]) !== crc) {
        st.badCrc++;
        this.head = h + 1;
        continue;
      }
      this.head = h + total;
      st.frames++;
      onPayload(b.subarray(h + s, h + s + len));
    }
  }
}
