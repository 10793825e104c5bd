// The chaincode settling at the market's posted results (protocol/MARKET.md §5, §5.2),
// through the in-memory peer: the grid operator's identity turns the market on and posts
// each interval's results; SubmitReports settles each accepted report's share of the
// intervals with host-tools/market/settle.ts's rule, so that the balances equal
// settleMarket of the same reports to the micro-unit, however the reports of an interval
// are split over transactions. Reports of an interval not yet posted are deferred, as the
// EVM contract refuses them (MarketIntervalNotPosted); every endorsement is deterministic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { newLedger, registerDevice, submitReports, query, NOW_S, GRID, ANCHORER, RIDER, refused } from './_ledger';
import { Ride, device, BASE_S, type Device } from '../../ingest/_fixtures';
import { FabricTxError, type Endorsement, type MemoryLedger } from '../../../../host-tools/ledger/fabric/inproc';
import { makeIdentity, type FabricIdentity } from '../../../../host-tools/ledger/fabric/identity';
import { postMarketIntervalArgs } from '../../../../host-tools/ledger/fabric/market-args';
import { apportion, settleMarket, type MeasuredWindow } from '../../../../host-tools/market/settle';
import type { IntervalResult } from '../../../../host-tools/market/hub';
import { divRoundHalfEven } from '../../../../host-tools/testnet/settlement';
import { decodeSign1 } from '../../../../protocol/cose';
import { CLOCK_SYNCED, decodeReport } from '../../../../protocol/report';
import { toHex } from '../../../../protocol/bytes';

const IV = 300;
const at = { timestampS: NOW_S };
type Tariff = { retailMicroPerKwh: number; feedInMicroPerKwh: number };

interface Rec extends MeasuredWindow {
  synced: boolean;
}

const recordOf = (bytes: Uint8Array): Rec => {
  const r = decodeReport(decodeSign1(bytes).payload);
  const s = (k: 'gridToPackMwh' | 'packToGridMwh') => r.packs.reduce((n, p) => n + p[k], 0);
  return { device: toHex(r.kid), startS: r.startS, endS: r.startS + r.durationS, synced: r.clock === CLOCK_SYNCED, gridToPackMwh: s('gridToPackMwh'), packToGridMwh: s('packToGridMwh') };
};

/** `n` reports of 7-minute windows (each touches two or three 5-minute intervals), energy both ways; the first `unsynced` without trusted time. */
function rideOf(d: Device, i: number, n: number, unsynced = 0): Uint8Array[] {
  const ride = new Ride(d);
  const out: Uint8Array[] = [];
  for (let k = 0; k < n; k++) {
    const g2p = k % 3 !== 2 ? 800 + 37 * k + i : 0;
    const p2g = k % 4 === 1 ? 555 + 11 * k + 3 * i : 0;
    out.push(ride.next({
      tweak: (r) => {
        r.startS = BASE_S + k * 420 + 13 * i;
        r.durationS = 420;
        if (k < unsynced) r.clock = 0;
        r.packs[0].gridToPackMwh += g2p; r.packs[0].lifetime.gridToPackMwh += g2p;
        r.packs[1].packToGridMwh += p2g; r.packs[1].lifetime.packToGridMwh += p2g;
      },
    }));
  }
  return out;
}

/** Random results for every interval the records touch: two hubs, each device in one or none, netWh small enough that the clamp bites, prices of any sign. */
function randomDay(recs: Rec[], devices: string[], seed: number): { starts: number[]; tariffs: Record<number, Tariff>; results: IntervalResult[] } {
  const per = apportion(recs.filter((r) => r.synced), IV);
  const starts = [...new Set(Object.values(per).flatMap((x) => Object.keys(x).map(Number)))].sort((a, b) => a - b);
  const price = fc.integer({ min: -60_000, max: 450_000 });
  const n = devices.length;
  const rnd = fc.sample(fc.record({
    retail: price, feedIn: price, hub2Retail: price, hub2FeedIn: price, clear: price,
    where: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: n, maxLength: n }),
    netWh: fc.array(fc.integer({ min: -4, max: 4 }), { minLength: n, maxLength: n }),
    off: fc.array(fc.integer({ min: -2000, max: 2000 }), { minLength: n, maxLength: n }),
  }), { numRuns: starts.length, seed });
  const tariffs: Record<number, Tariff> = {};
  const results: IntervalResult[] = [];
  starts.forEach((k, j) => {
    const r = rnd[j];
    tariffs[k] = { retailMicroPerKwh: r.retail, feedInMicroPerKwh: r.feedIn };
    const hub = (name: string, retail: number, feedIn: number): IntervalResult => ({ hub: name, startS: k, durationS: IV, retailMicroPerKwh: retail, feedInMicroPerKwh: feedIn, priceMicroPerKwh: r.clear, tradedWh: 0, utility: { soldWh: 0, boughtWh: 0, amountNano: 0 }, participants: [] });
    const hubs = [hub('hub-1', r.retail, r.feedIn), hub('hub-2', r.hub2Retail, r.hub2FeedIn)];
    devices.forEach((dev, d) => {
      if (r.where[d] === 0) return;
      // amountNano = −netWh·price plus an offset, so amountNano·d/|netWh| rounds (and ties).
      const netWh = r.netWh[d];
      hubs[r.where[d] - 1].participants.push({ participant: dev, boughtWh: 0, soldWh: 0, fromUtilityWh: 0, toUtilityWh: 0, netWh, amountNano: -netWh * r.clear + r.off[d] });
    });
    // Not a device: measures nothing on the ledger, left out of the posted results.
    hubs[0].participants.push({ participant: 'hub-1/pv', boughtWh: 0, soldWh: 5, fromUtilityWh: 0, toUtilityWh: 0, netWh: -5, amountNano: 5 * r.clear });
    results.push(...hubs);
  });
  return { starts, tariffs, results };
}

