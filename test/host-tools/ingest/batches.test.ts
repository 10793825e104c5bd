// Batches of the ingest node: closed at the size limit or after the interval, leaves in
// (device, seq) order, every accepted report in exactly one batch, never rewritten, kept
// across a restart, and proofs over HTTP that check against the batch root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { createLogger } from '../../../host-tools/ingest/log';
import { leafHash, verifyInclusion } from '../../../host-tools/ledger/merkle';
import { decodeSign1 } from '../../../protocol/cose';
import { decodeReport } from '../../../protocol/report';
import { toHex } from '../../../protocol/bytes';
import { Ride, device, register, postReports, cborArray, getJson, tempDir } from './_fixtures';

const quiet = () => createLogger({ level: 'error', sink: { write: () => {} } });
const unhex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

async function nodeAt(db: string, batch: { intervalMs: number; maxReports: number }): Promise<IngestNode> {
  return startIngestNode({ db, port: 0, workers: 1, logger: quiet(), batch });
}

test('batches close at the size limit, cover every accepted report once, in (device, seq) order; proofs verify', async () => {
  const tmp = tempDir();
  const db = path.join(tmp.dir, 'ledger.db');
  let node = await nodeAt(db, { intervalMs: 3_600_000, maxReports: 25 });
  try {
    const devs = [device(41), device(42), device(43)];
    const rides = devs.map((d) => new Ride(d));
    for (const d of devs) assert.is((await register(node.url, d)).status, 201);
    // Interleaved arrivals, as from three bikes at once: 3 x 20 reports in 4 requests.
    for (let round = 0; round < 4; round++) {
      const body = rides.flatMap((r) => r.take(5));
      const res = await postReports(node.url, cborArray(body));
      assert.is(res.json.accepted, 15);
    }
    // Full batches close on the batcher's tick (100 ms) or here, whichever comes first.
    node.batcher!.closeDue();
    assert.is(node.store.batches!.last()!.id, 2);
    const closed = [1, 2].map((id) => node.store.batches!.get(id)!);
    assert.equal(closed.map((b) => b.size), [25, 25]);
    // 10 wait: under the limit and the interval has not passed.
    assert.is(node.store.batches!.unbatched().count, 10);
    for (const b of closed) {
      const leaves = node.store.batches!.leaves(b.id).map((bytes) => decodeReport(decodeSign1(bytes).payload));
      const keys = leaves.map((r) => `${toHex(r.kid)}/${String(r.seq).padStart(4, '0')}`);
      assert.equal(keys, keys.slice().sort(), `batch ${b.id} in (device, seq) order`);
    }
    // The rest after the interval: a clock 2 h ahead.
    const later = node.batcher!.closeDue(Date.now() + 7_200_000);
    assert.equal(later.map((b) => [b.id, b.size]), [[3, 10]]);

    const seen = new Set<string>();
    for (const [i, d] of devs.entries()) {
      let runs = 0;
      for (let seq = 0; seq < 20; seq++) {
        const { status, json } = await getJson(`${node.url}/v1/reports/${d.id}/${seq}/proof`);
        assert.is(status, 200, JSON.stringify(json));
        const batch = node.store.batches!.get(json.batch)!;
        assert.is(json.root, Buffer.from(batch.root).toString('hex'));
        assert.is(json.treeSize, batch.size);
        const cose = new Uint8Array(Buffer.from(json.cose, 'base64'));
        assert.is(toHex(leafHash(cose)), json.leafHash);
        assert.ok(verifyInclusion(unhex(json.leafHash), json.leafIndex, json.treeSize, json.auditPath.map(unhex), unhex(json.root)), `${d.id}/${seq}`);
        assert.is(json.anchor.state, 'pending');
        const key = `${json.batch}/${json.leafIndex}`;
        assert.not.ok(seen.has(key), 'one leaf per report');
        seen.add(key);
        if (seq === 0 || json.batch !== (await getJson(`${node.url}/v1/reports/${d.id}/${seq - 1}/proof`)).json.batch) runs++;
      }
      assert.ok(runs >= 1 && runs <= 3, `device ${i}: ${runs} runs`);
    }
    assert.is(seen.size, 60);

    // A report not batched yet, and one that does not exist.
    const extra = rides[0].take(1);
    await postReports(node.url, cborArray(extra));
    let r = await getJson(`${node.url}/v1/reports/${devs[0].id}/20/proof`);
    assert.is(r.status, 404);
    assert.match(r.json.error, /accepted but not in a batch yet/);
    r = await getJson(`${node.url}/v1/reports/${devs[0].id}/99/proof`);
    assert.match(r.json.error, /no accepted report seq 99/);
    r = await getJson(`${node.url}/v1/reports/zz/1/proof`);
    assert.is(r.status, 400);

    // Restart: batches are kept, numbering goes on, the waiting report gets batch 4.
    await node.close();
    node = await nodeAt(db, { intervalMs: 1, maxReports: 25 });
    assert.is(node.store.batches!.last()!.id, 3);
    assert.equal(node.batcher!.closeDue(Date.now() + 10).map((b) => [b.id, b.size]), [[4, 1]]);
    assert.is((await getJson(`${node.url}/v1/reports/${devs[0].id}/20/proof`)).json.batch, 4);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(metrics, /deep_ingest_last_batch 4/);
    assert.match(metrics, /deep_ingest_unbatched_reports 0/);
  } finally {
    await node.close();
  }
  // Never rewritten, never deleted: SQLite itself refuses.
  const raw = new Database(db);
  assert.throws(() => raw.prepare('UPDATE batches SET size = 1 WHERE id = 1').run(), /a batch is never rewritten/);
  assert.throws(() => raw.prepare('DELETE FROM batches WHERE id = 1').run(), /a batch is never deleted/);
  raw.close();
  tmp.cleanup();
});

