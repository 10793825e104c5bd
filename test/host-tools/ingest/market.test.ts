// The node's market routes: interval results from the provider, riders' policies kept in
// a file beside the database and behind the operator token.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { createLogger } from '../../../host-tools/ingest/log';
import { device, register, tempDir } from './_fixtures';

let node: IngestNode;
let tmp: ReturnType<typeof tempDir>;
const alice = device(7);
const results = [1, 2, 3].map((k) => ({ hub: k === 2 ? 'hub-2' : 'hub-1', startS: k * 900, durationS: 900, priceMicroPerKwh: 42_000, tradedWh: k, participants: [] }));
// The node passes the query through and answers the provider's page as it is.
const page = ({ afterS, hub, limit }: { afterS: number; hub: string | undefined; limit: number }) => {
  const all = results.filter((r) => r.startS > afterS && (!hub || r.hub === hub));
  return { intervals: all.slice(0, limit), next: all.length > limit ? all[limit - 1].startS : null };
};
const auth = { authorization: 'Bearer op-secret' };

test.before(async () => {
  tmp = tempDir();
  node = await startIngestNode({
    db: path.join(tmp.dir, 'ledger.db'), port: 0, workers: 1, adminToken: 'op-secret',
    logger: createLogger({ level: 'error', sink: { write: () => {} } }),
    market: page,
  });
  assert.is((await register(node.url, alice)).status, 201);
});

test.after(async () => {
  await node.close();
  tmp.cleanup();
});

test('GET /v1/market/intervals pages the provider\'s results', async () => {
  const all = (await (await fetch(`${node.url}/v1/market/intervals`)).json()) as any;
  assert.equal(all.intervals.map((r: { startS: number }) => r.startS), [900, 1800, 2700]);
  assert.is(all.next, null);
  const page = (await (await fetch(`${node.url}/v1/market/intervals?after=900&limit=1`)).json()) as any;
  assert.equal([page.intervals.length, page.intervals[0].startS, page.next], [1, 1800, 1800]);
  const hub = (await (await fetch(`${node.url}/v1/market/intervals?hub=hub-1`)).json()) as any;
  assert.equal(hub.intervals.map((r: { hub: string }) => r.hub), ['hub-1', 'hub-1']);
  const bad = await fetch(`${node.url}/v1/market/intervals?limit=0`);
  assert.is(bad.status, 400);
});

test('policies: defaults until set, partial updates merge, bad fields named, kept in a file, operator only', async () => {
  const at = `${node.url}/v1/devices/${alice.id}/policy`;
  assert.is((await fetch(at)).status, 401);
  const first = (await (await fetch(at, { headers: auth })).json()) as any;
  assert.equal([first.set, first.policy.targetPermille, first.policy.maxBuyMicroPerKwh], [false, 600, null]);
  const post = (body: string) => fetch(at, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
  const ok = await post('{"targetPermille": 800, "minSellMicroPerKwh": 250000}');
  assert.is(ok.status, 200);
  const set = (await ok.json()) as any;
  assert.equal([set.set, set.policy.targetPermille, set.policy.minSellMicroPerKwh, set.policy.reservePermille], [true, 800, 250000, 400]);
  const bad = await post('{"targetPermille": 2000}');
  assert.is(bad.status, 400);
  assert.match(((await bad.json()) as any).error, /policy\.targetPermille expected an integer in \[0, 1000\], got 2000/);
  assert.is((await post('{"reservePermille": 300}')).status, 200);
  const now = (await (await fetch(at, { headers: auth })).json()) as any;
  assert.equal([now.policy.targetPermille, now.policy.reservePermille], [800, 300]);
  const file = JSON.parse(readFileSync(path.join(tmp.dir, 'ledger.db.policies.json'), 'utf8'));
  assert.is(file[alice.id].targetPermille, 800);
  assert.is((await fetch(`${node.url}/v1/devices/${'0'.repeat(16)}/policy`, { headers: auth })).status, 404);
});

test.run();