async function marketLedger(): Promise<MemoryLedger> {
  const ledger = await newLedger();
  await ledger.submit(GRID, 'SetMarketInterval', [String(IV)], at);
  return ledger;
}

const postDay = async (ledger: MemoryLedger, day: ReturnType<typeof randomDay>, starts = day.starts) => {
  for (const k of starts) await ledger.submit(GRID, 'PostMarketInterval', postMarketIntervalArgs(k, day.tariffs[k], day.results.filter((r) => r.startS === k)), at);
};

test('balances equal settleMarket to the micro-unit: random results over two hubs, intervals split over transactions', async () => {
  for (const seed of [3, 17]) {
    const ledger = await marketLedger();
    const devs = [device(51), device(52), device(53)];
    const owners = ['rider-a', 'rider-a', 'rider-b'];
    for (const [i, d] of devs.entries()) await registerDevice(ledger, d, owners[i]);
    const rides = devs.map((d, i) => rideOf(d, i, 48, 2));
    const recs = rides.flat().map(recordOf);
    const day = randomDay(recs, devs.map((d) => d.id), seed);
    await postDay(ledger, day);
    // Transactions of 5 reports per device, devices interleaved: consecutive windows share
    // intervals, so an interval's energy falls in two transactions at every cut.
    let split = 0;
    for (let from = 0; from < 48; from += 5) {
      const part = rides.flatMap((r) => r.slice(from, from + 5));
      const { results } = await submitReports(ledger, part);
      assert.ok(results.every((a) => a.status === 'accepted'), JSON.stringify(results.find((a) => a.status !== 'accepted')));
      if (from > 0) {
        const before = rides[0].slice(from - 1, from).map(recordOf)[0];
        const after = rides[0][from] && recordOf(rides[0][from]);
        if (after && Math.floor((before.endS - 1) / IV) === Math.floor(after.startS / IV)) split++;
      }
    }
    assert.ok(split >= 3, `intervals whose energy is in two transactions: ${split}`);
    const measured = apportion(recs.filter((r) => r.synced), IV);
    const off = settleMarket(day.results, measured, (k) => day.tariffs[k]);
    assert.is(off.length, 3);
    let matched = 0, imbalance = 0;
    const ownerPico: Record<string, bigint> = { 'rider-a': 0n, 'rider-b': 0n };
    for (const s of off) {
      const b = (await query(ledger, 'GetDevice', [s.device])).balance;
      assert.is(BigInt(b.revenuePico) - BigInt(b.costPico), s.marketPico, `pico-units of ${s.device}, seed ${seed}`);
      assert.is(b.balanceMicro, String(s.marketMicro), `micro-units of ${s.device}`);
      // Not the utility-only figure: the results matter.
      assert.is.not(s.marketPico, s.baselinePico);
      // Energy without trusted time stays unpriced, as in settleMarket (synced windows only).
      const own = recs.filter((r) => r.device === s.device);
      assert.is(b.unpricedImportMwh, own.filter((r) => !r.synced).reduce((n, r) => n + r.gridToPackMwh, 0));
      assert.ok(b.unpricedImportMwh > 0);
      assert.is(b.importMwh, own.filter((r) => r.synced).reduce((n, r) => n + r.gridToPackMwh, 0));
      ownerPico[owners[devs.findIndex((d) => d.id === s.device)]] += s.marketPico;
      matched += Math.abs(s.atMarketMwh);
      imbalance += s.imbalanceMwh;
    }
    assert.ok(matched > 0 && imbalance > 0, `matched ${matched}, imbalance ${imbalance} mWh`);
    for (const owner of ['rider-a', 'rider-b']) {
      const got = await query(ledger, 'GetBalance', [owner]);
      assert.is(got.balanceMicro, String(divRoundHalfEven(ownerPico[owner], 1_000_000n)), owner);
      // The history's per-report values add up to the owner's day.
      const net = got.history.reduce((n: bigint, h: any) => n + BigInt(h.revenuePico ?? 0) - BigInt(h.costPico ?? 0), 0n);
      assert.is(net, ownerPico[owner]);
    }
  }
});

