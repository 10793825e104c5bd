// Engine cases for protocol/ (CBOR, SHA-256, kid, EnergyReport, COSE_Sign1, pairing) with
// the device's Ed25519 signer. Inputs are fixed; the outputs are compared, not hard-coded.
import { addCase } from '../registry';
import { CborMap, CborTag, CborValue, decode, encode, isCborError } from '../../../protocol/cbor';
import { fromHex, latin1ToBytes, toHex } from '../../../protocol/bytes';
import { sha256Portable } from '../../../protocol/sha256';
import { kidFromPublicKey } from '../../../protocol/kid';
import { encodeReport, signReport, signReportStepped, prevOf, zeroPrev, EnergyReport } from '../../../protocol/report';
import { makePairingProof } from '../../../protocol/pairing';
import { ed25519PublicKey, ed25519Sign, ed25519SignSteps } from '../../../firmware/keys/ed25519';

/** The device key of the engine check (RFC 8032 §7.1 TEST 1 secret key). */
export var ENGINE_SEED_HEX = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';

/** A value touching every encoder path: ints of each width, floats, text, bytes, maps, tags. */
export function engineCborValue(): CborValue {
  return new CborMap([
    [10, [0, 23, 24, 255, 256, 65535, 65536, 4294967295, 4294967296, 9007199254740991]],
    [-1, [-1, -24, -25, -256, -257, -65537, -4294967297, -9007199254740991]],
    ['text', 'DEEP \u00fc\u6c34\ud800\udd51'],
    [new Uint8Array([1, 2]), fromHex('00ff10')],
    [1, [0.5, 1.1, -4.1, 65504.5, 1e300, -0, NaN, Infinity, 5.960464477539063e-8]],
    [2, new CborTag(18, [true, false, null, undefined])],
    ['a', new CborMap([['z', 1], ['y', 2], [100, 3]])],
  ]);
}

/** A dual-pack report, the same on device and host. */
export function engineReport(seq: number, prev: Uint8Array, kid: Uint8Array): EnergyReport {
  return {
    version: 1, kid: kid, seq: seq, prev: prev, clock: seq === 0 ? 0 : 1, startS: seq === 0 ? 5 : 1795046465, durationS: 60,
    packs: [
      { canId: 10, gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 8147, regenToPackMwh: 503, chargeMah: -158,
        lifetime: { gridToPackMwh: 41000000, packToGridMwh: 3000000, packToMotorMwh: 36008147, regenToPackMwh: 2500503 } },
      { canId: 11, gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 9267, regenToPackMwh: 546, chargeMah: -180,
        lifetime: { gridToPackMwh: 40000000, packToGridMwh: 3100000, packToMotorMwh: 35009267, regenToPackMwh: 2400546 } },
    ],
    faults: { vesc: 0, bms: 1, device: 0 }, firmware: 256,
  };
}

var seed = fromHex(ENGINE_SEED_HEX);
var pub: Uint8Array | undefined;
function publicKey(): Uint8Array {
  if (!pub) pub = ed25519PublicKey(seed);
  return pub;
}
function signer(tbs: Uint8Array): Uint8Array {
  return ed25519Sign(tbs, seed, publicKey());
}

addCase('cbor.encode', function () { return toHex(encode(engineCborValue())); });
addCase('cbor.roundtrip', function () { return toHex(encode(decode(encode(engineCborValue())))); });
addCase('cbor.errors', function () {
  var bad = ['1817', 'a201000100', 'a202000100', '5f4100ff', 'f3', '0000', '62c328', '1b0020000000000000', 'fa3fc00000', '8201'];
  var codes: string[] = [];
  for (var i = 0; i < bad.length; i++) {
    try {
      decode(fromHex(bad[i]));
      codes.push('accepted');
    } catch (e) {
      codes.push(isCborError(e) ? e.code + '@' + e.offset : 'not-a-cbor-error');
    }
  }
  return codes.join(',');
});
addCase('sha256.empty', function () { return toHex(sha256Portable(new Uint8Array(0))); });
addCase('sha256.abc', function () { return toHex(sha256Portable(latin1ToBytes('abc'))); });
addCase('sha256.1000', function () {
  var b = new Uint8Array(1000);
  for (var i = 0; i < b.length; i++) b[i] = (i * 7 + 3) & 255;
  return toHex(sha256Portable(b));
});
addCase('ed25519.public', function () { return toHex(publicKey()); });
addCase('kid', function () { return toHex(kidFromPublicKey(publicKey())); });
addCase('report.payload', function () { return toHex(encodeReport(engineReport(0, zeroPrev(), kidFromPublicKey(publicKey())))); });
addCase('report.cose.0', function () { return toHex(signReport(engineReport(0, zeroPrev(), kidFromPublicKey(publicKey())), signer)); });
addCase('report.cose.1.stepped', function () {
  var kid = kidFromPublicKey(publicKey());
  var first = signReport(engineReport(0, zeroPrev(), kid), signer);
  var s = signReportStepped(engineReport(1, prevOf(first), kid), function (tbs) { return ed25519SignSteps(tbs, seed, publicKey()); });
  var steps = 0;
  while (!s.step()) steps++;
  return toHex(s.result());
});
addCase('pairing.proof', function () {
  return toHex(makePairingProof({ challenge: fromHex('000102030405060708090a0b0c0d0e0f'), publicKey: publicKey(), firmware: 256 }, signer));
});
