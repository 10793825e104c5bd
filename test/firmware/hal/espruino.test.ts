// The Espruino HAL, compiled to ES5 exactly as in the firmware bundle and run inside the
// emulated board (host-tools/emu), checked against the IO contracts of firmware/hal/io.ts
// and the behaviours the app relies on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { rollup } from 'rollup';
import ts from 'typescript';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { VirtualClock } from '../../../host-tools/emu/clock';
import { EmulatedDevice } from '../../../host-tools/emu/device';
import { EmuFlash } from '../../../host-tools/emu/flash';
import { EmuNetwork } from '../../../host-tools/emu/network';
import type { SerialIO } from '../../../firmware/hal/io';

let code = '';

async function bundle(): Promise<string> {
  if (code) return code;
  // Transpile only (the build type-checks these files already): ES5 like the firmware.
  const b = await rollup({
    input: 'test/firmware/hal/hal-entry.ts',
    plugins: [{
      name: 'ts-es5',
      resolveId(id: string, from?: string) {
        if (!from || !id.startsWith('.')) return null;
        const f = path.resolve(path.dirname(from), id);
        return existsSync(f + '.ts') ? f + '.ts' : null;
      },
      transform(src: string, id: string) {
        if (!id.endsWith('.ts')) return null;
        const r = ts.transpileModule(src, { compilerOptions: { target: ts.ScriptTarget.ES5, module: ts.ModuleKind.ESNext, removeComments: true } });
        return { code: r.outputText, map: null };
      },
    }],
    onwarn: () => {},
  });
  const out = await b.generate({ format: 'iife', strict: false, generatedCode: 'es5' });
  code = out.output[0].code;
  return code;
}

interface Rig {
  clock: VirtualClock;
  dev: EmulatedDevice;
  network: EmuNetwork;
  wire: { sent: Uint8Array[]; reply: (b: Uint8Array) => void };
  ev: <T = unknown>(expr: string) => T;
}

async function rig(): Promise<Rig> {
  const clock = new VirtualClock();
  const flash = new EmuFlash({ size: 65536 });
  const network = new EmuNetwork({ clock, handler: (r) => ({ status: r.url.endsWith('/500') ? 500 : 200, body: `echo ${r.method} ${r.body.length}` }) });
  const sent: Uint8Array[] = [];
  let pending: Uint8Array | undefined;
  const io: SerialIO = {
    read() { const p = pending; pending = undefined; return p; },
    write(b) { sent.push(b.slice()); },
    close() {},
  };
  const dev = new EmulatedDevice({ clock, flash, network, serial: { Serial2: io }, seed: 3 });
  dev.install(await bundle());
  dev.powerOn();
  const ev = <T>(expr: string): T => {
    const v = dev.eval(`JSON.stringify(${expr})`);
    return (typeof v === 'string' ? JSON.parse(v) : null) as T;
  };
  return { clock, dev, network, wire: { sent, reply: (b) => { pending = b; } }, ev };
}

const BOARD = '{ name: "t", vesc: { uart: "Serial2", tx: "D17", rx: "D16", baud: 115200 }, can: { via: "vesc" }, led: "D2", button: null }';

test('time: monotonic through wall-clock jumps (setTime, SNTP), synced only after a plausible date', async () => {
  const r = await rig();
  r.dev.eval('var T = halTest.espruinoTime();');
  await r.clock.advance(5000);
  assert.is(r.ev('T.now()'), 5000);
  assert.is(r.ev('T.synced()'), false);
  r.dev.eval('setTime(1795600000)');
  await r.clock.advance(2500);
  // A jump adds nothing and costs at most one 1 s heartbeat (documented in time.ts).
  const a = r.ev<number>('T.now()');
  assert.ok(a >= 6500 && a <= 7500, `after a jump of decades: ${a}`);
  assert.is(r.ev('T.synced()'), true);
  assert.is(r.ev('T.jumps()'), 1);
  r.dev.eval('setTime(1795599000)'); // stepped back by SNTP
  await r.clock.advance(1000);
  const b = r.ev<number>('T.now()');
  assert.ok(b - a >= 0 && b - a <= 1000, `monotonic across a step back: ${a} -> ${b}`);
  assert.is(r.ev('T.jumps()'), 2);
});

