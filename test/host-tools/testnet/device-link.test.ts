import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DeviceConsole, consoleLink, parseTcpPort, openLink, PortError } from '../../../host-tools/testnet/device-link';
import { EspruinoConsole } from '../../../host-tools/emu/console';

async function rejects(p: Promise<unknown>, check: RegExp | ((e: Error) => boolean)): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (check instanceof RegExp) assert.match((e as Error).message, check);
    else assert.ok(check(e as Error), (e as Error).message);
    return;
  }
  assert.unreachable('expected a rejection');
}

/** An Espruino-like console over a plain JS evaluator (the emulator's line discipline). */
function fakeDevice(evaluate: (code: string) => unknown, chatter = '') {
  let con: EspruinoConsole;
  con = new EspruinoConsole({
    evaluate: (code) => {
      try {
        // print() as the device has it: output through the console.
        const print = (...a: unknown[]) => con.print(a.join(' ') + '\n');
        return { value: new Function('print', 'evaluate', `return (${code.replace(/;$/, '')})`)(print, evaluate) };
      } catch (error) {
        return { error };
      }
    },
    format: (v) => JSON.stringify(v) ?? 'undefined',
  });
  con.start(chatter);
  return con;
}

test('tcp:// ports parse like the Espruino CLI (default port 23)', () => {
  assert.equal(parseTcpPort('tcp://10.0.0.5:2323'), { host: '10.0.0.5', port: 2323 });
  assert.equal(parseTcpPort('tcp://board.local'), { host: 'board.local', port: 23 });
  assert.equal(parseTcpPort('tcp://:8080'), { host: 'localhost', port: 8080 });
  assert.is(parseTcpPort('/dev/ttyUSB0'), undefined);
  assert.throws(() => parseTcpPort('tcp://x:70000'), /TCP port must be 1\.\.65535/);
});

test('eval reads a JSON value back between markers, with echo off for the line', async () => {
  const seen: string[] = [];
  const con = fakeDevice(() => 0, 'booting...\r\n');
  con.onOutput((t) => seen.push(t));
  const c = new DeviceConsole(consoleLink(con, 'fake'));
  assert.equal(await c.eval('({a: 1, b: [true, "x"]})'), { a: 1, b: [true, 'x'] });
  assert.is(await c.eval('undefined'), undefined);
  // The command itself was not echoed (DLE at the start of the line).
  assert.not.ok(seen.join('').includes('JSON.stringify'));
});

test('device errors and non-JSON answers are reported, not parsed', async () => {
  const con = fakeDevice(() => 0);
  const c = new DeviceConsole(consoleLink(con, 'fake'));
  await rejects(c.eval('nosuch.thing'), /device error for nosuch\.thing: .*nosuch/);
  await rejects(c.eval('a\nb'), /"js" expected a single line/);
});

test('silence is a timeout that says what was asked and what came back', async () => {
  const silent = { input() {}, onOutput: () => () => {} };
  const c = new DeviceConsole(consoleLink(silent, 'mute'));
  try {
    await c.eval('process.env', 150);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, PortError);
    assert.is((e as PortError).kind, 'timeout');
    assert.match((e as Error).message, /^mute: no answer to process\.env within 150 ms; got nothing$/);
  }
  await rejects(c.identify(150), /no Espruino console answered/);
});

test('identify wants process.env with VERSION and BOARD', async () => {
  const con = fakeDevice(() => 0);
  const c = new DeviceConsole(consoleLink(con, 'fake'));
  // Our fake has no `process`: the device error is reported as "not Espruino".
  await rejects(c.identify(500), (e: Error) => e instanceof PortError && e.kind === 'not-espruino');
});

test('openLink refuses an empty port and a malformed tcp address', async () => {
  await rejects(openLink(''), /no port given/);
  await rejects(openLink('tcp:/host'), /expected tcp:\/\/host:port/);
  await rejects(openLink('/dev/ttyDEEP-none'), (e: Error) => e instanceof PortError && e.kind === 'missing');
});

test.run();
