// npm run bench:verify: verified reports per second on one core (the full ledger-node path:
// strict decode, alg, key lookup, strict Ed25519 through node:crypto, schema, plausibility,
// chain rules) next to raw node:crypto Ed25519 verifications per second of the same
// messages on the same core, and their ratio; then the same for the fast path
// (host-tools/verify/fast.ts, falling back to the reference), and the stateless overhead of
// each beyond the signature check (verifyReportBytes / verifyReportFast alone, no chain).
// Ends with one key=value line.
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { decodeSign1, sign1ToBeSigned } from '../../protocol/cose';
import { kidFromPublicKey } from '../../protocol/kid';
import { checkChain, keyRegistry, MemoryChain, verifyReportBytes } from '../verify';
import { Ed25519KeyRing, verifyReportFast } from '../verify/fast';
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

const ring = new Ed25519KeyRing();
ring.set(kidFromPublicKey(ride.publicKey), ride.publicKey);

/** What the ingest worker does with the fast path: it, or the reference when it declines. */
function fastFullPath(): void {
  const chain = new MemoryChain();
  for (const b of ride.reports) {
    const v = verifyReportFast(b, ring) ?? verifyReportBytes(b, ring);
    if (!v.ok) throw new Error(`report rejected: ${v.reason}: ${v.detail}`);
    const c = checkChain(v, chain);
    if (!c.ok || c.status !== 'accept') throw new Error(`chain: ${JSON.stringify(c)}`);
    chain.apply(v);
  }
}

function referenceStateless(): void {
  for (const b of ride.reports) if (!verifyReportBytes(b, registry).ok) throw new Error('reference rejected a report');
}

function fastStateless(): void {
  for (const b of ride.reports) if (!verifyReportFast(b, ring)) throw new Error('fast path declined a report of the device path');
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
const timed: Array<[() => void, number]> = [[fullPath, 0], [rawPath, 0], [fastFullPath, 0], [referenceStateless, 0], [fastStateless, 0]];
for (const [run] of timed) run();
let passes = 0;
const begin = performance.now();
while (performance.now() - begin < SECONDS * 2000) {
  for (const entry of timed) {
    const t = performance.now();
    entry[0]();
    entry[1] += performance.now() - t;
  }
  passes++;
}
const [fullMs, rawMs, fastFullMs, refMs, fastMs] = timed.map(([, ms]) => ms);
const n = passes * COUNT;
const perS = (ms: number) => (n * 1000) / ms;
const overheadUs = (ms: number) => ((ms - rawMs) * 1000) / n;
const verified = perS(fullMs);
const raw = perS(rawMs);
const fastVerified = perS(fastFullMs);
console.log(`verified reports, 1 core:  ${verified.toFixed(0)} /s (${n} in ${(fullMs / 1000).toFixed(2)} s)`);
console.log(`raw node:crypto verify:    ${raw.toFixed(0)} /s (${n} in ${(rawMs / 1000).toFixed(2)} s)`);
console.log(`verification overhead beyond the signature check: ${overheadUs(fullMs).toFixed(1)} us per report`);
console.log(`fast path, 1 core:         ${fastVerified.toFixed(0)} /s (${n} in ${(fastFullMs / 1000).toFixed(2)} s), overhead ${overheadUs(fastFullMs).toFixed(1)} us per report`);
console.log(`stateless overhead (no chain rules): verifyReportBytes ${overheadUs(refMs).toFixed(1)} us, verifyReportFast ${overheadUs(fastMs).toFixed(1)} us per report`);
console.log(
  `verified_per_s=${verified.toFixed(0)} raw_verify_per_s=${raw.toFixed(0)} ratio=${(verified / raw).toFixed(3)} ` +
    `fast_verified_per_s=${fastVerified.toFixed(0)} fast_ratio=${(fastVerified / raw).toFixed(3)} ` +
    `ref_overhead_us=${overheadUs(refMs).toFixed(1)} fast_overhead_us=${overheadUs(fastMs).toFixed(1)}`,
);