test('ordering: a report with energy in an unposted interval is deferred with its successors, and accepted once the results are posted', async () => {
  const ledger = await marketLedger();
  const a = device(61), b = device(62);
  await registerDevice(ledger, a, 'rider-a');
  await registerDevice(ledger, b, 'rider-b');
  // a: a first report without grid energy, then reports with it.
  const ra = new Ride(a);
  const motorOnly = ra.next({ tweak: (r) => { r.startS = BASE_S; r.durationS = 420; } });
  const rest = rideOf(a, 0, 6).slice(1);
  // rideOf's chain starts at seq 0: re-sign the rest on a's chain after motorOnly.
  const chained = rest.map((bytes) => {
    const r = recordOf(bytes);
    return ra.next({ tweak: (x) => { x.startS = r.startS; x.durationS = 420; x.packs[0].gridToPackMwh += r.gridToPackMwh; x.packs[0].lifetime.gridToPackMwh += r.gridToPackMwh; x.packs[1].packToGridMwh += r.packToGridMwh; x.packs[1].lifetime.packToGridMwh += r.packToGridMwh; } });
  });
  // b: no trusted time: never waits for the market, unpriced.
  const unsynced = rideOf(b, 1, 2, 2);
  let { results } = await submitReports(ledger, [motorOnly, ...chained.slice(0, 3), ...unsynced]);
  assert.equal(results.map((x) => x.status), ['accepted', 'deferred', 'deferred', 'deferred', 'accepted', 'accepted']);
  assert.is(results[1].reason, 'MarketIntervalNotPosted');
  const first = Math.floor(recordOf(chained[0]).startS / IV) * IV;
  assert.match(results[1].detail!, new RegExp(`seq 1 has grid energy in the market interval at ${first}, whose results are not posted`));
  assert.match(results[2].detail!, /waits behind seq 1/);
  assert.is((await query(ledger, 'GetDevice', [a.id])).headSeq, 0, 'the head did not move past the deferred report');
  assert.is((await query(ledger, 'GetDevice', [b.id])).balance.unpricedImportMwh, recordOf(unsynced[0]).gridToPackMwh + recordOf(unsynced[1]).gridToPackMwh);
  const recs = [motorOnly, ...chained].map(recordOf);
  const day = randomDay(recs, [a.id], 23);
  // Only the first interval posted: the report touching the next one still waits.
  await postDay(ledger, day, [first]);
  assert.is((await query(ledger, 'GetMarketInterval', [String(first)])).interval.startS, first);
  ({ results } = await submitReports(ledger, chained.slice(0, 3)));
  assert.is(results[0].status, 'deferred');
  assert.match(results[0].detail!, new RegExp(`interval at ${first + IV}`));
  await postDay(ledger, day, day.starts.filter((k) => k !== first));
  ({ results } = await submitReports(ledger, chained));
  assert.ok(results.every((x) => x.status === 'accepted'), JSON.stringify(results));
  const off = settleMarket(day.results, apportion(recs, IV), (k) => day.tariffs[k]);
  const bal = (await query(ledger, 'GetDevice', [a.id])).balance;
  assert.is(BigInt(bal.revenuePico) - BigInt(bal.costPico), off[0].marketPico);
  assert.is(bal.balanceMicro, String(off[0].marketMicro));
  // Results are final: posted once.
  await refused(ledger.submit(GRID, 'PostMarketInterval', postMarketIntervalArgs(first, day.tariffs[first], []), at), /MarketIntervalAlreadyPosted: the interval at \d+/);
});

