// The testnet's Fabric leg (host-tools/testnet/fabric.ts) without bikes: a device registered
// through a chaincode challenge, its reports read back from an ingest node's report API,
// submitted, and the chaincode's balances compared with settlement.ts; a difference is
// reported, and the run's summary line and verdict carry the outcome.
import '../../../host-tools/ledger/fabric/quiet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FabricInproc, expectedAtPrices } from '../../../host-tools/testnet/fabric';
import { loadPrices, DAY_S } from '../../../host-tools/testnet/prices';
import { settle, type GridFlowRecord } from '../../../host-tools/testnet/settlement';
import { finalLine, runOk, type RunSummary } from '../../../host-tools/testnet/summary';
import { makePairingProof } from '../../../protocol/pairing';
import { apportion, settleMarket } from '../../../host-tools/market/settle';
import type { IntervalResult } from '../../../host-tools/market/hub';
import { decodeSign1 } from '../../../protocol/cose';
import { CLOCK_SYNCED, decodeReport } from '../../../protocol/report';
import { Ride, device, BASE_S } from '../ingest/_fixtures';

test('reports from the node API through the chaincode; balances equal the settlement, a difference is named', async () => {
  const series = loadPrices();
  const nowS = () => Math.floor(Date.now() / 1000);
  const from = BASE_S - (BASE_S % DAY_S);
  const f = await FabricInproc.start(series, from, from + 2 * DAY_S, nowS);
  const dev = device(61);
  const challenge = await f.challenge();
  const proof = makePairingProof({ challenge: new Uint8Array(Buffer.from(challenge, 'hex')), publicKey: dev.publicKey, firmware: 256 }, dev.sign);
  assert.is(await f.register(Buffer.from(proof).toString('base64'), 'rider-of-bike1'), dev.id);
  const ride = new Ride(dev);
  const reports = Array.from({ length: 7 }, (_, k) => ride.next({ tweak: (r) => { r.packs[0].gridToPackMwh += 900 + k; r.packs[0].lifetime.gridToPackMwh += 900 + k; } }));
  // the ingest node's GET /v1/devices/{id}/reports, two pages of 4 and 3
  const server = createServer((req, res) => {
    const after = Number(new URL(req.url!, 'http://x').searchParams.get('after'));
    const page = reports.slice(after + 1, after + 5).map((b, i) => ({ seq: after + 1 + i, cose: Buffer.from(b).toString('base64') }));
    const last = after + page.length;
    res.end(JSON.stringify({ reports: page, next: last < reports.length - 1 ? `/v1/devices/${dev.id}/reports?after=${last}&limit=4` : null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const sub = await f.submitFromNode(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, [dev.id]);
    assert.equal(sub, { accepted: 7, rejected: 0, deferred: 0, transactions: 2, problems: [] });
  } finally {
    server.close();
  }
  const records: GridFlowRecord[] = reports.map((b) => {
    const r = decodeReport(decodeSign1(b).payload);
    return { device: dev.id, seq: r.seq, startS: r.startS, endS: r.startS + r.durationS, synced: r.clock === CLOCK_SYNCED, gridToPackMwh: r.packs.reduce((n, p) => n + p.gridToPackMwh, 0), packToGridMwh: 0 };
  });
  const balances = settle(series, records);
  assert.ok(balances[0].costPico > 0n);
  assert.equal(await f.compare(balances.map(expectedAtPrices), { [dev.id]: 'rider-of-bike1' }), []);
  const off = [{ ...balances[0], balanceMicro: balances[0].balanceMicro + 1n }];
  const m = await f.compare(off.map(expectedAtPrices), { [dev.id]: 'rider-of-bike1' });
  assert.is(m.length, 2);
  assert.match(m[0], new RegExp(`device ${dev.id}: balanceMicro ${balances[0].balanceMicro} in the chaincode, ${off[0].balanceMicro} off chain`));
  assert.match(m[1], /owner rider-of-bike1: balance/);
});

/** The ingest node's GET /v1/devices/{id}/reports over `reports`, pages of 4. */
async function nodeApi(id: string, reports: Uint8Array[]): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    const after = Number(new URL(req.url!, 'http://x').searchParams.get('after'));
    const page = reports.slice(after + 1, after + 5).map((b, i) => ({ seq: after + 1 + i, cose: Buffer.from(b).toString('base64') }));
    const last = after + page.length;
    res.end(JSON.stringify({ reports: page, next: last < reports.length - 1 ? `/v1/devices/${id}/reports?after=${last}&limit=4` : null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

test('with the market on: results posted once each, reports deferred until then, balances equal settleMarket', async () => {
  const IV = 300;
  const series = loadPrices();
  const nowS = () => Math.floor(Date.now() / 1000);
  const from = BASE_S - (BASE_S % DAY_S);
  const f = await FabricInproc.start(series, from, from + 2 * DAY_S, nowS, IV);
  const dev = device(62);
  const challenge = await f.challenge();
  const proof = makePairingProof({ challenge: new Uint8Array(Buffer.from(challenge, 'hex')), publicKey: dev.publicKey, firmware: 256 }, dev.sign);
  await f.register(Buffer.from(proof).toString('base64'), 'rider-of-bike2');
  const ride = new Ride(dev);
  // 7-minute windows, energy both ways: intervals shared between reports and transactions.
  const reports = Array.from({ length: 9 }, (_, k) => ride.next({ tweak: (r) => {
    r.startS = BASE_S + 420 * k; r.durationS = 420;
    r.packs[0].gridToPackMwh += 2100 + k; r.packs[0].lifetime.gridToPackMwh += 2100 + k;
    r.packs[1].packToGridMwh += 300 * (k % 3); r.packs[1].lifetime.packToGridMwh += 300 * (k % 3);
  } }));
  const windows = reports.map((b) => {
    const r = decodeReport(decodeSign1(b).payload);
    return { device: dev.id, startS: r.startS, endS: r.startS + r.durationS, gridToPackMwh: r.packs.reduce((n, p) => n + p.gridToPackMwh, 0), packToGridMwh: r.packs.reduce((n, p) => n + p.packToGridMwh, 0) };
  });
  const measured = apportion(windows, IV);
  const starts = Object.keys(measured[dev.id]).map(Number).sort((a, b) => a - b);
  const tariff = (k: number) => ({ retailMicroPerKwh: 250_000 + (k % 7), feedInMicroPerKwh: 70_000 - (k % 5) });
  // A result in every other interval: bought 3 Wh at a price of its own, against a measured ~5 Wh.
  const results: IntervalResult[] = starts.filter((_, i) => i % 2 === 0).map((k) => ({
    hub: 'hub-1', startS: k, durationS: IV, retailMicroPerKwh: 260_000, feedInMicroPerKwh: 60_000, priceMicroPerKwh: 120_000, tradedWh: 3,
    utility: { soldWh: 0, boughtWh: 0, amountNano: 0 }, participants: [{ participant: dev.id, boughtWh: 3, soldWh: 0, fromUtilityWh: 0, toUtilityWh: 0, netWh: 3, amountNano: -360_001 }],
  }));
  const api = await nodeApi(dev.id, reports);
  try {
    // Nothing posted: the first page's reports wait, and the device's later pages are not sent.
    let sub = await f.submitFromNode(api.url, [dev.id]);
    assert.equal({ accepted: sub.accepted, deferred: sub.deferred, rejected: sub.rejected, transactions: sub.transactions }, { accepted: 0, deferred: 4, rejected: 0, transactions: 1 });
    assert.match(sub.problems[0], /deferred: device \S+ seq 0 has grid energy in the market interval at \d+, whose results are not posted/);
    for (const k of starts) await f.postMarket(k, tariff(k), results.filter((r) => r.startS === k));
    // Posting again is a no-op, as for the EVM chain (the chaincode would refuse it).
    await f.postMarket(starts[0], tariff(starts[0]), []);
    sub = await f.submitFromNode(api.url, [dev.id]);
    assert.equal({ accepted: sub.accepted, deferred: sub.deferred, rejected: sub.rejected }, { accepted: 9, deferred: 0, rejected: 0 });
  } finally {
    api.close();
  }
  const s = settleMarket(results, measured, tariff)[0];
  assert.is.not(s.marketPico, s.baselinePico, 'the results change the balance');
  const want = { device: dev.id, balanceMicro: s.marketMicro, netPico: s.marketPico, reports: 9, unpricedImportMwh: 0, unpricedExportMwh: 0 };
  assert.equal(await f.compare([want], { [dev.id]: 'rider-of-bike2' }), []);
  // The utility-price settlement of the same reports is not what the chaincode holds.
  const atPrices = settle(series, windows.map((w, seq) => ({ ...w, seq, synced: true })))[0];
  assert.ok((await f.compare([expectedAtPrices(atPrices)], { [dev.id]: 'rider-of-bike2' })).some((m) => m.includes('netPico')));
});

test('the summary line carries the chaincode outcome; the run fails when it differs', () => {
  const s: RunSummary = { series: loadPrices(), reports: 2, verified: 2, rejected: 0, simMs: 1, wallMs: 1, bikes: [], fabric: { accepted: 2, rejected: 0, deferred: 0, transactions: 1, against: 'market', settledOk: true, mismatches: [] } };
  assert.is(finalLine(s), 'bikes=0 reports=2 verified=2 rejected=0 max_error_mwh=0 chaincode_accepted=2 chaincode_settled_ok=1');
  assert.ok(runOk(s));
  assert.not.ok(runOk({ ...s, fabric: { ...s.fabric!, settledOk: false } }));
  assert.not.ok(runOk({ ...s, fabric: { ...s.fabric!, accepted: 1 } }));
});

test.run();
