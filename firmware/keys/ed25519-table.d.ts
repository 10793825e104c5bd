// `import ... from '#ed25519-table'`: the Ed25519 comb table of the signer, generated at
// build time, never committed (host-tools/build/gen-ed25519-table.ts). package.json
// "imports" sends TypeScript here for the types; rollup.config.js resolves the import to
// the generated ES5 module in device bundles, and Node (tsx) to
// host-tools/build/ed25519-table.ts, which computes the same bytes on first use.

/** Bytes of the table: 512 entries of 64 little-endian int16. */
export declare const BASE_TABLE_BYTES: number;
/** Chunks of the Storage module's copy. */
export declare const BASE_TABLE_CHUNKS: number;
/** Bytes per chunk (the last chunk is shorter). */
export declare const BASE_TABLE_CHUNK_BYTES: number;
/** The whole table, base64. */
export declare function baseTableB64(): string;
/** Chunk i (0 <= i < BASE_TABLE_CHUNKS) of the table, base64; throws on another i. */
export declare function baseTableChunkB64(i: number): string;
