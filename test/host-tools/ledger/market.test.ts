// The DeepLedger contract settling at the market's results (protocol/MARKET.md §5, §5.2) on
// a real London EVM: the grid operator posts each interval's results, the anchorer's market
// records carry each device's share of the intervals, and the chain's balances equal
// host-tools/market/settle.ts to the pico-unit, with intervals split over two batches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import type { Address, Hex } from 'viem';
import { leafOfReport, planBatch, type BatchLeaf } from '../../../host-tools/ledger/batch';
import { anchorArgs, encodeGridRecord, encodeMarketRecord, marketIntervalArgs, marketRecords, type AnchorArgs, type MarketIntervalArgs } from '../../../host-tools/ledger/evm/contract';
import { apportion, settleMarket } from '../../../host-tools/market/settle';
import type { IntervalResult } from '../../../host-tools/market/hub';
import { deploy, fastRide, read, send, testChain, type TestChain } from './_chain';

let t: TestChain;
const IV = 300;

test.before(async () => {
  t = await testChain();
});
test.after(async () => {
  await t.chain.close();
});

const anchor = (addr: Address, a: AnchorArgs) => send(t, t.accounts.anchorer, addr, 'anchor', [a.batchId, a.root, a.treeSize, a.entries, a.grid]);
const post = (addr: Address, a: MarketIntervalArgs, who = t.accounts.grid) => send(t, who, addr, 'postMarketInterval', [a.start, a.retailMicro, a.feedInMicro, a.results]);
const market = { intervals: [], end: 0 };

/** Random results for every interval the rides touch: two hubs, each device in one hub or none, prices of any sign. */
function randomDay(all: BatchLeaf[][], seed: number) {
  const starts = [...new Set(all.flat().filter((l) => l.synced).flatMap((l) => [Math.floor(l.startS / IV) * IV, Math.floor((l.startS + l.durationS) / IV) * IV]))].sort((a, b) => a - b);
  const devices = all.map((leaves) => leaves[0].device);
  const price = fc.integer({ min: -60_000, max: 450_000 });
  const rnd = fc.sample(fc.record({ retail: price, feedIn: price, hub2Retail: price, hub2FeedIn: price, where: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 3, maxLength: 3 }), netWh: fc.array(fc.integer({ min: -60, max: 60 }), { minLength: 3, maxLength: 3 }), off: fc.array(fc.integer({ min: -2000, max: 2000 }), { minLength: 3, maxLength: 3 }), clear: price }), { numRuns: starts.length, seed });
  const tariffs: Record<number, { retailMicroPerKwh: number; feedInMicroPerKwh: number }> = {};
  const results: IntervalResult[] = [];
  starts.forEach((k, i) => {
    const r = rnd[i];
    tariffs[k] = { retailMicroPerKwh: r.retail, feedInMicroPerKwh: r.feedIn };
    const hubs: IntervalResult[] = [
      { hub: 'hub-1', startS: k, durationS: IV, retailMicroPerKwh: r.retail, feedInMicroPerKwh: r.feedIn, priceMicroPerKwh: r.clear, tradedWh: 0, utility: { soldWh: 0, boughtWh: 0, amountNano: 0 }, participants: [] },
      { hub: 'hub-2', startS: k, durationS: IV, retailMicroPerKwh: r.hub2Retail, feedInMicroPerKwh: r.hub2FeedIn, priceMicroPerKwh: r.clear, tradedWh: 0, utility: { soldWh: 0, boughtWh: 0, amountNano: 0 }, participants: [] },
    ];
    devices.forEach((device, d) => {
      if (r.where[d] === 0) return;
      // amountNano = −netWh·price plus an offset, so amountNano·d/|netWh| rounds (and ties).
      const netWh = r.netWh[d];
      hubs[r.where[d] - 1].participants.push({ participant: device, boughtWh: 0, soldWh: 0, fromUtilityWh: 0, toUtilityWh: 0, netWh, amountNano: -netWh * r.clear + r.off[d] });
    });
    hubs[0].participants.push({ participant: 'hub-1/pv', boughtWh: 0, soldWh: 5, fromUtilityWh: 0, toUtilityWh: 0, netWh: -5, amountNano: 5 * r.clear });
    results.push(...hubs);
  });
  return { starts, tariffs, results };
}

