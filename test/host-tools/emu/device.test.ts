// The emulated board: globals, Storage over the flash model, power cuts, the console REPL
// and the Espruino CLI's upload conventions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VirtualClock } from '../../../host-tools/emu/clock';
import { EmulatedDevice } from '../../../host-tools/emu/device';
import { EmuFlash } from '../../../host-tools/emu/flash';
import { EmuNetwork } from '../../../host-tools/emu/network';
import { loadBoard } from '../../../host-tools/emu/boards';
import type { SerialIO } from '../../../firmware/hal/io';

/** Values from the device realm, made plain (arrays of another realm do not deep-equal). */
function val(dev: EmulatedDevice, expr: string): unknown {
  return JSON.parse(JSON.stringify(dev.eval(expr)) ?? 'null');
}

const ESP32 = loadBoard('esp32-devkitc').espruino;
const LINUX = loadBoard('espruino-linux').espruino;

/** What evaluating `code` throws, as a string ("no error" when nothing). */
function thrown(dev: EmulatedDevice, code: string): string {
  try {
    dev.eval(code);
  } catch (e) {
    return String(e);
  }
  return 'no error';
}

function setup(code?: string, extra: Partial<ConstructorParameters<typeof EmulatedDevice>[0]> = {}) {
  const clock = new VirtualClock();
  const flash = new EmuFlash({ size: 65536 });
  const network = new EmuNetwork({ clock, handler: (req) => ({ status: 200, body: `got ${req.method} ${req.url} ${req.body.length}` }) });
  const dev = new EmulatedDevice({ clock, flash, network, seed: 7, ...extra });
  if (code) dev.install(code);
  dev.powerOn();
  return { clock, flash, network, dev };
}

test('boot code runs from flash; timers follow the virtual clock; Date starts at 1970', async () => {
  const { clock, dev } = setup('var ticks=0; setInterval(function(){ticks++;}, 1000); var y=new Date().getFullYear();');
  assert.is(dev.eval('y'), 1970);
  await clock.advance(10_500);
  assert.is(dev.eval('ticks'), 10);
  assert.is(dev.eval('Math.round(getTime())'), 11);
});

test('Storage round trip, binary strings, and a power cut keeps flash but drops RAM', async () => {
  const { clock, dev, flash } = setup('');
  dev.eval('require("Storage").write("a", "\\x00\\xff\\x80"); var s = require("Storage").read("a");');
  assert.equal([...(dev.eval('E.toUint8Array(s)') as Uint8Array)], [0, 255, 128]);
  assert.instance(dev.eval('E.toUint8Array(s)'), dev.eval('Uint8Array') as Uint8ArrayConstructor);
  dev.powerCut();
  assert.not.ok(dev.running);
  dev.powerOn();
  assert.is(dev.eval('typeof s'), 'undefined');
  assert.is(dev.eval('require("Storage").read("a").length'), 3);
  // A cut armed inside a write stops the device at once, even if the code catches it.
  flash.armCut(3);
  let stopped = '';
  try {
    dev.eval('try { require("Storage").write("b", "hello world"); } catch (e) { var caught = 1; } setTimeout(function(){ var x = 1; }, 10);');
  } catch (e) {
    stopped = String(e);
  }
  assert.match(stopped, /no power/, 'code after the cut does not run');
  await clock.advance(20);
  assert.not.ok(dev.running);
  assert.is(dev.stops.at(-1)!.reason, 'power-cut');
  dev.powerOn();
  assert.is(dev.eval('require("Storage").read("b")'), undefined, 'torn file is not readable as b');
});

test('hwRand differs per boot and per seed, and is a 32-bit integer', () => {
  const a = setup('');
  const r1 = a.dev.eval('[E.hwRand(),E.hwRand()]') as number[];
  a.dev.powerCut();
  a.dev.powerOn();
  const r2 = a.dev.eval('[E.hwRand(),E.hwRand()]') as number[];
  assert.not.equal(r1, r2);
  for (const v of [...r1, ...r2]) assert.ok(Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31);
});

