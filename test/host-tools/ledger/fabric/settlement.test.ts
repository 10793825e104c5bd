// Settlement in the chaincode: prices posted by the grid operator's identity only (its MSP
// and the deep.role attribute), balances per device and per owner with the integer rules
// of host-tools/testnet/settlement.ts, equal to the off-chain settlement of the same
// reports to the micro-unit; a rider's balance comes with its history, report by report.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newLedger, registerDevice, submitReports, query, NOW_S, GRID, ANCHORER, RIDER, refused } from './_ledger';
import { Ride, device, BASE_S } from '../../ingest/_fixtures';
import { makeIdentity } from '../../../../host-tools/ledger/fabric/identity';
import { postPricesArgs } from '../../../../host-tools/ledger/fabric/prices-args';
import { loadPrices, DAY_S } from '../../../../host-tools/testnet/prices';
import { addRecord, emptyBalance, settle, type GridFlowRecord } from '../../../../host-tools/testnet/settlement';
import { decodeSign1 } from '../../../../protocol/cose';
import { CLOCK_SYNCED, decodeReport } from '../../../../protocol/report';
import { toHex } from '../../../../protocol/bytes';

const at = { timestampS: NOW_S };

const record = (bytes: Uint8Array): GridFlowRecord => {
  const r = decodeReport(decodeSign1(bytes).payload);
  const s = (k: 'gridToPackMwh' | 'packToGridMwh') => r.packs.reduce((n, p) => n + p[k], 0);
  return { device: toHex(r.kid), seq: r.seq, startS: r.startS, endS: r.startS + r.durationS, synced: r.clock === CLOCK_SYNCED, gridToPackMwh: s('gridToPackMwh'), packToGridMwh: s('packToGridMwh') };
};

