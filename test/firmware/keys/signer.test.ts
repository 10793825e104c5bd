import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPublicKey, verify } from 'node:crypto';
import { createSigner } from '../../../firmware/keys/signer';
import * as ed from '../../../firmware/keys/ed25519';
import { kidFromPublicKey } from '../../../protocol/kid';
import { sign1Stepped, decodeSign1, sign1ToBeSigned } from '../../../protocol/cose';
import { toHex } from '../../../protocol/bytes';

// RFC 8032 §7.1 TEST 1
const SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const PUB = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const SIG = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

function nodeVerify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pub)]), format: 'der', type: 'spki' });
  return verify(null, msg, key, sig);
}

test('RFC 8032 §7.1 test 1: public key and signature, one-shot and stepped', () => {
  const s = createSigner(new Uint8Array(SEED), ed);
  assert.is(toHex(s.publicKey()), PUB);
  assert.is(toHex(s.kid()), toHex(kidFromPublicKey(s.publicKey())));
  assert.is(toHex(s.sign(new Uint8Array(0))), SIG);
  const st = s.signSteps(new Uint8Array(0));
  let steps = 0;
  while (!st.step()) steps++;
  assert.ok(steps > 4, 'really stepped');
  assert.is(toHex(st.signature()), SIG);
});

test('COSE_Sign1 through the stepped signer verifies with node:crypto', () => {
  const s = createSigner(new Uint8Array(32).fill(7), ed);
  const sg = sign1Stepped(new Uint8Array([1, 2, 3]), s.kid(), s.signSteps);
  while (!sg.step()) { /* steps */ }
  const d = decodeSign1(sg.result());
  assert.ok(nodeVerify(s.publicKey(), sign1ToBeSigned(d), d.signature));
});

test('nothing reachable from the signer reveals the seed', () => {
  const seed = new Uint8Array(32);
  for (let i = 0; i < 32; i++) seed[i] = (i * 73 + 11) & 255;
  const seedHex = toHex(seed);
  const s = createSigner(seed, ed);
  seed.fill(0); // the caller's copy is wiped; the signer still works
  assert.ok(nodeVerify(s.publicKey(), new Uint8Array([9]), s.sign(new Uint8Array([9]))));
  const texts = [JSON.stringify(s), String(s), `${s}`, JSON.stringify(Object.keys(s)), JSON.stringify(s.signSteps(new Uint8Array(1)))];
  for (const t of texts) assert.not.ok(t.includes(seedHex), t);
  const orig = new Uint8Array(32);
  for (let i = 0; i < 32; i++) orig[i] = (i * 73 + 11) & 255;
  // Walk every property (and property of property) for the seed bytes.
  const seen = new Set<unknown>();
  const walk = (v: unknown, depth: number): void => {
    if (v === null || v === undefined || depth > 4 || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Uint8Array) { assert.not.ok(toHex(v).includes(seedHex), 'a byte array holds the seed'); return; }
    if (typeof v === 'object' || typeof v === 'function') {
      for (const k of Object.getOwnPropertyNames(v)) {
        if (typeof v === 'function' && (k === 'caller' || k === 'arguments')) continue;
        walk((v as Record<string, unknown>)[k], depth + 1);
      }
      if (typeof v === 'function') assert.not.ok(v.toString().includes(seedHex));
    }
  };
  walk(s, 0);
  walk(s.signSteps(new Uint8Array(3)), 0);
  // Results given out are copies: changing them changes nothing inside.
  const pk = s.publicKey(); pk.fill(0);
  assert.is(toHex(s.publicKey()), toHex(createSigner(orig, ed).publicKey()));
  assert.equal(s.toJSON(), { publicKey: toHex(s.publicKey()), kid: toHex(s.kid()) });
});

test('misuse throws', () => {
  assert.throws(() => createSigner(new Uint8Array(31), ed), /seed32/);
  assert.throws(() => createSigner(new Uint8Array(32), ed).sign('x' as any), /message/);
  assert.throws(() => createSigner(new Uint8Array(32), undefined as any), /impl/);
  assert.throws(() => createSigner(new Uint8Array(32), { ed25519PublicKey: ed.ed25519PublicKey, ed25519Sign: ed.ed25519Sign } as any), /impl/);
});

test('signs with the implementation it was given (the device passes the Storage module), and keeps no reference to the object', () => {
  const calls: string[] = [];
  const impl = {
    ed25519PublicKey: (s: Uint8Array) => { calls.push('pub'); return ed.ed25519PublicKey(s); },
    ed25519Sign: (m: Uint8Array, s: Uint8Array, p?: Uint8Array) => { calls.push('sign'); return ed.ed25519Sign(m, s, p); },
    ed25519SignSteps: (m: Uint8Array, s: Uint8Array, p?: Uint8Array) => { calls.push('steps'); return ed.ed25519SignSteps(m, s, p); },
  };
  const s = createSigner(new Uint8Array(SEED), impl);
  // Swapping the caller's object afterwards does not redirect the seed anywhere else.
  impl.ed25519Sign = () => { throw new Error('replaced after createSigner'); };
  const msg = new Uint8Array([1, 2, 3]);
  const sig = s.sign(msg);
  const st = s.signSteps(msg);
  while (!st.step()) { /* step */ }
  assert.is(toHex(st.signature()), toHex(sig));
  assert.ok(nodeVerify(s.publicKey(), msg, sig));
  assert.equal(calls, ['pub', 'sign', 'steps']);
});

test.run();
