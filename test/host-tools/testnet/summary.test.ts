import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderSummary, finalLine, maxErrorMwh, chainStatus, runOk, packSumError, type RunSummary } from '../../../host-tools/testnet/summary';
import { loadPrices } from '../../../host-tools/testnet/prices';
import { settle } from '../../../host-tools/testnet/settlement';
import { zeroFlows } from '../../../host-tools/testnet/view';

const series = loadPrices();
const D = 20500 * 86400;

function run(): RunSummary {
  const [bal] = settle(series, [
    { device: 'aa', seq: 0, startS: D + 18 * 3600, endS: D + 18 * 3600 + 60, synced: true, gridToPackMwh: 0, packToGridMwh: 500_000 },
    { device: 'aa', seq: 1, startS: D + 3600, endS: D + 3660, synced: true, gridToPackMwh: 1_000_000, packToGridMwh: 0 },
  ]);
  return {
    series, reports: 5, verified: 5, rejected: 0, simMs: 86_400_000, wallMs: 95_000,
    bikes: [
      { name: 'bike1', deviceId: 'aa'.repeat(16), balance: bal, chain: { made: 2, accepted: 2, headSeq: 1, pending: 0, forks: 0, rejected: 0 },
        packs: [{ id: 10, ledgerMwh: { ...zeroFlows(), gridToPack: 1_000_000, packToGrid: 500_000 }, trueMwh: { ...zeroFlows(), gridToPack: 1_000_001.4, packToGrid: 500_000 } }] },
      { name: 'bike2', deviceId: 'bb'.repeat(16), balance: undefined, chain: { made: 3, accepted: 3, headSeq: 2, pending: 0, forks: 0, rejected: 0 },
        packs: [{ id: 20, ledgerMwh: { ...zeroFlows(), packToMotor: 300 }, trueMwh: { ...zeroFlows(), packToMotor: 299.2 } }] },
    ],
  };
}

function withMarket(marketPico: bigint, ridersShort = 0): RunSummary {
  const settlement = {
    device: 'aa'.repeat(16), matchedMwh: 40_000, measuredMwh: 41_000, atMarketMwh: 40_000, imbalanceMwh: 1_000,
    marketPico, imbalancePico: -300_000_000n, baselinePico: -12_300_000_000n, marketMicro: marketPico / 1_000_000n, baselineMicro: -12_300n,
  };
  return {
    ...run(),
    market: {
      intervals: 192, tradedWh: 1584, avgPriceMicroPerKwh: 68_193, ridersShort, shortDetail: ridersShort ? ['bike1 left hub-1 with 610 Wh, below 645 Wh'] : [],
      byTimeOfDay: [{ block: '10-15 midday (PV)', boughtWh: 40, paidNano: 40 * 66_000, soldWh: 0, earnedNano: 0 }],
      imbalanceMwh: 35_999, riders: [{ name: 'bike1', settlement }],
    },
  };
}

test('with the market, the final line adds its figures, and the run passes only with no rider short and none below the baseline', () => {
  const t = { flowMwh: 2, flowPermille: 0, packMwh: 4 };
  const ok = withMarket(-4_300_000_000n);
  assert.is(finalLine(ok), 'bikes=2 reports=5 verified=5 rejected=0 max_error_mwh=2 intervals=192 traded_kwh=1.584 avg_price=0.0681 imbalance_kwh=0.035 riders_short=0');
  assert.ok(runOk(ok, t));
  const text = renderSummary(ok).join('\n');
  assert.match(text, /10-15 midday \(PV\)\s+0\.040\s+0\.0660/);
  assert.match(text, /bike1\s+0\.040\s+0\.041\s+0\.040\s+0\.001\s+-0\.000300\s+-0\.004300\s+-0\.012300\s+0\.008000/);
  assert.not.ok(runOk(withMarket(-4_300_000_000n, 1), t));
  assert.match(renderSummary(withMarket(-4_300_000_000n, 1)).join('\n'), /short: bike1 left hub-1/);
  const worse = withMarket(-12_300_000_001n);
  assert.not.ok(runOk(worse, t));
  assert.match(renderSummary(worse).join('\n'), /WORSE than the utility alone: bike1/);
});

test('max error is the largest |ledger - truth|, rounded up to whole mWh', () => {
  const s = run();
  assert.is(maxErrorMwh(s), 2); // 1.4 -> 2
  s.bikes[0].packs[0].trueMwh.gridToPack = 1_000_000.0000000002;
  assert.is(maxErrorMwh(s), 1); // bike2: 0.8 -> 1; float noise on bike1 is not an error
  s.bikes[1].packs[0].trueMwh.packToMotor = 300;
  assert.is(maxErrorMwh(s), 0);
});

test('final line has the stable key=value form', () => {
  assert.is(finalLine(run()), 'bikes=2 reports=5 verified=5 rejected=0 max_error_mwh=2');
});

