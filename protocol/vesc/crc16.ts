// CRC-16/XMODEM as used by the VESC UART framing and the CAN buffer transfer
// (bldc util/crc.c; ../shared/reference/vesc-protocol.md §1): poly 0x1021, init 0x0000,
// MSB first, no reflection, no final XOR. check("123456789") = 0x31C3.

var TABLE = new Uint16Array(256);

function buildTable(): void {
  for (var i = 0; i < 256; i++) {
    var c = i << 8;
    for (var k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    TABLE[i] = c;
  }
}
buildTable();

/** CRC-16/XMODEM of bytes[start, end), continuing from `crc` (0 for a fresh CRC). */
export function crc16(bytes: Uint8Array, start?: number, end?: number, crc?: number): number {
  var s = start === undefined ? 0 : start;
  var e = end === undefined ? bytes.length : end;
  var c = crc === undefined ? 0 : crc;
  for (var i = s; i < e; i++) c = (TABLE[((c >> 8) ^ bytes[i]) & 0xff] ^ (c << 8)) & 0xffff;
  return c;
}
