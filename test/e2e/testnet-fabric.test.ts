// `deep testnet --ledger fabric-inproc`, run short: the bikes (in a worker thread, so the
// chaincode's challenges cross to them) also pair with the chaincode, every report the node
// accepted goes through SubmitReports, and the chaincode's balances equal the market's
// settlement (the grid operator posts each interval's results as the hubs clear).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runTestnet } from '../../host-tools/testnet/testnet';

test('a short testnet through the Fabric chaincode in process: every report accepted there too, balances equal', async () => {
  const r = await runTestnet({
    bikes: 2, hubs: 2, seed: 7, durationS: 1800, speedup: 0, port: 0, workers: 1, ledger: 'fabric-inproc',
    tolerance: { flowMwh: 280, flowPermille: 0, packMwh: 4 },
    out: { write: () => {}, isTTY: false }, log: () => {},
  });
  const s = r.summary;
  assert.ok(r.ok, r.lines.join('\n'));
  assert.is(s.anchor, undefined, 'no EVM chain with --ledger fabric-inproc');
  assert.ok(s.fabric, 'the chaincode leg ran');
  assert.is(s.fabric!.accepted, s.verified);
  assert.is(s.fabric!.rejected, 0);
  assert.is(s.fabric!.deferred, 0, 'every interval with energy was posted before the reports went in');
  assert.is(s.fabric!.against, 'market', "the chaincode settles at the market's results, compared with settleMarket");
  assert.ok(s.fabric!.settledOk, s.fabric!.mismatches.join('\n'));
  assert.ok(r.lines.some((l) => l.includes("equal the market's settlement to the micro-unit")), r.lines.join('\n'));
  assert.ok(s.bikes.every((b) => b.balance && b.balance.reports === b.chain.accepted));
  assert.match(r.lines[r.lines.length - 1], /^bikes=2 reports=(\d+) verified=\1 rejected=0 max_error_mwh=\d+ chaincode_accepted=\1 chaincode_settled_ok=1 intervals=\d+ traded_kwh=[\d.]+ avg_price=\S+ imbalance_kwh=[\d.]+ riders_short=0$/, "the market is on by default; its fields follow the ledger's");
});

test.run();
