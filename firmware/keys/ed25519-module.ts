// Entry of dist/ed25519-module.js: the device signer as an Espruino Storage module, for
// code and table to stay in flash (they cost no RAM between signatures; a signature in
// progress allocates about 1.5 KB of working buffers and drops them when done).
//
// How firmware/hal/espruino loads it (the module file is uploaded to Storage as
// "ed25519" by `deep flash`, like any module; the table file is made on the device):
//
//   var S = require("Storage"), ed = require("ed25519");
//   var t = S.read("ed25519.tbl");
//   if (!t || t.length !== ed.BASE_TABLE_BYTES) {                  // first boot, or damaged
//     S.erase("ed25519.tbl");
//     for (var i = 0; i < ed.BASE_TABLE_CHUNKS; i++)
//       S.write("ed25519.tbl", ed.baseTableChunk(i), i * ed.BASE_TABLE_CHUNK_BYTES, ed.BASE_TABLE_BYTES);
//     t = S.read("ed25519.tbl");
//   }
//   ed.setBaseTable(E.toArrayBuffer(t));        // memory-mapped flash on the ESP32: no copy
//   ed.setConvolve(E.convolve);                 // native dot product (all but SAVE_ON_FLASH builds)
//   var C = require("crypto");                  // native SHA-512 where the build has it
//   if (C && C.SHA512) ed.setSha512(function (d) { return new Uint8Array(C.SHA512(d)); });
//   if (!ed.ed25519SelfTest()) { /* record a fault: never sign with a broken signer */ }
//
// Then use ed25519PublicKey / ed25519Sign / ed25519SignSteps exactly as from ./ed25519.
import { base64Decode } from './_ed25519-b64';
import { baseTableChunkB64 } from '#ed25519-table';

export {
  ed25519PublicKey, ed25519Sign, ed25519SignSteps, ed25519SelfTest, setSha512, setConvolve, setBaseTable, BASE_TABLE_BYTES,
} from './_ed25519-core';
export { BASE_TABLE_CHUNKS, BASE_TABLE_CHUNK_BYTES } from '#ed25519-table';

/** Bytes of chunk i (0 <= i < BASE_TABLE_CHUNKS) of the comb table, to write into Storage. */
export function baseTableChunk(i: number): Uint8Array {
  return base64Decode(baseTableChunkB64(i));
}
