// Fabric client identities for tests and the in-process ledger: an X.509 certificate as a
// Fabric CA issues it (ECDSA P-256, subject O/OU/CN, the CA's attribute extension
// 1.2.3.4.5.6.7.8.1 holding {"attrs":{...}}), signed with its own key. fabric-shim's own
// ClientIdentity parses it, so the MSP id and attribute checks of the chaincode run the code
// a peer runs. No X.509 library is needed: the DER is written here, field by field.
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export interface FabricIdentity {
  mspId: string;
  /** PEM of the certificate (what the gateway's Identity carries as credentials). */
  certificate: string;
  privateKey: KeyObject;
  /** The attributes the certificate carries (Fabric CA's hf.* and the chaincode's deep.role). */
  attrs: Record<string, string>;
}

const tlv = (tag: number, content: Buffer): Buffer => {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 255]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
};
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const utcTime = (d: Date) => tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z', 'ascii'));

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const v of rest) {
    const groups: number[] = [];
    let x = v;
    do {
      groups.unshift(x & 0x7f);
      x = Math.floor(x / 128);
    } while (x > 0);
    for (let i = 0; i < groups.length - 1; i++) groups[i] |= 0x80;
    bytes.push(...groups);
  }
  return tlv(0x06, Buffer.from(bytes));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
/** Fabric CA's attribute certificate extension. */
export const FABRIC_ATTRS_OID = '1.2.3.4.5.6.7.8.1';

function name(org: string, ou: string, cn: string): Buffer {
  return seq(set(seq(oid('2.5.4.10'), utf8(org))), set(seq(oid('2.5.4.11'), utf8(ou))), set(seq(oid('2.5.4.3'), utf8(cn))));
}

/** A self-signed certificate for `cn` in `mspId`, with `attrs` in the Fabric CA extension. */
export function makeIdentity(mspId: string, cn: string, attrs: Record<string, string> = {}, serial = 1): FabricIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const notBefore = new Date(Date.UTC(2024, 0, 1));
  const notAfter = new Date(Date.UTC(2049, 0, 1));
  const ext = seq(oid(FABRIC_ATTRS_OID), tlv(0x04, Buffer.from(JSON.stringify({ attrs }), 'utf8')));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, Buffer.from([serial & 0x7f])),
    ECDSA_SHA256,
    name(mspId, 'ca', `ca.${mspId}`),
    seq(utcTime(notBefore), utcTime(notAfter)),
    name(mspId, 'client', cn),
    spki,
    tlv(0xa3, seq(ext)),
  );
  const sig = sign('sha256', tbs, privateKey);
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.concat([Buffer.from([0]), sig])));
  const b64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return { mspId, certificate: `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`, privateKey, attrs };
}

/** Reads a PEM private key (the gateway's signer wants a KeyObject). */
export const privateKeyFromPem = (pem: string): KeyObject => createPrivateKey(pem);
