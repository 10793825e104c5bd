import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmuFlash, PowerCutError } from '../../../host-tools/emu/flash';

const b = (...xs: number[]) => new Uint8Array(xs);
const str = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

test('Storage semantics: create, pre-allocate (0xFF), fill at offset, rewrite at 0', () => {
  const f = new EmuFlash({ size: 8192, pageSize: 4096 });
  assert.ok(f.write('a', str('Hello'), 0, 14));
  assert.equal(Array.from(f.read('a')!), [...str('Hello'), ...new Array(9).fill(0xff)]);
  assert.ok(f.write('a', str(' '), 5));
  assert.ok(f.write('a', str('World!!!'), 6));
  assert.equal(f.read('a'), str('Hello World!!!'));
  assert.ok(f.write('a', str(' '), 0));
  assert.equal(f.read('a'), str(' '));
  assert.equal(f.list(), ['a']);
  assert.is(f.read('missing'), undefined);
  assert.not.ok(f.write('missing', b(1), 3), 'offset write to a missing file fails');
  assert.not.ok(f.write('a', b(1, 2), 0 + 1), 'offset write beyond the file size fails');
});

test('offset writes only into erased bytes (Espruino refuses a rewrite); same-content rewrite writes nothing', () => {
  const f = new EmuFlash({ size: 4096, pageSize: 4096 });
  f.write('x', b(0xff, 0xff, 0xff), 0, 3);
  assert.ok(f.write('x', b(0xf0), 1));
  assert.not.ok(f.write('x', b(0x0f), 1), 'byte 1 is no longer erased');
  assert.not.ok(f.write('x', b(0x00, 0x00), 0 + 1), 'any non-erased byte in the range refuses the write');
  assert.ok(f.write('x', b(0x00), 2));
  assert.equal(Array.from(f.read('x')!), [0xff, 0xf0, 0x00]);
  const before = f.stats.bytesProgrammed;
  assert.ok(f.write('x', b(0xff, 0xf0, 0x00)));
  assert.is(f.stats.bytesProgrammed, before, 'identical content: nothing written');
  assert.equal(f.list(), ['x']);
});

test('erase frees space only at compact; writes compact automatically when full', () => {
  const f = new EmuFlash({ size: 8192, pageSize: 4096 });
  const free0 = f.getFree();
  assert.is(free0, 8192);
  f.write('a', new Uint8Array(1000));
  f.write('b', new Uint8Array(1001));
  assert.is(f.getFree(), 8192 - 32 - 1000 - 32 - 1004);
  f.erase('a');
  assert.equal(f.list(), ['b']);
  assert.is(f.getFree(), 8192 - 32 - 1000 - 32 - 1004);
  f.compact();
  assert.is(f.getFree(), 8192 - 32 - 1004);
  assert.equal(f.read('b'), new Uint8Array(1001));
  assert.is(f.stats.pageErases, 1, 'only the used page was erased');
  // Fill, erase, and write again: the write compacts by itself.
  f.write('c', new Uint8Array(6000));
  f.erase('c');
  assert.ok(f.write('d', new Uint8Array(6000)));
  assert.equal(f.list().sort(), ['b', 'd']);
  assert.not.ok(f.write('e', new Uint8Array(6000)), 'no space even after compaction');
  assert.ok(f.stats.compacts >= 2);
});

test('power cut: prefix stored, last byte partial, then everything throws until reboot', () => {
  const f = new EmuFlash({ size: 4096, pageSize: 4096, rng: () => 0.5 });
  f.write('x', b(1, 2, 3), 0, 8);
  f.armCut(1);
  assert.throws(() => f.write('x', b(0x00, 0x00, 0x00), 3), (e: unknown) => e instanceof PowerCutError);
  assert.ok(f.dead);
  assert.throws(() => f.read('x'), (e: unknown) => e instanceof PowerCutError);
  f.reboot();
  const got = f.read('x')!;
  assert.equal(Array.from(got.subarray(0, 4)), [1, 2, 3, 0]);
  assert.is(got[4], 0x80, 'partial: only bits outside the random mask (0x80) were cleared... kept');
  assert.is(got[5], 0xff);
});

test('a cut inside a header leaves no readable file of that name, and recovery keeps older files', () => {
  for (let cut = 0; cut < 32 + 5; cut++) {
    const f = new EmuFlash({ size: 4096, pageSize: 4096, rng: () => 0.3 });
    f.write('keep', str('safe'));
    f.armCut(cut);
    assert.throws(() => f.write('new', str('hello')));
    f.reboot();
    assert.equal(f.read('keep'), str('safe'), `cut ${cut}`);
    const n = f.read('new');
    if (n) assert.ok(cut >= 32, `cut ${cut}: file visible only once its header is complete`);
    f.compact();
    assert.equal(f.read('keep'), str('safe'));
    assert.ok(f.write('again', str('ok')));
    assert.equal(f.read('again'), str('ok'));
  }
});

test('counters: bytes programmed and page erases per page', () => {
  const f = new EmuFlash({ size: 8192, pageSize: 4096 });
  f.write('a', new Uint8Array(10));
  assert.is(f.stats.bytesProgrammed, 32 + 10);
  f.erase('a');
  assert.is(f.stats.bytesProgrammed, 32 + 10 + 4);
  f.compact();
  assert.equal(Array.from(f.pageErases), [1, 0]);
  assert.is(f.stats.writeCalls, 1);
  assert.is(f.stats.eraseCalls, 1);
});

test('file-backed image survives a new instance (a real reboot of the emulator)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'deep-flash-'));
  try {
    const file = path.join(dir, 'flash.bin');
    const f1 = new EmuFlash({ size: 4096, pageSize: 4096, file });
    f1.write('k', str('v1'));
    const f2 = new EmuFlash({ size: 4096, pageSize: 4096, file });
    assert.equal(f2.read('k'), str('v1'));
    assert.throws(() => new EmuFlash({ size: 8192, pageSize: 4096, file }), /holds 4096 bytes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('misuse throws labelled errors', () => {
  assert.throws(() => new EmuFlash({ size: 1000 }), /size/);
  assert.throws(() => new EmuFlash({ pageSize: 1000 }), /pageSize/);
  const f = new EmuFlash({ size: 4096 });
  assert.throws(() => f.write('', b(1)), /name/);
  assert.throws(() => f.write('x'.repeat(29), b(1)), /name/);
  assert.throws(() => f.write('a', b(1, 2), 0, 1), /size/);
  assert.throws(() => f.armCut(-1), /armCut/);
});

test.run();
