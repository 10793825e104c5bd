// Engine cases for protocol/bytes and firmware/util/crc32: the little-endian integers at
// and beyond 2^31 (where a signed bitwise result would go negative), copies that must not
// share memory, 8-bit strings, and the CRC-32 of the flash formats.
import { addCase } from '../registry';
import { bytesToLatin1, copyBytes, latin1ToBytes, readU16LE, readU32LE, toHex, writeU16LE, writeU32LE } from '../../../protocol/bytes';
import { crc32 } from '../../../firmware/util/crc32';

/** int32 and uint32 edge values; -1 and -2147483648 are what E.hwRand can return. */
export var ENGINE_U32_VALUES = [0, 1, 255, 65535, 2147483647, 2147483648, 4294967295, -1, -2147483648];

addCase('bytes.u32le', function () {
  var b = new Uint8Array(ENGINE_U32_VALUES.length * 4);
  var back: number[] = [];
  for (var i = 0; i < ENGINE_U32_VALUES.length; i++) writeU32LE(b, i * 4, ENGINE_U32_VALUES[i]);
  for (var k = 0; k < ENGINE_U32_VALUES.length; k++) back.push(readU32LE(b, k * 4));
  return toHex(b) + ' ' + back.join(',');
});

addCase('bytes.u16le', function () {
  var b = new Uint8Array(6);
  writeU16LE(b, 0, 0); writeU16LE(b, 2, 0x1234); writeU16LE(b, 4, 65535);
  return toHex(b) + ' ' + readU16LE(b, 0) + ',' + readU16LE(b, 2) + ',' + readU16LE(b, 4);
});

addCase('bytes.copy', function () {
  var a = new Uint8Array([1, 2, 3, 4]);
  var c = copyBytes(a, 1, 3);
  c[0] = 99;
  return (c instanceof Uint8Array) + ' ' + toHex(a) + ' ' + toHex(c) + ' ' + copyBytes(a, 3, 1).length + ' ' + toHex(copyBytes(a));
});

addCase('bytes.latin1', function () {
  var b = latin1ToBytes('DEEP \u00ff\u0100');
  return toHex(b) + ' ' + JSON.stringify(bytesToLatin1(b, 0, 4)) + ' ' + bytesToLatin1(b, 5).charCodeAt(0);
});

/** The CRC-32 check string, then a 600-byte pattern, whole and from 10 to 500. */
addCase('crc32', function () {
  var big = new Uint8Array(600);
  for (var k = 0; k < big.length; k++) big[k] = (k * 31 + 7) & 255;
  return crc32(latin1ToBytes('123456789')) + ' ' + crc32(big) + ' ' + crc32(big, 10, 500);
});
