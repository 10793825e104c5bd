import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { ed25519Verify, pointIsCanonical, scalarIsCanonical } from '../../../host-tools/verify/ed25519';
import { fromHex, toHex } from '../../../protocol/bytes';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const wp = JSON.parse(readFileSync(path.resolve(ROOT, 'test/vectors/wycheproof_ed25519_test.json'), 'utf8'));

test('Wycheproof ed25519_test.json: all 151 cases give the expected result', () => {
  let n = 0;
  const wrong: number[] = [];
  for (const g of wp.testGroups) {
    const pk = fromHex(g.publicKey.pk);
    for (const t of g.tests) {
      n++;
      const got = ed25519Verify(fromHex(t.sig), fromHex(t.msg), pk);
      if (got !== (t.result === 'valid')) wrong.push(t.tcId);
    }
  }
  assert.is(n, 151);
  assert.is(wp.numberOfTests, 151);
  assert.equal(wrong, []);
});

// RFC 8032 §7.1: secret key, public key, message, signature.
const RFC8032 = [
  ['9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '',
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
  ['4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72',
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
  ['c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', 'af82',
    '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'],
  ['833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42', 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    createHash('sha512').update('abc').digest('hex'),
    'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704'],
];

test('RFC 8032 §7.1 vectors verify; any changed bit does not', () => {
  for (const [sk, pk, msg, sig] of RFC8032) {
    const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(sk, 'hex')]), format: 'der', type: 'pkcs8' });
    assert.is(sign(null, Buffer.from(msg, 'hex'), key).toString('hex'), sig, 'the vector itself');
    assert.ok(ed25519Verify(fromHex(sig), fromHex(msg), fromHex(pk)));
    for (const bit of [0, 77, 255, 256, 300, 511]) {
      const s = fromHex(sig);
      s[bit >> 3] ^= 1 << (bit & 7);
      assert.not.ok(ed25519Verify(s, fromHex(msg), fromHex(pk)), `sig bit ${bit}`);
    }
    assert.not.ok(ed25519Verify(fromHex(sig), fromHex(msg + '00'), fromHex(pk)));
  }
});

test('strictness checks: S >= L and non-canonical encodings are refused before OpenSSL sees them', () => {
  const L = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
  assert.not.ok(scalarIsCanonical(L));
  const lm1 = L.slice();
  lm1[0]--;
  assert.ok(scalarIsCanonical(lm1));
  assert.not.ok(scalarIsCanonical(new Uint8Array(32).fill(0xff)));
  // S + L: the malleable twin of a valid signature
  const [, pk, msg, sig] = RFC8032[0];
  const s = fromHex(sig);
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const v = s[32 + i] + L[i] + carry;
    s[32 + i] = v & 255;
    carry = v >> 8;
  }
  assert.not.ok(ed25519Verify(s, fromHex(msg), fromHex(pk)));
  // y = p and y = p + 1 (non-canonical encodings of 0 and 1), and y = p - 1
  const p = fromHex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
  assert.not.ok(pointIsCanonical(p));
  const p1 = p.slice();
  p1[0]++;
  assert.not.ok(pointIsCanonical(p1));
  const withSign = p.slice();
  withSign[31] |= 0x80;
  assert.not.ok(pointIsCanonical(withSign));
  const pm1 = p.slice();
  pm1[0]--;
  assert.ok(pointIsCanonical(pm1));
  assert.ok(pointIsCanonical(fromHex(pk)));
  // wrong lengths and types return false, never throw
  assert.not.ok(ed25519Verify(fromHex(sig).subarray(0, 63), fromHex(msg), fromHex(pk)));
  assert.not.ok(ed25519Verify(fromHex(sig), fromHex(msg), fromHex(pk).subarray(1)));
  assert.not.ok(ed25519Verify('x' as unknown as Uint8Array, fromHex(msg), fromHex(pk)));
  assert.is(toHex(fromHex(pk)), pk);
});

test.run();
