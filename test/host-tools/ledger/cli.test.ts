// The ledger operator's path end to end on a local London EVM: `deep ledger deploy`, an
// ingest node anchoring to it, `deep report --register` feeding it, and a third party's
// `deep verify FILE --anchored` with the report file and an RPC URL (the proof fetched from
// the node, or from a saved file); a forged proof is refused with its reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Address } from 'viem';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { silentLogger } from '../../../host-tools/ingest/log';
import { deep } from '../cli/_run';
import { tempDir, cborArray } from '../ingest/_fixtures';
import { keyOf, read, testChain, type TestChain } from './_chain';

let t: TestChain;
let tmp: ReturnType<typeof tempDir>;

test.before(async () => {
  t = await testChain();
  tmp = tempDir();
  process.env.DEEP_TEST_ADMIN_KEY = keyOf('admin');
  process.env.DEEP_TEST_GRID_KEY = keyOf('grid');
});
test.after(async () => {
  await t.chain.close();
  tmp.cleanup();
  delete process.env.DEEP_TEST_ADMIN_KEY;
  delete process.env.DEEP_TEST_GRID_KEY;
});

async function until(cond: () => boolean, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > 20_000) throw new Error(`timed out waiting for ${what}`);
    await t.chain.mine(1);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('deploy, anchor deep report files, verify them with nothing but the file, the proofs and an RPC URL', async () => {
  let r = await deep(['ledger', 'deploy', '--rpc', t.chain.url, '--key-env', 'DEEP_TEST_ADMIN_KEY', '--anchorer', t.accounts.anchorer.address, '--grid-operator', t.accounts.grid.address]);
  assert.is(r.code, 0, r.err);
  const contract = /contract=(0x[0-9a-fA-F]{40})/.exec(r.out)![1] as Address;
  assert.match(r.out, new RegExp(`chain=${t.chain.chainId} `));
  assert.ok(await read<boolean>(t, contract, 'anchorers', [t.accounts.anchorer.address]));
  assert.is(await read<string>(t, contract, 'admin'), t.accounts.admin.address);
  // The grid operator posts two days of the sample prices.
  r = await deep(['ledger', 'prices', '--rpc', t.chain.url, '--key-env', 'DEEP_TEST_GRID_KEY', '--contract', contract, '--from', '2026-11-19', '--days', '2']);
  assert.is(r.code, 0, r.err);
  assert.is(await read<bigint>(t, contract, 'priceCount'), 48n);
  assert.is(Number(await read<number>(t, contract, 'pricesStart')), Date.parse('2026-11-19T00:00:00Z') / 1000);

  const node: IngestNode = await startIngestNode({
    db: path.join(tmp.dir, 'ledger.db'), port: 0, workers: 1, logger: silentLogger,
    batch: { intervalMs: 3_600_000, maxReports: 1000 },
    anchor: { rpcUrl: t.chain.url, chainId: t.chain.chainId, contract, account: t.accounts.anchorer, confirmations: 2, pollMs: 40 },
  });
  try {
    const file = path.join(tmp.dir, 'ride.cbor');
    const seed = 'ab'.repeat(32);
    r = await deep(['report', '--seed', seed, '--count', '25', '--out', file, '--register', node.url]);
    assert.is(r.code, 0, r.err);
    const pubkey = /public key ([0-9a-f]{64})/.exec(r.out)![1];
    const kid = /kid ([0-9a-f]{16})/.exec(r.out)![1];
    const res = await fetch(`${node.url}/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/cbor-seq' }, body: readFileSync(file) });
    assert.is(((await res.json()) as { accepted: number }).accepted, 25);

    node.batcher!.closeDue(Date.now() + 7_200_000);
    await until(() => node.publisher!.status().batchesBehind === 0, 'batch anchored');
    r = await deep(['verify', file, '--anchored', '--rpc', t.chain.url, '--node', node.url]);
    assert.is(r.code, 0, r.out + r.err);
    const lines = r.out.trim().split('\n');
    assert.is(lines.length, 26);
    for (const l of lines.slice(0, 25)) assert.match(l, /^report #\d+ \(offset \d+\) seq \d+: anchored batch=1 block=\d+ confirmations=\d+$/);
    assert.equal(JSON.parse(lines[25]), { file, reports: 25, anchored: 25, failed: 0 });

    // Saved proofs, no node at all: the key from --pubkey, the contract given.
    const proofs = [];
    for (let seq = 0; seq < 25; seq++) proofs.push(await (await fetch(`${node.url}/v1/reports/${kid}/${seq}/proof`)).json());
    const proofFile = path.join(tmp.dir, 'proofs.json');
    writeFileSync(proofFile, JSON.stringify(proofs));
    r = await deep(['verify', file, '--anchored', '--rpc', t.chain.url, '--proof', proofFile, '--pubkey', pubkey, '--contract', contract]);
    assert.is(r.code, 0, r.out + r.err);
    assert.match(r.out, /"anchored":25/);

    // Forged: a proof with another root (and a path leading to it) is refused by the chain;
    // a proof for another report is refused offline.
    const forged = proofs.map((p: any) => ({ ...p }));
    const { MerkleTree } = await import('../../../host-tools/ledger/merkle');
    const fake = MerkleTree.fromLeaves([readFileSync(file).subarray(0, 10), new Uint8Array([1])]);
    forged[3] = { ...forged[3], root: Buffer.from(fake.root()).toString('hex') };
    forged[4] = { ...forged[4], leafHash: forged[5].leafHash };
    writeFileSync(proofFile, forged.map((p: any) => JSON.stringify(p)).join('\n'));
    r = await deep(['verify', file, '--anchored', '--rpc', t.chain.url, '--proof', proofFile, '--pubkey', pubkey, '--contract', contract]);
    assert.is(r.code, 1);
    assert.match(r.out, /seq 3: not anchored: the audit path leads to [0-9a-f]{64}, not to the proof's root/);
    assert.match(r.out, /seq 4: not anchored: the proof is for another leaf/);
    assert.match(r.out, /"anchored":23,"failed":2/);
    // The right proof but a contract where nothing is anchored.
    const other = await deep(['ledger', 'deploy', '--rpc', t.chain.url, '--key-env', 'DEEP_TEST_ADMIN_KEY']);
    const empty = /contract=(0x[0-9a-fA-F]{40})/.exec(other.out)![1];
    writeFileSync(proofFile, JSON.stringify(proofs.slice(0, 1)));
    r = await deep(['verify', file, '--anchored', '--rpc', t.chain.url, '--proof', proofFile, '--pubkey', pubkey, '--contract', empty]);
    assert.match(r.out, /seq 0: not anchored: batch 1 is not anchored in 0x/);
    assert.match(r.out, /seq 1: no proof for device/);
  } finally {
    await node.close();
  }
});

test('deep ledger transfer: the current owner hands a bike on; anyone else is told who owns it', async () => {
  let r = await deep(['ledger', 'deploy', '--rpc', t.chain.url, '--key-env', 'DEEP_TEST_ADMIN_KEY', '--anchorer', t.accounts.anchorer.address]);
  const contract = /contract=(0x[0-9a-fA-F]{40})/.exec(r.out)![1] as Address;
  const { fastRide, send } = await import('./_chain');
  const { bindDeviceTypedData } = await import('../../../host-tools/ledger/evm/contract');
  const ride = fastRide('transfer', 1);
  const challenge = new Uint8Array(16).fill(5);
  const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString('hex')}`;
  const sig = await t.accounts.rider.signTypedData(bindDeviceTypedData(t.chain.chainId, contract, ride.kid, ride.publicKey, challenge));
  assert.ok((await send(t, t.accounts.anchorer, contract, 'bindOwner', [hex(ride.publicKey), hex(challenge), t.accounts.rider.address, sig])).ok);
  const kid = Buffer.from(ride.kid).toString('hex');
  process.env.DEEP_TEST_RIDER_KEY = keyOf('rider');
  process.env.DEEP_TEST_RIDER2_KEY = keyOf('rider2');
  try {
    r = await deep(['ledger', 'transfer', '--rpc', t.chain.url, '--key-env', 'DEEP_TEST_RIDER2_KEY', '--contract', contract, '--device', kid, '--to', t.accounts.rider2.address]);
    assert.is(r.code, 1);
    assert.is(r.err, `deep ledger: device ${kid} is owned by ${t.accounts.rider.address}; the key given is ${t.accounts.rider2.address}'s\n`);
    r = await deep(['ledger', 'transfer', '--rpc', t.chain.url, '--key-env', 'DEEP_TEST_RIDER_KEY', '--contract', contract, '--device', kid, '--to', t.accounts.rider2.address]);
    assert.is(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`device ${kid} now owned by ${t.accounts.rider2.address} tx=0x`));
    assert.equal(await read<[string, bigint]>(t, contract, 'owners', [`0x${kid}`]), [t.accounts.rider2.address, 1n]);
  } finally {
    delete process.env.DEEP_TEST_RIDER_KEY;
    delete process.env.DEEP_TEST_RIDER2_KEY;
  }
});

test('command lines: anchoring options need a contract and one key source; keys never on the command line', async () => {
  let r = await deep(['ingest', '--db', path.join(tmp.dir, 'x.db'), '--contract', '0x' + '1'.repeat(40), '--rpc', t.chain.url]);
  assert.is(r.code, 2);
  assert.match(r.err, /anchoring needs exactly one of --anchor-key-file FILE or --anchor-key-env NAME/);
  r = await deep(['ingest', '--db', path.join(tmp.dir, 'x.db'), '--rpc', t.chain.url]);
  assert.is(r.code, 2);
  assert.match(r.err, /anchoring options need --contract ADDR/);
  r = await deep(['ledger', 'deploy', '--chain', 'mainnet', '--key-env', 'X']);
  assert.match(r.err, /--chain expected volta or ewc, got "mainnet"/);
  r = await deep(['ledger', 'deploy', '--chain', 'volta', '--chain-id', '246', '--key-env', 'X']);
  assert.match(r.err, /--chain volta is chain 73799, --chain-id says 246/);
  r = await deep(['ledger', 'deploy', '--rpc', t.chain.url, '--key', keyOf('admin')]);
  assert.is(r.code, 2);
  assert.match(r.err, /unknown option --key/);
  assert.not.match(r.err + r.out, new RegExp(keyOf('admin').slice(2)));
  r = await deep(['verify', 'nothing.cbor', '--anchored', '--rpc', t.chain.url]);
  assert.match(r.err, /--anchored needs the proofs: --node URL .* or --proof FILE|cannot read nothing.cbor/);
});

test.run();
