// The ingest node anchoring its batches on a real London EVM over HTTP: every batch once and
// in order, through a chain outage (the JSON-RPC server stopped and started again), a node
// restart with a transaction in flight, and a mempool that lost it; the key never logged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import type { Address, Hex } from 'viem';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { createLogger } from '../../../host-tools/ingest/log';
import { loadAnchorKey } from '../../../host-tools/ledger/evm/publisher';
import { Ride, device, register, postReports, cborArray, getJson, tempDir } from '../ingest/_fixtures';
import { deploy, keyOf, read, testChain, type TestChain } from './_chain';

let t: TestChain;
let addr: Address;
let tmp: ReturnType<typeof tempDir>;
const logs: string[] = [];
const devs = [device(61), device(62), device(63)];
const rides = devs.map((d) => new Ride(d));

test.before(async () => {
  t = await testChain();
  addr = await deploy(t);
  tmp = tempDir();
});
test.after(async () => {
  await t.chain.close();
  tmp.cleanup();
});

const db = () => path.join(tmp.dir, 'ledger.db');

async function startNode(confirmations = 2, replaceAfterMs?: number): Promise<IngestNode> {
  return startIngestNode({
    db: db(), port: 0, workers: 1,
    logger: createLogger({ level: 'debug', sink: { write: (l: string) => logs.push(l) } }),
    batch: { intervalMs: 3_600_000, maxReports: 20 },
    anchor: { rpcUrl: t.chain.url, chainId: t.chain.chainId, contract: addr, account: t.accounts.anchorer, confirmations, pollMs: 40, timeoutMs: 2000, replaceAfterMs },
  });
}

/** Mines a block now and then until `cond` holds. */
async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000, mine = true): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    if (mine && t.chain.rpcUp) await t.chain.mine(1);
    await new Promise((r) => setTimeout(r, 60));
  }
}

async function feed(node: IngestNode, perDevice: number): Promise<void> {
  const res = await postReports(node.url, cborArray(rides.flatMap((r) => r.take(perDevice))));
  assert.is(res.json.accepted, perDevice * rides.length);
  node.batcher!.closeDue();
}

async function anchoredEvents(): Promise<number[]> {
  const logs = await t.client.getContractEvents({ address: addr, abi: t.artifact.abi, eventName: 'BatchAnchored', fromBlock: 0n });
  return logs.map((l) => Number((l as unknown as { args: { batchId: bigint } }).args.batchId));
}

const nonceOf = async (a: Address) => Number(BigInt((await t.chain.provider.request({ method: 'eth_getTransactionCount', params: [a, 'latest'] })) as string));

async function checkProofs(node: IngestNode): Promise<void> {
  for (const d of devs) {
    const head = (await getJson(`${node.url}/v1/devices/${d.id}`)).json.head.seq as number;
    for (const seq of [0, Math.floor(head / 2), head]) {
      const { status, json } = await getJson(`${node.url}/v1/reports/${d.id}/${seq}/proof`);
      assert.is(status, 200);
      assert.is(json.anchor.state, 'confirmed', `${d.id}/${seq}`);
      assert.is(json.anchor.contract.toLowerCase(), addr.toLowerCase());
      assert.ok(json.anchor.confirmations >= 2);
      const [root, size, block] = await read<[Hex, bigint, bigint]>(t, addr, 'batches', [BigInt(json.batch)]);
      assert.is(root, `0x${json.root}`);
      assert.is(Number(size), json.treeSize);
      assert.is(Number(block), json.anchor.block);
      const ok = await read<boolean>(t, addr, 'verifyInclusion', [BigInt(json.batch), `0x${json.leafHash}`, BigInt(json.leafIndex), json.auditPath.map((h: string) => `0x${h}`)]);
      assert.ok(ok, `${d.id}/${seq} on chain`);
    }
  }
}

test('every batch is anchored once, in order, with confirmations; proofs check against the chain; lag in /metrics', async () => {
  const node = await startNode();
  try {
    for (const d of devs) assert.is((await register(node.url, d)).status, 201);
    await feed(node, 20); // 60 reports: batches 1..3
    assert.is(node.store.batches!.last()!.id, 3);
    await until(() => node.publisher!.status().batchesBehind === 0, 'batches 1..3 anchored');
    assert.equal(await anchoredEvents(), [1, 2, 3]);
    assert.is(await nonceOf(t.accounts.anchorer.address), 3);
    await checkProofs(node);
    const m = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(m, /deep_anchor_batches_behind 0/);
    assert.match(m, /deep_anchor_last_confirmed_batch 3/);
    assert.match(m, /deep_anchor_up 1/);
  } finally {
    await node.close();
  }
});

