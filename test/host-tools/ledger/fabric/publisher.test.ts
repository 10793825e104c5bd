// The ingest node anchoring its batches with the chaincode's AnchorBatch through the real
// @hyperledger/fabric-gateway client, against a fake Gateway (./_gateway.ts) where no peer
// exists: every batch once and in order through a gateway outage, a submission the
// orderer lost (the same signed bytes are sent again), a commit whose answer was lost
// followed by a node restart; another writer or a missing role stops the publisher.
import '../../../../host-tools/ledger/fabric/quiet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { startIngestNode, type IngestNode } from '../../../../host-tools/ingest/node';
import { createLogger } from '../../../../host-tools/ingest/log';
import { connectFabric, type FabricLedgerClient } from '../../../../host-tools/ledger/fabric/gateway';
import { makeIdentity, type FabricIdentity } from '../../../../host-tools/ledger/fabric/identity';
import { FABRIC_CHAIN_ID } from '../../../../host-tools/ledger/fabric/publisher';
import type { BatchStore } from '../../../../host-tools/ingest/sqlite-batches';
import { Ride, device, register, postReports, cborArray, getJson, tempDir } from '../../ingest/_fixtures';
import { newLedger, ANCHORER, NOW_S } from './_ledger';
import { startFakeGateway, type FakeGateway } from './_gateway';

const PEER = makeIdentity('HubMSP', 'peer0', { 'deep.role': 'peer' });
const logs: string[] = [];

function client(fake: FakeGateway, who: FabricIdentity = ANCHORER): FabricLedgerClient {
  return connectFabric({ endpoint: fake.url, mspId: who.mspId, certificate: who.certificate, privateKey: who.privateKey, channel: 'deep', chaincode: 'deep', evaluateMs: 2000, endorseMs: 2000, submitMs: 2000, commitStatusMs: 2000 });
}

