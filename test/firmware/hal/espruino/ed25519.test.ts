// firmware/hal/espruino/ed25519.ts as the device runs it: dist/firmware.js (which carries no
// Ed25519 code or table) in the emulated board, with dist/ed25519-module.js in Storage as
// "ed25519" the way `deep flash` puts it there. Needs `npm run build` (npm test does it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createPublicKey, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { VirtualClock } from '../../../../host-tools/emu/clock';
import { EmuNetwork } from '../../../../host-tools/emu/network';
import { createEmulatedBike, DEFAULT_BUNDLE, DEFAULT_ED25519_MODULE } from '../../../../host-tools/emu/bike';
import { createSimBike } from '../../../../host-tools/sim/index';
import { decodeSign1, sign1ToBeSigned } from '../../../../protocol/cose';
import { TABLE_FILE } from '../../../../firmware/hal/espruino/ed25519';
import { BASE_TABLE_BYTES } from '../../../../firmware/keys/_ed25519-core';
import { baseTableChunk, BASE_TABLE_CHUNKS, BASE_TABLE_CHUNK_BYTES } from '../../../../firmware/keys/ed25519-module';

function files() {
  if (!existsSync(DEFAULT_BUNDLE) || !existsSync(DEFAULT_ED25519_MODULE)) throw new Error('dist/ missing: run npm run build first');
  return { bundle: readFileSync(DEFAULT_BUNDLE, 'latin1'), module: readFileSync(DEFAULT_ED25519_MODULE, 'latin1') };
}

function makeBike(modules?: Record<string, string>) {
  const clock = new VirtualClock();
  const network = new EmuNetwork({ clock });
  const sim = createSimBike({ seed: 5, stepMs: 1000, bmsRateHz: 1, bmsBroadcast: 'energy' });
  let out = '';
  const bike = createEmulatedBike({ clock, network, sim, seed: 5, bundle: files().bundle, modules, tee: (t) => { out += t; } });
  return { clock, bike, out: () => out };
}

function table(): Uint8Array {
  const t = new Uint8Array(BASE_TABLE_BYTES);
  for (let i = 0; i < BASE_TABLE_CHUNKS; i++) t.set(baseTableChunk(i), i * BASE_TABLE_CHUNK_BYTES);
  return t;
}

function nodeVerify(pubHex: string, msg: Uint8Array, sig: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(pubHex, 'hex')]), format: 'der', type: 'spki' });
  return verify(null, msg, key, sig);
}

/** The device signs a pairing proof (COSE_Sign1); node:crypto verifies it under deep.info()'s key. */
async function pairingSignatureVerifies(b: ReturnType<typeof makeBike>): Promise<boolean> {
  const challenge = Buffer.alloc(32, 9).toString('hex');
  b.bike.eval(`deep.pairingProof(${JSON.stringify(challenge)})`);
  let proof: string | null = null;
  for (let i = 0; i < 200 && proof === null; i++) {
    await b.clock.advance(100);
    proof = b.bike.eval<string | null>('deep.pairingProof()');
  }
  if (typeof proof !== 'string') return false;
  const s1 = decodeSign1(new Uint8Array(Buffer.from(proof, 'base64')));
  return nodeVerify(b.bike.eval<{ publicKey: string }>('deep.info()').publicKey, sign1ToBeSigned(s1), s1.signature);
}

test('first boot writes the table file once from the module; the bundle has no table; the device signs', async () => {
  const f = files();
  assert.not.match(f.bundle, /[A-Za-z0-9+/]{1500}/, 'firmware.js must not carry the base64 table');
  assert.match(f.module, /[A-Za-z0-9+/]{1500}/, 'the module does');
  const b = makeBike();
  b.bike.powerOn();
  await b.clock.advance(3000);
  const t = b.bike.flash.read(TABLE_FILE);
  assert.ok(t, 'table file made');
  assert.equal(Buffer.from(t!), Buffer.from(table()));
  assert.ok(await pairingSignatureVerifies(b));
  // The public key the device reports is the key its signatures verify under.
  const info = b.bike.eval<{ publicKey: string }>('deep.info()');
  assert.match(info.publicKey, /^[0-9a-f]{64}$/);
  assert.not.match(info.publicKey, /^0+$/);
  assert.not.ok(/SIGNER_MISSING/.test(b.out()));

  // A second boot finds the table and does not write it again.
  const before = b.bike.flash.stats.bytesProgrammed;
  b.bike.powerCut(1000);
  await b.clock.advance(5000);
  assert.ok(b.bike.flash.stats.bytesProgrammed - before < BASE_TABLE_BYTES / 4, 'table not rewritten');
  assert.is(b.bike.eval<{ publicKey: string }>('deep.info()').publicKey, info.publicKey, 'same key after reboot');
});

test('a table cut short by a power loss (last chunk erased) is written again on the next boot', async () => {
  const b = makeBike();
  b.bike.powerOn();
  await b.clock.advance(3000);
  const pub = b.bike.eval<{ publicKey: string }>('deep.info()').publicKey;
  const torn = table();
  torn.fill(0xff, (BASE_TABLE_CHUNKS - 1) * BASE_TABLE_CHUNK_BYTES);
  b.bike.flash.erase(TABLE_FILE);
  assert.ok(b.bike.flash.write(TABLE_FILE, torn));
  b.bike.powerCut(1000);
  await b.clock.advance(5000);
  assert.equal(Buffer.from(b.bike.flash.read(TABLE_FILE)!), Buffer.from(table()));
  assert.is(b.bike.eval<{ publicKey: string }>('deep.info()').publicKey, pub);
  assert.ok(await pairingSignatureVerifies(b));
});

test('no module in Storage: a recorded fault, no key made, nothing signed, still measuring', async () => {
  const b = makeBike({});
  b.bike.powerOn();
  await b.clock.advance(10_000);
  assert.match(b.out(), /no Ed25519 signer/);
  const st = b.bike.eval<{ reporter: unknown; samples: number; faults: number }>('deep.status()');
  assert.is(st.reporter, 'no key');
  assert.ok(st.samples > 0, 'the bus keeps sampling');
  assert.ok(st.faults >= 1);
  assert.is(b.bike.flash.read('dk'), undefined, 'no key file without a signer');
  b.bike.device.console.input('faults()\n');
  await b.clock.advance(100);
  assert.match(b.out(), /SIGNER_MISSING/);
});

test('a module that fails its self-test is not used', async () => {
  const bad = files().module + '\n;module.exports.ed25519SelfTest = function () { return false; };\n';
  const b = makeBike({ ed25519: bad });
  b.bike.powerOn();
  await b.clock.advance(5000);
  assert.match(b.out(), /self-test failed/);
  assert.is(b.bike.eval<{ reporter: unknown }>('deep.status()').reporter, 'no key');
  assert.is(b.bike.flash.read('dk'), undefined);
});

test.run();
