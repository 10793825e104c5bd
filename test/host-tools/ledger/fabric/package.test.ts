// The chaincode package as a peer gets it (host-tools/ledger/fabric: package.json and the
// dist/index.cjs that `deep build` bundles): self-contained but for fabric-contract-api and
// fabric-shim; `fabric-chaincode-node metadata generate` runs offline on it and gives the
// contract's transactions; the bundle behaves as the source does, write for write.
import '../../../../host-tools/ledger/fabric/quiet';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ROOT } from '../../../../host-tools/build/build';
import { MemoryLedger } from '../../../../host-tools/ledger/fabric/inproc';
import { DeepContract } from '../../../../host-tools/ledger/fabric/src/contract';
import { Ride, device } from '../../ingest/_fixtures';
import { registerDevice, GRID, ANCHORER, RIDER, NOW_S } from './_ledger';
import { tempDir } from '../../ingest/_fixtures';

const PKG = path.join(ROOT, 'host-tools/ledger/fabric');
const BUNDLE = path.join(PKG, 'dist/index.cjs');

test('the package: main is the bundle, which needs nothing but fabric-contract-api, fabric-shim and Node', () => {
  assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run deep build (npm test builds it first)`);
  const pkg = JSON.parse(readFileSync(path.join(PKG, 'package.json'), 'utf8'));
  assert.is(pkg.main, 'dist/index.cjs');
  assert.is(pkg.scripts.start, 'fabric-chaincode-node start');
  assert.equal(Object.keys(pkg.dependencies).sort(), ['fabric-contract-api', 'fabric-shim']);
  const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  for (const d of Object.keys(pkg.dependencies)) assert.is(pkg.dependencies[d], root.dependencies[d], `${d}: the same version as the repository's`);
  const code = readFileSync(BUNDLE, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const required = [...code.matchAll(/require\((['"])([^'"]+)\1\)/g)].map((m) => m[2]);
  assert.ok(required.includes('fabric-contract-api'));
  for (const r of required) assert.ok(r === 'fabric-contract-api' || r === 'fabric-shim' || r.startsWith('node:'), `the bundle requires ${r}`);
});

test('fabric-chaincode-node metadata generate, offline, describes the contract', () => {
  const tmp = tempDir();
  try {
    const out = path.join(tmp.dir, 'metadata.json');
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/fabric-shim/cli.js'), 'metadata', 'generate', '--module-path', PKG, '--file', out], { env: { ...process.env, CORE_CHAINCODE_LOGGING_LEVEL: 'CRITICAL' }, stdio: 'pipe', timeout: 60_000 });
    const meta = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(Object.keys(meta.contracts).sort(), ['deep', 'org.hyperledger.fabric']);
    const deep = meta.contracts.deep;
    assert.is(deep.contractInstance.default, true);
    assert.is(deep.info.title, 'DEEP');
    const tx = Object.fromEntries(deep.transactions.map((t: any) => [t.name, t]));
    const submit = ['AnchorBatch', 'InitLedger', 'IssueChallenge', 'PostMarketInterval', 'PostPrices', 'RegisterDevice', 'SetMarketInterval', 'SubmitReports'];
    const evaluate = ['GetBalance', 'GetBatch', 'GetDevice', 'GetFlows', 'GetHistory', 'GetLastBatch', 'GetMarketInterval', 'GetPrices', 'VerifyInclusion'];
    assert.equal(Object.keys(tx).sort(), [...submit, ...evaluate].sort());
    for (const n of submit) assert.equal(tx[n].tag, ['SUBMIT', 'submitTx'], n);
    for (const n of evaluate) assert.equal(tx[n].tag, ['EVALUATE'], n);
    const params = (n: string) => tx[n].parameters.map((p: any) => `${p.name}:${p.schema.type}`);
    assert.equal(params('RegisterDevice'), ['pairingProof:string', 'owner:string']);
    assert.equal(params('SubmitReports'), ['reports:string']);
    assert.equal(params('AnchorBatch'), ['batchId:number', 'root:string', 'size:number', 'ranges:string']);
    assert.equal(params('PostPrices'), ['intervals:string', 'endS:number']);
    assert.equal(params('PostMarketInterval'), ['startS:number', 'retailMicro:number', 'feedInMicro:number', 'results:string']);
    assert.equal(params('SetMarketInterval'), ['intervalS:number']);
    assert.equal(params('GetHistory'), ['owner:string', 'pageSize:number', 'bookmark:string']);
    assert.equal(params('VerifyInclusion'), ['batchId:number', 'leafHash:string', 'index:number', 'path:string']);
    assert.is(tx.VerifyInclusion.returns.type, 'boolean');
    assert.is(tx.SubmitReports.returns.type, 'string');
    // the source, run in process, declares the same transactions
    const source = new MemoryLedger({ contracts: [DeepContract] }).metadata as any;
    assert.equal(source.contracts.deep.transactions, deep.transactions);
  } finally {
    tmp.cleanup();
  }
});

test('the bundle and the source write the same for the same transactions', async () => {
  const bundled = createRequire(import.meta.url)(BUNDLE) as { contracts: unknown[] };
  const ledgers = [new MemoryLedger({ contracts: bundled.contracts }), new MemoryLedger({ contracts: [DeepContract] })];
  const dev = device(90);
  const reports = new Ride(dev).take(6);
  const dumps: string[] = [];
  for (const l of ledgers) {
    const at = { timestampS: NOW_S };
    await l.submit(GRID, 'InitLedger', [GRID.mspId, ANCHORER.mspId], { ...at, txId: 'init' });
    await l.submit(GRID, 'PostPrices', [JSON.stringify([{ startS: 0, importMicro: 100000, exportMicro: 50000 }]), String(NOW_S + 86400)], { ...at, txId: 'prices' });
    // IssueChallenge's tx ids come from the ledger's counter: the same on both, so the same challenge
    await registerDevice(l, dev, 'rider');
  }
  for (const [i, l] of ledgers.entries()) {
    const { result } = await l.submit(RIDER, 'SubmitReports', [Buffer.concat(reports).toString('base64')], { timestampS: NOW_S, txId: 'reports' });
    assert.ok((JSON.parse(result).results as any[]).every((a) => a.status === 'accepted'));
    dumps[i] = JSON.stringify(l.dump().map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
  }
  assert.is(dumps[0], dumps[1]);
});

test.run();