test('a watchdog that is not kicked resets the device; a kicked one does not', async () => {
  const { clock, dev } = setup('E.enableWatchdog(5, false); var k = setInterval(function(){E.kickWatchdog();}, 1000);');
  await clock.advance(20_000);
  assert.ok(dev.running);
  dev.eval('clearInterval(k)');
  await clock.advance(7_000);
  assert.not.ok(dev.running);
  assert.is(dev.stops.at(-1)!.reason, 'watchdog');
});

test('uncaught errors go to process uncaughtException, else are printed', async () => {
  const { clock, dev } = setup('var errs=[]; setTimeout(function(){ throw new Error("x1"); }, 5);');
  await clock.advance(10);
  assert.match(dev.output, /Uncaught Error: x1/);
  dev.eval('process.on("uncaughtException", function(e){ errs.push(e.message); }); setTimeout(function(){ throw new Error("x2"); }, 5);');
  await clock.advance(10);
  assert.equal(val(dev, 'errs'), ['x2']);
  dev.raiseErrorFlag('FIFO_FULL');
  dev.eval('var flags; E.on("errorFlag", function(f){ flags = f; })');
  await clock.advance(1);
  assert.equal(val(dev, 'flags'), ['FIFO_FULL']);
});

test('E.reboot() on a build that cannot (Linux) ends the interpreter: "Not implemented", stopped for good', async () => {
  const a = setup('setTimeout(function(){ E.reboot(); }, 10);', { espruino: LINUX });
  await a.clock.advance(60_000);
  assert.not.ok(a.dev.running);
  assert.equal(a.dev.stops.map((x) => [x.reason, x.detail]), [['exit', 'Not implemented']]);
  assert.match(a.dev.output, /Not implemented/);
  assert.is(a.dev.boots, 1, 'nothing powered it on again');
  assert.equal(a.dev.uncaught, [], 'the exit is not an uncaught exception');
  assert.throws(() => a.dev.eval('1'), /not powered/);

  const b = setup('', { espruino: LINUX });
  assert.throws(() => b.dev.eval('E.reboot(); var after = 1;'), /E\.reboot\(\) on the ESP32LIKE_LINUX build: the interpreter printed "Not implemented" and exited/);
  assert.not.ok(b.dev.running);

  const c = setup('', { espruino: LINUX });
  let out = '';
  c.dev.console.onOutput((t) => { out += t; });
  c.dev.console.input('E.reboot()\r');
  assert.match(out, /Not implemented/);
  assert.not.match(out, /Uncaught|=undefined/);
  assert.not.ok(c.dev.running);

  // The ESP32 build reboots: the boot code runs again.
  const e = setup('var booted = getTime();', { espruino: ESP32 });
  e.dev.eval('E.reboot()');
  await e.clock.advance(10);
  assert.ok(e.dev.running);
  assert.is(e.dev.boots, 2);
  assert.is(e.dev.stops.at(-1)!.reason, 'reboot');
  assert.is(e.dev.eval('typeof booted'), 'number');
});

test('exceptions reaching the top level are recorded and printed as Espruino prints them, and the device carries on', async () => {
  const { clock, dev } = setup(`var ticks = 0; setInterval(function(){ ticks++; }, 100);
    setTimeout(function(){ throw new Error("t1"); }, 5);
    setTimeout(function(){ throw "s2"; }, 6);
    setTimeout(function(){ throw {a:1}; }, 7);
    E.on("init", function(){ throw new TypeError("in init"); });`);
  await clock.advance(10);
  dev.console.input('nope()\r');
  await clock.advance(1000);
  const seen = dev.uncaught.map((u) => [u.text, u.handled, u.boot]);
  assert.equal(seen, [
    ['Uncaught TypeError: in init', false, 1],
    ['Uncaught Error: t1', false, 1],
    ['Uncaught s2', false, 1],
    ['Uncaught [object Object]', false, 1],
    ['Uncaught ReferenceError: nope is not defined', false, 1],
  ]);
  for (const [text] of seen) assert.ok(dev.output.includes(text as string), `printed: ${text}`);
  assert.is(dev.uncaught[1].atMs, 5);
  assert.ok(dev.running);
  assert.ok((dev.eval('ticks') as number) >= 9, 'the program carries on');
});