test('the node closes due batches by itself on its timer', async () => {
  const tmp = tempDir();
  const node = await nodeAt(path.join(tmp.dir, 'ledger.db'), { intervalMs: 200, maxReports: 1000 });
  try {
    const d = device(44);
    assert.is((await register(node.url, d)).status, 201);
    await postReports(node.url, cborArray(new Ride(d).take(3)));
    const t0 = Date.now();
    while (!node.store.batches!.last() && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
    assert.is(node.store.batches!.last()?.size, 3);
  } finally {
    await node.close();
    tmp.cleanup();
  }
});

test('a batcher keeps the Merkle trees of a few recent batches in memory, not of every batch it closed', async () => {
  const tmp = tempDir();
  const node = await nodeAt(path.join(tmp.dir, 'ledger.db'), { intervalMs: 3_600_000, maxReports: 2 });
  try {
    const d = device(45);
    assert.is((await register(node.url, d)).status, 201);
    const ride = new Ride(d);
    // 40 batches of 2: a node closing several batches a second ran out of memory this way.
    for (let i = 0; i < 4; i++) assert.is((await postReports(node.url, cborArray(ride.take(20)))).json.accepted, 20);
    node.batcher!.closeDue();
    assert.is(node.store.batches!.last()!.id, 40);
    assert.ok(node.batcher!.treesHeld() <= 8, `${node.batcher!.treesHeld()} trees held`);
    // Proofs of old batches still verify: their trees are rebuilt from the store.
    const { status, json } = await getJson(`${node.url}/v1/reports/${d.id}/0/proof`);
    assert.is(status, 200);
    assert.ok(verifyInclusion(unhex(json.leafHash), json.leafIndex, json.treeSize, json.auditPath.map(unhex), unhex(json.root)));
    assert.ok(node.batcher!.treesHeld() <= 8);
  } finally {
    await node.close();
    tmp.cleanup();
  }
});

test.run();