test('a chain outage: the JSON-RPC server stops with a transaction in flight, the mempool loses it; every batch lands once', async () => {
  const node = await startNode();
  try {
    await t.chain.provider.request({ method: 'evm_setAutomine', params: [false] });
    await feed(node, 10); // batches 4, 5 (30 reports, 20 + 10 left waiting)
    node.batcher!.closeDue(Date.now() + 7_200_000);
    assert.is(node.store.batches!.last()!.id, 5);
    await until(() => node.store.batches!.txsOf(4).length === 1, 'batch 4 sent', 10_000, false);
    const [sentTx] = node.store.batches!.txsOf(4);
    await t.chain.stopRpc();
    await t.chain.provider.request({ method: 'hardhat_dropTransaction', params: [sentTx.hash] });
    // Meanwhile the node keeps working and says how far behind it is.
    await feed(node, 5); // batch 6 closes at 20
    node.batcher!.closeDue(Date.now() + 7_200_000);
    await until(() => node.publisher!.status().lastError !== null, 'the outage noticed', 10_000, false);
    const st = node.publisher!.status();
    assert.is(st.batchesBehind, node.store.batches!.last()!.id - 3);
    const m = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(m, new RegExp(`deep_anchor_batches_behind ${st.batchesBehind}`));
    assert.match(m, /deep_anchor_rpc_errors_total [1-9]/);
    await t.chain.startRpc();
    await t.chain.provider.request({ method: 'evm_setAutomine', params: [true] });
    await until(() => node.publisher!.status().batchesBehind === 0, 'all batches anchored after the outage');
    const last = node.store.batches!.last()!.id;
    assert.equal(await anchoredEvents(), Array.from({ length: last }, (_, i) => i + 1));
    // Batch 4 went on chain with the very bytes signed before the outage: same nonce, same hash.
    assert.equal(node.store.batches!.txsOf(4).map((x) => x.hash), [sentTx.hash]);
    assert.is(node.store.batches!.anchorOf(4)!.txHash, sentTx.hash);
    assert.is(await nonceOf(t.accounts.anchorer.address), last);
    await checkProofs(node);
  } finally {
    await t.chain.provider.request({ method: 'evm_setAutomine', params: [true] });
    if (!t.chain.rpcUp) await t.chain.startRpc();
    await node.close();
  }
});

test('a node restart with a transaction in flight sends the same one again; one mined while down is not sent twice', async () => {
  let node = await startNode();
  const before = node.store.batches!.last()!.id;
  try {
    await t.chain.provider.request({ method: 'evm_setAutomine', params: [false] });
    await feed(node, 7); // 21 reports: one batch of 20
    const b = before + 1;
    await until(() => node.store.batches!.txsOf(b).length === 1, `batch ${b} sent`, 10_000, false);
    const [tx] = node.store.batches!.txsOf(b);
    await node.close();
    await t.chain.provider.request({ method: 'hardhat_dropTransaction', params: [tx.hash] });
    await t.chain.provider.request({ method: 'evm_setAutomine', params: [true] });
    node = await startNode();
    await until(() => node.store.batches!.anchorOf(b) !== undefined, `batch ${b} anchored after the restart`);
    assert.equal(node.store.batches!.txsOf(b).map((x) => x.hash), [tx.hash]);
    assert.is(await nonceOf(t.accounts.anchorer.address), b);

    // Mined while the node was down (confirmations still missing): found, not resent.
    await feed(node, 7);
    node.batcher!.closeDue(Date.now() + 7_200_000);
    const c = node.store.batches!.last()!.id;
    await until(() => node.store.batches!.txsOf(c).length === 1 && node.publisher!.anchorInfo(c - 1) !== undefined, `batch ${c} sent`, 10_000, false);
    await node.close();
    assert.equal((await anchoredEvents()).slice(-2), [c - 1, c]);
    node = await startNode(3);
    await until(() => node.publisher!.status().batchesBehind === 0, 'confirmations after the restart');
    assert.is(await nonceOf(t.accounts.anchorer.address), c);
    assert.is(node.store.batches!.txsOf(c).length, 1);
    await checkProofs(node);
  } finally {
    await t.chain.provider.request({ method: 'evm_setAutomine', params: [true] });
    await node.close();
  }
  // Nothing logged the key.
  const key = keyOf('anchorer').slice(2);
  assert.ok(logs.length > 10);
  assert.not.ok(logs.some((l) => l.toLowerCase().includes(key)), 'the key never appears in the logs');
});