test('a process uncaughtException handler takes top-level exceptions (console lines too): recorded as handled, not printed', async () => {
  const { clock, dev } = setup('var got = []; process.on("uncaughtException", function(e){ got.push(String(e)); if (e === "again") throw new Error("in handler"); });');
  const before = dev.output.length;
  dev.eval('setTimeout(function(){ throw new Error("h1"); }, 5); setTimeout(function(){ throw "again"; }, 6);');
  await clock.advance(10);
  dev.console.input('nope2()\r');
  assert.equal(val(dev, 'got'), ['Error: h1', 'again', 'ReferenceError: nope2 is not defined']);
  assert.equal(dev.uncaught.map((u) => [u.text, u.handled]), [
    ['Uncaught Error: h1', true],
    ['Uncaught again', true],
    ['Uncaught Error: in handler', false],
    ['Uncaught ReferenceError: nope2 is not defined', true],
  ]);
  const printed = dev.output.slice(before);
  assert.match(printed, /Uncaught Error: in handler/);
  assert.not.match(printed, /Uncaught (Error: h1|again|ReferenceError)/);
});

test('Wifi connects, drops with the network, http reaches the handler only when connected', async () => {
  const { clock, dev, network } = setup('');
  dev.eval(`var W=require("Wifi"), log=[]; W.on("disconnected", function(d){ log.push("down:"+d.reason); });
    W.connect("deep-hub", {password:"nope"}, function(e){ log.push("c1:"+e); });`);
  await clock.advance(2000);
  dev.eval(`W.connect("deep-hub", {password:"watt-hours"}, function(e){ log.push("c2:"+e); }); W.setSNTP("pool.ntp.org","UTC0");`);
  await clock.advance(2000);
  assert.is(dev.eval('W.getStatus().station'), 'connected');
  assert.ok((dev.eval('getTime()') as number) > 1.7e9, 'SNTP set the wall clock');
  dev.eval(`function post(tag){ var r=require("http").request({host:"127.0.0.1",port:8080,path:"/r",method:"POST",protocol:"http:"}, function(res){
      var b=""; res.on("data",function(d){b+=d;}); res.on("close",function(){ log.push(tag+":"+res.statusCode+":"+b); }); });
    r.on("error", function(e){ log.push(tag+":err"); }); r.end("abc"); } post("p1");`);
  await clock.advance(100);
  network.setUp(false);
  await clock.advance(100);
  dev.eval('post("p2")');
  await clock.advance(100);
  assert.equal(val(dev, 'log'), ['c1:wrong_password', 'down:wrong_password', 'c2:null', 'p1:200:got POST http://127.0.0.1:8080/r 3', 'down:beacon_timeout', 'p2:err']);
});

test('serial port: writes reach the wire, replies arrive as binary-string data events', async () => {
  const rx: Uint8Array[] = [];
  let pendingReply: Uint8Array | undefined;
  const io: SerialIO = {
    read() { const r = pendingReply; pendingReply = undefined; return r; },
    write(b) { rx.push(b); pendingReply = new Uint8Array([b[0] + 1, 0xfe]); },
    close() {},
  };
  const { clock, dev } = setup('', { serial: { Serial2: io } });
  dev.eval('var got=[]; Serial2.setup(115200,{rx:D16,tx:D17}); Serial2.on("data", function(d){ got.push(d.charCodeAt(0), d.charCodeAt(1)); }); setTimeout(function(){ Serial2.write(new Uint8Array([0x41])); }, 1);');
  await clock.advance(5);
  assert.equal([...rx[0]], [0x41]);
  assert.equal(val(dev, 'got'), [0x42, 0xfe]);
});

test('console REPL: echo, result, prompt, brackets across lines, DLE lines, Ctrl-C', () => {
  const { dev } = setup('');
  let out = '';
  dev.console.onOutput((t) => { out += t; });
  dev.console.input('1+2\r');
  assert.is(out, '1+2\r\n=3\r\n>');
  out = '';
  dev.console.input('function f(a){\r\nreturn a*2}\r');
  assert.match(out, /\r\n:/);
  out = '';
  dev.console.input('f(21)\n');
  assert.is(out, 'f(21)\r\n=42\r\n>');
  out = '';
  dev.console.input('\x10var hidden=5\n');
  assert.is(out, '', 'DLE line: no echo, no result');
  dev.console.input('\x10print("<","<<",JSON.stringify(process.env.VERSION),">>",">")\n');
  assert.match(out, /< << "2v25" >> >\r\n>$/);
  out = '';
  dev.console.input('garbage(\x03');
  dev.console.input('hidden\r');
  assert.match(out, /=5\r\n>$/);
  out = '';
  dev.console.input('nope()\r');
  assert.match(out, /Uncaught ReferenceError: nope is not defined/);
});

