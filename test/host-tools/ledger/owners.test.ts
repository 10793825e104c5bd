// Owners at pairing: the rider's EIP-712 signature travels with the device's pairing proof
// over the same challenge; the node checks it before registering, and its publisher records
// the binding on chain once. A bad signature registers nothing; a node without a chain
// refuses owners. pairDevice (deep pair's core) signs with the rider's key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import type { Address, Hex } from 'viem';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { silentLogger } from '../../../host-tools/ingest/log';
import { bindDeviceTypedData } from '../../../host-tools/ledger/evm/contract';
import { httpPairingNode, pairDevice, DEVICE_EXPR } from '../../../host-tools/pairing/pair';
import type { DeviceConsole } from '../../../host-tools/pairing/console';
import { makePairingProof } from '../../../protocol/pairing';
import { device, getJson, tempDir, type Device } from '../ingest/_fixtures';
import { deploy, read, testChain, type TestChain } from './_chain';

let t: TestChain;
let addr: Address;
let tmp: ReturnType<typeof tempDir>;
let node: IngestNode;

test.before(async () => {
  t = await testChain();
  addr = await deploy(t);
  tmp = tempDir();
  node = await startIngestNode({
    db: path.join(tmp.dir, 'ledger.db'), port: 0, workers: 1, logger: silentLogger,
    anchor: { rpcUrl: t.chain.url, chainId: t.chain.chainId, contract: addr, account: t.accounts.anchorer, confirmations: 1, pollMs: 40 },
  });
});
test.after(async () => {
  await node.close();
  await t.chain.close();
  tmp.cleanup();
});

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > 15_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function pairWithOwner(dev: Device, signer: typeof t.accounts.rider, claimed: Address) {
  const pn = httpPairingNode(node.url);
  const challenge = await pn.challenge();
  const a = pn.anchor!()!;
  const c = new Uint8Array(Buffer.from(challenge, 'hex'));
  const signature = await signer.signTypedData(bindDeviceTypedData(a.chainId, a.contract as Address, dev.kid, dev.publicKey, c));
  const proof = makePairingProof({ challenge: c, publicKey: dev.publicKey, firmware: 256 }, dev.sign);
  return pn.register(challenge, b64(proof), { address: claimed, signature });
}

test('the challenge names the chain and contract; a rider-signed owner is recorded on chain once', async () => {
  const c = await getJson(`${node.url}/v1/devices/challenge`);
  assert.equal(c.json.anchor, { chainId: t.chain.chainId, contract: addr });
  const dev = device(71);
  assert.is(await pairWithOwner(dev, t.accounts.rider, t.accounts.rider.address), dev.id);
  await until(async () => (await read<[Address, bigint]>(t, addr, 'owners', [`0x${dev.id}`]))[0] === t.accounts.rider.address, 'owner on chain');
  assert.is(await read<Hex>(t, addr, 'publicKeys', [`0x${dev.id}`]), `0x${Buffer.from(dev.publicKey).toString('hex')}`);
  await until(() => node.store.batches!.ownerBinding(dev.id)!.boundTx !== null, 'binding recorded');
  assert.is(node.store.batches!.ownerTxs(dev.id).length, 1);
  // A few more passes of the publisher send nothing more.
  const nonce = () => t.chain.provider.request({ method: 'eth_getTransactionCount', params: [t.accounts.anchorer.address, 'latest'] });
  const before = await nonce();
  await new Promise((r) => setTimeout(r, 300));
  assert.is(await nonce(), before);
});

test('a signature that is not the claimed owner\'s registers nothing and says why', async () => {
  const dev = device(72);
  let err = '';
  try {
    await pairWithOwner(dev, t.accounts.rider2, t.accounts.rider.address);
  } catch (e) {
    err = (e as Error).message;
  }
  assert.match(err, new RegExp(`HTTP 400\\): bad owner: the owner signature is not ${t.accounts.rider.address}'s over BindDevice`));
  assert.is((await getJson(`${node.url}/v1/devices/${dev.id}`)).status, 404);
  assert.is(node.store.batches!.ownerBinding(dev.id), undefined);
});

test('pairDevice signs the owner with the rider key; a node without a chain refuses an owner', async () => {
  const dev = device(73);
  // The device's side of the console contract (deep.info, settings, proof, paired).
  const state = { paired: false };
  const fake = {
    async eval(expr: string) {
      if (expr === DEVICE_EXPR.info) return { version: '0.1.0', id: dev.id, publicKey: Buffer.from(dev.publicKey).toString('hex'), ssid: '', endpoint: '', paired: state.paired };
      if (expr.startsWith('deep.settings(')) return true;
      const m = /^deep\.pairingProof\("([0-9a-f]+)"\)$/.exec(expr);
      if (m) return b64(makePairingProof({ challenge: new Uint8Array(Buffer.from(m[1], 'hex')), publicKey: dev.publicKey, firmware: 256 }, dev.sign));
      if (expr === DEVICE_EXPR.paired(dev.id)) return (state.paired = true);
      throw new Error(`unexpected ${expr}`);
    },
  } as unknown as DeviceConsole;
  const rider = t.accounts.rider2;
  const opts = (endpoint: string) => ({
    console: fake, node: httpPairingNode(endpoint), ssid: 'net', endpoint, force: true, signTimeoutMs: 1000,
    wait: async () => {}, password: async () => 'password1',
    owner: async (ctx: { chainId: number; contract: string; kid: Uint8Array; publicKey: Uint8Array; challenge: Uint8Array }) => ({
      address: rider.address, signature: await rider.signTypedData(bindDeviceTypedData(ctx.chainId, ctx.contract as Address, ctx.kid, ctx.publicKey, ctx.challenge)),
    }),
  });
  const r = await pairDevice(opts(node.url));
  assert.equal(r, { status: 'paired', id: dev.id });
  await until(async () => (await read<[Address, bigint]>(t, addr, 'owners', [`0x${dev.id}`]))[0] === rider.address, 'owner on chain');

  const plain = await startIngestNode({ db: path.join(tmp.dir, 'plain.db'), port: 0, workers: 1, logger: silentLogger });
  try {
    let err = '';
    try {
      await pairDevice(opts(plain.url));
    } catch (e) {
      err = (e as Error).message;
    }
    assert.match(err, /anchors on no chain, so it cannot record an owner/);
    const pn = httpPairingNode(plain.url);
    const challenge = await pn.challenge();
    const proof = makePairingProof({ challenge: new Uint8Array(Buffer.from(challenge, 'hex')), publicKey: dev.publicKey, firmware: 256 }, dev.sign);
    err = '';
    try {
      await pn.register(challenge, b64(proof), { address: rider.address, signature: '0x' + '11'.repeat(65) });
    } catch (e) {
      err = (e as Error).message;
    }
    assert.match(err, /"owner": this node anchors on no chain, so it binds no owners/);
  } finally {
    await plain.close();
  }
});

test.run();
