// `deep testnet --ledger fabric-inproc`: the day's reports through the DEEP chaincode, in
// this process (host-tools/ledger/fabric/inproc.ts: fabric-shim's contract dispatcher on an
// in-memory world state, no peer). Before the day, the chaincode issues each bike a pairing
// challenge and the bike signs a proof over it through its console (group.ts), registered
// with RegisterDevice for the bike's rider; the grid operator's identity posts the prices
// and, with the market on, turns it on and posts each interval's results as the hubs clear
// (PostMarketInterval, the testnet's postMarket as for the EVM contract). After the day,
// every report the ingest node accepted is read back over its HTTP API and submitted with
// SubmitReports, and the chaincode's balances are compared with the off-chain settlement of
// the same reports: the market's (host-tools/market/settle.ts) when it is on.
import '../ledger/fabric/quiet';
import { MemoryLedger } from '../ledger/fabric/inproc';
import { makeIdentity, type FabricIdentity } from '../ledger/fabric/identity';
import { postPricesArgs } from '../ledger/fabric/prices-args';
import { postMarketIntervalArgs } from '../ledger/fabric/market-args';
import type { IntervalResult } from '../market/hub';
import { DeepContract } from '../ledger/fabric/src/contract';
import type { PriceSeries } from './prices';
import type { Balance } from './settlement';

/** A device's balance as the chaincode must hold it; its rider's balance is the same (one bike per rider). */
export interface ExpectedBalance {
  device: string;
  balanceMicro: bigint;
  /** revenuePico − costPico: the split between the two depends on how reports were grouped. */
  netPico: bigint;
  reports: number;
  unpricedImportMwh: number;
  unpricedExportMwh: number;
}

/** What the chaincode must hold without a market: the price-series settlement (settlement.ts). */
export const expectedAtPrices = (b: Balance): ExpectedBalance => ({
  device: b.device, balanceMicro: b.balanceMicro, netPico: b.revenuePico - b.costPico, reports: b.reports, unpricedImportMwh: b.unpricedImportMwh, unpricedExportMwh: b.unpricedExportMwh,
});

/** Reports per SubmitReports transaction. */
const PER_TX = 500;

export class FabricInproc {
  readonly ledger = new MemoryLedger({ contracts: [DeepContract], channel: 'deep-testnet' });
  readonly grid: FabricIdentity = makeIdentity('GridOperatorMSP', 'hubs', { 'deep.role': 'grid-operator' });
  readonly node: FabricIdentity = makeIdentity('TestnetMSP', 'ingest-node', { 'deep.role': 'anchorer' });
  readonly client: FabricIdentity = makeIdentity('TestnetMSP', 'rider-app', { 'deep.role': 'client' });

  private readonly posted = new Set<number>();

  constructor(private readonly nowS: () => number) {}

  /** The prices over [fromS, toS) posted; with `marketIntervalS`, the market on. */
  static async start(series: PriceSeries, fromS: number, toS: number, nowS: () => number, marketIntervalS?: number): Promise<FabricInproc> {
    const f = new FabricInproc(nowS);
    await f.ledger.submit(f.grid, 'InitLedger', [f.grid.mspId, f.node.mspId], { timestampS: nowS() });
    for (const args of postPricesArgs(series, fromS, toS)) await f.ledger.submit(f.grid, 'PostPrices', args, { timestampS: nowS() });
    if (marketIntervalS) await f.ledger.submit(f.grid, 'SetMarketInterval', [String(marketIntervalS)], { timestampS: nowS() });
    return f;
  }

  /** An interval's results, once (later calls for the same start are no-ops, as for the EVM chain). */
  async postMarket(startS: number, tariff: { retailMicroPerKwh: number; feedInMicroPerKwh: number }, results: readonly IntervalResult[]): Promise<void> {
    if (this.posted.has(startS)) return;
    await this.ledger.submit(this.grid, 'PostMarketInterval', postMarketIntervalArgs(startS, tariff, results), { timestampS: this.nowS() });
    this.posted.add(startS);
  }