test('with anchoring, the final line adds anchored and settled_ok, and the run passes only when both hold', () => {
  const t = { flowMwh: 2, flowPermille: 0, packMwh: 4 };
  const s = { ...run(), anchor: { anchored: 5, batches: 2, settledOk: true, mismatches: [] } };
  assert.is(finalLine(s), 'bikes=2 reports=5 verified=5 rejected=0 max_error_mwh=2 anchored=5 settled_ok=1');
  assert.ok(runOk(s, t));
  assert.match(renderSummary(s).join('\n'), /on chain: 5 reports in 2 batches anchored and confirmed; balances on chain equal the settlement above/);
  const short = { ...s, anchor: { ...s.anchor, anchored: 4 } };
  assert.not.ok(runOk(short, t));
  const off = { ...s, anchor: { ...s.anchor, settledOk: false, mismatches: ['aa: on chain 1, off chain 2 (micro-units)'] } };
  assert.is(finalLine(off), 'bikes=2 reports=5 verified=5 rejected=0 max_error_mwh=2 anchored=5 settled_ok=0');
  assert.not.ok(runOk(off, t));
  assert.match(renderSummary(off).join('\n'), /DIFFER from the settlement above\n  aa: on chain 1, off chain 2/);
  // With the market on, the chain settles at its results: the line names that settlement.
  const market = { ...withMarket(1_000_000n), anchor: s.anchor };
  assert.match(renderSummary(market).join('\n'), /balances on chain equal the market settlement above \(market EUR\) to the micro-unit/);
  assert.match(renderSummary({ ...market, anchor: off.anchor }).join('\n'), /DIFFER from the market settlement above \(market EUR\)\n  aa:/);
});

test('chain status names every problem', () => {
  assert.is(chainStatus({ made: 3, accepted: 3, headSeq: 2, pending: 0, forks: 0, rejected: 0 }), 'complete, seq 0..2, no gap, no fork');
  assert.is(chainStatus({ made: 5, accepted: 3, headSeq: 2, pending: 1, forks: 1, rejected: 0 }), 'FORK x1, 1 pending behind a gap, chain head 2 but 5 made');
  assert.is(chainStatus({ made: 0, accepted: 0, headSeq: -1, pending: 0, forks: 0, rejected: 2 }), '2 rejected');
  const s = run();
  const t = (flowMwh: number, flowPermille: number, packMwh = 4) => ({ flowMwh, flowPermille, packMwh });
  assert.ok(runOk(s, t(2, 0)));
  assert.not.ok(runOk(s, t(1, 0)));
  assert.ok(runOk(s, t(1, 10))); // 1 % of 1 kWh covers 1.4 mWh; 1 % of 299.2 mWh covers 0.8
  assert.not.ok(runOk(s, t(0, 2))); // 0.2 % of 299.2 mWh is 0.6 < 0.8
  assert.not.ok(runOk(s, t(2, 0, 1))); // bike1's pack is 1.4 mWh short in total
  // Energy moved between flows of one pack passes the pack check; created energy does not.
  const moved = run();
  moved.bikes[1].packs[0].ledgerMwh = { ...moved.bikes[1].packs[0].ledgerMwh, packToMotor: 200, packToGrid: 99.2 };
  assert.is(packSumError(moved.bikes[1].packs[0]), 0);
  assert.ok(runOk(moved, t(100, 0)));
  moved.bikes[1].packs[0].ledgerMwh.packToGrid = 150;
  assert.not.ok(runOk(moved, t(100, 0)));
  s.bikes[1].chain.made = 4;
  assert.not.ok(runOk(s, t(2, 0)));
});

test('summary shows flows with diffs, chains and each rider balance, ends with the final line', () => {
  const lines = renderSummary(run());
  assert.is(lines[lines.length - 1], finalLine(run()));
  const text = lines.join('\n');
  assert.match(text, /bike1\s+10\s+grid>pack\s+1000\.000\s+1000\.001\s+-1\.4\n/);
  assert.match(text, /bike2\s+20\s+pack>motor\s+0\.300\s+0\.299\s+\+0\.8\n/);
  assert.match(text, /bike1\s+aaaaaaaaaaaaaaaa\s+2\s+2\s+complete, seq 0\.\.1/);
  // 1 kWh bought at 01:00 (0.1750) and 0.5 kWh sold at 18:00 (0.2080): 0.104 - 0.175 = -0.071.
  assert.match(text, /bike1\s+1\.000\s+0\.175000\s+0\.500\s+0\.104000\s+-0\.071000\s+0\.000\n/);
  assert.match(text, /bike2\s+-\s+-/);
  assert.match(text, /prices-sample\.csv, EUR\/kWh/);
  assert.not.match(text, /charging hubs/);
  const withHubs = renderSummary({ ...run(), hubs: [{ name: 'hub-1', inMwh: 1500, outMwh: 250 }] }).join('\n');
  assert.match(withHubs, /charging hubs[^\n]*\nhub\s+from grid Wh\s+to grid Wh\nhub-1\s+1\.500\s+0\.250\n/);
});

test.run();
