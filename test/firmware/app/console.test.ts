import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createConsole, toBase64 } from '../../../firmware/app/console';
import { createFaultLog, FAULT } from '../../../firmware/app/faults';
import { DEFAULT_SETTINGS, type Settings } from '../../../firmware/app/settings';

function make() {
  let s: Settings = { ...DEFAULT_SETTINGS };
  const printed: string[] = [];
  const deferred: (() => void)[] = [];
  const faults = createFaultLog({ now: () => 1234 });
  const pk = new Uint8Array(32).fill(7);
  const kid = new Uint8Array(8).fill(0xab);
  const c = createConsole({
    version: '0.1.0', fw: 256, board: 'esp32-devkitc',
    settings: () => s,
    saveSettings: (n) => { s = n; return true; },
    publicKey: () => pk,
    kid: () => kid,
    pairingProof: (ch) => {
      let steps = 0;
      return { step: () => ++steps >= 3, result: () => new Uint8Array([...ch, 1, 2, 3]) };
    },
    defer: (fn) => { deferred.push(fn); },
    faults,
    status: () => ({ online: false }),
    print: (t) => printed.push(t),
  });
  const runDeferred = (): void => { while (deferred.length) deferred.shift()!(); };
  return { c, get s() { return s; }, printed, faults, runDeferred };
}

test('base64 helper matches Node', () => {
  const b = new Uint8Array([0, 1, 0xfe, 0xff, 0x10, 0x7f, 0x80]);
  for (let n = 0; n <= b.length; n++) {
    assert.is(toBase64(b.subarray(0, n)), Buffer.from(b.subarray(0, n)).toString('base64'));
  }
});

test('info and settings never reveal the password; settings validates its input', () => {
  const m = make();
  assert.is(m.c.deep.settings({ ssid: 'hub', password: 'supersecret', endpoint: 'http://10.0.0.2:8080/' }), true);
  assert.is(m.s.endpoint, 'http://10.0.0.2:8080');
  const info = m.c.deep.info();
  assert.is(info.id, 'abababababababab');
  assert.is(info.paired, false);
  assert.not.match(JSON.stringify(info), /supersecret/);
  assert.throws(() => m.c.deep.settings({ password: 'short' }), /8\.\.63/);
  assert.throws(() => m.c.deep.settings({ endpoint: 'ftp://x' }), /endpoint/);
  assert.throws(() => m.c.deep.settings({ intervalS: 1 }), /intervalS/);
});

test('pairingProof signs in steps: null while signing, then base64 of the proof; paired() checks the id', () => {
  const m = make();
  const ch = '00112233445566778899aabbccddeeff';
  assert.throws(() => m.c.deep.pairingProof(), /no proof started/);
  assert.is(m.c.deep.pairingProof(ch), null);
  assert.is(m.c.deep.pairingProof(), null, 'not done before the event loop ran');
  m.runDeferred();
  assert.is(m.c.deep.pairingProof(), Buffer.from([...Buffer.from(ch, 'hex'), 1, 2, 3]).toString('base64'));
  assert.throws(() => m.c.deep.pairingProof('0011'), /16\.\.64/);
  assert.throws(() => m.c.deep.pairingProof('00112233445566778899aabbccddeefg'), /^deep\.pairingProof: expected an even number of hex digits, got "0011/);
  assert.throws(() => m.c.deep.paired('0000000000000000'), /not this device/);
  assert.is(m.c.deep.paired('abababababababab'), true);
  assert.is(m.c.deep.info().paired, true);
});

test('faults() prints the ring', () => {
  const m = make();
  m.faults.raise(FAULT.WIFI_DOWN, 'no_ap_found');
  m.c.faults();
  assert.match(m.printed.join('\n'), /WIFI_DOWN/);
});

test.run();