async function startNode(db: string, c: FabricLedgerClient): Promise<IngestNode> {
  return startIngestNode({
    db, port: 0, workers: 1,
    logger: createLogger({ level: 'debug', sink: { write: (l: string) => logs.push(l) } }),
    batch: { intervalMs: 3_600_000, maxReports: 50 },
    fabric: { client: c, channel: 'deep', chaincode: 'deep', mspId: ANCHORER.mspId, pollMs: 40 },
  });
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; last log: ${logs.slice(-3).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

const anchorTxs = (fake: FakeGateway) => fake.ledger.committed.filter((t) => t.status === 200 && t.event?.name === 'DeepBatchAnchored');

test('every batch anchored once and in order through an outage, a lost submission, a lost answer and a restart', async () => {
  const tmp = tempDir();
  const db = path.join(tmp.dir, 'ledger.db');
  const ledger = await newLedger();
  const fake = await startFakeGateway(ledger, { identity: PEER });
  let c = client(fake);
  let node = await startNode(db, c);
  const rides = [device(71), device(72)].map((d) => new Ride(d));
  try {
    for (const r of rides) assert.is((await register(node.url, r.dev)).status, 201);
    const feed = async (n: number) => {
      const res = await postReports(node.url, cborArray(rides.flatMap((r) => r.take(n))));
      assert.is(res.json.accepted, n * rides.length);
      node.batcher!.closeDue(Date.now() + 3_600_000);
    };
    const batches = () => node.store.batches as BatchStore;
    const anchoredUpTo = (id: number) => async () => node.publisher!.status().lastConfirmed >= id;

    // 1. two batches, in order
    await feed(4);
    await feed(3);
    await until(anchoredUpTo(2), 'batches 1 and 2');
    // 2. the gateway is down: nothing moves, the publisher says why, then catches up
    fake.down = true;
    await feed(2);
    await until(() => node.publisher!.status().lastError !== null, 'an error while down');
    assert.is(node.publisher!.status().lastConfirmed, 2);
    fake.down = false;
    await until(anchoredUpTo(3), 'batch 3 after the outage');
    // 3. the orderer loses a submission: the same signed bytes go again, one transaction id
    fake.loseNextSubmit = true;
    await feed(2);
    await until(anchoredUpTo(4), 'batch 4 after a lost submission');
    assert.is(batches().txsOf(4).length, 1);
    // 4. committed, but the answer is lost and the node stops at once: after a restart the
    //    publisher finds the batch on the channel and sends nothing again
    fake.failAfterNextCommit = true;
    await feed(2);
    await until(() => anchorTxs(fake).length === 5, 'batch 5 committed');
    await node.close();
    c.close();
    c = client(fake);
    node = await startNode(db, c);
    await until(anchoredUpTo(5), 'batch 5 recorded after the restart');
    await feed(1);
    await until(anchoredUpTo(6), 'batch 6 after the restart');

    // Each batch is in the chaincode once, in order, with the node's root and size.
    const committed = anchorTxs(fake).map((t) => JSON.parse(Buffer.from(t.event!.payload).toString()));
    assert.equal(committed.map((e) => e.batchId), [1, 2, 3, 4, 5, 6]);
    for (let id = 1; id <= 6; id++) {
      const b = batches().get(id)!;
      assert.is(committed[id - 1].root, Buffer.from(b.root).toString('hex'));
      assert.is(committed[id - 1].size, b.size);
      const a = batches().anchorOf(id)!;
      assert.is(a.chainId, FABRIC_CHAIN_ID);
      assert.is(a.contract, 'fabric:deep/deep');
      assert.is(batches().txsOf(id).length, 1, `batch ${id}: one transaction endorsed`);
      assert.is(a.txHash, batches().txsOf(id)[0].hash);
    }
    // the lost submission went to the orderer once, its resend once more: the same id
    const lostId = batches().txsOf(4)[0].hash;
    assert.is(fake.ordered.filter((x) => x === lostId).length, 1);
    // and nothing else was ordered twice: batch 5 was not sent again after the restart
    assert.is(fake.ordered.length, 6);
    assert.is(new Set(fake.ordered).size, 6);
    // proofs name the Fabric target
    const d = rides[0].dev.id;
    const proof = await getJson(`${node.url}/v1/reports/${d}/0/proof`);
    assert.is(proof.json.anchor.state, 'confirmed');
    assert.is(proof.json.anchor.contract, 'fabric:deep/deep');
    const inc = await c.evaluate('VerifyInclusion', [String(proof.json.batch), proof.json.leafHash, String(proof.json.leafIndex), JSON.stringify(proof.json.auditPath)]);
    assert.is(inc, 'true');
  } finally {
    await node.close();
    c.close();
    await fake.close();
    tmp.cleanup();
  }
});

test('another writer on the chaincode, or an identity without the anchorer role, stops the publisher', async () => {
  for (const [who, expect] of [[ANCHORER, /another writer uses this chaincode/], [makeIdentity(ANCHORER.mspId, 'clerk', { 'deep.role': 'client' }), /refuses this node's anchoring: .*NotAnchorer/]] as const) {
    const tmp = tempDir();
    const ledger = await newLedger();
    if (who === ANCHORER) await ledger.submit(ANCHORER, 'AnchorBatch', ['1', 'cd'.repeat(32), '1', JSON.stringify([{ device: '00'.repeat(8), firstSeq: 0, lastSeq: 0 }])], { timestampS: NOW_S });
    const fake = await startFakeGateway(ledger, { identity: PEER });
    const c = client(fake, who);
    const node = await startNode(path.join(tmp.dir, 'ledger.db'), c);
    try {
      const r = new Ride(device(80));
      await register(node.url, r.dev);
      await postReports(node.url, cborArray(r.take(2)));
      node.batcher!.closeDue(Date.now() + 3_600_000);
      await until(() => node.publisher!.status().fatal !== null, 'a fatal stop');
      assert.match(node.publisher!.status().fatal!, expect);
      assert.is(anchorTxs(fake).length, who === ANCHORER ? 1 : 0, 'nothing anchored by the node');
    } finally {
      await node.close();
      c.close();
      await fake.close();
      tmp.cleanup();
    }
  }
});

test('the connection file: paths relative to it, errors name the file and the field, never the key', async () => {
  const tmp = tempDir();
  try {
    const { writeFileSync } = await import('node:fs');
    const { loadFabricConnection } = await import('../../../../host-tools/ledger/fabric/gateway');
    writeFileSync(path.join(tmp.dir, 'node.pem'), ANCHORER.certificate);
    writeFileSync(path.join(tmp.dir, 'node.key'), ANCHORER.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const file = path.join(tmp.dir, 'fabric.json');
    const conf = { endpoint: 'peer0.hub.example:7051', hostOverride: 'peer0', mspId: 'HubMSP', certFile: 'node.pem', keyFile: 'node.key', channel: 'deep', chaincode: 'deep' };
    writeFileSync(file, JSON.stringify(conf));
    const c = loadFabricConnection(file);
    assert.equal([c.endpoint, c.mspId, c.channel, c.chaincode, c.tlsRootCert], ['peer0.hub.example:7051', 'HubMSP', 'deep', 'deep', undefined]);
    assert.is(c.certificate, ANCHORER.certificate);
    writeFileSync(file, JSON.stringify({ ...conf, keyFile: 'node.pem' }));
    assert.throws(() => loadFabricConnection(file), (e: Error) => e.message === `${file}: "keyFile" does not hold a PEM private key`);
    writeFileSync(file, JSON.stringify({ ...conf, tlsRootCertFile: 'ca.pem' }));
    assert.throws(() => loadFabricConnection(file), /"tlsRootCertFile": cannot read .*ca\.pem: ENOENT/);
    writeFileSync(file, JSON.stringify({ ...conf, channel: 7 }));
    assert.throws(() => loadFabricConnection(file), /"channel" expected a non-empty string/);
  } finally {
    tmp.cleanup();
  }
});

test('deep ingest --fabric FILE: the command-line node anchors through its connection file', async () => {
  const { spawn } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const tmp = tempDir();
  const ledger = await newLedger();
  const fake = await startFakeGateway(ledger, { identity: PEER });
  writeFileSync(path.join(tmp.dir, 'node.pem'), ANCHORER.certificate);
  writeFileSync(path.join(tmp.dir, 'node.key'), ANCHORER.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(path.join(tmp.dir, 'fabric.json'), JSON.stringify({ endpoint: fake.url, mspId: ANCHORER.mspId, certFile: 'node.pem', keyFile: 'node.key', channel: 'deep', chaincode: 'deep' }));
  const { ROOT } = await import('../../../../host-tools/build/build');
  const bin = path.join(ROOT, 'host-tools/bin/deep.js');
  const p = spawn(process.execPath, [bin, 'ingest', '--db', path.join(tmp.dir, 'l.db'), '--port', '0', '--fabric', path.join(tmp.dir, 'fabric.json'), '--batch-interval-ms', '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  try {
    const url = await new Promise<string>((res, rej) => {
      p.stdout.on('data', (d) => res(String(d).trim()));
      p.on('exit', (code) => rej(new Error(`deep ingest exited with ${code}: ${err}`)));
    });
    const r = new Ride(device(95));
    assert.is((await register(url, r.dev)).status, 201);
    assert.is((await postReports(url, cborArray(r.take(5)))).json.accepted, 5);
    await until(() => anchorTxs(fake).length === 1, 'the batch anchored by the command-line node');
    const last = JSON.parse(await ledger.evaluate(ANCHORER, 'GetLastBatch', [], { timestampS: NOW_S }));
    assert.equal([last.last, last.batch.size, last.batch.ranges], [1, 5, [{ device: r.dev.id, firstSeq: 0, lastSeq: 4 }]]);
    assert.not.match(err, /PRIVATE KEY/);
  } finally {
    p.kill('SIGTERM');
    await new Promise((res) => (p.exitCode === null ? p.on('exit', res) : res(null)));
    await fake.close();
    tmp.cleanup();
  }
});

test.run();
