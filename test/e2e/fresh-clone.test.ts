// The newcomer's path: what `npm start` runs, from a copy of the repository with an empty
// dist/ and nothing beside it (no sibling folders a developer's machine might have). CI
// clones onto a machine where earlier runs may have left bundles behind; this copy cannot
// have any. node_modules is linked rather than installed: `npm install` itself is what
// .ci/run's `npm ci` already proves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The project's files as a clone has them: tracked and new files, nothing ignored (no dist/). */
function projectFiles(): string[] {
  const r = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout.split('\0').filter((f) => f && existsSync(path.join(ROOT, f)));
}

test('no file of the project reads or cites a folder beside the repository (a fresh clone has none)', () => {
  const r = spawnSync('git', ['grep', '-nE', String.raw`\.\./shared|['"]\.\.['"], *['"]shared['"]`, '--', '.'], { cwd: ROOT, encoding: 'utf8' });
  assert.is(r.stdout, '', `these lines point outside the repository:\n${r.stdout}`);
});

test('npm start from a fresh copy with an empty dist/ builds what the bikes need and reaches its summary', async () => {
  const parent = mkdtempSync(path.join(tmpdir(), 'deep-fresh-'));
  const clone = path.join(parent, 'deep');
  try {
    for (const f of projectFiles()) {
      mkdirSync(path.dirname(path.join(clone, f)), { recursive: true });
      copyFileSync(path.join(ROOT, f), path.join(clone, f));
    }
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(clone, 'node_modules'), 'dir');
    assert.not.ok(existsSync(path.join(clone, 'dist')), 'the copy starts without dist/');
    assert.equal(readdirSync(parent), ['deep'], 'nothing beside the clone');

    // `npm start` is `node host-tools/bin/deep.js testnet`; the same, shortened to one bike
    // and ten minutes so that the build dominates.
    const child = spawn(process.execPath, ['host-tools/bin/deep.js', 'testnet', '--bikes', '1', '--hubs', '1', '--duration', '10m', '--data', path.join(parent, 'run')], {
      cwd: clone, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const code = await new Promise<number | null>((res) => child.on('close', res));
    assert.is(code, 0, `exit ${code}\n--- stderr\n${stderr}\n--- stdout (tail)\n${stdout.slice(-2000)}`);
    const last = stdout.trim().split('\n').pop()!;
    assert.match(last, /^bikes=1 reports=(\d+) verified=\1 rejected=0 max_error_mwh=\d+ anchored=\1 settled_ok=1 intervals=\d+ traded_kwh=\d+\.\d{3} avg_price=(-|\d+\.\d{4}) imbalance_kwh=\d+\.\d{3} riders_short=0$/);
    assert.ok(existsSync(path.join(clone, 'dist/firmware.js')) && existsSync(path.join(clone, 'dist/ed25519-module.js')));
    assert.match(stderr, /built .*dist\/firmware\.js.*dist\/ed25519-module\.js/);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test.run();
