// `deep policy show|set` against a real ingest node on loopback.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { createLogger } from '../../../host-tools/ingest/log';
import { device, register, tempDir } from '../ingest/_fixtures';
import { deep } from './_run';

let node: IngestNode;
let tmp: ReturnType<typeof tempDir>;
const bike = device(9);

test.before(async () => {
  tmp = tempDir();
  node = await startIngestNode({ db: path.join(tmp.dir, 'ledger.db'), port: 0, workers: 1, adminToken: 'tok', logger: createLogger({ level: 'error', sink: { write: () => {} } }) });
  assert.is((await register(node.url, bike)).status, 201);
  process.env.DEEP_TEST_POLICY_TOKEN = 'tok';
});

test.after(async () => {
  delete process.env.DEEP_TEST_POLICY_TOKEN;
  await node.close();
  tmp.cleanup();
});

const base = () => ['--node', node.url, '--device', bike.id, '--admin-token-env', 'DEEP_TEST_POLICY_TOKEN'];

test('show prints the defaults, set changes the fields given, show reads them back', async () => {
  const shown = await deep(['policy', 'show', ...base()]);
  assert.is(shown.code, 0, shown.err);
  assert.match(shown.out, /defaults \(the rider set nothing\)/);
  assert.match(shown.out, /target +60 % when leaving/);
  const set = await deep(['policy', 'set', ...base(), '--target', '75', '--min-sell', '0.25', '--departure', '07:40']);
  assert.is(set.code, 0, set.err);
  assert.match(set.out, /policy set by the rider/);
  const j = await deep(['policy', 'show', ...base(), '--json']);
  const a = JSON.parse(j.out);
  assert.equal([a.policy.targetPermille, a.policy.minSellMicroPerKwh, a.policy.departure, a.policy.reservePermille], [750, 250000, '07:40', 400]);
  const back = await deep(['policy', 'set', ...base(), '--min-sell', 'default', '--departure', 'none']);
  assert.is(back.code, 0, back.err);
  assert.match(back.out, /min sell +default/);
});

test('bad input is named: a bad percent, no fields, no token, an unknown device', async () => {
  const pct = await deep(['policy', 'set', ...base(), '--target', '120']);
  assert.is(pct.code, 2);
  assert.match(pct.err, /--target expected a charge in percent/);
  const none = await deep(['policy', 'set', ...base()]);
  assert.is(none.code, 2);
  assert.match(none.err, /set needs at least one of/);
  const noAuth = await deep(['policy', 'show', '--node', node.url, '--device', bike.id]);
  assert.is(noAuth.code, 3);
  assert.match(noAuth.err, /the node answered 401/);
  const unknown = await deep(['policy', 'show', '--node', node.url, '--device', '00'.repeat(8), '--admin-token-env', 'DEEP_TEST_POLICY_TOKEN']);
  assert.is(unknown.code, 3);
  assert.match(unknown.err, /404: no device/);
});

test.run();
