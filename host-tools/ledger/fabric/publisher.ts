// The ingest node's Fabric publisher: anchors each closed batch with the chaincode's
// AnchorBatch, in batch order, through a Fabric Gateway (./gateway.ts).
//
// Never twice, never skipped, across restarts and outages (the EVM publisher's guarantees,
// host-tools/ledger/evm/publisher.ts, by Fabric's means):
// - the chaincode takes batch N only right after N-1 (BatchOutOfOrder / BatchAlreadyAnchored),
//   so the channel itself refuses a duplicate or a hole, whatever the node believes;
// - a transaction is endorsed and signed, then stored in the node's database (anchor_txs,
//   chain id 0 = Fabric) BEFORE it is sent; after a restart or an outage the publisher
//   first asks the chaincode which batch is the last (GetLastBatch) and, while its batch is
//   not there, sends the very same signed bytes again: same transaction id, which a channel
//   commits at most once (a second copy is invalidated as DUPLICATE_TXID);
// - only a transaction whose commit status says it is invalid (an MVCC conflict, say) or
//   whose id was spent is replaced by a new endorsement; if the batch got in meanwhile, the
//   chaincode refuses the new one at endorsement;
// - a batch is recorded anchored once its commit status is VALID or the chaincode lists it
//   with the same root and size (Fabric's ordering is final: no confirmations to wait for).
import { leafOfReport, planBatch } from '../batch';
import { Counter } from '../../ingest/metrics';
import type { Logger } from '../../ingest/log';
import type { AnchorInfo } from '../../ingest/batches';
import type { BatchRow, BatchStore } from '../../ingest/sqlite-batches';
import type { PublisherStatus } from '../evm/publisher';
import { anchorBatchArgs } from './anchor-args';
import type { FabricLedgerClient } from './gateway';
import { anchorGauges, passLoop } from '../pass-loop';

/** anchor_txs and batch_anchors rows of Fabric transactions carry chain id 0. */
export const FABRIC_CHAIN_ID = 0;
/** TxValidationCode DUPLICATE_TXID (fabric-protos peer/transaction.proto). */
const DUPLICATE_TXID = 9;

export interface FabricPublisherOptions {
  client: FabricLedgerClient;
  /** Names the target in the database and in proofs: fabric:<channel>/<chaincode>. */
  channel: string;
  chaincode: string;
  /** The node's MSP id (recorded as the sender). */
  mspId: string;
  pollMs?: number;
  logger: Logger;
  now?: () => number;
}

