// The ingest node's anchor publisher: submits each closed batch to the DeepLedger contract
// over JSON-RPC, in batch order, and records it once it has `confirmations` blocks.
//
// Never twice, never skipped, across restarts and outages:
// - the contract takes batch N only right after N-1 (BatchOutOfOrder / BatchAlreadyAnchored),
//   so the chain itself refuses a duplicate or a hole;
// - a transaction is signed and stored in the node's database (anchor_txs) BEFORE it is
//   sent; after a restart or an outage the publisher looks for the receipts of what it
//   stored and, while none is mined, sends the very same signed bytes again (same nonce,
//   same hash). Only a transaction pending longer than `replaceAfterMs` is replaced, with
//   the same nonce and a higher gas price; either one can be mined, never both;
// - a batch is recorded anchored only after `confirmations` blocks on top of the receipt,
//   and its block hash is checked to be still canonical then (a reorg sends it back).
// The signing key lives in memory only: it is never logged, stored or passed on.
import { readFileSync, statSync } from 'node:fs';
import { ContractFunctionExecutionError, encodeFunctionData, keccak256, type Address, type Chain, type Hex, type PublicClient, type Transport } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { leafOfReport, planBatch } from '../batch';
import { Counter } from '../../ingest/metrics';
import type { Logger } from '../../ingest/log';
import type { AnchorInfo } from '../../ingest/batches';
import type { BatchRow, BatchStore } from '../../ingest/sqlite-batches';
import { anchorArgs, anchorCalldata, chainFor, publicClientFor, revertReason, type ChainPriceInterval, type ChainSeries } from './contract';
import { loadLedgerArtifact, type LedgerArtifact } from './compile';
import { anchorGauges, passLoop } from '../pass-loop';

export interface PublisherOptions {
  rpcUrl: string;
  /** The chain id the node expects (73799 Volta, 246 EWC); another one stops the publisher. */
  chainId: number;
  contract: Address;
  account: PrivateKeyAccount;
  confirmations?: number;
  pollMs?: number;
  /** A transaction pending this long is replaced (same nonce, gas price + bumpPercent). */
  replaceAfterMs?: number;
  bumpPercent?: number;
  logger: Logger;
  now?: () => number;
  artifact?: LedgerArtifact;
  /** RPC timeout per request. */
  timeoutMs?: number;
}

export interface PublisherStatus {
  /** Stopped for a reason an operator must fix (wrong chain, not an anchorer, a foreign root). */
  fatal: string | null;
  lastError: string | null;
  head: number | null;
  lastConfirmed: number;
  batchesBehind: number;
  secondsBehind: number;
}

