// npm run bench:fabric: reports per second through the DEEP chaincode in process (fabric-shim's
// contract dispatcher on the in-memory world state, host-tools/ledger/fabric/inproc.ts): one
// device's ride from the device path, submitted in SubmitReports transactions of BATCH
// reports (endorse + commit), next to the bare verifier path (verify + chain rules) on the
// same reports. No peer: gRPC, ordering and validation costs of a real network are not in
// it. Ends with one key=value line.
import '../ledger/fabric/quiet';
import { createPrivateKey, sign as edSign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MemoryLedger } from '../ledger/fabric/inproc';
import { makeIdentity } from '../ledger/fabric/identity';
import { DeepContract } from '../ledger/fabric/src/contract';
import { checkChain, keyRegistry, MemoryChain, verifyReportBytes } from '../verify';
import { kidFromPublicKey } from '../../protocol/kid';
import { makePairingProof } from '../../protocol/pairing';
import { makeSignedRide } from '../cli/commands/report';
import { fromHex } from '../../protocol/bytes';

const COUNT = Number(process.env.BENCH_REPORTS ?? 2000);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const seed = fromHex('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7');
const ride = makeSignedRide(seed, COUNT);
const nowS = Math.floor(Date.now() / 1000);

const ledger = new MemoryLedger({ contracts: [DeepContract] });
const grid = makeIdentity('GridMSP', 'operator', { 'deep.role': 'grid-operator' });
const client = makeIdentity('HubMSP', 'rider-app');
await ledger.submit(grid, 'InitLedger', ['GridMSP', 'HubMSP'], { timestampS: nowS });
const { result: challenge } = await ledger.submit(client, 'IssueChallenge', [], { timestampS: nowS });
// The same key signs the pairing proof here through node:crypto (PKCS#8 wrapping of the seed, RFC 8410).
const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
const proof = makePairingProof({ challenge: fromHex(challenge), publicKey: ride.publicKey, firmware: 256 }, (tbs) => new Uint8Array(edSign(null, tbs, key)));
await ledger.submit(client, 'RegisterDevice', [Buffer.from(proof).toString('base64'), 'rider'], { timestampS: nowS });

// Warm up the verifier (JIT, key cache) so that neither measurement pays for it.
const registry = keyRegistry([ride.publicKey], kidFromPublicKey);
for (const b of ride.reports.slice(0, 200)) verifyReportBytes(b, registry, { nowS });

let t0 = performance.now();
let accepted = 0;
for (let i = 0; i < COUNT; i += BATCH) {
  const part = Buffer.concat(ride.reports.slice(i, i + BATCH)).toString('base64');
  const { result } = await ledger.submit(client, 'SubmitReports', [part], { timestampS: nowS });
  accepted += (JSON.parse(result).results as { status: string }[]).filter((a) => a.status === 'accepted').length;
}
const chaincodeMs = performance.now() - t0;
if (accepted !== COUNT) throw new Error(`the chaincode accepted ${accepted} of ${COUNT}`);

t0 = performance.now();
const chain = new MemoryChain();
for (const b of ride.reports) {
  const v = verifyReportBytes(b, registry, { nowS });
  if (!v.ok || !checkChain(v, chain).ok) throw new Error('verifier refused a report');
  chain.apply(v);
}
const verifyMs = performance.now() - t0;
const perS = (ms: number) => Math.round((COUNT * 1000) / ms);
console.log(`${COUNT} reports in ${Math.ceil(COUNT / BATCH)} SubmitReports transactions of ${BATCH}: ${chaincodeMs.toFixed(0)} ms (${perS(chaincodeMs)}/s); verifier alone ${verifyMs.toFixed(0)} ms (${perS(verifyMs)}/s)`);
console.log(`reports=${COUNT} batch=${BATCH} chaincode_per_s=${perS(chaincodeMs)} verify_per_s=${perS(verifyMs)} world_state_keys=${ledger.dump().length}`);