test('a transaction pending too long is replaced with the same nonce and a higher gas price; only one lands', async () => {
  const node = await startNode(1, 300);
  try {
    await t.chain.provider.request({ method: 'evm_setAutomine', params: [false] });
    await feed(node, 7);
    const b = node.store.batches!.last()!.id;
    const nonceBefore = await nonceOf(t.accounts.anchorer.address);
    await until(() => node.store.batches!.txsOf(b).length >= 2, `batch ${b} replaced`, 10_000, false);
    const [first, second] = node.store.batches!.txsOf(b);
    assert.is(second.nonce, first.nonce);
    assert.ok(second.gasPrice >= (first.gasPrice * 125n) / 100n, `${second.gasPrice} vs ${first.gasPrice}`);
    await t.chain.provider.request({ method: 'evm_setAutomine', params: [true] });
    await t.chain.mine(1);
    await until(() => node.store.batches!.anchorOf(b) !== undefined, `batch ${b} anchored`);
    assert.ok(node.store.batches!.txsOf(b).some((x) => x.hash === node.store.batches!.anchorOf(b)!.txHash));
    assert.is(await nonceOf(t.accounts.anchorer.address), nonceBefore + 1);
    assert.equal((await anchoredEvents()).filter((x) => x === b), [b]);
  } finally {
    await t.chain.provider.request({ method: 'evm_setAutomine', params: [true] });
    await node.close();
  }
});

test('a wrong chain or an account that may not anchor stops the publisher with the reason; the node keeps ingesting', async () => {
  const other = tempDir();
  const lines: string[] = [];
  const mk = (over: Partial<{ chainId: number; account: typeof t.accounts.stranger }>) =>
    startIngestNode({
      db: path.join(other.dir, `n${lines.length}-${Math.random()}.db`), port: 0, workers: 1,
      logger: createLogger({ level: 'info', sink: { write: (l: string) => lines.push(l) } }),
      anchor: { rpcUrl: t.chain.url, chainId: over.chainId ?? t.chain.chainId, contract: addr, account: over.account ?? t.accounts.anchorer, pollMs: 40 },
    });
  let node = await mk({ chainId: 246 });
  try {
    await until(() => node.publisher!.status().fatal !== null, 'fatal: wrong chain', 5000, false);
    assert.is(node.publisher!.status().fatal, `the RPC endpoint serves chain ${t.chain.chainId}, the node is set for chain 246`);
    assert.match(await (await fetch(`${node.url}/metrics`)).text(), /deep_anchor_up 0/);
    assert.is((await register(node.url, device(64))).status, 201);
  } finally {
    await node.close();
  }
  node = await mk({ account: t.accounts.stranger });
  try {
    await until(() => node.publisher!.status().fatal !== null, 'fatal: not an anchorer', 5000, false);
    assert.match(node.publisher!.status().fatal!, new RegExp(`${t.accounts.stranger.address} is not an anchoring account`));
  } finally {
    await node.close();
    other.cleanup();
  }
});

test('the anchoring key comes from a file or an environment variable; errors never show it', () => {
  const dir = tempDir();
  try {
    const f = path.join(dir.dir, 'key');
    writeFileSync(f, keyOf('anchorer') + '\n', { mode: 0o600 });
    assert.is(loadAnchorKey({ file: f }).address, t.accounts.anchorer.address);
    process.env.DEEP_TEST_ANCHOR_KEY = keyOf('anchorer').slice(2);
    assert.is(loadAnchorKey({ env: 'DEEP_TEST_ANCHOR_KEY' }).address, t.accounts.anchorer.address);
    process.env.DEEP_TEST_ANCHOR_KEY = 'not-a-key-but-secret-text';
    const err = (() => { try { loadAnchorKey({ env: 'DEEP_TEST_ANCHOR_KEY' }); } catch (e) { return (e as Error).message; } })();
    assert.is(err, 'the environment variable DEEP_TEST_ANCHOR_KEY does not hold a private key (64 hex digits, 0x optional)');
    delete process.env.DEEP_TEST_ANCHOR_KEY;
    assert.throws(() => loadAnchorKey({ env: 'DEEP_TEST_ANCHOR_KEY' }), /the environment variable DEEP_TEST_ANCHOR_KEY is not set or empty/);
    assert.throws(() => loadAnchorKey({ file: path.join(dir.dir, 'missing') }), /cannot read the key file .*missing: ENOENT/);
  } finally {
    dir.cleanup();
  }
});

test.run();
