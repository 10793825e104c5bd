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

test('the summary line carries the chaincode outcome; the run fails when it differs', () => {
  const s: RunSummary = { series: loadPrices(), reports: 2, verified: 2, rejected: 0, simMs: 1, wallMs: 1, bikes: [], fabric: { accepted: 2, rejected: 0, deferred: 0, transactions: 1, against: 'market', settledOk: true, mismatches: [] } };
  assert.is(finalLine(s), 'bikes=0 reports=2 verified=2 rejected=0 max_error_mwh=0 chaincode_accepted=2 chaincode_settled_ok=1');
  assert.ok(runOk(s));
  assert.not.ok(runOk({ ...s, fabric: { ...s.fabric!, settledOk: false } }));
  assert.not.ok(runOk({ ...s, fabric: { ...s.fabric!, accepted: 1 } }));
});

test.run();
