// `deep flash` against the emulator's console: over TCP (a board on the network) and over a
// pseudo-terminal (a USB serial port), plus each error a maker can meet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { createRequire } from 'node:module';
import { board, deep, firmware, ptyFor } from './_emu';
import { expectedFirmwareVersion } from '../../../host-tools/cli/commands/flash';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../../../host-tools/build/build';
import { pollUntil } from '../../_poll';

const storedBoot = (b: Awaited<ReturnType<typeof board>>) => Buffer.from(b.bike.flash.read('.bootcde') ?? new Uint8Array()).toString('latin1');

test('flashes a bare Espruino board over tcp://, saves to flash, the new firmware answers its version', async () => {
  const b = await board();
  try {
    assert.is(storedBoot(b), ' ');
    const r = await deep(['flash', '--port', b.tcp, '--skip-build']);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, /found Espruino \S+ on ESP32 at tcp:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stderr, /uploading \[#{20}\] 100% (\d+)\/\1 bytes/);
    assert.match(r.stdout, new RegExp(`flashed: firmware ${expectedFirmwareVersion().replace(/\./g, '\\.')} running, device id [0-9a-f]{16}`));
    // What the device stores is the bundle, byte for byte, and it survives a power cycle.
    assert.is(storedBoot(b), firmware());
    // The signer module goes up with it (Storage "ed25519", firmware/hal/espruino/ed25519.ts).
    assert.is(Buffer.from(b.bike.flash.read('ed25519') ?? new Uint8Array()).toString('latin1'), readFileSync(path.join(ROOT, 'dist/ed25519-module.js'), 'latin1'));
    b.bike.powerCut(1000);
    // The board boots again on the emulator's clock: wait for its firmware to answer.
    const version = await pollUntil('the board runs the firmware again after the power cut', () =>
      b.bike.device.running ? b.bike.eval<{ version: string }>('deep.info()').version : undefined);
    assert.is(version, expectedFirmwareVersion());
  } finally {
    await b.close();
  }
});

test('flashes through a pseudo-terminal serial port', async () => {
  const b = await board();
  const pty = await ptyFor(b);
  try {
    const r = await deep(['flash', '--port', pty.path, '--skip-build', '--throttle', 'off']);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /flashed: firmware/);
    assert.is(storedBoot(b), firmware());
  } finally {
    pty.close();
    await b.close();
  }
});

test('a busy serial port is refused before anything is sent', async () => {
  const b = await board();
  const pty = await ptyFor(b);
  const { SerialPort } = createRequire(import.meta.url)('serialport') as typeof import('serialport');
  const holder = new SerialPort({ path: pty.path, baudRate: 115200, lock: true, autoOpen: false });
  await new Promise<void>((res, rej) => holder.open((e) => (e ? rej(e) : res())));
  try {
    const r = await deep(['flash', '--port', pty.path, '--skip-build']);
    assert.is(r.code, 3);
    assert.match(r.stderr, /port is busy: another program has it open/);
    assert.is(storedBoot(b), ' ');
  } finally {
    await new Promise<void>((res) => holder.close(() => res()));
    pty.close();
    await b.close();
  }
});

test('a missing port, a closed TCP port and a board that is not Espruino get clear errors (exit 3)', async () => {
  let r = await deep(['flash', '--port', '/dev/ttyDEEP-none', '--skip-build']);
  assert.is(r.code, 3);
  assert.match(r.stderr, /\/dev\/ttyDEEP-none: no such serial port/);

  const closed = net.createServer();
  await new Promise<void>((res) => closed.listen(0, '127.0.0.1', res));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((res) => closed.close(() => res()));
  r = await deep(['flash', '--port', `tcp://127.0.0.1:${port}`, '--skip-build']);
  assert.is(r.code, 3);
  assert.match(r.stderr, /nothing listens at 127\.0\.0\.1:\d+/);

  // A modem-like device: answers every line with ERROR, never runs JavaScript.
  const modem = net.createServer((s) => s.on('data', () => s.write('\r\nERROR\r\n')));
  await new Promise<void>((res) => modem.listen(0, '127.0.0.1', res));
  try {
    r = await deep(['flash', '--port', `tcp://127.0.0.1:${(modem.address() as net.AddressInfo).port}`, '--skip-build']);
    assert.is(r.code, 3);
    assert.match(r.stderr, /no Espruino console answered .*ERROR.*is this board running the Espruino firmware\?/s);
  } finally {
    modem.close();
  }

  r = await deep(['flash', '--skip-build']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /--port is required/);
});

test('a port that cannot work fails before the build, not a minute after it', async () => {
  // No --skip-build: the build takes a minute on a small machine and must not run first.
  let r = await deep(['flash', '--port', '/dev/ttyDEEP-none']);
  assert.is(r.code, 3);
  assert.match(r.stderr, /\/dev\/ttyDEEP-none: no such serial port/);
  assert.not.match(r.stderr, /built|building/);

  r = await deep(['flash', '--port', 'tcp://127.0.0.1:70000']);
  assert.is(r.code, 3);
  assert.match(r.stderr, /TCP port must be 1\.\.65535, got 70000/);
  assert.not.match(r.stderr, /built|building/);

  // A board file that does not exist, before the port is even opened.
  r = await deep(['flash', '--port', '/dev/ttyDEEP-none', '--board', 'no-such-board']);
  assert.is(r.code, 3);
  assert.match(r.stderr, /board "no-such-board" not found: expected boards\/no-such-board\.json/);
});

test.run();
