// `#ed25519-table` on the host (package.json "imports"): what firmware/keys imports when it
// runs under Node (tests, the deep CLI) rather than in a device bundle. Same exports and
// same bytes as the module rollup.config.js builds into the bundles
// (gen-ed25519-table.ts tableModuleSource()), but computed here, on first use, instead of
// carried as base64 literals. Types: firmware/keys/ed25519-table.d.ts.
import { CHUNKS, CHUNK_BYTES, TABLE_BYTES, tableBytes, tableChunk } from './gen-ed25519-table';

export const BASE_TABLE_BYTES = TABLE_BYTES;
export const BASE_TABLE_CHUNKS = CHUNKS;
export const BASE_TABLE_CHUNK_BYTES = CHUNK_BYTES;

let whole: string | undefined;

/** The whole table, base64. */
export function baseTableB64(): string {
  if (whole === undefined) whole = Buffer.from(tableBytes()).toString('base64');
  return whole;
}

/** Chunk i (0 <= i < BASE_TABLE_CHUNKS) of the table, base64. */
export function baseTableChunkB64(i: number): string {
  return Buffer.from(tableChunk(i)).toString('base64');
}