export interface Publisher {
  /** One pass: confirm what is mined, send or resend the next batch. Never throws for RPC errors. */
  step(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  status(): PublisherStatus;
  anchorInfo(batchId: number): AnchorInfo | undefined;
  metrics: { render(): string | Promise<string> }[];
  readonly address: Address;
}

/** Reads the anchoring key: a file holding 64 hex digits (0x optional), or an environment variable. */
export function loadAnchorKey(src: { file?: string; env?: string }, logger?: Logger): PrivateKeyAccount {
  let text: string | undefined;
  let where: string;
  if (src.file !== undefined) {
    where = `key file ${src.file}`;
    try {
      text = readFileSync(src.file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the ${where}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    const mode = statSync(src.file).mode & 0o077;
    if (mode) logger?.warn('anchoring key file is readable by other users; chmod 600 it', { file: src.file });
  } else if (src.env !== undefined) {
    where = `environment variable ${src.env}`;
    text = process.env[src.env];
    if (!text) throw new Error(`the ${where} is not set or empty`);
  } else {
    throw new Error('no anchoring key: give a key file or an environment variable');
  }
  const k = text.trim().replace(/^0x/i, '');
  // The message names where the key was looked for, never what was found there.
  if (!/^[0-9a-fA-F]{64}$/.test(k)) throw new Error(`the ${where} does not hold a private key (64 hex digits, 0x optional)`);
  return privateKeyToAccount(`0x${k.toLowerCase()}` as Hex);
}

type Receipt = { status: string; blockNumber: string; blockHash: string; gasUsed: string; transactionHash: string };

// What a node answers to a transaction it has (or had) already: the receipt decides later.
const isKnownSendError = (msg: string) => /already known|known transaction|already imported|nonce too low|underpriced|already exists/i.test(msg);

export function createPublisher(batches: BatchStore, opts: PublisherOptions): Publisher {
  const artifact = opts.artifact ?? loadLedgerArtifact();
  const abi = artifact.abi;
  const confirmations = opts.confirmations ?? 3;
  const pollMs = opts.pollMs ?? 2000;
  const replaceAfterMs = opts.replaceAfterMs ?? 300_000;
  const bump = BigInt(opts.bumpPercent ?? 25);
  const now = opts.now ?? Date.now;
  const log = opts.logger;
  const chain: Chain = chainFor(opts.chainId, opts.rpcUrl);
  const client: PublicClient<Transport, Chain | undefined> = publicClientFor(opts.rpcUrl, chain, opts.timeoutMs ?? 15_000);
  const address = opts.account.address;
  const contract = opts.contract;

  let fatal: string | null = null;
  let lastError: string | null = null;
  let waitingNote = '';
  // Why the first unanchored batch was not sent in this pass (a refusal, or waiting for
  // market results): kept as lastError after a pass that otherwise went well.
  let held: string | null = null;
  let head: number | null = null;
  let checked = false;
  let series: ChainSeries = { intervals: [], end: 0 };
  const mined = new Map<number, { tx: string; block: number; blockHash: string; gasUsed: number }>();

  const rpcErrors = new Counter('deep_anchor_rpc_errors_total', 'JSON-RPC calls of the anchor publisher that failed (outage, timeout, refusal).');
  const sent = new Counter('deep_anchor_transactions_sent_total', 'Anchor transactions signed and sent (a resend of the same bytes is not counted).');

  const read = <T>(functionName: string, args: unknown[] = []) => client.readContract({ address: contract, abi, functionName, args } as never) as Promise<T>;
  const rpc = <T>(method: string, params: unknown[]) => client.request({ method, params } as never) as Promise<T>;

  function status(): PublisherStatus {
    const last = batches.last();
    const anchored = batches.lastAnchored()?.batchId ?? 0;
    const first = batches.firstUnanchored();
    return {
      fatal,
      lastError,
      head,
      lastConfirmed: anchored,
      batchesBehind: last ? last.id - countAnchoredBelow(last.id) : 0,
      secondsBehind: first ? Math.max(0, Math.round((now() - first.createdAt) / 1000)) : 0,
    };
  }

  // Batches are confirmed in order, so those below the first unconfirmed are all anchored.
  function countAnchoredBelow(lastId: number): number {
    const first = batches.firstUnanchored();
    return first ? first.id - 1 : lastId;
  }

  async function checkOnce(): Promise<void> {
    if (checked) return;
    const id = Number(BigInt(await rpc<string>('eth_chainId', [])));
    if (id !== opts.chainId) throw fatalError(`the RPC endpoint serves chain ${id}, the node is set for chain ${opts.chainId}`);
    const code = await rpc<string>('eth_getCode', [contract, 'latest']);
    if (!code || code === '0x') throw fatalError(`no contract at ${contract} on chain ${id}`);
    if (!(await read<boolean>('anchorers', [address]))) throw fatalError(`${address} is not an anchoring account of ${contract} (the contract's admin adds it with setAnchorer)`);
    checked = true;
    log.info('anchor publisher connected', { chainId: id, contract, account: address, confirmations });
  }

  class Fatal extends Error {}
  const fatalError = (msg: string) => new Fatal(msg);

  // A contract deployed before the market existed has no marketIntervalS(): its call
  // reverts without data, and it settles at the price series only.
  async function marketIntervalOnChain(): Promise<number> {
    try {
      return Number(await read<bigint | number>('marketIntervalS'));
    } catch (err) {
      if (err instanceof ContractFunctionExecutionError && /reverted|returned no data/i.test(err.shortMessage)) return 0;
      throw err;
    }
  }

  async function refreshSeries(): Promise<void> {
    const count = Number(await read<bigint>('priceCount'));
    // Once on, the market stays on (the contract sets it once); until then, ask each time.
    const marketS = series.marketS || (await marketIntervalOnChain());
    if (count === series.intervals.length) {
      series = { ...series, end: Number(await read<bigint>('pricesEnd')), marketS };
      return;
    }
    const intervals: ChainPriceInterval[] = series.intervals.slice(0, count);
    for (let i = intervals.length; i < count; i++) {
      const [start, importMicro, exportMicro] = await read<[number, number, number]>('prices', [BigInt(i)]);
      intervals.push({ start: Number(start), importMicro: Number(importMicro), exportMicro: Number(exportMicro) });
    }
    series = { intervals, end: Number(await read<bigint>('pricesEnd')), marketS };
  }

  async function receiptOf(hash: string): Promise<Receipt | null> {
    return rpc<Receipt | null>('eth_getTransactionReceipt', [hash]);
  }

  async function sendRaw(raw: string): Promise<void> {
    try {
      await rpc('eth_sendRawTransaction', [raw]);
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      // The node already has it (a resend), or it is mined: both fine, the receipt decides.
      if (!isKnownSendError(msg)) throw err;
    }
  }

  /** Signs, stores, then sends a transaction anchoring `b`, with `nonce` and `gasPrice`. */
  async function submit(b: BatchRow, nonce: number, gasPrice: bigint, gas: bigint, data: Hex): Promise<void> {
    const raw = await opts.account.signTransaction({ type: 'legacy', chainId: opts.chainId, nonce, to: contract, data, gas, gasPrice });
    const hash = keccak256(raw);
    batches.addTx({ hash, batchId: b.id, chainId: opts.chainId, contract, sender: address, nonce, gasPrice, raw, sentAt: now() });
    sent.inc();
    log.info('anchor transaction sent', { batch: b.id, tx: hash, nonce, gasPrice, gas });
    await sendRaw(raw);
  }

  async function freshAttempt(b: BatchRow): Promise<void> {
    const plan = planBatch(batches.leaves(b.id).map(leafOfReport));
    if (Buffer.compare(plan.root, b.root) !== 0) throw fatalError(`batch ${b.id}: its reports no longer give its stored root`);
    await refreshSeries();
    const data = anchorCalldata(abi, anchorArgs(b.id, plan, series));
    let gas: bigint;
    try {
      gas = await client.estimateGas({ account: address, to: contract, data });
    } catch (err) {
      const r = revertReason(err, abi);
      if (r?.name === 'MarketIntervalNotPosted') {
        // The ordering rule (protocol/MARKET.md §5.2): a report is anchored only once its
        // interval's market results are on chain. Not an error: the grid operator posts them.
        const waiting = `batch ${b.id} waits for the market results of the interval at ${String(r.args[1])}`;
        if (waitingNote !== waiting) log.info('anchor waits for market results', { batch: b.id, interval: Number(r.args[1]) });
        waitingNote = held = waiting;
        return;
      }
      if (r) {
        // The contract refuses this batch as it is: say why, try again later (prices may
        // move on; a BadPriceIndex is rebuilt from the fresh series next time).
        held = `batch ${b.id} refused by the contract: ${r.text}`;
        log.error('anchor refused', { batch: b.id, reason: r.text });
        return;
      }
      throw err;
    }
    const gasPrice = BigInt(await rpc<string>('eth_gasPrice', []));
    const nonce = Number(BigInt(await rpc<string>('eth_getTransactionCount', [address, 'pending'])));
    await submit(b, nonce, gasPrice, (gas * 12n) / 10n, data);
  }

  /** Advances batch `b`: returns true when it is mined (the next one may go). */
  async function advance(b: BatchRow): Promise<boolean> {
    const txs = batches.txsOf(b.id);
    for (const tx of txs) {
      const r = await receiptOf(tx.hash);
      if (!r) continue;
      if (r.status === '0x1') {
        mined.set(b.id, { tx: tx.hash, block: Number(BigInt(r.blockNumber)), blockHash: r.blockHash, gasUsed: Number(BigInt(r.gasUsed)) });
        return true;
      }
    }
    const chainLast = Number(await read<bigint>('lastBatchId'));
    if (chainLast >= b.id) {
      // On chain, but through none of our stored transactions: accept it only if it is ours
      // (same root and size), found by its BatchAnchored event.
      const [root, size] = await read<[Hex, bigint]>('batches', [BigInt(b.id)]);
      if (root.toLowerCase() !== `0x${Buffer.from(b.root).toString('hex')}` || Number(size) !== b.size) {
        throw fatalError(`batch ${b.id} on chain has root ${root} over ${size} leaves, this node's is 0x${Buffer.from(b.root).toString('hex')} over ${b.size}: another writer uses this contract`);
      }
      const logs = await client.getContractEvents({ address: contract, abi, eventName: 'BatchAnchored', args: { batchId: BigInt(b.id) }, fromBlock: 0n } as never);
      const ev = (logs as unknown as { transactionHash: string; blockNumber: bigint; blockHash: string }[])[0];
      if (!ev) return false;
      const r = await receiptOf(ev.transactionHash);
      mined.set(b.id, { tx: ev.transactionHash, block: Number(ev.blockNumber), blockHash: ev.blockHash, gasUsed: r ? Number(BigInt(r.gasUsed)) : 0 });
      return true;
    }
    if (chainLast < b.id - 1) {
      throw fatalError(`the contract's last batch is ${chainLast}, but this node recorded batch ${b.id - 1} anchored: is it the same contract and chain?`);
    }
    mined.delete(b.id);
    // Not mined: resend, replace, or make the first attempt.
    const live = txs.filter((t) => t.chainId === opts.chainId && t.contract.toLowerCase() === contract.toLowerCase());
    const latest = live[live.length - 1];
    if (!latest) {
      await freshAttempt(b);
      return false;
    }
    const used = Number(BigInt(await rpc<string>('eth_getTransactionCount', [address, 'latest'])));
    if (used > latest.nonce) {
      // Its nonce went to a transaction that is none of ours for this batch (the key was used
      // elsewhere): the batch is still not on chain, so a new attempt with a new nonce is safe.
      log.warn('anchor nonce taken by another transaction; signing anew', { batch: b.id, nonce: latest.nonce });
      await freshAttempt(b);
      return false;
    }
    if (now() - latest.sentAt >= replaceAfterMs) {
      const gasPrice = BigInt(await rpc<string>('eth_gasPrice', []));
      const bumped = (latest.gasPrice * (100n + bump)) / 100n;
      const tx = await client.getTransaction({ hash: latest.hash as Hex }).catch(() => null);
      const data = tx?.input ?? anchorCalldata(abi, anchorArgs(b.id, planBatch(batches.leaves(b.id).map(leafOfReport)), series));
      const gas = tx?.gas ?? (await client.estimateGas({ account: address, to: contract, data }));
      log.warn('anchor transaction pending too long; replacing it with the same nonce', { batch: b.id, nonce: latest.nonce, previous: latest.hash });
      await submit(b, latest.nonce, gasPrice > bumped ? gasPrice : bumped, gas, data);
      return false;
    }
    // The same signed bytes again: a node that lost it (restart, outage) learns it anew. Only
    // the latest attempt: it pays the most, an earlier one would be refused as underpriced.
    await sendRaw(latest.raw);
    return false;
  }

  async function confirm(b: BatchRow): Promise<void> {
    const m = mined.get(b.id);
    if (!m || head === null || head - m.block + 1 < confirmations) return;
    const blk = await rpc<{ hash: string } | null>('eth_getBlockByNumber', [`0x${m.block.toString(16)}`, false]);
    if (!blk || blk.hash !== m.blockHash) {
      // Reorganised away: forget the receipt, the next pass finds it again or resends.
      mined.delete(b.id);
      log.warn('anchor block reorganised away; waiting for the transaction again', { batch: b.id, block: m.block });
      return;
    }
    batches.setAnchored({ batchId: b.id, chainId: opts.chainId, contract, txHash: m.tx, blockNumber: m.block, blockHash: m.blockHash, gasUsed: m.gasUsed, confirmedAt: now() });
    mined.delete(b.id);
    log.info('batch anchored', { batch: b.id, tx: m.tx, block: m.block, gasUsed: m.gasUsed, confirmations: head - m.block + 1 });
  }

  /** Records on chain the owners riders asked for at pairing (bindOwner), each once. */
  async function bindOwners(): Promise<void> {
    for (const ob of batches.pendingOwners().slice(0, 16)) {
      const kid = `0x${ob.device}` as Hex;
      const txs = batches.ownerTxs(ob.device);
      let bound = false;
      for (const tx of txs) {
        const r = await receiptOf(tx.hash);
        if (r?.status === '0x1') {
          batches.setOwnerBound(ob.device, tx.hash, Number(BigInt(r.blockNumber)));
          log.info('owner bound on chain', { device: ob.device, owner: ob.owner, tx: tx.hash });
          bound = true;
          break;
        }
      }
      if (bound) continue;
      const [current] = await read<[Address, bigint]>('owners', [kid]);
      if (!/^0x0{40}$/.test(current)) {
        // Bound already, through a transaction of ours we lost track of, or by another node.
        if (current.toLowerCase() === ob.owner.toLowerCase()) batches.setOwnerBound(ob.device, txs[txs.length - 1]?.hash ?? 'unknown', 0);
        else batches.setOwnerFailed(ob.device, `device is already bound to ${current}`);
        continue;
      }
      const latest = txs[txs.length - 1];
      const used = latest ? Number(BigInt(await rpc<string>('eth_getTransactionCount', [address, 'latest']))) : 0;
      if (latest && used <= latest.nonce) {
        // Not mined yet: the same bytes again (a restarted or recovered RPC node learns it).
        await sendRaw(latest.raw);
        continue;
      }
      const data = encodeFunctionData({ abi, functionName: 'bindOwner', args: [`0x${Buffer.from(ob.publicKey).toString('hex')}`, `0x${Buffer.from(ob.challenge).toString('hex')}`, ob.owner, ob.signature] } as never);
      let gas: bigint;
      try {
        gas = await client.estimateGas({ account: address, to: contract, data });
      } catch (err) {
        const r = revertReason(err, abi);
        if (!r) throw err;
        batches.setOwnerFailed(ob.device, r.text);
        log.error('owner binding refused by the contract', { device: ob.device, owner: ob.owner, reason: r.text });
        continue;
      }
      const gasPrice = BigInt(await rpc<string>('eth_gasPrice', []));
      const nonce = Number(BigInt(await rpc<string>('eth_getTransactionCount', [address, 'pending'])));
      const raw = await opts.account.signTransaction({ type: 'legacy', chainId: opts.chainId, nonce, to: contract, data, gas: (gas * 12n) / 10n, gasPrice });
      const hash = keccak256(raw);
      batches.addOwnerTx({ hash, device: ob.device, nonce, gasPrice, raw, sentAt: now() });
      sent.inc();
      log.info('owner binding transaction sent', { device: ob.device, owner: ob.owner, tx: hash, nonce });
      await sendRaw(raw);
    }
  }

  async function pass(): Promise<void> {
    if (fatal) return;
    try {
      await checkOnce();
      head = Number(BigInt(await rpc<string>('eth_blockNumber', [])));
      held = null;
      // In order: confirm the mined ones, then move the first not mined forward.
      for (let b = batches.firstUnanchored(), n = 0; b && n < 64; n++) {
        const isMined = mined.has(b.id) || (await advance(b));
        if (!isMined) break;
        await confirm(b);
        b = batches.get(b.id + 1);
      }
      await bindOwners();
      lastError = held;
    } catch (err) {
      if (err instanceof Fatal) {
        fatal = err.message;
        log.error('anchor publisher stopped', { reason: err.message });
        return;
      }
      rpcErrors.inc();
      const msg = (err as Error).message?.split('\n')[0] ?? String(err);
      if (lastError !== msg) log.warn('anchor publisher cannot reach the chain; retrying', { rpc: opts.rpcUrl, error: msg });
      lastError = msg;
    }
  }

  const loop = passLoop(pass, pollMs);
  return {
    address,
    ...loop,
    status,
    anchorInfo(batchId) {
      const a = batches.anchorOf(batchId);
      if (a) return { chainId: a.chainId, contract: a.contract, tx: a.txHash, block: a.blockNumber, blockHash: a.blockHash, confirmations: head === null ? confirmations : Math.max(confirmations, head - a.blockNumber + 1), confirmed: true };
      const m = mined.get(batchId);
      if (m) return { chainId: opts.chainId, contract, tx: m.tx, block: m.block, blockHash: m.blockHash, confirmations: head === null ? 0 : Math.max(0, head - m.block + 1), confirmed: false };
      return undefined;
    },
    metrics: [...anchorGauges(status, () => !!fatal, 'anchored with enough confirmations'), rpcErrors, sent],
  };
}
