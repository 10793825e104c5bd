import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519PublicKey, ed25519Sign, ed25519SignSteps, setSha512, setConvolve, setBaseTable, base64Decode, BASE_TABLE_BYTES } from '../../../firmware/keys/ed25519';
import { baseTableB64 } from '#ed25519-table';
import { fromHex, toHex } from '../../../protocol/bytes';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// RFC 8032 PKCS#8 / SPKI prefixes (RFC 8410 §7) so node:crypto takes raw keys.
const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const nodeKey = (seed: Uint8Array) => createPrivateKey({ key: Buffer.concat([PKCS8, seed]), format: 'der', type: 'pkcs8' });
const nodePub = (seed: Uint8Array) => new Uint8Array(createPublicKey(nodeKey(seed)).export({ format: 'der', type: 'spki' }).subarray(12));

// RFC 8032 §7.1, typed from the RFC: TEST 1, 2, 3 and SHA(abc).
const RFC8032 = [
  {
    name: 'TEST 1',
    sk: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    pk: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    sk: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    pk: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    sk: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    pk: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST SHA(abc)',
    sk: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    pk: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    msg: 'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    sig: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

for (const v of RFC8032) {
  test(`RFC 8032 §7.1 ${v.name}: public key and signature`, () => {
    const seed = fromHex(v.sk);
    assert.is(toHex(ed25519PublicKey(seed)), v.pk);
    assert.is(toHex(ed25519Sign(fromHex(v.msg), seed)), v.sig);
    assert.is(toHex(ed25519Sign(fromHex(v.msg), seed, fromHex(v.pk))), v.sig);
  });
}

test('COSE EdDSA-01 (cose-wg/Examples): signs the ToBeSigned to the published signature', () => {
  const v = JSON.parse(readFileSync(path.resolve(ROOT, 'test/vectors/cose_eddsa_sign1_01.json'), 'utf8'));
  const seed = fromHex(v.input.sign0.key.d_hex);
  assert.is(toHex(ed25519PublicKey(seed)), v.input.sign0.key.x_hex);
  const cbor: string = v.output.cbor.toLowerCase();
  assert.is(toHex(ed25519Sign(fromHex(v.intermediates.ToBeSign_hex), seed)), cbor.slice(cbor.length - 128));
});

/** Deterministic pseudo-random bytes: SHA-512 in counter mode over a label. */
function det(label: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i * 64 < n; i++) {
    out.set(createHash('sha512').update(`${label}/${i}`).digest().subarray(0, Math.min(64, n - i * 64)), i * 64);
  }
  return out;
}

test('1,000 (seed, message) pairs: bit-exact with node:crypto, public keys too', () => {
  for (let i = 0; i < 1000; i++) {
    const seed = det(`seed ${i}`, 32);
    const msg = det(`msg ${i}`, (i * 37) % 400);
    const want = new Uint8Array(sign(null, msg, nodeKey(seed)));
    if (i % 10 === 0) assert.is(toHex(ed25519PublicKey(seed)), toHex(nodePub(seed)), `public key ${i}`);
    const got = ed25519Sign(msg, seed, i % 2 ? nodePub(seed) : undefined);
    assert.is(toHex(got), toHex(want), `pair ${i}`);
  }
});

test('edge seeds (all zero, all 0xff) and signatures verify under node:crypto', () => {
  for (const fill of [0, 0xff, 0x80]) {
    const seed = new Uint8Array(32).fill(fill);
    const msg = new Uint8Array(150).fill(fill ^ 0x5a);
    const sig = ed25519Sign(msg, seed);
    assert.is(toHex(sig), toHex(new Uint8Array(sign(null, msg, nodeKey(seed)))));
    assert.ok(verify(null, msg, createPublicKey(nodeKey(seed)), sig));
  }
});

test('stepped signing equals one-shot signing, with and without the public key', () => {
  for (let i = 0; i < 4; i++) {
    const seed = det(`steps ${i}`, 32);
    const msg = det(`steps msg ${i}`, 150);
    const pub = i % 2 ? ed25519PublicKey(seed) : undefined;
    const s = ed25519SignSteps(msg, seed, pub);
    assert.throws(() => s.signature(), /before step\(\) returned true/);
    let steps = 1;
    while (!s.step()) steps++;
    assert.ok(steps > 4, `signing took ${steps} steps: expected it split into several`);
    assert.ok(s.step(), 'step() after the end keeps returning true');
    assert.is(toHex(s.signature()), toHex(ed25519Sign(msg, seed, pub)));
  }
});

test('an injected SHA-512 is used, and null restores the fallback', () => {
  let calls = 0;
  setSha512((d) => { calls++; return new Uint8Array(createHash('sha512').update(d).digest()); });
  try {
    const v = RFC8032[2];
    assert.is(toHex(ed25519Sign(fromHex(v.msg), fromHex(v.sk))), v.sig);
    assert.ok(calls >= 3, `injected hash called ${calls} times`);
  } finally {
    setSha512(null);
  }
  setSha512(() => new Uint8Array(32));
  try {
    assert.throws(() => ed25519Sign(new Uint8Array(1), new Uint8Array(32)), /returned 32 bytes, expected 64/);
  } finally {
    setSha512(null);
  }
  assert.throws(() => setSha512('x' as unknown as null), /"fn" expected function or null/);
});

test('rejects bad arguments with labelled errors', () => {
  assert.throws(() => ed25519PublicKey(new Uint8Array(31)), /"seed32" expected 32 bytes, got 31/);
  assert.throws(() => ed25519Sign('hi' as unknown as Uint8Array, new Uint8Array(32)), /"message" expected Uint8Array/);
  assert.throws(() => ed25519Sign(new Uint8Array(1), new Uint8Array(32), new Uint8Array(33)), /"publicKey32" expected 32 bytes, got 33/);
});

test('two stepped signatures interleaved (and a one-shot one in between) are each exact', () => {
  const seeds = [det('inter a', 32), det('inter b', 32)];
  const msgs = [det('inter msg a', 150), det('inter msg b', 77)];
  const a = ed25519SignSteps(msgs[0], seeds[0]);
  const b = ed25519SignSteps(msgs[1], seeds[1], nodePub(seeds[1]));
  let da = false, db = false, turn = 0;
  while (!da || !db) {
    if (turn % 3 !== 2) { if (!da) da = a.step(); } else if (!db) db = b.step();
    if (turn === 7) assert.is(toHex(ed25519Sign(msgs[1], seeds[0])), toHex(new Uint8Array(sign(null, msgs[1], nodeKey(seeds[0])))));
    turn++;
  }
  assert.is(toHex(a.signature()), toHex(new Uint8Array(sign(null, msgs[0], nodeKey(seeds[0])))));
  assert.is(toHex(b.signature()), toHex(new Uint8Array(sign(null, msgs[1], nodeKey(seeds[1])))));
});

test('an injected dot product (E.convolve semantics) is used; results unchanged', () => {
  let calls = 0;
  setConvolve((x, y, off) => {
    calls++;
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * y[(i + off) % y.length];
    return s;
  });
  try {
    const v = RFC8032[1];
    assert.is(toHex(ed25519Sign(fromHex(v.msg), fromHex(v.sk))), v.sig);
    assert.ok(calls > 1000, `dot product called ${calls} times`);
  } finally {
    setConvolve(null);
  }
  assert.throws(() => setConvolve(3 as unknown as null), /"fn" expected function or null/);
});

test('setBaseTable: takes the table as bytes at an offset, rejects a wrong size', () => {
  const t = base64Decode(baseTableB64());
  const padded = new Uint8Array(t.length + 6);
  padded.set(t, 4);
  setBaseTable(padded.subarray(4, 4 + t.length));
  const v = RFC8032[0];
  assert.is(toHex(ed25519Sign(fromHex(v.msg), fromHex(v.sk))), v.sig);
  setBaseTable(t.buffer.slice(0) as ArrayBuffer);
  assert.is(toHex(ed25519Sign(fromHex(v.msg), fromHex(v.sk))), v.sig);
  assert.throws(() => setBaseTable(new Uint8Array(BASE_TABLE_BYTES - 2)), /expected 65536 bytes, got 65534/);
  assert.throws(() => setBaseTable(padded.subarray(3, 3 + t.length)), /even byte offset, got 3/);
  assert.throws(() => setBaseTable([] as unknown as Uint8Array), /expected ArrayBuffer or Uint8Array/);
});

test.run();
