// The testnet's chain: a real EVM JSON-RPC server on loopback (Hardhat 2's network, London,
// Volta's chain id 73799), the DeepLedger contract deployed to it, the hubs' grid operator
// posting the run's prices, and the ingest node anchoring over HTTP exactly as it would to
// Volta. At the end: every batch confirmed, and each device's balance on chain compared with
// the off-chain settlement to the micro-unit.
import { createHash } from 'node:crypto';
import { createWalletClient, http, type Address, type Hex } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { loadLedgerArtifact, type LedgerArtifact } from '../ledger/evm/compile';
import { chainFor, chainPriceSeries, deployLedger, marketIntervalArgs, publicClientFor } from '../ledger/evm/contract';
import { startLocalChain, type LocalChain } from '../ledger/evm/local-chain';
import type { PublisherOptions } from '../ledger/evm/publisher';
import type { IngestNode } from '../ingest/node';
import type { IntervalResult } from '../market/hub';
import type { PriceSeries } from './prices';

export interface TestnetChain {
  chain: LocalChain;
  contract: Address;
  /** What the ingest node gets to anchor (its account is an anchorer of the contract). */
  anchor: Omit<PublisherOptions, 'logger'>;
  /**
   * The hubs' grid operator posts an interval's market results (all hubs' results of that
   * start; none for an interval the market did not clear, whose energy is all imbalance),
   * once per interval: a second call for the same start does nothing.
   */
  postMarket(startS: number, tariff: { retailMicroPerKwh: number; feedInMicroPerKwh: number }, results: readonly IntervalResult[]): Promise<void>;
  close(): Promise<void>;
}

export interface AnchorOutcome {
  /** Reports in batches anchored with their confirmations. */
  anchored: number;
  batches: number;
  /** Every device's on-chain balance equals its off-chain balance (the market's settlement when the market is on), to the micro-unit. */
  settledOk: boolean;
  mismatches: string[];
}

/** Test keys of the run, derived from the seed (not secrets: a loopback chain only). */
export function testnetKey(seed: number, role: string): Hex {
  return `0x${createHash('sha256').update(`deep testnet ${seed} ${role}`).digest('hex')}`;
}

function account(seed: number, role: string): PrivateKeyAccount {
  return privateKeyToAccount(testnetKey(seed, role));
}

/** The rider of a bike: an EVM account that owns it on chain. */
export function riderKey(seed: number, bike: string): Hex {
  return testnetKey(seed, `rider of ${bike}`);
}

/**
 * Starts the chain, deploys, and posts the price series over [fromS, toS). Blocks are mined
 * for every transaction and every `blockMs` besides, so confirmations accrue.
 */
