// The COSE_Sign1 Sig_structure (RFC 9052 §4.4) a verifier checks the signature over:
//   ["Signature1", protected, external_aad = h'', payload]
// written straight into one buffer. The same bytes as protocol/cose.ts sign1ToBeSigned
// (test/host-tools/verify/tbs.test.ts compares them), without the generic CBOR encoder:
// on the ingest node it runs once per report received.

/** Array of 4, then the text string "Signature1" (RFC 8949 major types 4 and 3). */
const PREFIX = Buffer.from([0x84, 0x6a, ...Buffer.from('Signature1', 'ascii')]);

/** Length of the head of a byte string of `n` bytes (RFC 8949 §3: shortest form). */
function headLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

function writeHead(out: Buffer, at: number, n: number): number {
  if (n < 24) {
    out[at] = 0x40 + n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = 0x58;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = 0x59;
    out.writeUInt16BE(n, at + 1);
    return at + 3;
  }
  if (n < 0x100000000) {
    out[at] = 0x5a;
    out.writeUInt32BE(n, at + 1);
    return at + 5;
  }
  out[at] = 0x5b;
  out.writeBigUInt64BE(BigInt(n), at + 1);
  return at + 9;
}

export function sigStructureBytes(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  const size = PREFIX.length + headLength(protectedBytes.length) + protectedBytes.length + 1 + headLength(payload.length) + payload.length;
  const out = Buffer.allocUnsafe(size);
  PREFIX.copy(out, 0);
  let at = writeHead(out, PREFIX.length, protectedBytes.length);
  out.set(protectedBytes, at);
  at += protectedBytes.length;
  out[at++] = 0x40; // external_aad: empty byte string
  at = writeHead(out, at, payload.length);
  out.set(payload, at);
  return out;
}
