// require("crypto"): SHA1/224/256/384/512 returning an ArrayBuffer, as Espruino's mbedTLS
// build does.
import { createHash } from 'node:crypto';
import { toBytes } from './bytes';
import type { ToRealm } from './loop';

export function makeCrypto(u8: ToRealm) {
  const hash = (alg: string) => (data: unknown): ArrayBuffer => u8(new Uint8Array(createHash(alg).update(toBytes(data)).digest())).buffer as ArrayBuffer;
  return { SHA1: hash('sha1'), SHA224: hash('sha224'), SHA256: hash('sha256'), SHA384: hash('sha384'), SHA512: hash('sha512') };
}
