// Report files for the ingest bench, made fast: the ride of `deep report` (device meter,
// report encoder, COSE signer) with node:crypto's Ed25519 and SHA-256 in place of the
// device's JavaScript ones. Ed25519 signatures are deterministic (RFC 8032 §5.1.6), so the
// bytes are those the device code path makes: test/host-tools/bench/rides.test.ts compares.
import { createHash, createPrivateKey, sign as edSign } from 'node:crypto';
import { makeSignedRide, type SignedRide } from '../cli/commands/report';

/** node:crypto Ed25519 signer of a raw 32-byte seed (PKCS#8 wrapping, RFC 8410 §7). */
export function nodeSigner(seed32: Uint8Array): (m: Uint8Array) => Uint8Array {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed32)]);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  return (m) => new Uint8Array(edSign(null, m, key));
}

const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());

/** The `deep report` ride of this seed, signed by node:crypto. */
export function fastRide(seed32: Uint8Array, count: number): SignedRide {
  return makeSignedRide(seed32, count, { sign: nodeSigner(seed32), hash: sha256 });
}
