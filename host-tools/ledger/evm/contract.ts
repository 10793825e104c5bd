// The DeepLedger contract from TypeScript (viem): chain presets, deployment, the anchor
// call's encoding from a batch plan, price series in the contract's form, and revert
// reasons decoded from the contract's custom errors. protocol/SPEC.md §7.
import {
  BaseError,
  createPublicClient,
  decodeErrorResult,
  defineChain,
  encodeFunctionData,
  http,
  type Abi,
  type Address,
  type Chain,
  type Hex,
  type PublicClient,
  type Transport,
} from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';
import { DAY_S, type PriceSeries } from '../../testnet/prices';
import type { BatchPlan, BatchLeaf } from '../batch';
import { apportion } from '../../market/settle';
import type { IntervalResult } from '../../market/hub';
import { loadLedgerArtifact, type LedgerArtifact } from './compile';

export interface ChainPreset {
  id: number;
  name: string;
  rpc: string;
  symbol: string;
}

/** Energy Web's chains: both run London and nothing later. */
export const CHAIN_PRESETS: Record<'volta' | 'ewc', ChainPreset> = {
  volta: { id: 73799, name: 'Energy Web Volta', rpc: 'https://volta-rpc.energyweb.org', symbol: 'VT' },
  ewc: { id: 246, name: 'Energy Web Chain', rpc: 'https://rpc.energyweb.org', symbol: 'EWT' },
};

export function chainFor(id: number, rpcUrl: string, name = `EVM chain ${id}`, symbol = 'ETH'): Chain {
  return defineChain({ id, name, nativeCurrency: { name: symbol, symbol, decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } });
}

/** A read client; `retryCount: 0` so the caller decides what an outage means. */
export function publicClientFor(rpcUrl: string, chain?: Chain, timeoutMs = 10_000): PublicClient<Transport, Chain | undefined> {
  return createPublicClient({ chain, transport: http(rpcUrl, { retryCount: 0, timeout: timeoutMs }) }) as PublicClient<Transport, Chain | undefined>;
}

const hex = (b: Uint8Array): Hex => `0x${Buffer.from(b).toString('hex')}`;

// ------------------------------------------------------------------------------ prices

/** One interval as the contract stores it: start (epoch s), micro-units per kWh. */
export interface ChainPriceInterval {
  start: number;
  importMicro: number;
  exportMicro: number;
}

/**
 * A price series in the contract's form over [fromS, toS): an absolute series as it is,
 * a daily profile repeated for every UTC day the span touches. `end` closes the last interval.
 */
export function chainPriceSeries(series: PriceSeries, fromS: number, toS: number): { intervals: ChainPriceInterval[]; end: number } {
  const conv = (start: number, iv: { importMicroPerKwh: number; exportMicroPerKwh: number }): ChainPriceInterval => ({
    start, importMicro: iv.importMicroPerKwh, exportMicro: iv.exportMicroPerKwh,
  });
  if (series.kind === 'absolute') {
    return { intervals: series.intervals.map((iv) => conv(iv.startS, iv)), end: series.intervals[series.intervals.length - 1].endS };
  }
  if (!(toS > fromS)) throw new RangeError(`price span expected from < to, got [${fromS}, ${toS})`);
  const firstDay = Math.floor(fromS / DAY_S);
  const lastDay = Math.floor((toS - 1) / DAY_S);
  const intervals: ChainPriceInterval[] = [];
  for (let day = firstDay; day <= lastDay; day++) {
    for (const iv of series.intervals) intervals.push(conv(day * DAY_S + iv.startS, iv));
  }
  return { intervals, end: (lastDay + 1) * DAY_S };
}

