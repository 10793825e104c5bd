// npm run bench:verify: verified reports per second on one core (the full ledger-node path:
// strict decode, alg, key lookup, strict Ed25519 through node:crypto, schema, plausibility,
// chain rules) next to raw node:crypto Ed25519 verifications per second of the same
// messages on the same core, and their ratio. Ends with one key=value line.
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { decodeSign1, sign1ToBeSigned } from '../../protocol/cose';
import { kidFromPublicKey } from '../../protocol/kid';
import { checkChain, keyRegistry, MemoryChain, verifyReportBytes } from '../verify';
import { makeSignedRide } from '../cli/commands/report';
import { fromHex } from '../../protocol/bytes';

const COUNT = Number(process.env.BENCH_REPORTS ?? 400);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

const seed = fromHex('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7');
const t0 = performance.now();
const ride = makeSignedRide(seed, COUNT);
const makeMs = performance.now() - t0;
const registry = keyRegistry([ride.publicKey], kidFromPublicKey);
const sizes = ride.reports.map((r) => r.length);
console.log(`${COUNT} reports from the device path in ${makeMs.toFixed(0)} ms, ${Math.min(...sizes)}..${Math.max(...sizes)} bytes each`);

function fullPath(): void {
  const chain = new MemoryChain();
  for (const b of ride.reports) {
    const v = verifyReportBytes(b, registry);
    if (!v.ok) throw new Error(`report rejected: ${v.reason}: ${v.detail}`);
    const c = checkChain(v, chain);
    if (!c.ok || c.status !== 'accept') throw new Error(`chain: ${JSON.stringify(c)}`);
    chain.apply(v);
  }
}

const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), ride.publicKey]), format: 'der', type: 'spki' });
const parts = ride.reports.map((b) => {
  const s = decodeSign1(b);
  return { tbs: sign1ToBeSigned(s), sig: s.signature };
});
function rawPath(): void {
  for (const p of parts) if (!cryptoVerify(null, p.tbs, key, p.sig)) throw new Error('raw verify failed');
}

// The two are timed in alternating passes, so a machine whose load changes during the run
// (CI, other jobs) weighs on both alike and the ratio stays meaningful.
fullPath();
rawPath();
let fullMs = 0;
let rawMs = 0;
let passes = 0;
const begin = performance.now();
while (performance.now() - begin < SECONDS * 2000) {
  let t = performance.now();
  fullPath();
  fullMs += performance.now() - t;
  t = performance.now();
  rawPath();
  rawMs += performance.now() - t;
  passes++;
}
const verified = (passes * COUNT * 1000) / fullMs;
const raw = (passes * COUNT * 1000) / rawMs;
console.log(`verified reports, 1 core:  ${verified.toFixed(0)} /s (${passes * COUNT} in ${(fullMs / 1000).toFixed(2)} s)`);
console.log(`raw node:crypto verify:    ${raw.toFixed(0)} /s (${passes * COUNT} in ${(rawMs / 1000).toFixed(2)} s)`);
console.log(`verification overhead beyond the signature check: ${((fullMs - rawMs) * 1000 / (passes * COUNT)).toFixed(1)} us per report`);
console.log(`verified_per_s=${verified.toFixed(0)} raw_verify_per_s=${raw.toFixed(0)} ratio=${(verified / raw).toFixed(3)}`);
