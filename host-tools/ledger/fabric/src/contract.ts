// The DEEP chaincode: verifies device-signed energy reports inside the endorsement, with
// the ingest node's own verifier and chain rules (host-tools/verify, protocol/), so a
// Fabric network needs no trusted ingest node. Also: the batch bookkeeping of the EVM
// contract (host-tools/ledger/evm/DeepLedger.sol) for networks that keep an ingest node, and
// settlement: at the local market's posted results once the grid operator turned the market
// on (SetMarketInterval; protocol/MARKET.md §5, the rule of host-tools/market/settle.ts), at
// the grid operator's price series with the testnet's integer rules otherwise
// (host-tools/testnet/settlement.ts).
//
// Deterministic, so that every endorsing peer writes the same set: the only clock is the
// transaction timestamp, nothing is random, money is BigInt (energy is integer mWh), and
// state is only iterated in the ledger's key order (never a Map or an object's keys).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Contract, type Context } from 'fabric-contract-api';
import { decodeFirst } from '../../../../protocol/cbor';
import { decodeSign1 } from '../../../../protocol/cose';
import { bytesEqual, fromHex, toHex } from '../../../../protocol/bytes';
import { CLOCK_SYNCED, decodeReport, type EnergyReport } from '../../../../protocol/report';
import { decodePairingPayload } from '../../../../protocol/pairing';
import { REJECT, type RejectReason } from '../../../../protocol/reasons';
import { checkChain, openSign1, verifyPairingProof, verifyReportBytes, type ChainView, type KeyRegistry } from '../../../verify';
import { rootFromAuditPath, HASH_BYTES } from '../../merkle';
import { addRecord, divRoundHalfEven, emptyBalance, type Balance, type GridFlowRecord } from '../../../testnet/settlement';
import { apportion, marketValuePico } from '../../../market/settle';
import type { PriceSeries } from '../../../testnet/prices';
import { KEY, TxState } from './state';

/** A pairing challenge is good for this long after the transaction that issued it. */
export const CHALLENGE_TTL_S = 300;
/** Reports per SubmitReports at most (the ingest node's POST limit is 10000; a block is smaller). */
export const MAX_REPORTS_PER_TX = 1000;
/** Seqs below 2^40 - 1, as the EVM contract's SEQ_LIMIT. */
const SEQ_LIMIT = 2 ** 40;
/** |price| < 2^47 micro-units per kWh, as the EVM contract's int48. */
const PRICE_LIMIT = 2 ** 47;
const HOUR_S = 3600;

export const EVENT = {
  accepted: 'DeepReportsAccepted',
  registered: 'DeepDeviceRegistered',
  anchored: 'DeepBatchAnchored',
  prices: 'DeepPricesPosted',
  marketInterval: 'DeepMarketIntervalPosted',
} as const;

/** Why SubmitReports defers a report (status 'deferred'): the EVM contract's error name. */
export const MARKET_NOT_POSTED = 'MarketIntervalNotPosted';

export const ROLE_ATTR = 'deep.role';

interface Config {
  gridOperatorMsp: string;
  anchorerMsp: string;
}

/** A balance as stored: BigInt sums as decimal strings (JSON has no BigInt). */
interface StoredBalance {
  importMwh: number;
  exportMwh: number;
  unpricedImportMwh: number;
  unpricedExportMwh: number;
  costPico: string;
  revenuePico: string;
  balanceMicro: string;
  reports: number;
}

export interface DeviceRecord {
  kid: string;
  publicKey: string;
  owner: string;
  firmware: number;
  registeredS: number;
  /** -1 before the first accepted report. */
  headSeq: number;
  headHash: string | null;
  forks: number;
  balance: StoredBalance;
}

interface ReportRecord {
  hash: string;
  cose: string;
  txId: string;
}

interface FlowRecord {
  gridToPackMwh: number;
  packToGridMwh: number;
  packToMotorMwh: number;
  regenToPackMwh: number;
  reports: number;
}

export interface HistoryEntry {
  device: string;
  seq: number;
  synced: boolean;
  startS: number;
  endS: number;
  gridToPackMwh: number;
  packToGridMwh: number;
  /** Pico-units this report added to cost / revenue; null when it could not be priced. */
  costPico: string | null;
  revenuePico: string | null;
  txId: string;
}

interface MarketConfig {
  intervalS: number;
}

/** One device's result in a market interval, as the grid operator posts it (the EVM contract's MarketResult). */
interface MarketResultRow {
  device: string;
  netWh: number;
  amountNano: number;
  retailMicro: number;
  feedInMicro: number;
}

interface MarketIntervalRecord {
  startS: number;
  /** The utility's prices of the interval, for devices without a result. */
  retailMicro: number;
  feedInMicro: number;
  results: MarketResultRow[];
  txId: string;
}

/**
 * Per device and market interval: its result (null: none, all its energy is imbalance),
 * the prices its imbalance settles at, and the net energy (grid->pack - pack->grid, mWh)
 * accepted so far. Each report's share dx adds v(x + dx) - v(x): the sum over the
 * reports is v of the interval's total, as settleMarket computes it.
 */
interface MarketSlot {
  measuredMwh: number;
  result: { netWh: number; amountNano: number } | null;
  retailMicro: number;
  feedInMicro: number;
}

/** A report's grid energy in one market interval (protocol/MARKET.md §5.1). */
interface MarketShare {
  startS: number;
  inMwh: number;
  outMwh: number;
}

interface PricesMeta {
  count: number;
  startS: number;
  endS: number;
}

interface PriceRecord {
  startS: number;
  importMicro: number;
  exportMicro: number;
}

export interface DeviceRange {
  device: string;
  firstSeq: number;
  lastSeq: number;
}