// Short batches, so that intervals holding energy fall in two or more of them.
const batchesOf = Array.from({ length: 13 }, (_, i) => [i * 7, Math.min(90, i * 7 + 7)]);

async function marketContract(): Promise<Address> {
  const addr = await deploy(t);
  const r = await send(t, t.accounts.grid, addr, 'setMarketInterval', [IV]);
  assert.ok(r.ok, !r.ok ? r.reason : '');
  return addr;
}

test('the chain settles at the posted market results: equal to settle.ts to the pico-unit, intervals split over batches', async () => {
  const addr = await marketContract();
  const all = ['market a', 'market b', 'market c'].map((s) => fastRide(s, 90).reports.map(leafOfReport));
  const day = randomDay(all, 5);
  for (const k of day.starts) {
    const r = await post(addr, marketIntervalArgs(k, day.tariffs[k], day.results.filter((x) => x.startS === k)));
    assert.ok(r.ok, !r.ok ? r.reason : '');
  }
  let batch = 0, split = 0;
  const seen: Record<string, Set<number>> = {};
  for (const [from, to] of batchesOf) {
    const leaves = all.flatMap((l) => l.slice(from, to));
    for (const d of planBatch(leaves).devices) {
      for (const rec of marketRecords(d.grid, IV)) {
        if (seen[d.device]?.has(rec.startS)) split++;
        (seen[d.device] ??= new Set()).add(rec.startS);
      }
    }
    const r = await anchor(addr, anchorArgs(++batch, planBatch(leaves), { ...market, marketS: IV }));
    assert.ok(r.ok, !r.ok ? r.reason : '');
  }
  assert.ok(split >= 3, `intervals whose energy is in two batches: ${split}`);
  const measured = apportion(all.flat().filter((l) => l.synced).map((l) => ({ device: l.device, startS: l.startS, endS: l.startS + l.durationS, gridToPackMwh: l.gridToPackMwh, packToGridMwh: l.packToGridMwh })), IV);
  const off = settleMarket(day.results, measured, (k) => day.tariffs[k]);
  assert.is(off.length, 3);
  let matched = 0, imbalance = 0;
  for (const s of off) {
    const kid = `0x${s.device}` as Hex;
    const [, cost, revenue] = await read<[number, bigint, bigint]>(t, addr, 'devices', [kid]);
    assert.is(revenue - cost, s.marketPico, `pico-units of ${s.device}`);
    assert.is(await read<bigint>(t, addr, 'deviceBalanceMicro', [kid]), s.marketMicro);
    // Not the utility-only figure: the results matter.
    assert.is.not(s.marketPico, s.baselinePico);
    matched += Math.abs(s.atMarketMwh);
    imbalance += s.imbalanceMwh;
  }
  assert.ok(matched > 0 && imbalance > 0, `matched ${matched}, imbalance ${imbalance} mWh`);
});

test('ordering: a report of an interval without posted results is refused until they are posted; results post once', async () => {
  const addr = await marketContract();
  const all = [fastRide('market order', 30).reports.map(leafOfReport)];
  const day = randomDay(all, 9);
  const args = anchorArgs(1, planBatch(all[0]), { ...market, marketS: IV });
  const first = day.starts.find((k) => args.grid.some((w) => w >> 216n === BigInt(k)))!;
  let r = await anchor(addr, args);
  assert.is(r.ok, false);
  assert.ok(!r.ok && r.name === 'MarketIntervalNotPosted' && r.reason.includes(`start=${first}`), !r.ok ? r.reason : '');
  for (const k of day.starts) assert.ok((await post(addr, marketIntervalArgs(k, day.tariffs[k], day.results.filter((x) => x.startS === k)))).ok);
  r = await anchor(addr, args);
  assert.ok(r.ok, !r.ok ? r.reason : '');
  r = await post(addr, marketIntervalArgs(first, day.tariffs[first], []));
  assert.ok(!r.ok && r.name === 'MarketIntervalAlreadyPosted', !r.ok ? r.reason : 'posted twice');
});

