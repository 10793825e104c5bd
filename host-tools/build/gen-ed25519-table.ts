// The fixed-base comb table of the device signer (see firmware/keys/_ed25519-core.ts for how
// it is read), computed here with BigInt (host code). Nothing is committed or written to
// disk: firmware code imports the table as `#ed25519-table` (package.json "imports"), which
//   - in a device bundle is the ES5 module tableModuleSource() makes, base64 literals
//     included (rollup.config.js resolves the import to it);
//   - on the host (tsx: tests, the deep CLI) is host-tools/build/ed25519-table.ts, which
//     computes the table the first time it is asked for.
//
// Two comb tables of 256 entries: entry 256 h + u (h = 0, 1; u = 0..255) is the point
// sum over m < 8 of bit m of u times 2^(16 h + 32 m) B, in affine coordinates, as 64
// little-endian int16: [R(y) | 16 zeros | R(x) | R(d x y)] where R() lists the 16 signed
// radix-2^16 limbs (each in [-2^15, 2^15)) in reverse order.

/** Bytes of the table: 512 entries of 64 int16. */
export const TABLE_BYTES = 512 * 64 * 2;
/** Bytes per chunk of the Storage module's copy (a multiple of 3, so chunks are whole base64). */
export const CHUNK_BYTES = 2049;
export const CHUNKS = Math.ceil(TABLE_BYTES / CHUNK_BYTES);
/** What the `#ed25519-table` module exports, on the device and on the host alike. */
export const TABLE_MODULE_EXPORTS = ['BASE_TABLE_BYTES', 'BASE_TABLE_CHUNKS', 'BASE_TABLE_CHUNK_BYTES', 'baseTableB64', 'baseTableChunkB64'];

// RFC 8032 §5.1: curve constants.
export const P = (1n << 255n) - 19n;
export const D = (-121665n * modInv(121666n)) % P + P;
export const BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
export const BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;

export function mod(a: bigint): bigint { const r = a % P; return r < 0n ? r + P : r; }
export function modInv(a: bigint): bigint {
  // Fermat: a^(p-2)
  let r = 1n, b = ((a % P) + P) % P, e = P - 2n;
  while (e > 0n) { if (e & 1n) r = (r * b) % P; b = (b * b) % P; e >>= 1n; }
  return r;
}

/** Affine twisted Edwards addition (a = -1), RFC 8032 §5.1.4 in affine form. */
export function addAffine(p: [bigint, bigint], q: [bigint, bigint]): [bigint, bigint] {
  const [x1, y1] = p, [x2, y2] = q;
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + x2 * y1) * modInv(1n + t)), mod((y1 * y2 + x1 * x2) * modInv(1n - t))];
}

/** 16 signed limbs of radix 2^16, each in [-2^15, 2^15), whose value is v (mod p). */
export function signedLimbs(v: bigint): number[] {
  const x = mod(v);
  const d: number[] = [];
  for (let k = 0; k < 16; k++) d.push(Number((x >> BigInt(16 * k)) & 0xffffn));
  // Recode digit by digit; a carry out of the top limb is 2^256 = 38 (mod p), folded back
  // into limb 0 (this happens at most once: the top limb is then -2^15 + at most 1).
  for (let pass = 0; pass < 3; pass++) {
    let carry = 0;
    for (let k = 0; k < 16; k++) {
      d[k] += carry;
      carry = d[k] >= 0x8000 ? 1 : d[k] < -0x8000 ? -1 : 0;
      d[k] -= carry * 0x10000;
    }
    if (carry === 0) break;
    d[0] += 38 * carry;
  }
  let back = 0n;
  for (let k = 15; k >= 0; k--) back = back * 65536n + BigInt(d[k]);
  if (mod(back) !== x || d.some((l) => l < -0x8000 || l >= 0x8000)) throw new Error(`no int16 limb form for ${v}`);
  return d;
}

export function buildTable(): Int16Array {
  const rows: [bigint, bigint][] = [];
  for (let h = 0; h < 2; h++) {
    const base: [bigint, bigint][] = [];
    let q: [bigint, bigint] = [BX, BY];
    for (let i = 0; i < 16 * h; i++) q = addAffine(q, q);
    for (let m = 0; m < 8; m++) {
      base.push(q);
      for (let i = 0; i < 32; i++) q = addAffine(q, q);
    }
    const first = rows.length;
    rows.push([0n, 1n]);
    for (let u = 1; u < 256; u++) {
      let top = 7;
      while (!(u & (1 << top))) top--;
      const rest = u & ~(1 << top);
      rows.push(rest === 0 ? base[top] : addAffine(rows[first + rest], base[top]));
    }
  }
  const out = new Int16Array(rows.length * 64);
  rows.forEach(([x, y], u) => {
    const put = (v: bigint, at: number) => {
      const l = signedLimbs(v);
      for (let k = 0; k < 16; k++) out[u * 64 + at + 15 - k] = l[k];
    };
    put(y, 0);
    put(x, 32);
    put(mod(D * x * y), 48);
  });
  return out;
}

let bytes: Uint8Array | undefined;

/** The table's bytes, computed on the first call (about 0.7 s) and kept. */
export function tableBytes(): Uint8Array {
  if (!bytes) {
    const t = buildTable();
    bytes = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    if (bytes.length !== TABLE_BYTES) throw new Error(`ed25519 table: ${bytes.length} bytes, expected ${TABLE_BYTES}`);
  }
  return bytes;
}

/** Chunk i of the table (the Storage module's unit), bytes. */
export function tableChunk(i: number): Uint8Array {
  if (!(Number.isInteger(i) && i >= 0 && i < CHUNKS)) throw new Error(chunkIndexError(String(i)));
  return tableBytes().subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
}

/** The message for a bad chunk index, the same on host and device. */
export function chunkIndexError(got: string): string {
  return `baseTableChunkB64: "i" expected 0..${CHUNKS - 1}, got ${got}`;
}

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/**
 * The `#ed25519-table` module of a device bundle: ES5 source (it does not pass through
 * TypeScript) ending in one `export { ... }` statement. The whole table is a literal in
 * baseTableB64() and, in chunks, in baseTableChunkB64()'s switch: functions, not constants,
 * so code loaded from flash keeps the text in flash until it is asked for (see
 * firmware/keys/ed25519-module.ts). Rollup keeps only the functions a bundle calls.
 */
export function tableModuleSource(): string {
  const cases: string[] = [];
  for (let i = 0; i < CHUNKS; i++) cases.push(`    case ${i}: return '${b64(tableChunk(i))}';`);
  return [
    `var BASE_TABLE_BYTES = ${TABLE_BYTES};`,
    `var BASE_TABLE_CHUNKS = ${CHUNKS};`,
    `var BASE_TABLE_CHUNK_BYTES = ${CHUNK_BYTES};`,
    'function baseTableB64() {',
    `  return '${b64(tableBytes())}';`,
    '}',
    'function baseTableChunkB64(i) {',
    '  switch (i) {',
    ...cases,
    '  }',
    `  throw new Error(${JSON.stringify(chunkIndexError(''))} + i);`,
    '}',
    `export { ${TABLE_MODULE_EXPORTS.join(', ')} };`,
    '',
  ].join('\n');
}