interface BatchRecord {
  id: number;
  root: string;
  size: number;
  ranges: DeviceRange[];
  txId: string;
  timestampS: number;
}

/** The per-report answer of SubmitReports, as POST /v1/reports answers (no 'pending': see README). */
export type ChaincodeAnswer =
  | { index: number; status: 'accepted' | 'duplicate'; device: string; seq: number; state: 'committed' }
  | { index: number; status: 'rejected'; reason: RejectReason; detail: string; device?: string; seq?: number }
  // Valid and next in its chain, but its window has energy in a market interval whose
  // results are not posted: not accepted (the head does not move), to be submitted again.
  | { index: number; status: 'deferred'; reason: typeof MARKET_NOT_POSTED; detail: string; device: string; seq: number };

const storeBalance = (b: Balance): StoredBalance => ({
  importMwh: b.importMwh, exportMwh: b.exportMwh, unpricedImportMwh: b.unpricedImportMwh, unpricedExportMwh: b.unpricedExportMwh,
  costPico: b.costPico.toString(), revenuePico: b.revenuePico.toString(), balanceMicro: b.balanceMicro.toString(), reports: b.reports,
});

const loadBalance = (who: string, s: StoredBalance | undefined): Balance =>
  s
    ? { device: who, importMwh: s.importMwh, exportMwh: s.exportMwh, unpricedImportMwh: s.unpricedImportMwh, unpricedExportMwh: s.unpricedExportMwh,
        costPico: BigInt(s.costPico), revenuePico: BigInt(s.revenuePico), balanceMicro: BigInt(s.balanceMicro), reports: s.reports }
    : emptyBalance(who);