test('market refusals: who posts, once on, aligned starts, sorted devices, no price record in market mode and no market record without it', async () => {
  const addr = await deploy(t);
  const one: MarketIntervalArgs = { start: 1_795_046_400, retailMicro: 300_000, feedInMicro: 80_000, results: [] };
  let r = await post(addr, one);
  assert.ok(!r.ok && r.name === 'MarketOff', !r.ok ? r.reason : '');
  // A market record to a contract without a market.
  const ride = fastRide('market refusals', 20).reports.map(leafOfReport);
  const plain = anchorArgs(1, planBatch(ride), { ...market, marketS: IV });
  assert.ok(plain.grid.length > 0);
  r = await anchor(addr, plain);
  assert.ok(!r.ok && r.name === 'MarketRecordWithoutMarket', !r.ok ? r.reason : '');
  r = await send(t, t.accounts.stranger, addr, 'setMarketInterval', [IV]);
  assert.ok(!r.ok && r.name === 'NotGridOperator', !r.ok ? r.reason : '');
  r = await send(t, t.accounts.grid, addr, 'setMarketInterval', [0]);
  assert.ok(!r.ok && r.name === 'BadMarketIntervalLength', !r.ok ? r.reason : '');
  assert.ok((await send(t, t.accounts.grid, addr, 'setMarketInterval', [IV])).ok);
  r = await send(t, t.accounts.grid, addr, 'setMarketInterval', [900]);
  assert.ok(!r.ok && r.name === 'MarketIntervalAlreadySet', !r.ok ? r.reason : '');
  r = await post(addr, one, t.accounts.anchorer);
  assert.ok(!r.ok && r.name === 'NotGridOperator', !r.ok ? r.reason : '');
  r = await post(addr, { ...one, start: one.start + 60 });
  assert.ok(!r.ok && r.name === 'BadMarketIntervalStart', !r.ok ? r.reason : '');
  const row = (device: Hex) => ({ device, netWh: 10, amountNano: -2_000_000n, retailMicro: 300_000, feedInMicro: 80_000 });
  r = await post(addr, { ...one, results: [row('0x00000000000000b0'), row('0x00000000000000a0')] });
  assert.ok(!r.ok && r.name === 'MarketResultsNotSorted', !r.ok ? r.reason : '');
  r = await post(addr, { ...one, results: [row('0x00000000000000a0'), row('0x00000000000000a0')] });
  assert.ok(!r.ok && r.name === 'MarketResultsNotSorted', !r.ok ? r.reason : '');
  // A price-series record once the market is on.
  const priced = { ...plain, grid: [encodeGridRecord({ startS: 1_795_047_125, durationS: 60, gridToPackMwh: 1, packToGridMwh: 0, priceIndex: 0, reports: 1 }), ...plain.grid.slice(1)] };
  r = await anchor(addr, priced);
  assert.ok(!r.ok && r.name === 'PriceRecordInMarket', !r.ok ? r.reason : '');
  // The encoder refuses what the word cannot hold.
  assert.throws(() => encodeMarketRecord({ startS: 1, gridToPackMwh: 2 ** 48, packToGridMwh: 0 }), /grid->pack/);
});

test('marketIntervalArgs: devices only, ascending, a device in two hubs refused', () => {
  const res = (hub: string, participants: [string, number][]): IntervalResult => ({
    hub, startS: 900, durationS: 900, retailMicroPerKwh: hub === 'a' ? 1 : 2, feedInMicroPerKwh: 0, priceMicroPerKwh: null, tradedWh: 0,
    utility: { soldWh: 0, boughtWh: 0, amountNano: 0 },
    participants: participants.map(([participant, netWh]) => ({ participant, boughtWh: 0, soldWh: 0, fromUtilityWh: 0, toUtilityWh: 0, netWh, amountNano: -netWh })),
  });
  const a = marketIntervalArgs(900, { retailMicroPerKwh: 5, feedInMicroPerKwh: 1 }, [res('a', [['ff00000000000000', 3], ['a/pv', -3]]), res('b', [['0a00000000000000', -1]])]);
  assert.equal(a.results.map((r) => [r.device, r.netWh, r.retailMicro]), [['0x0a00000000000000', -1, 2], ['0xff00000000000000', 3, 1]]);
  assert.is(a.retailMicro, 5);
  assert.throws(() => marketIntervalArgs(900, { retailMicroPerKwh: 5, feedInMicroPerKwh: 1 }, [res('a', [['ff00000000000000', 3]]), res('b', [['ff00000000000000', 1]])]), /two results/);
  assert.throws(() => marketIntervalArgs(1800, { retailMicroPerKwh: 5, feedInMicroPerKwh: 1 }, [res('a', [])]), /not at the interval/);
});

test.run();