test('serial: ECMA-419 contract (validation, async onReadable, read drains, close twice, use after close throws)', async () => {
  const r = await rig();
  let threw = '';
  try { r.dev.eval(`var S = halTest.vescSerialClass(${BOARD}); new S({})`); } catch (e) { threw = String(e); }
  assert.match(threw, /baud/);
  r.dev.eval('var got = []; var s = new S({ baud: 115200, onReadable: function (n) { got.push(n); var b = s.read(); got.push(b.length, b[0], b instanceof Uint8Array); } });');
  r.dev.eval('s.write(new Uint8Array([1,2,3]))');
  assert.equal([...r.wire.sent[0]], [1, 2, 3]);
  r.wire.reply(new Uint8Array([0xfe, 0x00, 0x41]));
  assert.equal(r.ev('got'), [], 'not synchronously');
  await r.clock.advance(5);
  assert.equal(r.ev('got'), [3, 3, 0xfe, true]);
  assert.is(r.ev('s.read()'), null, 'nothing left (undefined)');
  r.dev.eval('s.close(); s.close();');
  threw = '';
  try { r.dev.eval('s.write(new Uint8Array([1]))'); } catch (e) { threw = String(e); }
  assert.match(threw, /after close/);
});

test('flash: FlashStore over Storage (copies on read, offset writes are NOR writes)', async () => {
  const r = await rig();
  r.dev.eval('var F = halTest.espruinoFlash(); F.write("q1", new Uint8Array([1,2,3,255]), 0, 8); F.write("q1", new Uint8Array([0x0f]), 4);');
  assert.equal(r.ev('Array.prototype.slice.call(F.read("q1"))'), [1, 2, 3, 255, 0x0f, 255, 255, 255]);
  r.dev.eval('var a = F.read("q1"); a[0] = 99;');
  assert.is(r.ev('F.read("q1")[0]'), 1, 'a copy');
  assert.ok(r.ev<string[]>('F.list()').includes('q1'));
  r.dev.eval('F.erase("q1")');
  assert.is(r.ev('F.read("q1")'), null);
});

test('net: joins with the stored settings, requests only when online, reconnects after an outage with backoff', async () => {
  const r = await rig();
  r.dev.eval('var log = []; var N = halTest.espruinoNet(function(){ return E.hwRand(); }); N.onChange(function (on) { log.push("online:" + on); });');
  r.dev.eval('N.request("POST", "http://127.0.0.1:8080/v1/reports", new Uint8Array(3), "application/cbor", 5000, function (e, st, b) { log.push("r1:" + e); });');
  await r.clock.advance(10);
  r.dev.eval('N.configure("deep-hub", "watt-hours")');
  await r.clock.advance(2000);
  r.dev.eval('N.request("POST", "http://127.0.0.1:8080/v1/reports", new Uint8Array(3), "application/cbor", 5000, function (e, st, b) { log.push("r2:" + e + ":" + st + ":" + E.toString(b)); });');
  r.dev.eval('N.request("GET", "http://127.0.0.1:8080/500", undefined, "application/json", 5000, function (e, st) { log.push("r3:" + st); });');
  r.dev.eval('N.request("GET", "not a url", undefined, "x", 5000, function (e) { log.push("r4:" + e); });');
  await r.clock.advance(100);
  r.network.setUp(false);
  await r.clock.advance(60_000);
  assert.is(r.ev('N.online()'), false);
  r.network.setUp(true);
  await r.clock.advance(400_000); // backoff is at most 5 min (+25 %)
  assert.is(r.ev('N.online()'), true);
  assert.equal(r.ev('log'), ['r1:offline', 'online:true', 'r4:bad url not a url', 'r2:null:200:echo POST 3', 'r3:500', 'online:false', 'online:true']);
});