/** Index of the interval holding `t`, or -1 when the series does not cover it. */
export function priceIndexOf(intervals: readonly ChainPriceInterval[], end: number, t: number): number {
  if (!intervals.length || t < intervals[0].start || t >= end) return -1;
  let lo = 0, hi = intervals.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (intervals[mid].start <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// ------------------------------------------------------------------------------ anchor

/** The price series as the contract holds it (read from the chain, or as posted). */
export interface ChainSeries {
  intervals: ChainPriceInterval[];
  end: number;
  /** The contract's marketIntervalS: when > 0, grid energy goes in market records only. */
  marketS?: number;
}

/** A grid record: a window and its grid energy, and the price interval holding its start. */
export interface GridRecord {
  startS: number;
  durationS: number;
  gridToPackMwh: number;
  packToGridMwh: number;
  priceIndex: number;
  /** Reports merged into it (1 for a report whose window straddles intervals). */
  reports: number;
}

/**
 * A device run's grid records against the posted series. A report inside one price
 * interval joins that interval's record (valued at exactly energy × price, as the report
 * alone would be); a report straddling intervals is its own record, valued at its
 * time-weighted price and rounded like settlement.ts rounds it. Reports without trusted
 * time or outside the series get no record: their energy is unpriced on chain as off chain.
 */
export function gridRecords(leaves: readonly BatchLeaf[], series: ChainSeries): GridRecord[] {
  const merged = new Map<number, GridRecord>();
  const out: GridRecord[] = [];
  for (const l of leaves) {
    if (!l.synced || (l.gridToPackMwh === 0 && l.packToGridMwh === 0)) continue;
    const end = l.startS + (l.durationS > 0 ? l.durationS : 1);
    const i = priceIndexOf(series.intervals, series.end, l.startS);
    if (i < 0 || end > series.end) continue;
    const ivEnd = i + 1 < series.intervals.length ? series.intervals[i + 1].start : series.end;
    if (end > ivEnd) {
      out.push({ startS: l.startS, durationS: l.durationS, gridToPackMwh: l.gridToPackMwh, packToGridMwh: l.packToGridMwh, priceIndex: i, reports: 1 });
      continue;
    }
    let r = merged.get(i);
    if (!r) {
      const start = series.intervals[i].start;
      r = { startS: start, durationS: ivEnd - start, gridToPackMwh: 0, packToGridMwh: 0, priceIndex: i, reports: 0 };
      merged.set(i, r);
      out.push(r);
    }
    r.gridToPackMwh += l.gridToPackMwh;
    r.packToGridMwh += l.packToGridMwh;
    r.reports++;
  }
  return out.sort((a, b) => a.startS - b.startS || a.durationS - b.durationS);
}

const MAX = { start: 2n ** 40n, duration: 2n ** 32n, mwh: 2n ** 48n, index: 2n ** 32n };

function field(name: string, v: number, limit: bigint): bigint {
  if (!Number.isSafeInteger(v) || v < 0 || BigInt(v) >= limit) throw new RangeError(`grid record ${name} expected an integer in [0, ${limit - 1n}], got ${v}`);
  return BigInt(v);
}

/** One grid record word (layout in DeepLedger.sol, anchor()). */
export function encodeGridRecord(r: GridRecord): bigint {
  return (
    (field('start', r.startS, MAX.start) << 216n) |
    (field('duration', r.durationS, MAX.duration) << 184n) |
    (field('grid->pack mWh', r.gridToPackMwh, MAX.mwh) << 136n) |
    (field('pack->grid mWh', r.packToGridMwh, MAX.mwh) << 88n) |
    (field('price index', r.priceIndex, MAX.index) << 56n)
  );
}

/** A device's share of one market interval in a batch (protocol/MARKET.md §5.1). */
export interface MarketRecord {
  startS: number;
  gridToPackMwh: number;
  packToGridMwh: number;
}

/**
 * A device run's market records: its synced reports' grid energy spread over the market's
 * intervals exactly as the off-chain settlement spreads it (apportion). A window's shares
 * depend on that window only, so the shares of two batches add up to the day's.
 */
export function marketRecords(leaves: readonly BatchLeaf[], intervalS: number): MarketRecord[] {
  const windows = leaves.filter((l) => l.synced && (l.gridToPackMwh > 0 || l.packToGridMwh > 0)).map((l) => ({
    device: '', startS: l.startS, endS: l.startS + l.durationS, gridToPackMwh: l.gridToPackMwh, packToGridMwh: l.packToGridMwh,
  }));
  const per = apportion(windows, intervalS)[''] ?? {};
  return Object.keys(per).map(Number).sort((a, b) => a - b)
    .filter((k) => per[k].inMwh > 0 || per[k].outMwh > 0)
    .map((k) => ({ startS: k, gridToPackMwh: per[k].inMwh, packToGridMwh: per[k].outMwh }));
}

/** One market record word (layout in DeepLedger.sol, anchor()): bit 0 marks it. */
export function encodeMarketRecord(r: MarketRecord): bigint {
  return (field('interval start', r.startS, MAX.start) << 216n) | (field('grid->pack mWh', r.gridToPackMwh, MAX.mwh) << 136n) | (field('pack->grid mWh', r.packToGridMwh, MAX.mwh) << 88n) | 1n;
}

export interface MarketIntervalArgs {
  start: number;
  retailMicro: number;
  feedInMicro: number;
  results: { device: Hex; netWh: number; amountNano: bigint; retailMicro: number; feedInMicro: number }[];
}

const DEVICE_ID = /^[0-9a-f]{16}$/;

/**
 * postMarketInterval()'s arguments for the interval at `start`: the utility's prices of the
 * interval (what a device without a result settles at) and every device's result over the
 * hubs' results of that start, ascending by device. Participants that are not devices (a
 * hub's PV, `hub/pv`) measure nothing on the ledger and are left out.
 */
export function marketIntervalArgs(start: number, tariff: { retailMicroPerKwh: number; feedInMicroPerKwh: number }, results: readonly IntervalResult[]): MarketIntervalArgs {
  const rows: MarketIntervalArgs['results'] = [];
  for (const r of results) {
    if (r.startS !== start) throw new Error(`market result of ${r.hub} starts at ${r.startS}, not at the interval ${start}`);
    for (const p of r.participants) {
      if (!DEVICE_ID.test(p.participant)) continue;
      if (rows.some((x) => x.device === `0x${p.participant}`)) throw new Error(`device ${p.participant} has two results for the interval at ${start}`);
      if (!Number.isSafeInteger(p.netWh) || Math.abs(p.netWh) >= 2 ** 31) throw new RangeError(`device ${p.participant} at ${start}: netWh ${p.netWh} does not fit the contract's int32`);
      if (!Number.isSafeInteger(p.amountNano) || Math.abs(p.amountNano) >= 2 ** 53) throw new RangeError(`device ${p.participant} at ${start}: amountNano ${p.amountNano} is not an exact integer`);
      rows.push({ device: `0x${p.participant}`, netWh: p.netWh, amountNano: BigInt(p.amountNano), retailMicro: r.retailMicroPerKwh, feedInMicro: r.feedInMicroPerKwh });
    }
  }
  rows.sort((a, b) => (a.device < b.device ? -1 : 1));
  return { start, retailMicro: tariff.retailMicroPerKwh, feedInMicro: tariff.feedInMicroPerKwh, results: rows };
}

export interface AnchorArgs {
  batchId: bigint;
  root: Hex;
  treeSize: bigint;
  entries: {
    device: Hex;
    firstSeq: bigint;
    lastSeq: bigint;
    gridToPackMwh: bigint;
    packToGridMwh: bigint;
    packToMotorMwh: bigint;
    regenToPackMwh: bigint;
    gridRecords: number;
  }[];
  grid: bigint[];
}

/** The arguments of anchor() for a batch, against the price series posted on chain (or the market's intervals, when on). */
export function anchorArgs(batchId: number, plan: BatchPlan, series: ChainSeries): AnchorArgs {
  const grid: bigint[] = [];
  const entries = plan.devices.map((d) => {
    let count: number;
    if (series.marketS) {
      const records = marketRecords(d.grid, series.marketS);
      for (const r of records) grid.push(encodeMarketRecord(r));
      count = records.length;
    } else {
      const records = gridRecords(d.grid, series);
      for (const r of records) grid.push(encodeGridRecord(r));
      count = records.length;
    }
    return {
      device: `0x${d.device}` as Hex,
      firstSeq: BigInt(d.firstSeq),
      lastSeq: BigInt(d.lastSeq),
      gridToPackMwh: BigInt(d.gridToPackMwh),
      packToGridMwh: BigInt(d.packToGridMwh),
      packToMotorMwh: BigInt(d.packToMotorMwh),
      regenToPackMwh: BigInt(d.regenToPackMwh),
      gridRecords: count,
    };
  });
  return { batchId: BigInt(batchId), root: hex(plan.root), treeSize: BigInt(plan.size), entries, grid };
}

export const NO_PRICES: ChainSeries = { intervals: [], end: 0 };

export function anchorCalldata(abi: Abi, a: AnchorArgs): Hex {
  return encodeFunctionData({ abi, functionName: 'anchor', args: [a.batchId, a.root, a.treeSize, a.entries, a.grid] });
}

// ------------------------------------------------------------------------------ errors

/** The contract's custom error in a viem error, e.g. `SeqGap(device=0x.., expectedFirstSeq=3, firstSeq=5)`. */
export function revertReason(err: unknown, abi: Abi): { name: string; args: readonly unknown[]; text: string } | undefined {
  let data: Hex | undefined;
  if (err instanceof BaseError) {
    err.walk((e) => {
      const d = (e as { data?: unknown }).data;
      if (typeof d === 'string' && d.startsWith('0x') && d.length >= 10) data = d as Hex;
      else if (d && typeof d === 'object' && typeof (d as { data?: unknown }).data === 'string') data = (d as { data: Hex }).data;
      return false;
    });
  }
  // Hardhat's provider in-process puts the revert data on the error itself, without a code.
  const raw = (err as { data?: unknown })?.data;
  if (!data && typeof raw === 'string' && raw.startsWith('0x')) data = raw as Hex;
  if (!data) return undefined;
  try {
    const d = decodeErrorResult({ abi, data });
    const item = abi.find((x) => x.type === 'error' && x.name === d.errorName) as { inputs: { name: string }[] } | undefined;
    const args = (d.args ?? []) as readonly unknown[];
    const text = `${d.errorName}(${args.map((a, i) => `${item?.inputs[i]?.name ?? i}=${typeof a === 'bigint' ? a.toString() : String(a)}`).join(', ')})`;
    return { name: d.errorName, args, text };
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------ deploy

export interface DeployResult {
  address: Address;
  txHash: Hex;
  blockNumber: bigint;
  gasUsed: bigint;
}

/**
 * Deploys the contract from `account` (it becomes the admin) with the grid operator and
 * the anchoring accounts, and waits for `confirmations`.
 */
export async function deployLedger(opts: {
  rpcUrl: string;
  chain: Chain;
  account: PrivateKeyAccount;
  gridOperator: Address;
  anchorers: Address[];
  confirmations?: number;
  artifact?: LedgerArtifact;
}): Promise<DeployResult> {
  const artifact = opts.artifact ?? loadLedgerArtifact();
  const { createWalletClient } = await import('viem');
  const wallet = createWalletClient({ account: opts.account, chain: opts.chain, transport: http(opts.rpcUrl, { retryCount: 2 }) });
  const client = publicClientFor(opts.rpcUrl, opts.chain, 60_000);
  const txHash = await wallet.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args: [opts.gridOperator, opts.anchorers] });
  const receipt = await client.waitForTransactionReceipt({ hash: txHash, confirmations: opts.confirmations ?? 1 });
  if (receipt.status !== 'success' || !receipt.contractAddress) throw new Error(`deployment transaction ${txHash} failed (status ${receipt.status})`);
  return { address: receipt.contractAddress, txHash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed };
}

// ------------------------------------------------------------------------------ owners

export function eip712Domain(chainId: number, contract: Address) {
  return { name: 'DEEP Ledger', version: '1', chainId, verifyingContract: contract } as const;
}

/**
 * What the rider signs (EIP-712) to own a device: its kid and public key with the node's
 * pairing challenge. A wallet shows these fields; the contract rebuilds the same digest.
 */
export function bindDeviceTypedData(chainId: number, contract: Address, kid: Uint8Array, publicKey: Uint8Array, challenge: Uint8Array) {
  return {
    domain: eip712Domain(chainId, contract),
    types: {
      BindDevice: [
        { name: 'device', type: 'bytes8' },
        { name: 'publicKey', type: 'bytes32' },
        { name: 'challenge', type: 'bytes' },
      ],
    },
    primaryType: 'BindDevice',
    message: { device: hex(kid), publicKey: hex(publicKey), challenge: hex(challenge) },
  } as const;
}

/** What the current owner signs to hand a device on; `nonce` = changes so far (owners(kid).changes). */
export function changeOwnerTypedData(chainId: number, contract: Address, kid: Uint8Array, newOwner: Address, nonce: bigint) {
  return {
    domain: eip712Domain(chainId, contract),
    types: {
      ChangeOwner: [
        { name: 'device', type: 'bytes8' },
        { name: 'newOwner', type: 'address' },
        { name: 'nonce', type: 'uint64' },
      ],
    },
    primaryType: 'ChangeOwner',
    message: { device: hex(kid), newOwner, nonce },
  } as const;
}

/**
 * Who signed a BindDevice for this device and challenge (EIP-712), or undefined when the
 * signature is not a valid one. The node checks it before it registers the device.
 */
export async function bindSigner(o: { chainId: number; contract: Address; kid: Uint8Array; publicKey: Uint8Array; challenge: Uint8Array; signature: Hex }): Promise<Address | undefined> {
  const { recoverTypedDataAddress } = await import('viem');
  try {
    return await recoverTypedDataAddress({ ...bindDeviceTypedData(o.chainId, o.contract, o.kid, o.publicKey, o.challenge), signature: o.signature });
  } catch {
    return undefined;
  }
}
