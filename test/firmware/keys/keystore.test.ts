import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { EmuFlash, PowerCutError } from '../../../host-tools/emu/flash';
import { openKeystore, rngHealth, type EntropySource, KEY_FILE, KEY_LOADED, KEY_CREATED, KEY_CORRUPT, KEY_RNG_BAD, KEY_WRITE_FAILED } from '../../../firmware/keys/keystore';
import { createSigner } from '../../../firmware/keys/signer';
import * as ed from '../../../firmware/keys/ed25519';
import { sha512js } from '../../../firmware/keys/sha512';
import { createFaultLog, FAULT } from '../../../firmware/app/faults';
import { toHex } from '../../../protocol/bytes';
import { Prng } from '../../../host-tools/sim/prng';

/** A seeded stand-in for E.hwRand (an int32). */
function rng(seed: number) {
  const p = new Prng(seed);
  return () => p.u32() | 0;
}
const nodeSha512 = (d: Uint8Array) => new Uint8Array(createHash('sha512').update(d).digest());
/** A board with one strong source (a hardware RNG register, the OS random device). */
const strong = (sample: () => number): EntropySource[] => [{ name: 'test-rng', strong: true, sample }];

/**
 * Espruino's E.hwRand() on the ESP32 and Linux builds: jshGetRandomNumber() returns rand()
 * of src/jsutils.c, a multiply-with-carry generator seeded 0xDEADBEEF / 0xCAFEBABE at
 * power-on and masked with RAND_MAX (0x7fffffff): every board draws this same sequence.
 */
function espruinoRand(): () => number {
  let w = 0xdeadbeef, z = 0xcafebabe;
  return () => {
    z = (36969 * (z & 65535) + (z >>> 16)) >>> 0;
    w = (18000 * (w & 65535) + (w >>> 16)) >>> 0;
    return (((z << 16) >>> 0) + w) & 0x7fffffff;
  };
}

test('first boot: seed = SHA-512(strong source samples || "deep-key/1")[0..32), stored; later boots load it', () => {
  const flash = new EmuFlash({ size: 8192, pageSize: 4096 });
  const r = rng(42);
  const drawn: number[] = [];
  const hwRand = () => { const v = r(); drawn.push(v); return v; };
  const a = openKeystore({ flash, ed25519: ed, entropy: strong(hwRand), sha512: sha512js });
  assert.is(a.status, KEY_CREATED);
  assert.is(drawn.length, 256);
  const raw = Buffer.alloc(256 * 4 + 10);
  drawn.forEach((v, i) => raw.writeUInt32LE(v >>> 0, i * 4));
  raw.write('deep-key/1', 1024, 'latin1');
  const expectSeed = nodeSha512(raw).subarray(0, 32);
  assert.is(toHex(a.signer!.publicKey()), toHex(createSigner(expectSeed, ed).publicKey()));
  const b = openKeystore({ flash, ed25519: ed, entropy: strong(() => { throw new Error('must not draw again'); }), sha512: nodeSha512 });
  assert.is(b.status, KEY_LOADED);
  assert.is(toHex(b.signer!.publicKey()), toHex(a.signer!.publicKey()));
  assert.is(flash.read(KEY_FILE)!.length, 41);
});

test('power cut at every byte of the key creation: next boot has exactly one usable key', () => {
  const probe = new EmuFlash({ size: 4096, pageSize: 4096 });
  openKeystore({ flash: probe, ed25519: ed, entropy: strong(rng(1)), sha512: nodeSha512 });
  const total = probe.stats.bytesProgrammed;
  for (let cut = 0; cut < total; cut++) {
    const flash = new EmuFlash({ size: 4096, pageSize: 4096, rng: () => ((cut * 37) % 256) / 256 });
    flash.armCut(cut);
    assert.throws(() => openKeystore({ flash, ed25519: ed, entropy: strong(rng(1)), sha512: nodeSha512 }), (e: unknown) => e instanceof PowerCutError);
    flash.reboot();
    const r = openKeystore({ flash, ed25519: ed, entropy: strong(rng(2)), sha512: nodeSha512 });
    assert.is(r.status, KEY_CREATED, `cut ${cut}: the unfinished key is replaced, never half-used`);
    const again = openKeystore({ flash, ed25519: ed, entropy: strong(rng(3)), sha512: nodeSha512 });
    assert.is(again.status, KEY_LOADED);
    assert.is(toHex(again.signer!.publicKey()), toHex(r.signer!.publicKey()));
  }
});