test('system: hardware random bytes, native hashes equal to Node, watchdog resets a stuck loop', async () => {
  const r = await rig();
  const rb = r.ev<Record<string, number>>('halTest.randomBytes(7)');
  assert.is(Object.keys(rb).length, 7);
  const h256 = r.ev<Record<string, number>>('halTest.nativeSha256()(new Uint8Array([97,98,99]))');
  assert.is(Buffer.from(Object.values(h256)).toString('hex'), createHash('sha256').update('abc').digest('hex'));
  const h512 = r.ev<Record<string, number>>('halTest.nativeSha512()(new Uint8Array([97,98,99]))');
  assert.is(Buffer.from(Object.values(h512)).toString('hex'), createHash('sha512').update('abc').digest('hex'));
  r.dev.eval('var W = halTest.startWatchdog(10); var k = setInterval(function () { W.kick(); }, 2000);');
  await r.clock.advance(30_000);
  assert.ok(r.dev.running);
  r.dev.eval('clearInterval(k)');
  await r.clock.advance(12_000);
  assert.not.ok(r.dev.running, 'the watchdog reset the board');
});

test('last words: an uncaught error is recorded, then the board reboots', async () => {
  const r = await rig();
  r.dev.eval('var words = []; halTest.onLastWords(function (k, d) { words.push(k + ":" + d); require("Storage").write("lastwords", k + ":" + d); }, 500, true); setTimeout(function () { throw new Error("boom"); }, 10);');
  await r.clock.advance(100);
  assert.equal(r.ev('words'), ['uncaught:boom']);
  await r.clock.advance(1000);
  assert.ok(r.dev.stops.some((s) => s.reason === 'reboot'));
  assert.ok(r.dev.running, 'up again');
  assert.is(r.dev.eval('require("Storage").read("lastwords")'), 'uncaught:boom');
});

test('last words on a board that cannot reboot (espruino-linux): recorded and printed, the device keeps running', async () => {
  const r = await rig();
  const out: string[] = [];
  r.dev.console.onOutput((t: string) => { out.push(t); });
  r.dev.eval('var words = []; halTest.onLastWords(function (k, d) { words.push(k + ":" + d); }, 500, false); setTimeout(function () { throw new Error("boom"); }, 10);');
  await r.clock.advance(2000);
  assert.equal(r.ev('words'), ['uncaught:boom']);
  assert.not.ok(r.dev.stops.some((s) => s.reason === 'reboot'), 'no reboot');
  assert.ok(r.dev.running);
  assert.match(out.join(''), /DEEP: uncaught error: boom/);
});

test('last words: an error of a line typed at the console is printed, not recorded, no reboot', async () => {
  const r = await rig();
  const out: string[] = [];
  r.dev.console.onOutput((t: string) => { out.push(t); });
  r.dev.eval('var words = []; halTest.onLastWords(function (k, d) { words.push(k + ":" + d); }, 500, true);');
  r.dev.console.input('nosuchthing.x\n');
  await r.clock.advance(2000);
  assert.equal(r.ev('words'), []);
  assert.not.ok(r.dev.stops.some((s) => s.reason === 'reboot'));
  assert.match(out.join(''), /Uncaught .*nosuchthing/);
});

test('flash: Storage.write throwing (no such file, past its size) is a false from FlashStore, as the queue expects', async () => {
  const r = await rig();
  r.dev.eval('var F = halTest.espruinoFlash();');
  assert.throws(() => r.dev.eval('require("Storage").write("nofile", "ab", 8)'), /Unable to find or create file/);
  assert.is(r.ev('F.write("nofile", new Uint8Array([1, 2]), 8)'), false);
  assert.is(r.ev('F.write("seg", new Uint8Array([1]), 0, 16)'), true);
  assert.is(r.ev('F.write("seg", new Uint8Array([2, 3]), 4)'), true);
  assert.is(r.ev('F.write("seg", new Uint8Array(8), 12)'), false);
  assert.ok(r.dev.running);
});

test.run();