export interface FabricPublisher {
  step(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  status(): PublisherStatus;
  anchorInfo(batchId: number): AnchorInfo | undefined;
  metrics: { render(): string | Promise<string> }[];
  readonly label: string;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
// Refusals an operator must fix (the identity lacks the role, the ledger is not set up).
const isFatalRefusal = (msg: string) => /NotAnchorer|not initialised/.test(msg);

export function createFabricPublisher(batches: BatchStore, opts: FabricPublisherOptions): FabricPublisher {
  const { client, logger: log } = opts;
  const label = `fabric:${opts.channel}/${opts.chaincode}`;
  const now = opts.now ?? Date.now;
  const pollMs = opts.pollMs ?? 2000;
  let fatal: string | null = null;
  let lastError: string | null = null;
  let head: number | null = null;
  let checked = false;
  // Transaction ids the channel will not take again (invalid, or spent): endorse anew.
  const spent = new Set<string>();
  const blocks = new Map<string, bigint>();

  const rpcErrors = new Counter('deep_anchor_rpc_errors_total', 'Gateway calls of the anchor publisher that failed (outage, timeout, refusal).');
  const sent = new Counter('deep_anchor_transactions_sent_total', 'Anchor transactions endorsed, signed and sent (a resend of the same bytes is not counted).');

  class Fatal extends Error {}

  function status(): PublisherStatus {
    const last = batches.last();
    const first = batches.firstUnanchored();
    const anchored = batches.lastAnchored()?.batchId ?? 0;
    return {
      fatal, lastError, head, lastConfirmed: anchored,
      batchesBehind: last ? last.id - (first ? first.id - 1 : last.id) : 0,
      secondsBehind: first ? Math.max(0, Math.round((now() - first.createdAt) / 1000)) : 0,
    };
  }

  const lastOnChain = async (): Promise<number> => (JSON.parse(await client.evaluate('GetLastBatch', [])) as { last: number }).last;

  function record(b: BatchRow, txId: string): void {
    const block = blocks.get(txId) ?? 0n;
    batches.setAnchored({ batchId: b.id, chainId: FABRIC_CHAIN_ID, contract: label, txHash: txId, blockNumber: Number(block), blockHash: '', gasUsed: 0, confirmedAt: now() });
    log.info('batch anchored', { batch: b.id, tx: txId, block: Number(block), ledger: label });
  }

  /** Sends signed bytes; true when they committed VALID. */
  async function send(b: BatchRow, txId: string, bytes: Uint8Array): Promise<boolean> {
    const st = await client.submit(bytes);
    if (st.successful) {
      blocks.set(txId, st.blockNumber);
      return true;
    }
    // Invalid, or the id was committed before (then GetLastBatch tells next pass): a new
    // endorsement is safe, the chaincode refuses a batch it holds.
    spent.add(txId);
    log.warn('anchor transaction not valid; endorsing anew next pass', { batch: b.id, tx: txId, code: st.code, duplicate: st.code === DUPLICATE_TXID });
    return false;
  }

  /** Moves batch `b` forward; true when it is anchored (the next one may go). */
  async function advance(b: BatchRow): Promise<boolean> {
    const last = await lastOnChain();
    head = last;
    if (last >= b.id) {
      const on = JSON.parse(await client.evaluate('GetBatch', [String(b.id)])) as { root: string; size: number; txId: string } | null;
      if (!on || on.root !== hex(b.root) || on.size !== b.size) {
        throw new Fatal(`batch ${b.id} on ${label} has root ${on?.root} over ${on?.size} reports, this node's is ${hex(b.root)} over ${b.size}: another writer uses this chaincode`);
      }
      record(b, on.txId);
      return true;
    }
    if (last < b.id - 1) throw new Fatal(`the chaincode's last batch is ${last}, but this node recorded batch ${b.id - 1} anchored: is it the same channel and chaincode?`);
    const txs = batches.txsOf(b.id).filter((t) => t.chainId === FABRIC_CHAIN_ID && t.contract === label);
    const latest = txs[txs.length - 1];
    if (latest && !spent.has(latest.hash)) {
      // The same signed bytes again (the gateway or orderer may have lost them).
      if (await send(b, latest.hash, new Uint8Array(Buffer.from(latest.raw.replace(/^0x/, ''), 'hex')))) {
        record(b, latest.hash);
        return true;
      }
      return false;
    }
    const plan = planBatch(batches.leaves(b.id).map(leafOfReport));
    if (Buffer.compare(plan.root, b.root) !== 0) throw new Fatal(`batch ${b.id}: its reports no longer give its stored root`);
    let e: { txId: string; bytes: Uint8Array };
    try {
      e = await client.endorse('AnchorBatch', anchorBatchArgs(b.id, plan));
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      if (isFatalRefusal(msg)) throw new Fatal(`the chaincode refuses this node's anchoring: ${msg}`);
      throw err;
    }
    batches.addTx({ hash: e.txId, batchId: b.id, chainId: FABRIC_CHAIN_ID, contract: label, sender: opts.mspId, nonce: 0, gasPrice: 0n, raw: `0x${hex(e.bytes)}`, sentAt: now() });
    sent.inc();
    log.info('anchor transaction sent', { batch: b.id, tx: e.txId, ledger: label });
    if (await send(b, e.txId, e.bytes)) {
      record(b, e.txId);
      return true;
    }
    return false;
  }

  async function pass(): Promise<void> {
    if (fatal) return;
    try {
      if (!checked) {
        head = await lastOnChain();
        checked = true;
        log.info('Fabric anchor publisher connected', { ledger: label, lastBatch: head, msp: opts.mspId });
      }
      for (let b = batches.firstUnanchored(), n = 0; b && n < 64; n++) {
        if (!(await advance(b))) break;
        b = batches.get(b.id + 1);
      }
      lastError = null;
    } catch (err) {
      if (err instanceof Fatal) {
        fatal = err.message;
        log.error('anchor publisher stopped', { reason: err.message });
        return;
      }
      rpcErrors.inc();
      const msg = (err as Error).message?.split('\n')[0] ?? String(err);
      if (lastError !== msg) log.warn('anchor publisher cannot reach the Fabric gateway; retrying', { ledger: label, error: msg });
      lastError = msg;
    }
  }

  const loop = passLoop(pass, pollMs);
  return {
    label,
    ...loop,
    status,
    anchorInfo(batchId) {
      const a = batches.anchorOf(batchId);
      if (!a || a.chainId !== FABRIC_CHAIN_ID) return undefined;
      return { chainId: FABRIC_CHAIN_ID, contract: a.contract, tx: a.txHash, block: a.blockNumber, blockHash: a.blockHash, confirmations: 1, confirmed: true };
    },
    metrics: [...anchorGauges(status, () => !!fatal, 'anchored'), rpcErrors, sent],
  };
}