test('a committed key file that is damaged is KEY_CORRUPT (fault), never silently replaced', () => {
  const flash = new EmuFlash({ size: 4096, pageSize: 4096 });
  const faults = createFaultLog({ now: () => 0 });
  const first = openKeystore({ flash, ed25519: ed, entropy: strong(rng(5)), sha512: nodeSha512, faults });
  // One bit of the seed flips (bit rot): edit the raw flash image behind Storage's back.
  const img = flash.image();
  const at = Buffer.from(img).indexOf(Buffer.from('dk\0\0', 'latin1')) - 4 + 32 + 10;
  img[at] ^= 0x01;
  flash.loadImage(img);
  const r = openKeystore({ flash, ed25519: ed, entropy: strong(rng(6)), sha512: nodeSha512, faults });
  assert.is(r.status, KEY_CORRUPT);
  assert.is(r.signer, undefined);
  assert.is(faults.count(FAULT.KEY_CORRUPT), 1);
  const re = openKeystore({ flash, ed25519: ed, entropy: strong(rng(6)), sha512: nodeSha512, faults, rekey: true });
  assert.is(re.status, KEY_CREATED);
  assert.is.not(toHex(re.signer!.publicKey()), toHex(first.signer!.publicKey()));
});

test('a stuck RNG makes no key; a failing flash makes no key', () => {
  const flash = new EmuFlash({ size: 4096, pageSize: 4096 });
  let i = 0;
  const faults = createFaultLog({ now: () => 0 });
  assert.is(openKeystore({ flash, ed25519: ed, entropy: strong(() => (i++ % 8)), sha512: nodeSha512, faults }).status, KEY_RNG_BAD);
  assert.is(faults.count(FAULT.KEY_RNG_BAD), 1);
  assert.is(flash.read(KEY_FILE), undefined);
  const full = new EmuFlash({ size: 4096, pageSize: 4096 });
  full.write('big', new Uint8Array(4096 - 32 - 16));
  assert.is(openKeystore({ flash: full, ed25519: ed, entropy: strong(rng(9)), sha512: nodeSha512 }).status, KEY_WRITE_FAILED);
  assert.throws(() => openKeystore({ flash, ed25519: ed, entropy: strong(rng(1)), sha512: nodeSha512, samples: 8 }), /samples/);
});

test('the keystore result reveals nothing of the seed', () => {
  const flash = new EmuFlash({ size: 4096, pageSize: 4096 });
  const r = openKeystore({ flash, ed25519: ed, entropy: strong(rng(11)), sha512: nodeSha512 });
  const seedHex = toHex(flash.read(KEY_FILE)!.subarray(4, 36));
  for (const t of [JSON.stringify(r), String(r.signer), JSON.stringify(r.signer)]) assert.not.ok(t.includes(seedHex), t);
  for (const k of Object.keys(r)) assert.not.ok(JSON.stringify((r as any)[k] ?? null).includes(seedHex));
});

test('Espruino\'s E.hwRand (fixed-seed rand(), 31 bits) fails the health test: no key from it alone', () => {
  const vals = Array.from({ length: 256 }, espruinoRand());
  assert.match(rngHealth(vals), /^bit 31 set in 0\/256$/);
  const flash = new EmuFlash({ size: 4096, pageSize: 4096 });
  const faults = createFaultLog({ now: () => 0 });
  const r = openKeystore({ flash, ed25519: ed, sha512: nodeSha512, faults, entropy: [
    { name: 'hwRand-as-strong', strong: true, sample: espruinoRand() },
    { name: 'hwRand', strong: false, sample: espruinoRand() },
  ] });
  assert.is(r.status, KEY_RNG_BAD);
  assert.is(faults.count(FAULT.KEY_RNG_BAD), 1);
  assert.match(faults.print(), /hwRand-as-strong: bit 31 set in 0\/256/);
  assert.is(flash.read(KEY_FILE), undefined);
  // Weak sources alone are never enough, even if they look random.
  assert.is(openKeystore({ flash, ed25519: ed, sha512: nodeSha512, entropy: [{ name: 'clock', strong: false, sample: rng(3) }] }).status, KEY_RNG_BAD);
});

test('health test: a true 32-bit RNG passes; stuck, repeating or biased bits do not', () => {
  const r = rng(77);
  for (let k = 0; k < 50; k++) assert.is(rngHealth(Array.from({ length: 256 }, () => r() >>> 0)), '');
  assert.match(rngHealth(Array.from({ length: 256 }, (_, i) => i % 16)), /distinct/);
  assert.match(rngHealth(Array.from({ length: 256 }, () => (r() | 1) >>> 0)), /^bit 0 set in 256\/256$/);
});

test('two fresh devices with the same E.hwRand sequence and clock never share a key: the strong source decides', () => {
  const keys = new Set<string>();
  for (let d = 0; d < 20; d++) {
    const flash = new EmuFlash({ size: 4096, pageSize: 4096 });
    const os = rng(1000 + d);
    const r = openKeystore({ flash, ed25519: ed, sha512: nodeSha512, entropy: [
      { name: 'urandom', strong: true, sample: () => os() >>> 0 },
      { name: 'hwRand', strong: false, sample: espruinoRand() },
      { name: 'clock', strong: false, sample: () => 0 },
    ] });
    assert.is(r.status, KEY_CREATED);
    keys.add(toHex(r.signer!.publicKey()));
  }
  assert.is(keys.size, 20);
});

test.run();