test('Espruino CLI upload conventions: reset(), echo(0), code, save() -> boots again after a power cut', async () => {
  const { clock, dev } = setup('');
  dev.console.input('\x10reset();\n');
  await clock.advance(1);
  assert.ok(dev.running);
  dev.console.input('\x10print()\n\x10echo(0);\n\x10var counter = 0;\n\x10setInterval(function(){ counter++; }, 100);\n\x10echo(1);\n');
  dev.console.input('\x10save()\n');
  await clock.advance(1000);
  assert.ok((dev.eval('counter') as number) >= 9);
  dev.powerCut();
  dev.powerOn();
  await clock.advance(1000);
  assert.ok((dev.eval('counter') as number) >= 9, 'saved code ran at boot');
});

test('require finds modules stored in Storage (how a large library is loaded)', () => {
  const { dev } = setup('');
  dev.eval('require("Storage").write("sq", "exports.sq = function(x){ return x*x; };")');
  assert.is(dev.eval('require("sq").sq(9)'), 81);
  let msg = '';
  try { dev.eval('require("missing")'); } catch (e) { msg = String(e); }
  assert.match(msg, /Error: Module "missing" not found/);
});

test('require: what the board\'s build lacks is not found, as on Espruino (Linux has no Wifi; ESP32 is a global, not a module)', () => {
  const linux = setup('', { espruino: LINUX }).dev;
  assert.is(thrown(linux, 'require("Wifi")'), 'Error: Module "Wifi" not found');
  assert.is(thrown(linux, 'require("ESP32")'), 'Error: Module "ESP32" not found');
  assert.is(linux.eval('typeof require("Storage").read'), 'function');
  assert.is(linux.eval('typeof require("crypto").SHA256'), 'function');
  assert.is(linux.eval('process.env.BOARD'), 'ESP32LIKE_LINUX');
  assert.is(linux.eval('process.env.MODULES'), LINUX.modules.join(','));
  // Espruino looks in Storage for what is not built in, whatever the name.
  linux.eval('require("Storage").write("Wifi", "exports.fromStorage = 1;")');
  assert.is(linux.eval('require("Wifi").fromStorage'), 1);

  const esp = setup('', { espruino: ESP32 }).dev;
  assert.is(esp.eval('typeof require("Wifi").connect'), 'function');
  assert.is(esp.eval('process.env.MODULES'), ESP32.modules.join(','));
  assert.is(thrown(esp, 'require("ESP32")'), 'Error: Module "ESP32" not found');
  assert.is(thrown(esp, 'require(5)'), 'TypeError: Expecting module name as a string, got Number');
  // Built into the build but not imitated by the emulator: an error that says so.
  assert.match(thrown(esp, 'require("tls")'), /the ESP32 build has this module but the emulator does not imitate it/);
});

test('a build without Wifi (Linux) is on the host\'s network: http works while the network is up', async () => {
  const { clock, dev, network } = setup('', { espruino: LINUX });
  dev.eval(`var log=[]; function get(tag){ var r=require("http").request({host:"127.0.0.1",port:8080,path:"/l",method:"GET",protocol:"http:"}, function(res){
      var b=""; res.on("data",function(d){b+=d;}); res.on("close",function(){ log.push(tag+":"+res.statusCode+":"+b); }); });
    r.on("error", function(e){ log.push(tag+":"+e.message); }); r.end(); } get("up");`);
  await clock.advance(100);
  network.setUp(false);
  dev.eval('get("down")');
  await clock.advance(100);
  assert.equal(val(dev, 'log'), ['up:200:got GET http://127.0.0.1:8080/l 0', 'down:Not connected']);
});

test.run();
