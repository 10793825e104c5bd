import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nacl from 'tweetnacl';
import { CborMap, encode, CborTag } from '../../protocol/cbor';
import { fromHex, toHex } from '../../protocol/bytes';
import {
  COSE_ALG_EDDSA, decodeSign1, sign1, sign1Begin, sign1BeginHeaders, sign1Stepped, sign1ToBeSigned, sigStructure,
} from '../../protocol/cose';
import { ed25519PublicKey, ed25519Sign, ed25519SignSteps } from '../../firmware/keys/ed25519';

const ROOT = path.resolve(import.meta.dirname, '../..');
const vec = JSON.parse(readFileSync(path.resolve(ROOT, 'test/vectors/cose_eddsa_sign1_01.json'), 'utf8'));

test('cose-wg EdDSA-01: ToBeSigned and output byte for byte (device signer)', () => {
  const seed = fromHex(vec.input.sign0.key.d_hex);
  const pub = ed25519PublicKey(seed);
  assert.is(toHex(pub), vec.input.sign0.key.x_hex);
  // protected {1: -8 (EdDSA), 3: 0 (ctyp)}, unprotected {4: h'3131'} as in the vector.
  const draft = sign1BeginHeaders(
    new CborMap([[1, COSE_ALG_EDDSA], [3, 0]]),
    new CborMap([[4, new TextEncoder().encode(vec.input.sign0.kid ?? vec.input.sign0.unprotected.kid)]]),
    new TextEncoder().encode(vec.input.plaintext),
  );
  assert.is(toHex(draft.toBeSigned), vec.intermediates.ToBeSign_hex.toLowerCase());
  const out = draft.finish(ed25519Sign(draft.toBeSigned, seed, pub));
  assert.is(toHex(out), vec.output.cbor.toLowerCase());
  // and tweetnacl (the baseline) agrees
  const kp = nacl.sign.keyPair.fromSeed(seed);
  assert.is(toHex(draft.finish(nacl.sign.detached(draft.toBeSigned, kp.secretKey))), vec.output.cbor.toLowerCase());
  // decoding gives back the parts, and ToBeSigned is rebuilt from the received bytes
  const d = decodeSign1(out);
  assert.is(d.alg, -8);
  assert.is(toHex(d.kid!), '3131');
  assert.is(toHex(sign1ToBeSigned(d)), vec.intermediates.ToBeSign_hex.toLowerCase());
});

test('DEEP profile: protected a10132, unprotected {4: kid}, stepped and one-shot signing agree', () => {
  const seed = new Uint8Array(32).fill(3);
  const pub = ed25519PublicKey(seed);
  const kid = fromHex('0102030405060708');
  const payload = encode(new CborMap([[1, 1]]));
  const one = sign1(payload, kid, (tbs) => ed25519Sign(tbs, seed, pub));
  const st = sign1Stepped(payload, kid, (tbs) => ed25519SignSteps(tbs, seed, pub));
  assert.throws(() => st.result(), /before step/);
  let steps = 0;
  while (!st.step()) steps++;
  assert.ok(steps > 1, 'the device signer works in several steps');
  assert.is(toHex(st.result()), toHex(one));
  assert.ok(st.step(), 'step() after completion stays done');
  const d = decodeSign1(one);
  assert.is(toHex(d.protectedBytes), 'a10132');
  assert.is(d.alg, -19);
  assert.is(toHex(d.kid!), toHex(kid));
  assert.ok(nacl.sign.detached.verify(sigStructure(d.protectedBytes, d.payload), d.signature, pub));
  assert.is(toHex(sign1Begin(payload, kid).toBeSigned), toHex(sigStructure(fromHex('a10132'), payload)));
  assert.throws(() => sign1Begin(payload, kid, -7), /alg/);
  assert.throws(() => sign1Begin(payload, new Uint8Array(0)), /kid/);
});

test('decodeSign1 rejects structural problems with a clear message', () => {
  const p = fromHex('a10132');
  const sig = new Uint8Array(64);
  const u = new CborMap([[4, fromHex('01')]]);
  const pl = fromHex('00');
  const bad: Array<[Uint8Array, RegExp]> = [
    [encode([p, u, pl, sig]), /tag 18/],
    [encode(new CborTag(17, [p, u, pl, sig])), /tag 18/],
    [encode(new CborTag(18, [p, u, pl])), /array of 4/],
    [encode(new CborTag(18, [new CborMap([[1, -19]]), u, pl, sig])), /protected header must be a byte string/],
    [encode(new CborTag(18, [p, u, null, sig])), /attached/],
    [encode(new CborTag(18, [fromHex('a0'), u, pl, sig])), /zero-length/],
    [encode(new CborTag(18, [fromHex('a1013200'), u, pl, sig])), /protected header: CBOR trailing_bytes/],
    [encode(new CborTag(18, [p, new CborMap([[1, -19]]), pl, sig])), /both protected and unprotected/],
    [encode(new CborTag(18, [p, new CborMap([[4, 'text']]), pl, sig])), /kid .* byte string/],
    [new Uint8Array([...encode(new CborTag(18, [p, u, pl, sig])), 0]), /trailing/],
    [fromHex('d284'), /truncated/],
  ];
  for (const [bytes, re] of bad) assert.throws(() => decodeSign1(bytes), (e: Error & { code: string }) => re.test(e.message) && e.code === 'malformed', re.source);
});

test.run();
