// Bytes as Espruino code hands them to Storage, Serial, SPI and http (binary strings,
// numbers, arrays, typed arrays and ArrayBuffers of the device realm) and back to binary
// strings, the form Espruino uses for raw data.

/** A Uint8Array over typed-array data without copying (the callee must not keep it). */
import { bytesToLatin1, latin1ToBytes } from '../../../protocol/bytes';
export function bytesView(data: unknown): Uint8Array {
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return toBytes(data);
}

/** Bytes from whatever Espruino code hands to Storage/Serial/http (string = binary). */
export function toBytes(data: unknown): Uint8Array {
  if (typeof data === 'string') return latin1ToBytes(data);
  if (data === undefined || data === null) return new Uint8Array(0);
  if (typeof data === 'number') return new Uint8Array([data & 0xff]);
  if (Object.prototype.toString.call(data) === '[object ArrayBuffer]') {
    return new Uint8Array(data as ArrayBuffer).slice();
  }
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  }
  if (Array.isArray(data)) {
    // Espruino flattens nested arrays and strings in write() arguments.
    const parts = data.map((x) => toBytes(x));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }
  return toBytes(String(data));
}

export function bytesToBinaryString(b: Uint8Array): string {
  // Short chunks (UART pieces, SPI replies) are the hot path: no intermediate array.
  if (b.length <= 64) return bytesToLatin1(b);
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode.apply(null, Array.from(b.subarray(i, i + 8192)));
  return s;
}
