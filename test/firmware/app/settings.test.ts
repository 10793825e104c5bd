import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EmuFlash } from '../../../host-tools/emu/flash';
import { DEFAULT_SETTINGS, loadSettings, saveSettings } from '../../../firmware/app/settings';

test('defaults when nothing is stored; a save round-trips', () => {
  const f = new EmuFlash({ size: 16384 });
  assert.equal(loadSettings(f), DEFAULT_SETTINGS);
  const s = { ...DEFAULT_SETTINGS, ssid: 'hub', password: 'secret-pw', endpoint: 'http://10.0.0.1:8080', intervalS: 30 };
  assert.ok(saveSettings(f, s));
  assert.equal(loadSettings(f), s);
});

test('saves alternate between two files; a cut at any byte of a save keeps old or new, never garbage', () => {
  const base = new EmuFlash({ size: 16384, rng: () => 0.37 });
  loadSettings(base);
  const a = { ...DEFAULT_SETTINGS, ssid: 'first', password: 'password1' };
  const b = { ...DEFAULT_SETTINGS, ssid: 'second', password: 'password2', endpoint: 'http://h:1' };
  assert.ok(saveSettings(base, a));
  const img = base.image();
  let cuts = 0;
  for (let n = 0; n < 200; n++) {
    const f = new EmuFlash({ size: 16384, rng: () => 0.37 });
    f.loadImage(img);
    loadSettings(f);
    f.armCut(n);
    let completed = true;
    try { saveSettings(f, b); } catch { completed = false; cuts++; }
    f.reboot();
    const got = loadSettings(f);
    assert.equal(got, completed ? b : (got.ssid === 'second' ? b : a), `cut at byte ${n}`);
    if (completed) break;
  }
  assert.ok(cuts > 30, 'the save spans many bytes');
});

test('out-of-range stored values fall back to defaults', () => {
  const f = new EmuFlash({ size: 16384 });
  loadSettings(f);
  saveSettings(f, { ...DEFAULT_SETTINGS, intervalS: 1, pollMs: 99999 });
  const s = loadSettings(f);
  assert.is(s.intervalS, DEFAULT_SETTINGS.intervalS);
  assert.is(s.pollMs, DEFAULT_SETTINGS.pollMs);
});

test.run();