test('market refusals: who posts, once on, aligned starts, sorted devices, figures in range; the price series without a market', async () => {
  const ledger = await newLedger();
  const start = 1_795_046_400;
  const row = (dev: string, netWh: unknown = 10) => ({ device: dev, netWh, amountNano: -2_000_000, retailMicro: 300_000, feedInMicro: 80_000 });
  const post = (rows: unknown[], s = start, who: FabricIdentity = GRID) => ledger.submit(who, 'PostMarketInterval', [String(s), '300000', '80000', JSON.stringify(rows)], at);
  await refused(post([]), /MarketOff/);
  await refused(ledger.submit(ANCHORER, 'SetMarketInterval', [String(IV)], at), /NotGridOperator: the caller is of MSP HubMSP/);
  await refused(ledger.submit(makeIdentity(GRID.mspId, 'clerk', { 'deep.role': 'client' }), 'SetMarketInterval', [String(IV)], at), /NotGridOperator: the caller's certificate has deep.role="client"/);
  await refused(ledger.submit(GRID, 'SetMarketInterval', ['0'], at), /BadMarketIntervalLength/);
  assert.is((await query(ledger, 'GetMarketInterval', [String(start)])).intervalS, 0);
  await ledger.submit(GRID, 'SetMarketInterval', [String(IV)], at);
  await refused(ledger.submit(GRID, 'SetMarketInterval', ['900'], at), /MarketIntervalAlreadySet: the market's interval is 300 s/);
  await refused(post([], start, RIDER), /NotGridOperator/);
  await refused(post([], start + 60), /BadMarketIntervalStart: startS 1795046460 is not a multiple of the market's interval 300 s/);
  await refused(post([row('00000000000000b0'), row('00000000000000a0')]), /MarketResultsNotSorted: results\[1\]\.device 00000000000000a0/);
  await refused(post([row('00000000000000a0'), row('00000000000000a0')]), /MarketResultsNotSorted/);
  await refused(post([row('0000000000000000')]), /BadMarketResult: results\[0\]\.device is zero/);
  await refused(post([row('00000000000000A0')]), /results\[0\]\.device: expected a kid/);
  await refused(post([row('00000000000000a0', 2 ** 31)]), /results\[0\]\.netWh: expected an integer/);
  await refused(post([row('00000000000000a0', 1.5)]), /results\[0\]\.netWh: expected an integer/);
  await refused(ledger.submit(GRID, 'PostMarketInterval', [String(start), String(2 ** 47), '0', '[]'], at), /retailMicro: expected an integer/);
  await refused(ledger.submit(GRID, 'PostMarketInterval', [String(start), '0', '0', '{'], at), /results: not JSON/);
  const ok = JSON.parse((await post([row('00000000000000a0'), row('00000000000000b0', -3)])).result);
  assert.equal(ok.results.map((r: any) => [r.device, r.netWh]), [['00000000000000a0', 10], ['00000000000000b0', -3]]);
});

const same = (a: Endorsement, b: Endorsement, what: string) => {
  assert.is(a.status, 200, `${what}: ${a.message}`);
  assert.equal(a.reads, b.reads, `${what}: read sets differ`);
  assert.equal(a.writes.map(([k, v]) => [k, v && Buffer.from(v).toString('hex')]), b.writes.map(([k, v]) => [k, v && Buffer.from(v).toString('hex')]), `${what}: write sets differ`);
  assert.is(Buffer.from(a.payload).toString('hex'), Buffer.from(b.payload).toString('hex'), `${what}: answers differ`);
};

test('determinism: every market transaction endorsed twice (clock and randomness moved) writes the same set', async () => {
  const ledger = await newLedger();
  const devs = [device(71), device(72)];
  for (const [i, d] of devs.entries()) await registerDevice(ledger, d, `rider-${i}`);
  const rides = devs.map((d, i) => rideOf(d, i, 12, 1));
  const day = randomDay(rides.flat().map(recordOf), devs.map((d) => d.id), 41);
  const txs: [string, string[]][] = [
    ['SetMarketInterval', [String(IV)]],
    ...day.starts.map((k): [string, string[]] => ['PostMarketInterval', postMarketIntervalArgs(k, day.tariffs[k], day.results.filter((r) => r.startS === k))]),
    ...[0, 6].map((from): [string, string[]] => ['SubmitReports', [Buffer.concat(rides.flatMap((r) => r.slice(from, from + 6))).toString('base64')]]),
  ];
  const realNow = Date.now, realRandom = Math.random;
  let slots = 0;
  try {
    for (const [n, [fn, args]] of txs.entries()) {
      const txId = `market-${n}`;
      Date.now = () => realNow() + 86_400_000 * 400;
      Math.random = () => 0.999;
      const a = await ledger.endorse(GRID, fn, args, { timestampS: NOW_S, txId });
      Date.now = () => 0;
      Math.random = () => 0;
      const b = await ledger.endorse(GRID, fn, args, { timestampS: NOW_S, txId });
      same(a, b, fn);
      if (fn === 'SubmitReports') slots += a.writes.filter(([k]) => k.includes('deep.marketSlot')).length;
      ledger.commit(a);
    }
  } finally {
    Date.now = realNow;
    Math.random = realRandom;
  }
  assert.ok(slots > 0, 'the reports moved market slots');
  assert.ok((await query(ledger, 'GetDevice', [devs[0].id])).headSeq === 11);
});

test.run();
