// The main job, run short: real firmware bundles in the emulator, simulated bikes, a real
// ingest node with its SQLite file, the ledger read back and re-verified. Twice with the
// same seed (once in this thread, once over two worker threads): same rides, same totals.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runTestnet, type TestnetResult } from '../../host-tools/testnet/testnet';
import { FLOWS } from '../../host-tools/testnet/view';

const out: string[] = [];
const run = (workers: number, seed = 42): Promise<TestnetResult> => runTestnet({
  bikes: 2, hubs: 2, seed, durationS: 1800, speedup: 0, port: 0, workers,
  // A rider's own policy goes to the node before the day, as `deep policy set` sends it.
  policies: { bike1: { targetPermille: 700, minSellMicroPerKwh: 250_000 } },
  // Per pack, nothing created or lost (< 1 mWh of rounding per flow); per flow, at most one
  // 1 s poll at up to 1 kW may land in the neighbouring flow when the bike changes mode.
  tolerance: { flowMwh: 280, flowPermille: 0, packMwh: 4 },
  out: { write: (t: string) => { out.push(t); }, isTTY: false }, log: () => {},
});

test('a short testnet: every report made arrives once, re-verifies, chains complete, totals match the simulator, riders settled', async () => {
  const r = await run(0);
  const s = r.summary;
  const last = r.lines[r.lines.length - 1];
  assert.match(last, /^bikes=2 reports=(\d+) verified=\1 rejected=0 max_error_mwh=\d+ intervals=\d+ traded_kwh=\d+\.\d{3} avg_price=(-|\d+\.\d{4}) imbalance_kwh=\d+\.\d{3} riders_short=0$/);
  // The market is on by default: 30 min from 00:02 UTC hold two 15-min intervals per hub.
  assert.is(s.market!.intervals, 2 * 2);
  assert.ok(s.reports >= 2 * 30, `reports ${s.reports}: one per minute per bike expected`);
  assert.ok(r.ok, r.lines.join('\n'));
  for (const b of s.bikes) {
    assert.match(b.deviceId, /^[0-9a-f]{16}$/);
    assert.is(b.chain.accepted, b.chain.made);
    assert.is(b.chain.headSeq, b.chain.made - 1);
    assert.is(b.chain.forks + b.chain.pending + b.chain.rejected, 0);
    // Energy really moved (riding at least), and the ledger saw it.
    const moved = b.packs.reduce((a, p) => a + FLOWS.reduce((x, f) => x + p.trueMwh[f], 0), 0);
    assert.ok(moved > 1000, `${b.name} moved only ${moved} mWh`);
    assert.ok(b.balance !== undefined && b.balance.reports === b.chain.accepted, 'every verified report is settled');
  }
  assert.ok(existsSync(path.join(r.dataDir, 'ledger.sqlite')));
  const policies = JSON.parse(readFileSync(path.join(r.dataDir, 'ledger.sqlite.policies.json'), 'utf8'));
  assert.equal(Object.keys(policies), [s.bikes[0].deviceId]);
  assert.equal([policies[s.bikes[0].deviceId].targetPermille, policies[s.bikes[0].deviceId].minSellMicroPerKwh], [700, 250_000]);
  assert.ok(existsSync(path.join(r.dataDir, 'market-day.json')) && existsSync(path.join(r.dataDir, 'market-results.json')));
  // Plain progress lines (not a TTY): no escape codes, and the summary follows.
  assert.ok(out.length > 0 && out.every((l) => !l.includes('\x1b')));
  assert.ok(r.lines.some((l) => /prosumer settlement/.test(l)));

  // Same seed, bikes spread over two worker threads: identical rides and totals.
  const again = await run(2);
  assert.equal(again.summary.bikes.map((b) => [b.deviceId, b.packs, b.chain.made]), s.bikes.map((b) => [b.deviceId, b.packs, b.chain.made]));
  assert.is(again.lines[again.lines.length - 1], last);
  assert.equal(again.summary.bikes.map((b) => b.balance!.balanceMicro), s.bikes.map((b) => b.balance!.balanceMicro));
});

test.run();