test('PostPrices: grid operator only; the EVM contract\'s series rules', async () => {
  const ledger = await newLedger();
  const iv = (startS: number, importMicro = 200000, exportMicro = 90000) => ({ startS, importMicro, exportMicro });
  const post = (who = GRID, list: unknown = [iv(1000), iv(2000)], end = '3000') => ledger.submit(who, 'PostPrices', [JSON.stringify(list), end], at);
  await refused(post(ANCHORER), /NotGridOperator: the caller is of MSP HubMSP/);
  await refused(post(makeIdentity(GRID.mspId, 'clerk', { 'deep.role': 'client' })), /NotGridOperator: the caller's certificate has deep.role="client"/);
  await refused(post(makeIdentity('OtherMSP', 'op', { 'deep.role': 'grid-operator' })), /NotGridOperator: the caller is of MSP OtherMSP/);
  await refused(post(GRID, []), /NoPrices/);
  await refused(post(GRID, [iv(2000), iv(1000)]), /PricesNotIncreasing/);
  await refused(post(GRID, [iv(1000), iv(2000)], '2000'), /BadPricesEnd/);
  await refused(post(GRID, [iv(1000, 0.5)]), /intervals\[0\]\.importMicro: expected an integer/);
  await refused(post(GRID, [iv(1000, 2 ** 47)]), /importMicro: expected an integer/);
  await post();
  await refused(post(GRID, [iv(3600)], '4000'), /PricesNotContiguous: intervals\[0\]\.startS 3600, the series ends at 3000/);
  await post(GRID, [iv(3000, -5000, -6000)], '4000');
  assert.equal((await query(ledger, 'GetPrices', [])).map((p: any) => [p.startS, p.endS, p.importMicroPerKwh]), [[1000, 2000, 200000], [2000, 3000, 200000], [3000, 4000, -5000]]);
});

test('balances per device and per owner equal the off-chain settlement; unsynced and unpriced energy is counted apart', async () => {
  const series = loadPrices();
  const ledger = await newLedger();
  // the sample daily profile for the two UTC days the rides can touch
  const from = BASE_S - (BASE_S % DAY_S);
  for (const args of postPricesArgs(series, from, from + 2 * DAY_S)) await ledger.submit(GRID, 'PostPrices', args, at);
  const devs = [device(41), device(42), device(43)];
  const owners = ['rider-a', 'rider-a', 'rider-b'];
  for (const [i, d] of devs.entries()) await registerDevice(ledger, d, owners[i]);
  const all: Uint8Array[] = [];
  for (const [i, d] of devs.entries()) {
    const ride = new Ride(d);
    const mine: Uint8Array[] = [];
    for (let k = 0; k < 90; k++) {
      const g2p = k % 3 === 0 ? 1000 + 37 * k + i : 0;
      const p2g = k % 4 === 1 ? 555 + 11 * k : 0;
      mine.push(ride.next({
        tweak: (r) => {
          // 7-minute windows so that some straddle the sample's price intervals
          r.startS = BASE_S + k * 420 + i;
          r.durationS = 420;
          if (k < 3) r.clock = 0; // before the first clock sync: no trusted time
          r.packs[0].gridToPackMwh += g2p; r.packs[0].lifetime.gridToPackMwh += g2p;
          r.packs[1].packToGridMwh += p2g; r.packs[1].lifetime.packToGridMwh += p2g;
        },
      }));
    }
    all.push(...mine);
  }
  // in several transactions, devices interleaved
  for (let i = 0; i < 90; i += 30) {
    const part = devs.flatMap((_, d) => all.slice(d * 90 + i, d * 90 + i + 30));
    const { results } = await submitReports(ledger, part);
    assert.ok(results.every((a) => a.status === 'accepted'), JSON.stringify(results.find((a) => a.status !== 'accepted')));
  }
  const records = all.map(record);
  const offChain = settle(series, records);
  for (const b of offChain) {
    const d = await query(ledger, 'GetDevice', [b.device]);
    assert.equal(
      { ...d.balance },
      { importMwh: b.importMwh, exportMwh: b.exportMwh, unpricedImportMwh: b.unpricedImportMwh, unpricedExportMwh: b.unpricedExportMwh, costPico: String(b.costPico), revenuePico: String(b.revenuePico), balanceMicro: String(b.balanceMicro), reports: b.reports },
      `device ${b.device}`,
    );
  }
  assert.ok(offChain.every((b) => b.unpricedImportMwh > 0 && b.costPico > 0n && b.revenuePico > 0n), 'the day has priced and unpriced energy on both sides');
  for (const owner of ['rider-a', 'rider-b']) {
    const expected = emptyBalance(owner);
    for (const r of records) if (owners[devs.findIndex((d) => d.id === r.device)] === owner) addRecord(series, expected, r);
    const got = await query(ledger, 'GetBalance', [owner]);
    assert.is(got.balanceMicro, String(expected.balanceMicro), owner);
    assert.is(got.costPico, String(expected.costPico));
    assert.is(got.revenuePico, String(expected.revenuePico));
    // the history: one entry per report with grid energy, its values adding up to the balance's
    const withGrid = records.filter((r) => owners[devs.findIndex((d) => d.id === r.device)] === owner && (r.gridToPackMwh || r.packToGridMwh));
    assert.is(got.history.length, withGrid.length);
    const cost = got.history.reduce((n: bigint, h: any) => n + BigInt(h.costPico ?? 0), 0n);
    assert.is(cost, expected.costPico);
    assert.ok(got.history.some((h: any) => h.costPico === null && !h.synced), 'unsynced reports are in the history, unpriced');
    // the same history a page at a time
    const pages: any[] = [];
    let bookmark = '';
    let n = 0;
    do {
      const p = await query(ledger, 'GetHistory', [owner, '7', bookmark]);
      assert.ok(p.entries.length <= 7);
      pages.push(...p.entries);
      bookmark = p.bookmark;
      n++;
    } while (bookmark !== '' && n < 100);
    assert.equal(pages, got.history);
    assert.is(n, Math.max(1, Math.ceil(got.history.length / 7)), 'the last page says so with an empty bookmark');
  }
  // an owner with nothing
  assert.is((await query(ledger, 'GetBalance', ['nobody'])).balanceMicro, '0');
  void RIDER;
});

test.run();
