// The flash file store, modelled exactly on Espruino's `require("Storage")` (the simple,
// contiguous files of Storage.write/read, not StorageFile). firmware/hal/espruino wraps the
// real module; host-tools/emu/flash.ts implements the same semantics on Node, with power-cut
// injection. Plain-logic code (queue, keystore) only ever sees this interface.
//
// Semantics the callers rely on (Espruino Storage reference, `Storage.write`):
// - write(name, data) or write(name, data, 0[, size]) CREATES the file anew: any existing
//   file of that name is erased first (so a power cut between the two loses both: never
//   rewrite a file you cannot afford to lose; alternate between two names instead). With
//   `size` > data.length the file is pre-allocated and its unwritten bytes read 0xFF.
// - write(name, data, offset) with offset > 0 writes INSIDE an existing file (offset +
//   data.length <= its size) without erasing, and ONLY into bytes that are still erased
//   (0xFF): Espruino's jsfWriteFile refuses anything else ("File already written with
//   different data"), because NOR flash can only clear bits (1 -> 0) and a rewrite would
//   store old AND new. Callers therefore mark things in place (commit, ack) by writing a
//   byte that is still 0xFF.
// - Returns true on success, false when it cannot (no space even after compaction, file
//   missing for an offset write, out of range, target not erased). Espruino reports these
//   by THROWING; the HAL must catch and return false. A power cut is not an error the
//   device sees: the program simply stops; what survives is whatever bytes were programmed.
// - write(name, data, 0) with exactly the bytes the file already holds writes nothing.
// - erase(name) marks the file deleted (its space comes back only at compact()).
// - read(name) returns the whole file (a copy), or undefined when there is none.
// - Names we create are 1..28 bytes of printable ASCII (FLASH_NAME_MAX). list() may also
//   return damaged names (a header torn by a power cut) and erase() must accept any name
//   list() returned.
//
// Public API
//   FlashStore                 the interface below
//   FLASH_NAME_MAX             28

export interface FlashStore {
  read(name: string): Uint8Array | undefined;
  write(name: string, data: Uint8Array, offset?: number, size?: number): boolean;
  erase(name: string): void;
  /** Names of all live files (order unspecified). */
  list(): string[];
  /** Bytes that can still be allocated without compacting. */
  getFree(): number;
  /** Reclaims the space of erased files. */
  compact(): void;
}

export var FLASH_NAME_MAX = 28;