  async challenge(): Promise<string> {
    return (await this.ledger.submit(this.client, 'IssueChallenge', [], { timestampS: this.nowS() })).result;
  }

  async register(proofB64: string, owner: string): Promise<string> {
    const { result } = await this.ledger.submit(this.client, 'RegisterDevice', [proofB64, owner], { timestampS: this.nowS() });
    return (JSON.parse(result) as { kid: string }).kid;
  }

  /** Submits each device's accepted reports (read from the ingest node), PER_TX at a time. */
  async submitFromNode(nodeUrl: string, devices: string[]): Promise<{ accepted: number; rejected: number; deferred: number; transactions: number; problems: string[] }> {
    let accepted = 0, rejected = 0, deferred = 0, transactions = 0;
    const problems: string[] = [];
    for (const id of devices) {
      let next: string | null = `/v1/devices/${id}/reports?after=-1&limit=${PER_TX}`;
      let deferredHere = false;
      while (next) {
        const res = await fetch(nodeUrl + next, { signal: AbortSignal.timeout(30_000) });
        if (res.status !== 200) throw new Error(`GET ${next}: HTTP ${res.status}`);
        const page = (await res.json()) as { reports: { seq: number; cose: string }[]; next: string | null };
        if (page.reports.length) {
          const bytes = Buffer.concat(page.reports.map((r) => Buffer.from(r.cose, 'base64')));
          const { result } = await this.ledger.submit(this.client, 'SubmitReports', [bytes.toString('base64')], { timestampS: this.nowS() });
          transactions++;
          for (const a of (JSON.parse(result) as { results: { status: string; reason?: string; detail?: string; seq?: number }[] }).results) {
            if (a.status === 'accepted') accepted++;
            else if (a.status === 'rejected') {
              rejected++;
              if (problems.length < 10) problems.push(`${id} seq ${a.seq}: ${a.reason}: ${a.detail}`);
            } else if (a.status === 'deferred') {
              // A run posts every interval with energy first: a deferral there is a fault (accepted < verified fails it).
              deferred++;
              deferredHere = true;
              if (problems.length < 10) problems.push(`${id} seq ${a.seq}: deferred: ${a.detail}`);
            }
          }
        }
        // A deferred report holds its device's later ones: they would be gaps in the chaincode.
        next = deferredHere ? null : page.next;
      }
    }
    return { accepted, rejected, deferred, transactions, problems };
  }

  /** Each device's and each owner's balance in the chaincode against the off-chain settlement. */
  async compare(balances: ExpectedBalance[], ownerOf: Record<string, string>): Promise<string[]> {
    const mismatches: string[] = [];
    const q = async (fn: string, arg: string) => JSON.parse(await this.ledger.evaluate(this.client, fn, [arg], { timestampS: this.nowS() }));
    for (const b of balances) {
      const d = await q('GetDevice', b.device);
      if (!d) {
        mismatches.push(`device ${b.device} is not registered in the chaincode`);
        continue;
      }
      const got = { ...d.balance, netPico: BigInt(d.balance.revenuePico) - BigInt(d.balance.costPico) };
      for (const k of ['balanceMicro', 'netPico', 'reports', 'unpricedImportMwh', 'unpricedExportMwh'] as const) {
        if (String(got[k]) !== String(b[k])) mismatches.push(`device ${b.device}: ${k} ${got[k]} in the chaincode, ${b[k]} off chain`);
      }
      // Each bike has its own rider here, so the rider's balance is the bike's.
      const o = await q('GetBalance', ownerOf[b.device]);
      if (o.balanceMicro !== String(b.balanceMicro)) mismatches.push(`owner ${ownerOf[b.device]}: balance ${o.balanceMicro} in the chaincode, ${b.balanceMicro} off chain`);
    }
    return mismatches;
  }
}