export async function startTestnetChain(o: { seed: number; series: PriceSeries; fromS: number; toS: number; confirmations?: number; blockMs?: number; marketIntervalS?: number }): Promise<TestnetChain> {
  const artifact: LedgerArtifact = loadLedgerArtifact();
  let chain: LocalChain;
  try {
    chain = await startLocalChain({ intervalMs: o.blockMs ?? 500 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new Error('the testnet\'s EVM chain needs hardhat, a devDependency (npm install without --omit=dev), or run with --anchor off');
    }
    throw err;
  }
  try {
    const admin = account(o.seed, 'admin'), anchorer = account(o.seed, 'ingest node'), grid = account(o.seed, 'hubs');
    for (const a of [admin, anchorer, grid]) await chain.fund(a.address, 10n ** 21n);
    const viemChain = chainFor(chain.chainId, chain.url, 'testnet (London)');
    const { address } = await deployLedger({ rpcUrl: chain.url, chain: viemChain, account: admin, gridOperator: grid.address, anchorers: [anchorer.address], artifact });
    const cs = chainPriceSeries(o.series, o.fromS, o.toS);
    const wallet = createWalletClient({ account: grid, chain: viemChain, transport: http(chain.url) });
    const client = publicClientFor(chain.url, viemChain, 30_000);
    for (let i = 0; i < cs.intervals.length; i += 96) {
      const part = cs.intervals.slice(i, i + 96);
      const end = i + 96 < cs.intervals.length ? cs.intervals[i + 96].start : cs.end;
      const hash = await wallet.writeContract({ address, abi: artifact.abi, functionName: 'postPrices', args: [part, end] } as never);
      const r = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
      if (r.status !== 'success') throw new Error(`posting prices failed (${hash})`);
    }
    const sendAndWait = async (functionName: string, args: unknown[]) => {
      const hash = await wallet.writeContract({ address, abi: artifact.abi, functionName, args } as never);
      const r = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
      if (r.status !== 'success') throw new Error(`${functionName} failed (${hash})`);
    };
    // The market on: grid energy settles at the posted results, interval by interval.
    if (o.marketIntervalS) await sendAndWait('setMarketInterval', [o.marketIntervalS]);
    const posted = new Set<number>();
    return {
      chain,
      contract: address,
      async postMarket(startS, tariff, results) {
        if (!o.marketIntervalS) throw new Error('the testnet chain was started without the market');
        if (posted.has(startS)) return;
        const a = marketIntervalArgs(startS, tariff, results);
        await sendAndWait('postMarketInterval', [a.start, a.retailMicro, a.feedInMicro, a.results]);
        posted.add(startS);
      },
      anchor: { rpcUrl: chain.url, chainId: chain.chainId, contract: address, account: anchorer, confirmations: o.confirmations ?? 2, pollMs: 250, artifact },
      close: () => chain.close(),
    };
  } catch (err) {
    await chain.close();
    throw err;
  }
}

/**
 * Closes the last batch, waits (at most `limitMs`) until every batch is anchored with its
 * confirmations, then compares each device's balance on chain with `balances`.
 */
export async function finishAnchoring(node: IngestNode, tc: TestnetChain, balances: { device: string; balanceMicro: bigint }[], riders: { device: string; key: Hex }[], limitMs = 60_000): Promise<AnchorOutcome> {
  const batches = node.store.batches!;
  node.batcher!.closeDue(Date.now() + 365 * 86_400_000);
  const t0 = Date.now();
  const busy = () => node.publisher!.status().batchesBehind > 0 || batches.pendingOwners().length > 0;
  while (busy() && !node.publisher!.status().fatal && Date.now() - t0 < limitMs) {
    await new Promise((r) => setTimeout(r, 100));
  }
  let anchored = 0, count = 0;
  for (let b = batches.get(1); b; b = batches.get(b.id + 1)) {
    if (batches.anchorOf(b.id)) {
      anchored += b.size;
      count++;
    }
  }
  const artifact = loadLedgerArtifact();
  const client = publicClientFor(tc.chain.url, undefined, 30_000);
  const mismatches: string[] = [];
  const readC = (functionName: string, args: unknown[]) => client.readContract({ address: tc.contract, abi: artifact.abi, functionName, args } as never) as Promise<unknown>;
  for (const b of balances) {
    const micro = (await readC('deviceBalanceMicro', [`0x${b.device}`])) as bigint;
    if (micro !== b.balanceMicro) mismatches.push(`device ${b.device}: on chain ${micro}, off chain ${b.balanceMicro} (micro-units)`);
    // Each rider owns one bike: the rider's account balance is that bike's settlement.
    const rider = riders.find((r) => r.device === b.device);
    if (!rider) continue;
    const address = privateKeyToAccount(rider.key).address;
    const [owner] = (await readC('owners', [`0x${b.device}`])) as [Address, bigint];
    if (owner !== address) mismatches.push(`device ${b.device}: owned on chain by ${owner}, its rider is ${address}`);
    const riderMicro = (await readC('balanceMicro', [address])) as bigint;
    if (riderMicro !== b.balanceMicro) mismatches.push(`rider ${address}: on chain ${riderMicro}, off chain ${b.balanceMicro} (micro-units)`);
  }
  const fatal = node.publisher!.status().fatal;
  if (fatal) mismatches.push(`anchoring stopped: ${fatal}`);
  return { anchored, batches: count, settledOk: mismatches.length === 0 && balances.length > 0, mismatches };
}
