// npm run bench:anchor: what anchoring costs on a London EVM (Hardhat's, over HTTP on
// loopback, Volta's chain id): a batch of 1,000 `deep report` reports from 50 bikes (20
// each), the sample prices posted, so the grid energy is settled in the same transaction.
// The first batch makes 50 devices known to the contract (one new storage slot each); the
// second is the steady state. anchor_ms is the publisher's path: tree, calldata, gas
// estimate, sign, send, receipt. Then the same two batches to a second contract with the
// market on (protocol/MARKET.md §5.2): every 15-min interval the reports touch posted with a
// result for every device, so each device's share of an interval is one market record and
// one new (device, interval) slot. Ends with the first (worst) batch of each as key=value lines.
import { createHash, createPrivateKey, sign as edSign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createWalletClient, http, keccak256 } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { simulateRide } from '../cli/commands/report';
import { ed25519PublicKey } from '../../firmware/keys/ed25519';
import { kidFromPublicKey } from '../../protocol/kid';
import { prevOf, signReport, zeroPrev } from '../../protocol/report';
import { leafOfReport, planBatch } from '../ledger/batch';
import { loadLedgerArtifact } from '../ledger/evm/compile';
import { anchorArgs, anchorCalldata, chainFor, chainPriceSeries, deployLedger, marketIntervalArgs, publicClientFor, type ChainSeries } from '../ledger/evm/contract';
import type { IntervalResult } from '../market/hub';
import { startLocalChain } from '../ledger/evm/local-chain';
import { loadPrices } from '../testnet/prices';

const BIKES = Number(process.env.BENCH_BIKES ?? 50);
const PER_BATCH = Number(process.env.BENCH_REPORTS_PER_BIKE ?? 20);

/** A ride of `deep report` figures signed with node:crypto (the device signer is slow). */
function ride(label: string, count: number): Uint8Array[] {
  const seed = createHash('sha256').update(label).digest();
  const publicKey = ed25519PublicKey(new Uint8Array(seed));
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const kid = kidFromPublicKey(publicKey);
  let prev = zeroPrev();
  return simulateRide(new Uint8Array(seed), count).map((body, seq) => {
    const cose = signReport({ ...body, kid, seq, prev }, (tbs) => new Uint8Array(edSign(null, tbs, key)));
    prev = prevOf(cose);
    return cose;
  });
}

const t0 = performance.now();
const artifact = loadLedgerArtifact();
const chain = await startLocalChain();
const account = (label: string) => privateKeyToAccount(keccak256(new TextEncoder().encode(`bench ${label}`)));
const admin = account('admin'), anchorer = account('anchorer'), grid = account('grid');
for (const a of [admin, anchorer, grid]) await chain.fund(a.address, 10n ** 21n);
const viemChain = chainFor(chain.chainId, chain.url, 'local london');
const client = publicClientFor(chain.url, viemChain, 60_000);
const { address } = await deployLedger({ rpcUrl: chain.url, chain: viemChain, account: admin, gridOperator: grid.address, anchorers: [anchorer.address], artifact });
const leaves = Array.from({ length: BIKES }, (_, i) => ride(`bench bike ${i}`, 2 * PER_BATCH).map(leafOfReport));
const starts = leaves.flat().filter((l) => l.synced).map((l) => l.startS);
const series = chainPriceSeries(loadPrices(), Math.min(...starts), Math.max(...starts) + 3600);
const gridWallet = createWalletClient({ account: grid, chain: viemChain, transport: http(chain.url) });
for (let i = 0; i < series.intervals.length; i += 48) {
  const part = series.intervals.slice(i, i + 48);
  const end = i + 48 < series.intervals.length ? series.intervals[i + 48].start : series.end;
  const hash = await gridWallet.writeContract({ address, abi: artifact.abi, functionName: 'postPrices', args: [part, end] } as never);
  await client.waitForTransactionReceipt({ hash });
}
console.log(`set-up (compile or cache, chain, deploy, ${BIKES * 2 * PER_BATCH} reports, prices) ${((performance.now() - t0) / 1000).toFixed(1)} s`);

