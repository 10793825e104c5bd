// CRC-32 (ISO-HDLC / IEEE 802.3: reflected polynomial 0xEDB88320, init and xorout
// 0xFFFFFFFF; check value of "123456789" is 0xCBF43926), nibble-table form: a 16-entry
// table keeps RAM small on Espruino. Every bitwise operand is a 32-bit value, made
// unsigned with >>> 0 at the end, which Espruino computes exactly (firmware/README.md).
//
// It guards the device's own flash files (queue records, settings, key file); no wire
// format or host tool uses it, hence firmware/util rather than protocol/.
//
// Public API
//   crc32(bytes, start?, end?) -> unsigned 32-bit integer

var T = [
  0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
  0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
];

export function crc32(bytes: Uint8Array, start?: number, end?: number): number {
  var s = start === undefined ? 0 : start;
  var e = end === undefined ? bytes.length : end;
  var c = -1;
  for (var i = s; i < e; i++) {
    c ^= bytes[i];
    c = (c >>> 4) ^ T[c & 15];
    c = (c >>> 4) ^ T[c & 15];
  }
  return (c ^ -1) >>> 0;
}
