// `deep testnet` command line: options, errors, help. The run itself is test/e2e/testnet.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { deep, DEEP, ROOT } from './_emu';
import { bundleStale, parseDuration } from '../../../host-tools/cli/commands/testnet';
import { startOfRun } from '../../../host-tools/testnet/testnet';
import { loadPrices, parsePrices } from '../../../host-tools/testnet/prices';

test('durations take h, m, s or plain seconds, within 1 min..7 days', () => {
  assert.is(parseDuration('24h'), 86400);
  assert.is(parseDuration('90m'), 5400);
  assert.is(parseDuration('3600s'), 3600);
  assert.is(parseDuration('600'), 600);
  assert.throws(() => parseDuration('1.5h'), /--duration expected a number with an optional unit/);
  assert.throws(() => parseDuration('30s'), /1m\.\.168h/);
  assert.throws(() => parseDuration('169h'), /1m\.\.168h/);
});

test('a bundle built for another board is stale (npm start after deep build --board espruino-linux rebuilds)', () => {
  const dist = mkdtempSync(path.join(tmpdir(), 'deep-dist-'));
  const future = new Date(Date.now() + 3600_000); // newer than every source: only the board decides
  for (const f of ['firmware.js', 'ed25519-module.js']) {
    writeFileSync(path.join(dist, f), 'x');
    utimesSync(path.join(dist, f), future, future);
  }
  assert.ok(bundleStale('esp32-devkitc', dist), 'no board stamp: unknown board, rebuild');
  writeFileSync(path.join(dist, 'firmware.board'), 'espruino-linux\n');
  assert.ok(bundleStale('esp32-devkitc', dist));
  writeFileSync(path.join(dist, 'firmware.board'), 'esp32-devkitc\n');
  assert.not.ok(bundleStale('esp32-devkitc', dist));
});

test('a missing signer module is stale: a fresh clone builds it before the bikes boot', () => {
  const dist = mkdtempSync(path.join(tmpdir(), 'deep-dist-'));
  const future = new Date(Date.now() + 3600_000);
  writeFileSync(path.join(dist, 'firmware.js'), 'x');
  utimesSync(path.join(dist, 'firmware.js'), future, future);
  writeFileSync(path.join(dist, 'firmware.board'), 'esp32-devkitc\n');
  assert.ok(bundleStale('esp32-devkitc', dist), 'no dist/ed25519-module.js');
  writeFileSync(path.join(dist, 'ed25519-module.js'), 'x');
  utimesSync(path.join(dist, 'ed25519-module.js'), future, future);
  assert.not.ok(bundleStale('esp32-devkitc', dist));
});

test('the day starts at midnight UTC, far enough back for the node to accept every report', () => {
  const now = Date.UTC(2026, 10, 25, 20, 0, 0);
  const start = startOfRun(loadPrices(), 86400, now);
  assert.is(start % 86_400_000, 0);
  assert.ok(start + 86_400_000 + 3 * 3600_000 < now);
  const abs = parsePrices('start,import\n2026-06-01T00:00Z,0.1\n2026-06-01T01:00Z,0.2\n');
  assert.is(startOfRun(abs, 3600, now), Date.UTC(2026, 5, 1));
});

test('--help documents every option; bad options and price files stop with exit 2', async () => {
  const help = await deep(['testnet', '--help']);
  assert.is(help.code, 0);
  for (const o of ['--bikes', '--hubs', '--duration', '--speedup', '--seed', '--port', '--data', '--prices', '--workers', '--poll-ms', '--skip-build', '--serve']) {
    assert.ok(help.stdout.includes(o), `help lacks ${o}`);
  }
  let r = await deep(['testnet', '--bikes', '0']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /--bikes expected an integer in \[1, 50\], got "0"/);
  r = await deep(['testnet', '--duration', 'forever']);
  assert.is(r.code, 2);
  assert.ok(help.stdout.includes('--ledger'), 'help lacks --ledger');
  r = await deep(['testnet', '--ledger', 'fabric']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /--ledger expected evm or fabric-inproc, got "fabric"/);
  const dir = mkdtempSync(path.join(tmpdir(), 'deep-testnet-cli-'));
  const bad = path.join(dir, 'prices.csv');
  writeFileSync(bad, 'start,import,export\n00:00,0.20,0.05\n01:00,0.2O,0.05\n');
  r = await deep(['testnet', '--prices', bad, '--skip-build', '--bikes', '1', '--duration', '1m']);
  assert.is(r.code, 2);
  assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:3:7: import price must be a decimal`));
});

test('the app\'s URL at the start; --serve keeps the node and the app up after the summary until Ctrl-C', async () => {
  const child = spawn(process.execPath, [DEEP, 'testnet', '--bikes', '1', '--hubs', '1', '--duration', '10m', '--anchor', 'off', '--skip-build', '--serve'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const kill = setTimeout(() => child.kill('SIGKILL'), 120_000);
  try {
    const serving = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        const m = /serving the finished day: (http:\/\/\S+)\/app\/#\/grid/.exec(stderr);
        if (m) resolve(m[1]);
      });
      exited.then(() => reject(new Error(`exited before serving:\n${stderr}`)));
    });
    // Printed before the bikes start, with the node's address.
    assert.match(stderr, new RegExp(`\\napp ${serving.replace(/[.:/]/g, '\\$&')}/app/#/grid `));
    assert.match(stdout, /^bikes=1 reports=\d+ verified=\d+ rejected=0/m);
    const grid = (await (await fetch(`${serving}/v1/grid`)).json()) as { phase: string; result: string; balances: unknown[] };
    assert.is(grid.phase, 'done');
    assert.is(grid.balances.length, 1);
    assert.ok(stdout.trim().endsWith(grid.result), grid.result);
    const page = await fetch(`${serving}/app/`);
    assert.is(page.status, 200);
    child.kill('SIGINT');
    assert.is(await exited, 0);
    assert.match(stderr, /deep testnet: SIGINT, node stopped/);
    await fetch(`${serving}/healthz`).then(() => assert.unreachable('the node still answers'), () => {});
  } finally {
    clearTimeout(kill);
    child.kill('SIGKILL');
  }
});

test.run();
