// The ingest node anchoring to a contract with the market on (protocol/MARKET.md §5.2): a
// batch holding energy of an interval whose results are not posted waits, the node says
// so, and it is anchored once they are; the chain's balances then equal settle.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import type { Address, Hex } from 'viem';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { createLogger } from '../../../host-tools/ingest/log';
import { marketIntervalArgs } from '../../../host-tools/ledger/evm/contract';
import { apportion, settleMarket, type MeasuredWindow } from '../../../host-tools/market/settle';
import type { IntervalResult } from '../../../host-tools/market/hub';
import { Ride, device, register, postReports, cborArray, tempDir } from '../ingest/_fixtures';
import { deploy, read, send, testChain, type TestChain } from './_chain';

const IV = 300;
let t: TestChain;
let addr: Address;
let tmp: ReturnType<typeof tempDir>;
const logs: string[] = [];

test.before(async () => {
  t = await testChain();
  addr = await deploy(t);
  assert.ok((await send(t, t.accounts.grid, addr, 'setMarketInterval', [IV])).ok);
  tmp = tempDir();
});
test.after(async () => {
  await t.chain.close();
  tmp.cleanup();
});

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await t.chain.mine(1);
    await new Promise((r) => setTimeout(r, 60));
  }
}

test('a batch waits for its intervals\' market results, then settles at them', async () => {
  const node: IngestNode = await startIngestNode({
    db: path.join(tmp.dir, 'ledger.db'), port: 0, workers: 1,
    logger: createLogger({ level: 'debug', sink: { write: (l: string) => logs.push(l) } }),
    batch: { intervalMs: 3_600_000, maxReports: 20 },
    anchor: { rpcUrl: t.chain.url, chainId: t.chain.chainId, contract: addr, account: t.accounts.anchorer, confirmations: 2, pollMs: 40, timeoutMs: 2000 },
  });
  try {
    const devs = [device(71), device(72)];
    const windows: MeasuredWindow[] = [];
    const reports: Uint8Array[] = [];
    for (const d of devs) {
      assert.is((await register(node.url, d)).status, 201);
      const ride = new Ride(d);
      for (let i = 0; i < 20; i++) {
        // Grid energy on pack 0 (charging) or pack 1 (selling), the lifetime counters following.
        reports.push(ride.next({
          tweak: (r) => {
            const g = i % 3 === 0 ? 0 : 400 + 11 * i, s = i % 4 === 0 ? 250 + i : 0;
            r.packs[0].gridToPackMwh = g;
            r.packs[0].lifetime.gridToPackMwh += g;
            r.packs[1].packToGridMwh = s;
            r.packs[1].lifetime.packToGridMwh += s;
            windows.push({ device: d.id, startS: r.startS, endS: r.startS + r.durationS, gridToPackMwh: g, packToGridMwh: s });
          },
        }));
      }
    }
    assert.is((await postReports(node.url, cborArray(reports))).json.accepted, 40);
    node.batcher!.closeDue();
    assert.is(node.store.batches!.last()!.id, 2);
    // Nothing posted yet: the node waits and says for which interval.
    await until(() => logs.some((l) => l.includes('anchor waits for market results')), 'the wait logged');
    await new Promise((r) => setTimeout(r, 300));
    assert.is(Number(await read<bigint>(t, addr, 'lastBatchId')), 0);
    assert.is(node.publisher!.status().batchesBehind, 2);
    assert.match(node.publisher!.status().lastError ?? '', /batch 1 waits for the market results of the interval at \d+/);

    // The grid operator posts: the second interval with a result per device (1 Wh in the
    // direction the device measured, so part is matched and the rest is imbalance), the
    // others without results.
    const measured = apportion(windows, IV);
    const starts = [...new Set(Object.values(measured).flatMap((m) => Object.keys(m).map(Number)))].sort((a, b) => a - b);
    const tariff = { retailMicroPerKwh: 310_000, feedInMicroPerKwh: 70_000 };
    const k1 = starts[1];
    const results: IntervalResult[] = [{
      hub: 'hub-1', startS: k1, durationS: IV, ...tariff, priceMicroPerKwh: 150_000, tradedWh: 0, utility: { soldWh: 0, boughtWh: 0, amountNano: 0 },
      participants: devs.map((d) => {
        const netWh = Math.sign(measured[d.id][k1].inMwh - measured[d.id][k1].outMwh);
        assert.ok(netWh !== 0);
        return { participant: d.id, boughtWh: 0, soldWh: 0, fromUtilityWh: 0, toUtilityWh: 0, netWh, amountNano: -netWh * 150_001 };
      }).sort((a, b) => (a.participant < b.participant ? -1 : 1)),
    }];
    for (const k of starts) {
      const a = marketIntervalArgs(k, tariff, results.filter((r) => r.startS === k));
      const r = await send(t, t.accounts.grid, addr, 'postMarketInterval', [a.start, a.retailMicro, a.feedInMicro, a.results]);
      assert.ok(r.ok, !r.ok ? r.reason : '');
    }
    await until(() => node.publisher!.status().batchesBehind === 0, 'both batches anchored');
    const off = settleMarket(results, measured, () => tariff);
    assert.is(off.length, 2);
    for (const s of off) {
      assert.ok(s.atMarketMwh !== 0 && s.imbalanceMwh > 0, `${s.device}: matched and imbalance both present`);
      assert.is(await read<bigint>(t, addr, 'deviceBalanceMicro', [`0x${s.device}` as Hex]), s.marketMicro, s.device);
    }
  } finally {
    await node.close();
  }
});

test('a contract deployed before the market (no marketIntervalS) is anchored to at its price series', async () => {
  const { compileLedger } = await import('../../../host-tools/ledger/evm/compile');
  const { deployLedger } = await import('../../../host-tools/ledger/evm/contract');
  const { readFileSync } = await import('node:fs');
  const { LEDGER_SOURCE } = await import('../../../host-tools/ledger/evm/compile');
  // The same contract without the getter: calling it reverts without data, as on an old deployment.
  const source = readFileSync(LEDGER_SOURCE, 'utf8').replace('uint32 public marketIntervalS;', 'uint32 internal marketIntervalS;');
  const old = compileLedger(source);
  assert.not.ok(old.abi.some((x) => 'name' in x && x.name === 'marketIntervalS'));
  const { address } = await deployLedger({ rpcUrl: t.chain.url, chain: t.viemChain, account: t.accounts.admin, gridOperator: t.accounts.grid.address, anchorers: [t.accounts.anchorer.address], artifact: old });
  const node = await startIngestNode({
    db: path.join(tmp.dir, 'old.db'), port: 0, workers: 1,
    logger: createLogger({ level: 'debug', sink: { write: (l: string) => logs.push(l) } }),
    batch: { intervalMs: 3_600_000, maxReports: 20 },
    anchor: { rpcUrl: t.chain.url, chainId: t.chain.chainId, contract: address, account: t.accounts.anchorer, confirmations: 2, pollMs: 40, timeoutMs: 2000 },
  });
  try {
    const d = device(73);
    assert.is((await register(node.url, d)).status, 201);
    assert.is((await postReports(node.url, cborArray(new Ride(d).take(20)))).json.accepted, 20);
    node.batcher!.closeDue();
    await until(() => node.publisher!.status().batchesBehind === 0, 'the batch anchored');
    assert.is(node.publisher!.status().lastError, null);
  } finally {
    await node.close();
  }
});

test.run();