async function anchorBoth(to: typeof address, series: ChainSeries, mode: string): Promise<{ gasPerReport: number; ms: number }[]> {
const results: { gasPerReport: number; ms: number }[] = [];
for (const [b, from] of [[1, 0], [2, PER_BATCH]]) {
  const ta = performance.now();
  const plan = planBatch(leaves.flatMap((l) => l.slice(from, from + PER_BATCH)));
  const args = anchorArgs(b, plan, series);
  const data = anchorCalldata(artifact.abi, args);
  const gas = await client.estimateGas({ account: anchorer.address, to, data });
  const gasPrice = await client.getGasPrice();
  const nonce = await client.getTransactionCount({ address: anchorer.address, blockTag: 'pending' });
  const raw = await anchorer.signTransaction({ type: 'legacy', chainId: chain.chainId, nonce, to, data, gas: (gas * 12n) / 10n, gasPrice });
  const hash = await client.sendRawTransaction({ serializedTransaction: raw });
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
  const ms = performance.now() - ta;
  if (receipt.status !== 'success') throw new Error(`batch ${b} reverted`);
  const gasPerReport = Math.round(Number(receipt.gasUsed) / plan.size);
  results.push({ gasPerReport, ms });
  console.log(
    `mode=${mode} batch=${b} reports=${plan.size} devices=${plan.devices.length} new_devices=${b === 1 ? plan.devices.length : 0} grid_records=${args.grid.length} ` +
      `calldata_bytes=${(data.length - 2) / 2} gas=${receipt.gasUsed} gas_per_report=${gasPerReport} anchor_ms=${ms.toFixed(0)}`,
  );
}
return results;
}
const priced = await anchorBoth(address, series, 'prices');

// The market: a second contract, its intervals posted with a result for every device.
const IV = 900;
const market = (await deployLedger({ rpcUrl: chain.url, chain: viemChain, account: admin, gridOperator: grid.address, anchorers: [anchorer.address], artifact })).address;
const write = async (functionName: string, args: unknown[]) => client.waitForTransactionReceipt({ hash: await gridWallet.writeContract({ address: market, abi: artifact.abi, functionName, args } as never) });
await write('setMarketInterval', [IV]);
const synced = leaves.flat().filter((l) => l.synced);
const ivs = [...new Set(synced.flatMap((l) => [Math.floor(l.startS / IV) * IV, Math.floor((l.startS + l.durationS) / IV) * IV]))].sort((a, b) => a - b);
let postGas = 0n;
for (const k of ivs) {
  const result: IntervalResult = {
    hub: 'hub-1', startS: k, durationS: IV, retailMicroPerKwh: 300_000, feedInMicroPerKwh: 80_000, priceMicroPerKwh: 150_000, tradedWh: 0,
    utility: { soldWh: 0, boughtWh: 0, amountNano: 0 },
    participants: leaves.map((l, i) => ({ participant: l[0].device, boughtWh: 0, soldWh: 0, fromUtilityWh: 0, toUtilityWh: 0, netWh: i % 2 ? 20 : -20, amountNano: i % 2 ? -3_000_000 : 3_000_000 })),
  };
  const a = marketIntervalArgs(k, { retailMicroPerKwh: 300_000, feedInMicroPerKwh: 80_000 }, [result]);
  postGas += (await write('postMarketInterval', [a.start, a.retailMicro, a.feedInMicro, a.results])).gasUsed;
}
console.log(`market: ${ivs.length} intervals posted with ${BIKES} results each, ${postGas} gas (${postGas / BigInt(ivs.length * BIKES)} per result)`);
const withMarket = await anchorBoth(market, { intervals: [], end: 0, marketS: IV }, 'market');
await chain.close();
console.log(`gas_per_report=${priced[0].gasPerReport} anchor_ms=${priced[0].ms.toFixed(0)}`);
console.log(`market gas_per_report=${withMarket[0].gasPerReport} anchor_ms=${withMarket[0].ms.toFixed(0)}`);
process.exit(0);