const HEX16 = /^[0-9a-f]{16}$/;
const ZERO_KID = '0000000000000000';
const HEX64 = /^[0-9a-f]{64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MSP_ID = /^[A-Za-z0-9._-]{1,64}$/;
// Riders' accounts: an id of their choice or a Fabric client id (x509::/CN=...::...).
const OWNER = /^[\x21-\x7e](?:[\x20-\x7e]{0,254}[\x21-\x7e])?$/;

function fromBase64(text: string, what: string): Uint8Array {
  if (typeof text !== 'string' || !BASE64.test(text)) throw new Error(`${what}: expected standard base64 (RFC 4648 §4, padded)`);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: not JSON: ${(e as Error).message}`);
  }
}

function safeInt(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new Error(`${what}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

/** Splits a CBOR sequence; a malformed tail is one item with its error. */
function splitSequence(bytes: Uint8Array): { items: Uint8Array[]; error?: string } {
  const items: Uint8Array[] = [];
  let off = 0;
  while (off < bytes.length) {
    let end: number;
    try {
      end = decodeFirst(bytes, off).end;
    } catch (e) {
      return { items, error: `offset ${off}: ${(e as Error).message}; the remaining ${bytes.length - off} bytes cannot be split into reports` };
    }
    items.push(bytes.subarray(off, end));
    off = end;
  }
  return { items };
}

const sum = (r: EnergyReport, k: 'gridToPackMwh' | 'packToGridMwh' | 'packToMotorMwh' | 'regenToPackMwh') => r.packs.reduce((n, p) => n + p[k], 0);

/** A synced report's grid energy per market interval, ascending, intervals it has none in left out (settle.ts's apportion). */
function marketShares(kid: string, r: EnergyReport, intervalS: number): MarketShare[] {
  const g2p = sum(r, 'gridToPackMwh');
  const p2g = sum(r, 'packToGridMwh');
  if (g2p === 0 && p2g === 0) return [];
  const endS = r.startS + r.durationS;
  const per = apportion([{ device: kid, startS: r.startS, endS, gridToPackMwh: g2p, packToGridMwh: p2g }], intervalS)[kid] ?? {};
  // The intervals in time order, not in the order of the object's keys.
  const out: MarketShare[] = [];
  for (let k = r.startS - (r.startS % intervalS); k < Math.max(endS, r.startS + 1); k += intervalS) {
    const e = per[k];
    if (e && (e.inMwh > 0 || e.outMwh > 0)) out.push({ startS: k, inMwh: e.inMwh, outMwh: e.outMwh });
  }
  return out;
}

/**
 * Adds a report to a balance in market mode: its energy priced at the market (`value`, from
 * settleShares), or unpriced when it has no trusted time (value undefined).
 */
function addMarketRecord(b: Balance, rec: GridFlowRecord, value: { costPico: bigint; revenuePico: bigint } | undefined): void {
  b.reports++;
  if (value) {
    b.importMwh += rec.gridToPackMwh;
    b.exportMwh += rec.packToGridMwh;
    b.costPico += value.costPico;
    b.revenuePico += value.revenuePico;
  } else {
    b.unpricedImportMwh += rec.gridToPackMwh;
    b.unpricedExportMwh += rec.packToGridMwh;
  }
  b.balanceMicro = divRoundHalfEven(b.revenuePico - b.costPico, 1_000_000n);
}

export class DeepContract extends Contract {
  constructor() {
    super('deep');
  }

  // ------------------------------------------------------------------ roles

  async InitLedger(ctx: Context, gridOperatorMsp: string, anchorerMsp: string): Promise<void> {
    const st = new TxState(ctx);
    if (await st.get<Config>(KEY.config, [])) throw new Error('InitLedger: the ledger is initialised already; its roles do not change');
    if (!MSP_ID.test(gridOperatorMsp)) throw new Error(`gridOperatorMsp: expected an MSP id, got ${JSON.stringify(gridOperatorMsp)}`);
    if (!MSP_ID.test(anchorerMsp)) throw new Error(`anchorerMsp: expected an MSP id, got ${JSON.stringify(anchorerMsp)}`);
    await st.put(KEY.config, [], { gridOperatorMsp, anchorerMsp } satisfies Config);
  }

  /** The caller must belong to the role's MSP and carry the Fabric CA attribute deep.role=<role>. */
  private async requireRole(ctx: Context, st: TxState, role: 'grid-operator' | 'anchorer'): Promise<void> {
    const cfg = await st.get<Config>(KEY.config, []);
    if (!cfg) throw new Error('the ledger is not initialised: call InitLedger(gridOperatorMsp, anchorerMsp) first');
    const msp = role === 'grid-operator' ? cfg.gridOperatorMsp : cfg.anchorerMsp;
    const ci = ctx.clientIdentity;
    const name = role === 'grid-operator' ? 'NotGridOperator' : 'NotAnchorer';
    if (ci.getMSPID() !== msp) throw new Error(`${name}: the caller is of MSP ${ci.getMSPID()}, the ${role} role belongs to ${msp}`);
    if (!ci.assertAttributeValue(ROLE_ATTR, role)) {
      throw new Error(`${name}: the caller's certificate has ${ROLE_ATTR}=${JSON.stringify(ci.getAttributeValue(ROLE_ATTR))}, the role needs ${ROLE_ATTR}=${role}`);
    }
  }

  // ----------------------------------------------------------------- pairing

  /** A single-use pairing challenge (hex), good for CHALLENGE_TTL_S after this transaction. */
  async IssueChallenge(ctx: Context): Promise<string> {
    const st = new TxState(ctx);
    // From the transaction id: unknown before the client made the proposal, the same on every endorser.
    const challenge = createHash('sha256').update(`deep-fabric-challenge\u0000${ctx.stub.getChannelID()}\u0000${ctx.stub.getTxID()}`).digest('hex');
    await st.put(KEY.challenge, [challenge], { expiresS: st.nowS() + CHALLENGE_TTL_S, txId: ctx.stub.getTxID() });
    return challenge;
  }

  /**
   * Registers a device from its pairing proof (SPEC.md §4) over a challenge issued by
   * IssueChallenge, for `owner` (the rider's account). The same kid again for the same
   * owner and key answers the record; for another owner or key it is refused.
   */
  async RegisterDevice(ctx: Context, pairingProof: string, owner: string): Promise<string> {
    const st = new TxState(ctx);
    if (typeof owner !== 'string' || !OWNER.test(owner)) throw new Error(`owner: expected 1..256 printable ASCII characters, no space at either end, got ${JSON.stringify(owner)}`);
    const bytes = fromBase64(pairingProof, 'pairingProof');
    const opened = openSign1(bytes);
    if (!opened.ok) throw new Error(`pairingProof: ${opened.reason}: ${opened.detail}`);
    let challenge: Uint8Array;
    try {
      challenge = decodePairingPayload(opened.sign1.payload).challenge;
    } catch (e) {
      throw new Error(`pairingProof: malformed: ${(e as Error).message}`);
    }
    const ch = await st.get<{ expiresS: number }>(KEY.challenge, [toHex(challenge)]);
    if (!ch) throw new Error('pairingProof: its challenge is unknown or already used (IssueChallenge first)');
    if (st.nowS() > ch.expiresS) throw new Error(`pairingProof: its challenge expired at ${ch.expiresS}`);
    const v = verifyPairingProof(bytes, challenge);
    if (!v.ok) throw new Error(`pairingProof: ${v.reason}: ${v.detail}`);
    const kid = toHex(v.kid);
    const existing = await st.get<DeviceRecord>(KEY.device, [kid]);
    if (existing) {
      if (existing.publicKey !== toHex(v.publicKey)) throw new Error(`kid ${kid} is registered with another public key`);
      if (existing.owner !== owner) throw new Error(`kid ${kid} is registered to another owner`);
      await st.del(KEY.challenge, [toHex(challenge)]);
      return JSON.stringify(existing);
    }
    const rec: DeviceRecord = {
      kid, publicKey: toHex(v.publicKey), owner, firmware: v.firmware, registeredS: st.nowS(),
      headSeq: -1, headHash: null, forks: 0, balance: storeBalance(emptyBalance(kid)),
    };
    await st.put(KEY.device, [kid], rec);
    await st.del(KEY.challenge, [toHex(challenge)]);
    ctx.stub.setEvent(EVENT.registered, Buffer.from(JSON.stringify({ device: kid, owner })));
    return JSON.stringify(rec);
  }

  // ------------------------------------------------------------------ reports

  /**
   * Verifies and chains each report of a CBOR sequence (base64), in order, as the ingest
   * node does for POST /v1/reports, and answers per report. Accepted reports move the
   * device's head, add to its hourly flow totals and are settled at the posted market
   * results (the market on) or prices; one chaincode event (Fabric keeps one per
   * transaction) lists them all. With the market on, a report with energy in an interval
   * not posted yet is deferred, with its device's later reports of this transaction.
   */
  async SubmitReports(ctx: Context, reports: string): Promise<string> {
    const st = new TxState(ctx);
    const nowS = st.nowS();
    const { items, error } = splitSequence(fromBase64(reports, 'reports'));
    if (items.length + (error ? 1 : 0) > MAX_REPORTS_PER_TX) throw new Error(`reports: ${items.length} reports, at most ${MAX_REPORTS_PER_TX} per transaction`);
    const answers: ChaincodeAnswer[] = [];
    const accepted: { device: string; seq: number; hash: string }[] = [];
    let series: PriceSeries | undefined;
    const market = await st.get<MarketConfig>(KEY.market, []);
    // Per device, the seq of a report deferred in this transaction: its successors wait too
    // (they are not gaps of the device's chain, only behind it).
    const waiting: Record<string, number> = {};
    for (let index = 0; index < items.length; index++) {
      const bytes = items[index];
      let kid: string | undefined;
      try {
        const k = decodeSign1(bytes).kid;
        if (k && k.length === 8) kid = toHex(k);
      } catch {
        // Undecodable: verifyReportBytes names the problem below.
      }
      const dev = kid ? await st.get<DeviceRecord>(KEY.device, [kid]) : undefined;
      const registry: KeyRegistry = { keysFor: (k) => (dev && toHex(k) === dev.kid ? [fromHex(dev.publicKey)] : []) };
      const v = verifyReportBytes(bytes, registry, { nowS });
      if (!v.ok) {
        answers.push({ index, status: 'rejected', reason: v.reason, detail: v.detail, ...(dev ? { device: dev.kid } : {}) });
        continue;
      }
      const r = v.report;
      const d = dev!;
      const behind = waiting[d.kid];
      if (behind !== undefined && r.seq > behind) {
        answers.push({ index, status: 'deferred', reason: MARKET_NOT_POSTED, detail: `waits behind seq ${behind}, deferred in this transaction`, device: d.kid, seq: r.seq });
        continue;
      }
      // The chain rules read a synchronous view: fetch what they may ask for first.
      const known = await st.get<ReportRecord>(KEY.report, [d.kid, r.seq]);
      const headRec = d.headSeq >= 0 ? await st.get<ReportRecord>(KEY.report, [d.kid, d.headSeq]) : undefined;
      const view: ChainView = {
        head: () => (headRec ? { seq: d.headSeq, hash: fromHex(headRec.hash), report: decodeReport(decodeSign1(fromBase64(headRec.cose, 'head')).payload) } : undefined),
        hashAt: (_k, seq) => (seq === r.seq && known ? fromHex(known.hash) : undefined),
      };
      const verdict = checkChain(v, view);
      const hash = toHex(v.hash);
      if (verdict.ok && verdict.status === 'duplicate') {
        answers.push({ index, status: 'duplicate', device: d.kid, seq: r.seq, state: 'committed' });
        continue;
      }
      if (!verdict.ok) {
        if (verdict.reason === REJECT.FORK) {
          // A second history signed by the device's key: keep the evidence, count it.
          await st.put(KEY.fork, [d.kid, r.seq, hash], { cose: Buffer.from(bytes).toString('base64'), txId: ctx.stub.getTxID(), detail: verdict.detail });
          d.forks++;
          await st.put(KEY.device, [d.kid], d);
        }
        answers.push({ index, status: 'rejected', reason: verdict.reason, detail: verdict.detail, device: d.kid, seq: r.seq });
        continue;
      }
      let shares: MarketShare[] | undefined;
      if (market && r.clock === CLOCK_SYNCED) {
        shares = marketShares(d.kid, r, market.intervalS);
        const missing = await this.firstUnposted(st, shares);
        if (missing !== undefined) {
          // MARKET.md §5.2's ordering rule, as the EVM contract's MarketIntervalNotPosted.
          waiting[d.kid] = r.seq;
          answers.push({ index, status: 'deferred', reason: MARKET_NOT_POSTED, detail: `device ${d.kid} seq ${r.seq} has grid energy in the market interval at ${missing}, whose results are not posted; submit it again after PostMarketInterval`, device: d.kid, seq: r.seq });
          continue;
        }
      }
      series ??= market ? undefined : await this.priceSeries(st);
      await this.accept(st, d, r, bytes, hash, market ? { shares } : { series: series! });
      accepted.push({ device: d.kid, seq: r.seq, hash });
      answers.push({ index, status: 'accepted', device: d.kid, seq: r.seq, state: 'committed' });
    }
    if (error) answers.push({ index: items.length, status: 'rejected', reason: REJECT.MALFORMED, detail: error });
    if (accepted.length) ctx.stub.setEvent(EVENT.accepted, Buffer.from(JSON.stringify(accepted)));
    return JSON.stringify({ results: answers });
  }

  /** The first market interval of `shares` whose results are not posted, if any. */
  private async firstUnposted(st: TxState, shares: MarketShare[]): Promise<number | undefined> {
    for (const s of shares) if (!(await st.get<MarketIntervalRecord>(KEY.marketInterval, [s.startS]))) return s.startS;
    return undefined;
  }

  /**
   * What a report's shares add to its device's balance, cost and revenue in pico-units,
   * moving the device's market slots: per interval v(x + dx) - v(x), v settle.ts's rule.
   */
  private async settleShares(st: TxState, kid: string, shares: MarketShare[]): Promise<{ costPico: bigint; revenuePico: bigint }> {
    let costPico = 0n, revenuePico = 0n;
    for (const s of shares) {
      let slot = await st.get<MarketSlot>(KEY.marketSlot, [kid, s.startS]);
      if (!slot) {
        // No result of its own: imbalance at the utility's prices of the interval.
        const iv = (await st.get<MarketIntervalRecord>(KEY.marketInterval, [s.startS]))!;
        slot = { measuredMwh: 0, result: null, retailMicro: iv.retailMicro, feedInMicro: iv.feedInMicro };
      }
      const tariff = { retailMicroPerKwh: slot.retailMicro, feedInMicroPerKwh: slot.feedInMicro };
      const value = (x: number) => {
        const v = marketValuePico(x, slot!.result ?? undefined, tariff);
        return v.matchedPico + v.imbalancePico;
      };
      const x0 = slot.measuredMwh;
      const x1 = x0 + s.inMwh - s.outMwh;
      const dv = value(x1) - value(x0);
      if (dv < 0n) costPico -= dv;
      else revenuePico += dv;
      slot.measuredMwh = x1;
      await st.put(KEY.marketSlot, [kid, s.startS], slot);
    }
    return { costPico, revenuePico };
  }

  private async accept(st: TxState, d: DeviceRecord, r: EnergyReport, bytes: Uint8Array, hash: string, how: { series: PriceSeries } | { shares: MarketShare[] | undefined }): Promise<void> {
    const txId = st.ctx.stub.getTxID();
    await st.put(KEY.report, [d.kid, r.seq], { hash, cose: Buffer.from(bytes).toString('base64'), txId } satisfies ReportRecord);
    d.headSeq = r.seq;
    d.headHash = hash;
    const synced = r.clock === CLOCK_SYNCED;
    // Flow totals per device and UTC hour of the window's start (windows without a trusted time apart).
    const bucket = synced ? String(r.startS - (r.startS % HOUR_S)).padStart(16, '0') : 'unsynced';
    const f = (await st.get<FlowRecord>(KEY.flow, [d.kid, bucket])) ?? { gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 0, regenToPackMwh: 0, reports: 0 };
    f.gridToPackMwh += sum(r, 'gridToPackMwh');
    f.packToGridMwh += sum(r, 'packToGridMwh');
    f.packToMotorMwh += sum(r, 'packToMotorMwh');
    f.regenToPackMwh += sum(r, 'regenToPackMwh');
    f.reports++;
    await st.put(KEY.flow, [d.kid, bucket], f);
    // Settlement, on the device's and on its owner's balance: at the market's results (a
    // report without trusted time stays unpriced), or with the testnet's price-series rules.
    const rec: GridFlowRecord = {
      device: d.kid, seq: r.seq, startS: r.startS, endS: r.startS + r.durationS, synced,
      gridToPackMwh: sum(r, 'gridToPackMwh'), packToGridMwh: sum(r, 'packToGridMwh'),
    };
    const devBal = loadBalance(d.kid, d.balance);
    const before = { cost: devBal.costPico, rev: devBal.revenuePico, ui: devBal.unpricedImportMwh, ue: devBal.unpricedExportMwh };
    let add: (b: Balance) => void;
    if ('series' in how) {
      add = (b) => addRecord(how.series, b, rec);
    } else {
      const value = how.shares ? await this.settleShares(st, d.kid, how.shares) : undefined;
      add = (b) => addMarketRecord(b, rec, value);
    }
    add(devBal);
    d.balance = storeBalance(devBal);
    await st.put(KEY.device, [d.kid], d);
    const owner = loadBalance(d.owner, await st.get<StoredBalance>(KEY.owner, [d.owner]));
    add(owner);
    await st.put(KEY.owner, [d.owner], storeBalance(owner));
    if (rec.gridToPackMwh > 0 || rec.packToGridMwh > 0) {
      const entry: HistoryEntry = {
        device: d.kid, seq: r.seq, synced, startS: rec.startS, endS: rec.endS,
        gridToPackMwh: rec.gridToPackMwh, packToGridMwh: rec.packToGridMwh,
        costPico: devBal.unpricedImportMwh !== before.ui ? null : (devBal.costPico - before.cost).toString(),
        revenuePico: devBal.unpricedExportMwh !== before.ue ? null : (devBal.revenuePico - before.rev).toString(),
        txId,
      };
      await st.put(KEY.entry, [d.owner, d.kid, r.seq], entry);
    }
  }

  // ------------------------------------------------------------------- prices

  /** The posted series as settlement.ts reads it (absolute intervals, in key order). */
  private async priceSeries(st: TxState): Promise<PriceSeries> {
    const meta = await st.get<PricesMeta>(KEY.prices, []);
    const rows = meta ? await st.list<PriceRecord>(KEY.price, []) : [];
    const intervals = rows.map(({ value: p }, i) => ({
      startS: p.startS,
      endS: i + 1 < rows.length ? rows[i + 1].value.startS : meta!.endS,
      importMicroPerKwh: p.importMicro,
      exportMicroPerKwh: p.exportMicro,
    }));
    return { kind: 'absolute', currency: '', source: 'ledger', intervals };
  }

  /**
   * Appends intervals [{startS, importMicro, exportMicro}] (micro-units per kWh, integers)
   * to the price series, `endS` closing the last: the EVM contract's postPrices rules
   * (starts strictly increasing, the first at the end of what was posted, no holes).
   * Prices apply to reports accepted after they were posted. Grid operator only.
   */
  async PostPrices(ctx: Context, intervals: string, endS: number): Promise<string> {
    const st = new TxState(ctx);
    await this.requireRole(ctx, st, 'grid-operator');
    const list = parseJson(intervals, 'intervals');
    if (!Array.isArray(list) || list.length === 0) throw new Error('NoPrices: intervals must be a non-empty JSON array');
    const meta = (await st.get<PricesMeta>(KEY.prices, [])) ?? { count: 0, startS: 0, endS: 0 };
    const rows: PriceRecord[] = list.map((x: unknown, i: number) => {
      const o = (x ?? {}) as Record<string, unknown>;
      return {
        startS: safeInt(o.startS, `intervals[${i}].startS`, 0, 2 ** 40 - 1),
        importMicro: safeInt(o.importMicro, `intervals[${i}].importMicro`, -(PRICE_LIMIT - 1), PRICE_LIMIT - 1),
        exportMicro: safeInt(o.exportMicro, `intervals[${i}].exportMicro`, -(PRICE_LIMIT - 1), PRICE_LIMIT - 1),
      };
    });
    const end = safeInt(endS, 'endS', 0, 2 ** 40 - 1);
    if (meta.count > 0 && rows[0].startS !== meta.endS) throw new Error(`PricesNotContiguous: intervals[0].startS ${rows[0].startS}, the series ends at ${meta.endS}`);
    for (let i = 1; i < rows.length; i++) if (rows[i].startS <= rows[i - 1].startS) throw new Error(`PricesNotIncreasing: intervals[${i}].startS ${rows[i].startS} is not after ${rows[i - 1].startS}`);
    const lastStart = rows[rows.length - 1].startS;
    if (end <= lastStart) throw new Error(`BadPricesEnd: endS ${end} is not after the last start ${lastStart}`);
    for (let i = 0; i < rows.length; i++) await st.put(KEY.price, [meta.count + i], rows[i]);
    const next: PricesMeta = { count: meta.count + rows.length, startS: meta.count ? meta.startS : rows[0].startS, endS: end };
    await st.put(KEY.prices, [], next);
    ctx.stub.setEvent(EVENT.prices, Buffer.from(JSON.stringify({ firstIndex: meta.count, count: rows.length, startS: rows[0].startS, endS: end })));
    return JSON.stringify(next);
  }

  async GetPrices(ctx: Context): Promise<string> {
    const st = new TxState(ctx);
    const s = await this.priceSeries(st);
    return JSON.stringify(s.intervals);
  }

  // ------------------------------------------------------------------ market

  /**
   * Turns the market on, once, with its interval length (s): from then on accepted grid
   * energy settles at the posted market results, interval by interval, and no longer at
   * the price series. Grid operator only (the EVM contract's setMarketInterval).
   */
  async SetMarketInterval(ctx: Context, intervalS: number): Promise<string> {
    const st = new TxState(ctx);
    await this.requireRole(ctx, st, 'grid-operator');
    const cfg = await st.get<MarketConfig>(KEY.market, []);
    if (cfg) throw new Error(`MarketIntervalAlreadySet: the market's interval is ${cfg.intervalS} s`);
    if (typeof intervalS !== 'number' || !Number.isSafeInteger(intervalS) || intervalS < 1 || intervalS > 2 ** 32 - 1) {
      throw new Error(`BadMarketIntervalLength: intervalS: expected an integer in [1, ${2 ** 32 - 1}], got ${JSON.stringify(intervalS)}`);
    }
    const next: MarketConfig = { intervalS };
    await st.put(KEY.market, [], next);
    return JSON.stringify(next);
  }

  /**
   * Posts a market interval's results, once (protocol/MARKET.md §5.2): the utility's prices
   * of the interval, for devices without a result, and `results`, a JSON array of each
   * participating device's {device, netWh, amountNano, retailMicro, feedInMicro} in
   * ascending device order. Reports with energy in the interval are accepted only after
   * this. Grid operator only; the EVM contract's postMarketInterval rules and error names.
   */
  async PostMarketInterval(ctx: Context, startS: number, retailMicro: number, feedInMicro: number, results: string): Promise<string> {
    const st = new TxState(ctx);
    await this.requireRole(ctx, st, 'grid-operator');
    const cfg = await st.get<MarketConfig>(KEY.market, []);
    if (!cfg) throw new Error('MarketOff: the market is not on (SetMarketInterval first)');
    const start = safeInt(startS, 'startS', 0, 2 ** 40 - 1);
    if (start % cfg.intervalS !== 0) throw new Error(`BadMarketIntervalStart: startS ${start} is not a multiple of the market's interval ${cfg.intervalS} s`);
    const retail = safeInt(retailMicro, 'retailMicro', -(PRICE_LIMIT - 1), PRICE_LIMIT - 1);
    const feedIn = safeInt(feedInMicro, 'feedInMicro', -(PRICE_LIMIT - 1), PRICE_LIMIT - 1);
    const list = parseJson(results, 'results');
    if (!Array.isArray(list)) throw new Error('results: expected a JSON array of {device, netWh, amountNano, retailMicro, feedInMicro}');
    const rows: MarketResultRow[] = [];
    for (let i = 0; i < list.length; i++) {
      const o = (list[i] ?? {}) as Record<string, unknown>;
      const device = o.device;
      if (typeof device !== 'string' || !HEX16.test(device)) throw new Error(`results[${i}].device: expected a kid as 16 lower-case hex digits`);
      if (i > 0 && device <= rows[i - 1].device) throw new Error(`MarketResultsNotSorted: results[${i}].device ${device} is not after ${rows[i - 1].device}`);
      if (device === ZERO_KID) throw new Error(`BadMarketResult: results[${i}].device is zero`);
      rows.push({
        device,
        netWh: safeInt(o.netWh, `results[${i}].netWh`, -(2 ** 31), 2 ** 31 - 1),
        // int64 in the EVM contract; here what a JSON number holds exactly.
        amountNano: safeInt(o.amountNano, `results[${i}].amountNano`, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
        retailMicro: safeInt(o.retailMicro, `results[${i}].retailMicro`, -(PRICE_LIMIT - 1), PRICE_LIMIT - 1),
        feedInMicro: safeInt(o.feedInMicro, `results[${i}].feedInMicro`, -(PRICE_LIMIT - 1), PRICE_LIMIT - 1),
      });
    }
    if (await st.get<MarketIntervalRecord>(KEY.marketInterval, [start])) throw new Error(`MarketIntervalAlreadyPosted: the interval at ${start}`);
    const rec: MarketIntervalRecord = { startS: start, retailMicro: retail, feedInMicro: feedIn, results: rows, txId: ctx.stub.getTxID() };
    await st.put(KEY.marketInterval, [start], rec);
    // Nothing of the interval can have been accepted yet (it was not posted): fresh slots.
    for (const r of rows) {
      await st.put(KEY.marketSlot, [r.device, start], { measuredMwh: 0, result: { netWh: r.netWh, amountNano: r.amountNano }, retailMicro: r.retailMicro, feedInMicro: r.feedInMicro } satisfies MarketSlot);
    }
    ctx.stub.setEvent(EVENT.marketInterval, Buffer.from(JSON.stringify({ startS: start, retailMicro: retail, feedInMicro: feedIn, results: rows.length })));
    return JSON.stringify(rec);
  }

  /** The market's interval length ({intervalS: 0}: no market) and, given a start, that interval's posted results (null: not posted). */
  async GetMarketInterval(ctx: Context, startS: number): Promise<string> {
    const st = new TxState(ctx);
    const cfg = await st.get<MarketConfig>(KEY.market, []);
    const iv = await st.get<MarketIntervalRecord>(KEY.marketInterval, [safeInt(startS, 'startS', 0, 2 ** 40 - 1)]);
    return JSON.stringify({ intervalS: cfg?.intervalS ?? 0, interval: iv ?? null });
  }

  // ----------------------------------------------------------------- batches

  /**
   * Records batch `batchId` of an ingest node: its RFC 9162 root over `size` leaves and,
   * per device (ascending kid), the seq range it holds, continuing the device's anchored
   * range exactly. The EVM contract's rules and error names; the anchorer role only.
   */
  async AnchorBatch(ctx: Context, batchId: number, root: string, size: number, ranges: string): Promise<string> {
    const st = new TxState(ctx);
    await this.requireRole(ctx, st, 'anchorer');
    const id = safeInt(batchId, 'batchId', 1, Number.MAX_SAFE_INTEGER);
    const meta = (await st.get<{ last: number }>(KEY.batches, [])) ?? { last: 0 };
    if (id <= meta.last) throw new Error(`BatchAlreadyAnchored: batch ${id}, the last anchored is ${meta.last}`);
    if (id !== meta.last + 1) throw new Error(`BatchOutOfOrder: expected batch ${meta.last + 1}, got ${id}`);
    if (typeof root !== 'string' || !HEX64.test(root)) throw new Error(`root: expected ${HASH_BYTES} bytes as 64 lower-case hex digits`);
    const treeSize = safeInt(size, 'size', 0, Number.MAX_SAFE_INTEGER);
    const list = parseJson(ranges, 'ranges');
    if (!Array.isArray(list)) throw new Error('ranges: expected a JSON array of {device, firstSeq, lastSeq}');
    if (treeSize === 0 || list.length === 0) throw new Error('EmptyBatch: a batch holds at least one report');
    let leaves = 0;
    const checked: DeviceRange[] = [];
    for (let i = 0; i < list.length; i++) {
      const o = (list[i] ?? {}) as Record<string, unknown>;
      const device = o.device;
      if (typeof device !== 'string' || !HEX16.test(device)) throw new Error(`ranges[${i}].device: expected a kid as 16 lower-case hex digits`);
      if (i > 0 && device <= checked[i - 1].device) throw new Error(`DevicesNotSorted: ranges[${i}].device ${device} is not after ${checked[i - 1].device}`);
      const firstSeq = safeInt(o.firstSeq, `ranges[${i}].firstSeq`, 0, SEQ_LIMIT - 2);
      const lastSeq = safeInt(o.lastSeq, `ranges[${i}].lastSeq`, 0, SEQ_LIMIT - 2);
      if (lastSeq < firstSeq) throw new Error(`BadSeqRange: device ${device} seq ${firstSeq}..${lastSeq}`);
      const a = (await st.get<{ nextSeq: number }>(KEY.anchored, [device])) ?? { nextSeq: 0 };
      if (firstSeq > a.nextSeq) throw new Error(`SeqGap: device ${device} continues at seq ${a.nextSeq}, the batch starts at ${firstSeq}`);
      if (firstSeq < a.nextSeq) throw new Error(`SeqOverlap: device ${device} continues at seq ${a.nextSeq}, the batch starts at ${firstSeq}`);
      leaves += lastSeq - firstSeq + 1;
      checked.push({ device, firstSeq, lastSeq });
    }
    if (leaves !== treeSize) throw new Error(`TreeSizeMismatch: size ${treeSize}, the ranges hold ${leaves} reports`);
    for (const r of checked) await st.put(KEY.anchored, [r.device], { nextSeq: r.lastSeq + 1 });
    const rec: BatchRecord = { id, root, size: treeSize, ranges: checked, txId: ctx.stub.getTxID(), timestampS: st.nowS() };
    await st.put(KEY.batch, [id], rec);
    await st.put(KEY.batches, [], { last: id });
    ctx.stub.setEvent(EVENT.anchored, Buffer.from(JSON.stringify({ batchId: id, root, size: treeSize, devices: checked.length })));
    return JSON.stringify(rec);
  }

  async GetBatch(ctx: Context, batchId: number): Promise<string> {
    const st = new TxState(ctx);
    const b = await st.get<BatchRecord>(KEY.batch, [safeInt(batchId, 'batchId', 1, Number.MAX_SAFE_INTEGER)]);
    return JSON.stringify(b ?? null);
  }

  async GetLastBatch(ctx: Context): Promise<string> {
    const st = new TxState(ctx);
    const meta = (await st.get<{ last: number }>(KEY.batches, [])) ?? { last: 0 };
    const b = meta.last ? await st.get<BatchRecord>(KEY.batch, [meta.last]) : undefined;
    return JSON.stringify({ last: meta.last, batch: b ?? null });
  }

  /** RFC 9162 §2.1.3.2: does `path` (JSON array of hex) prove leaf `leafHash` at `index` of batch `batchId`? */
  async VerifyInclusion(ctx: Context, batchId: number, leafHash: string, index: number, path: string): Promise<boolean> {
    const st = new TxState(ctx);
    const b = await st.get<BatchRecord>(KEY.batch, [safeInt(batchId, 'batchId', 1, Number.MAX_SAFE_INTEGER)]);
    if (!b) return false;
    if (typeof leafHash !== 'string' || !HEX64.test(leafHash)) throw new Error('leafHash: expected 64 lower-case hex digits');
    const list = parseJson(path, 'path');
    if (!Array.isArray(list) || !list.every((h) => typeof h === 'string' && HEX64.test(h))) throw new Error('path: expected a JSON array of 64-hex-digit hashes');
    const r = rootFromAuditPath(fromHex(leafHash), safeInt(index, 'index', 0, Number.MAX_SAFE_INTEGER), b.size, list.map((h: string) => fromHex(h)));
    return r.ok && bytesEqual(r.root, fromHex(b.root));
  }

  // ----------------------------------------------------------------- queries

  async GetDevice(ctx: Context, kid: string): Promise<string> {
    const st = new TxState(ctx);
    if (typeof kid !== 'string' || !HEX16.test(kid)) throw new Error('kid: expected 16 lower-case hex digits');
    return JSON.stringify((await st.get<DeviceRecord>(KEY.device, [kid])) ?? null);
  }

  /** A device's flow totals per UTC hour of the window start (key "unsynced": no trusted time). */
  async GetFlows(ctx: Context, kid: string): Promise<string> {
    const st = new TxState(ctx);
    if (typeof kid !== 'string' || !HEX16.test(kid)) throw new Error('kid: expected 16 lower-case hex digits');
    const rows = await st.list<FlowRecord>(KEY.flow, [kid]);
    return JSON.stringify(rows.map((r) => ({ hour: r.attrs[1] === 'unsynced' ? null : Number(r.attrs[1]), ...r.value })));
  }

  /** A rider's balance (micro-units, rounded once, ties to even) and its history, report by report. */
  async GetBalance(ctx: Context, owner: string): Promise<string> {
    const st = new TxState(ctx);
    if (typeof owner !== 'string' || !OWNER.test(owner)) throw new Error('owner: expected 1..256 printable ASCII characters');
    const b = await st.get<StoredBalance>(KEY.owner, [owner]);
    const history = await st.list<HistoryEntry>(KEY.entry, [owner]);
    return JSON.stringify({ owner, ...(b ?? storeBalance(emptyBalance(owner))), history: history.map((h) => h.value) });
  }

  /**
   * A rider's history a page at a time (GetBalance returns all of it at once): at most
   * `pageSize` entries (1..1000) from `bookmark` ('' for the first page), device then seq
   * order, and the bookmark of the next page ('' after the last).
   */
  async GetHistory(ctx: Context, owner: string, pageSize: number, bookmark: string): Promise<string> {
    const st = new TxState(ctx);
    if (typeof owner !== 'string' || !OWNER.test(owner)) throw new Error('owner: expected 1..256 printable ASCII characters');
    const n = safeInt(pageSize, 'pageSize', 1, 1000);
    if (typeof bookmark !== 'string') throw new Error('bookmark: expected a string (\'\' for the first page)');
    const p = await st.page<HistoryEntry>(KEY.entry, [owner], n, bookmark);
    return JSON.stringify({ owner, entries: p.values, bookmark: p.bookmark });
  }
}

// fabric-contract-api adds its decorators to module.exports with Object.assign, which an ES
// module importing it cannot see as named exports: they are taken from require().
const { Info, Param, Returns, Transaction } = createRequire(import.meta.url)('fabric-contract-api') as typeof import('fabric-contract-api');

// Decorators applied as functions: the same metadata as @Transaction/@Param/@Returns, without
// TypeScript's experimental decorators (this repository compiles with tsx and plain tsc).
type Spec = { submit: boolean; params: [string, string][]; returns?: string };
const TRANSACTIONS: Record<string, Spec> = {
  InitLedger: { submit: true, params: [['gridOperatorMsp', 'string'], ['anchorerMsp', 'string']] },
  IssueChallenge: { submit: true, params: [], returns: 'string' },
  RegisterDevice: { submit: true, params: [['pairingProof', 'string'], ['owner', 'string']], returns: 'string' },
  SubmitReports: { submit: true, params: [['reports', 'string']], returns: 'string' },
  PostPrices: { submit: true, params: [['intervals', 'string'], ['endS', 'number']], returns: 'string' },
  GetPrices: { submit: false, params: [], returns: 'string' },
  SetMarketInterval: { submit: true, params: [['intervalS', 'number']], returns: 'string' },
  PostMarketInterval: { submit: true, params: [['startS', 'number'], ['retailMicro', 'number'], ['feedInMicro', 'number'], ['results', 'string']], returns: 'string' },
  GetMarketInterval: { submit: false, params: [['startS', 'number']], returns: 'string' },
  AnchorBatch: { submit: true, params: [['batchId', 'number'], ['root', 'string'], ['size', 'number'], ['ranges', 'string']], returns: 'string' },
  GetBatch: { submit: false, params: [['batchId', 'number']], returns: 'string' },
  GetLastBatch: { submit: false, params: [], returns: 'string' },
  VerifyInclusion: { submit: false, params: [['batchId', 'number'], ['leafHash', 'string'], ['index', 'number'], ['path', 'string']], returns: 'boolean' },
  GetDevice: { submit: false, params: [['kid', 'string']], returns: 'string' },
  GetFlows: { submit: false, params: [['kid', 'string']], returns: 'string' },
  GetBalance: { submit: false, params: [['owner', 'string']], returns: 'string' },
  GetHistory: { submit: false, params: [['owner', 'string'], ['pageSize', 'number'], ['bookmark', 'string']], returns: 'string' },
};
for (const name of Object.keys(TRANSACTIONS).sort()) {
  const spec = TRANSACTIONS[name];
  Transaction(spec.submit)(DeepContract.prototype, name);
  for (const [p, type] of spec.params) Param(p, type)(DeepContract.prototype, name);
  if (spec.returns) Returns(spec.returns)(DeepContract.prototype, name);
}
Info({ title: 'DEEP', description: 'Device-signed e-bike energy reports verified in the endorsement; batches; settlement', version: '0.1.0', license: { name: 'MIT' } } as never)(DeepContract);
