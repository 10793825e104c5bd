// The end-of-run summary: for each bike, pack and flow, the ledger's verified total next to
// the simulator's true energy; each device's chain status as the ingest node sees it; each
// rider's settlement balance; and the one machine-readable line that ends every run:
//   bikes=3 reports=1440 verified=1440 rejected=0 max_error_mwh=2
// `max_error_mwh` is the largest |ledger − truth| over every (bike, pack, flow), rounded up
// to the next integer mWh (the report's unit), so 0 means exact to the report's resolution.
import { FLOWS, FLOW_LABEL, wh, type FlowTotals } from './view';
import { formatMicro, type PriceSeries } from './prices';
import { divRoundHalfEven, type Balance } from './settlement';
import type { MarketTotals } from './market';
import type { DeviceSettlement } from '../market/settle';

export interface PackTotals {
  /** BMS CAN id of the pack. */
  id: number;
  /** Verified totals from the ledger (integer mWh). */
  ledgerMwh: FlowTotals;
  /** The simulator's true energy (mWh, may carry a fraction: the simulator is finer). */
  trueMwh: FlowTotals;
}

export interface ChainView {
  /** Reports the device made (committed to its queue). */
  made: number;
  /** Reports the ledger accepted for this device. */
  accepted: number;
  /** Highest seq of the contiguous accepted chain, -1 when none. */
  headSeq: number;
  /** Reports held back by the node waiting for a gap to fill. */
  pending: number;
  forks: number;
  rejected: number;
}

export interface BikeSummary {
  name: string;
  deviceId: string;
  packs: PackTotals[];
  chain: ChainView;
  balance: Balance | undefined;
}

export interface RunSummary {
  bikes: BikeSummary[];
  series: PriceSeries;
  /** Reports made by all devices, accepted (verified) and rejected by the node. */
  reports: number;
  verified: number;
  rejected: number;
  simMs: number;
  wallMs: number;
  /** Energy each hub drew from the grid for charging and fed back from exports (simulator truth, mWh). */
  hubs?: { name: string; inMwh: number; outMwh: number }[];
  /** Anchoring on chain, when on (host-tools/testnet/anchor.ts). */
  anchor?: { anchored: number; batches: number; settledOk: boolean; mismatches: string[] };
  /** The local market, when on (host-tools/testnet/market.ts): totals and each rider's settlement. */
  market?: MarketTotals & { imbalanceMwh: number; riders: { name: string; settlement: DeviceSettlement }[] };
  /** The reports through the Fabric chaincode in process (host-tools/testnet/fabric.ts), when asked. */
  fabric?: { accepted: number; rejected: number; deferred: number; transactions: number; against: 'market' | 'prices'; settledOk: boolean; mismatches: string[] };
}

/** Riders whose market balance is worse than the utility-only baseline for the same measured energy. */
export function ridersBelowBaseline(s: RunSummary): string[] {
  return (s.market?.riders ?? []).filter((r) => r.settlement.marketPico < r.settlement.baselinePico).map((r) => r.name);
}

export function maxErrorMwh(s: RunSummary): number {
  let max = 0;
  for (const b of s.bikes) {
    for (const p of b.packs) {
      for (const f of FLOWS) max = Math.max(max, Math.abs(p.ledgerMwh[f] - p.trueMwh[f]));
    }
  }
  // Float noise in the simulator's truth (e.g. 2.0000000001) must not inflate the figure.
  return Math.ceil(max - 1e-6);
}

export function chainStatus(c: ChainView): string {
  const problems: string[] = [];
  if (c.forks > 0) problems.push(`FORK x${c.forks}`);
  if (c.pending > 0) problems.push(`${c.pending} pending behind a gap`);
  if (c.rejected > 0) problems.push(`${c.rejected} rejected`);
  if (c.headSeq + 1 !== c.made) problems.push(`chain head ${c.headSeq} but ${c.made} made`);
  if (c.accepted !== c.headSeq + 1) problems.push(`${c.accepted} accepted vs head ${c.headSeq}`);
  return problems.length ? problems.join(', ') : `complete, seq 0..${c.headSeq}, no gap, no fork`;
}

/**
 * A ledger total passes when |ledger - truth| <= max(absMwh, truth x relPermille / 1000).
 * The device samples each bus once per poll period, so when a bike changes mode (rides
 * into a hub, starts exporting) the energy of up to one poll can land in the neighbouring
 * flow: that is the sensors' resolution in time, not a loss.
 */
export function withinTolerance(ledgerMwh: number, trueMwh: number, absMwh: number, relPermille: number): boolean {
  return Math.abs(ledgerMwh - trueMwh) <= Math.max(absMwh, (Math.abs(trueMwh) * relPermille) / 1000);
}

export interface Tolerance {
  /** Per flow: absolute allowance (mWh) and relative allowance (per mille of the truth). */
  flowMwh: number;
  flowPermille: number;
  /**
   * Per pack, all flows together: nothing may be created or lost, only moved between
   * flows; each flow's total carries less than 1 mWh of rounding, so 4 flows < 4 mWh.
   */
  packMwh: number;
}

/** One poll of 1 s at up to 1 kW may change flow (278 mWh); a pack's sum must be exact. */
export const DEFAULT_TOLERANCE: Tolerance = { flowMwh: 300, flowPermille: 10, packMwh: 4 };

export function packSumError(p: PackTotals): number {
  return Math.abs(FLOWS.reduce((a, f) => a + p.ledgerMwh[f] - p.trueMwh[f], 0));
}

/** True when nothing was rejected, every chain is complete and every total within tolerance. */
export function runOk(s: RunSummary, t: Tolerance = DEFAULT_TOLERANCE): boolean {
  const totalsOk = s.bikes.every((b) => b.packs.every((p) =>
    packSumError(p) <= t.packMwh && FLOWS.every((f) => withinTolerance(p.ledgerMwh[f], p.trueMwh[f], t.flowMwh, t.flowPermille))));
  const anchorOk = !s.anchor || (s.anchor.anchored === s.verified && s.anchor.settledOk);
  const marketOk = !s.market || (s.market.ridersShort === 0 && ridersBelowBaseline(s).length === 0);
  const fabricOk = !s.fabric || (s.fabric.accepted === s.verified && s.fabric.rejected === 0 && s.fabric.settledOk);
  return s.rejected === 0 && totalsOk && anchorOk && marketOk && fabricOk && s.bikes.every((b) => chainStatus(b.chain).startsWith('complete'));
}

export function finalLine(s: RunSummary): string {
  const anchor = s.anchor ? ` anchored=${s.anchor.anchored} settled_ok=${s.anchor.settledOk ? 1 : 0}` : '';
  const m = s.market;
  const market = m
    ? ` intervals=${m.intervals} traded_kwh=${kwh3(m.tradedWh * 1000)} avg_price=${m.avgPriceMicroPerKwh === null ? '-' : formatMicro(m.avgPriceMicroPerKwh).replace(/\d\d$/, '')} imbalance_kwh=${kwh3(m.imbalanceMwh)} riders_short=${m.ridersShort}`
    : '';
  const fabric = s.fabric ? ` chaincode_accepted=${s.fabric.accepted} chaincode_settled_ok=${s.fabric.settledOk ? 1 : 0}` : '';
  return `bikes=${s.bikes.length} reports=${s.reports} verified=${s.verified} rejected=${s.rejected} max_error_mwh=${maxErrorMwh(s)}${anchor}${fabric}${market}`;
}

/** mWh as kWh with 3 decimals (Wh resolution), truncated toward zero. */
function kwh3(mwh: number): string {
  return formatMicro(Math.trunc(mwh / 1000) * 1000).replace(/\d{3}$/, '');
}

function table(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (right[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

function diff(ledger: number, truth: number): string {
  const d = ledger - truth;
  const r = Math.round(d * 1000) / 1000;
  return (r > 0 ? '+' : '') + String(r);
}

/** Every line of the summary, ending with finalLine(s). */
export function renderSummary(s: RunSummary): string[] {
  const lines: string[] = ['', `== summary (sim time ${Math.round(s.simMs / 1000)} s, wall ${Math.round(s.wallMs / 1000)} s) ==`, ''];
  lines.push('energy per bike, pack and flow: ledger (verified reports) vs simulator (true flow)');
  const rows = [['bike', 'pack', 'flow', 'ledger Wh', 'true Wh', 'diff mWh']];
  for (const b of s.bikes) {
    for (const p of b.packs) {
      for (const f of FLOWS) rows.push([b.name, String(p.id), FLOW_LABEL[f], wh(p.ledgerMwh[f]), wh(p.trueMwh[f]), diff(p.ledgerMwh[f], p.trueMwh[f])]);
    }
  }
  lines.push(...table(rows, [false, true, false, true, true, true]), '');
  lines.push('chain status per device (as the ingest node sees it)');
  lines.push(...table([['bike', 'device', 'made', 'accepted', 'status'], ...s.bikes.map((b) => [b.name, b.deviceId.slice(0, 16), String(b.chain.made), String(b.chain.accepted), chainStatus(b.chain)])], [false, false, true, true, false]), '');
  if (s.hubs?.length) {
    lines.push('charging hubs (true energy at the packs while plugged in)');
    lines.push(...table([['hub', 'from grid Wh', 'to grid Wh'], ...s.hubs.map((h) => [h.name, wh(h.inMwh), wh(h.outMwh)])], [false, true, true]), '');
  }
  const cur = s.series.currency;
  lines.push(`prosumer settlement on verified reports (${s.series.source}, ${cur}/kWh; balance = sold − bought, ties to even at 10^-6 ${cur})`);
  const bal = [['rider', 'bought kWh', `paid ${cur}`, 'sold kWh', `earned ${cur}`, `balance ${cur}`, 'unpriced kWh']];
  for (const b of s.bikes) {
    const x = b.balance;
    if (!x) {
      bal.push([b.name, '-', '-', '-', '-', '-', '-']);
      continue;
    }
    const kwh = (mwh: number) => formatMicro(mwh).replace(/(\.\d{3})\d*$/, '$1'); // mWh = 10^-6 kWh; show 3 decimals (Wh)
    bal.push([
      b.name, kwh(x.importMwh), formatMicro(divRoundHalfEven(x.costPico, 1_000_000n)), kwh(x.exportMwh), formatMicro(divRoundHalfEven(x.revenuePico, 1_000_000n)),
      formatMicro(x.balanceMicro), kwh(x.unpricedImportMwh + x.unpricedExportMwh),
    ]);
  }
  lines.push(...table(bal, [false, true, true, true, true, true, true]), '');
  if (s.market) {
    const m = s.market;
    lines.push(`local market: ${m.intervals} hub intervals, ${kwh3(m.tradedWh * 1000)} kWh traded between participants at ${m.avgPriceMicroPerKwh === null ? '-' : formatMicro(m.avgPriceMicroPerKwh)} ${cur}/kWh on average (protocol/MARKET.md)`);
    const avg = (nano: number, whs: number) => (whs > 0 ? formatMicro(Math.floor(nano / whs)).replace(/\d\d$/, '') : '-');
    const tod = [['bikes, time of day (UTC)', 'bought kWh', `avg paid ${cur}/kWh`, 'sold kWh', `avg earned ${cur}/kWh`]];
    for (const b of m.byTimeOfDay) tod.push([b.block, kwh3(b.boughtWh * 1000), avg(b.paidNano, b.boughtWh), kwh3(b.soldWh * 1000), avg(b.earnedNano, b.soldWh)]);
    lines.push(...table(tod, [false, true, true, true, true]));
    lines.push(`each rider: measured energy settled at the cleared price, the imbalance (measured beyond matched) at the utility's price, and the utility-only baseline (bought at retail, sold at feed-in) for the same energy`);
    const mk = [['rider', 'matched kWh', 'measured kWh', 'at market kWh', 'imbalance kWh', `imbalance ${cur}`, `market ${cur}`, `baseline ${cur}`, 'gain']];
    for (const r of m.riders) {
      const x = r.settlement;
      mk.push([r.name, kwh3(x.matchedMwh), kwh3(x.measuredMwh), kwh3(x.atMarketMwh), kwh3(x.imbalanceMwh), formatMicro(divRoundHalfEven(x.imbalancePico, 1_000_000n)), formatMicro(x.marketMicro), formatMicro(x.baselineMicro), formatMicro(x.marketMicro - x.baselineMicro)]);
    }
    lines.push(...table(mk, [false, true, true, true, true, true, true, true, true]));
    for (const d of m.shortDetail) lines.push(`  short: ${d}`);
    const below = ridersBelowBaseline(s);
    if (below.length) lines.push(`  WORSE than the utility alone: ${below.join(', ')}`);
    lines.push('');
  }
  if (s.anchor) {
    // With the market, the contract settles at the posted market results: its figure is "market EUR".
    const which = s.market ? 'the market settlement above (market EUR)' : 'the settlement above';
    lines.push(`on chain: ${s.anchor.anchored} reports in ${s.anchor.batches} batches anchored and confirmed; balances on chain ${s.anchor.settledOk ? `equal ${which} to the micro-unit` : `DIFFER from ${which}`}`);
    for (const m of s.anchor.mismatches) lines.push(`  ${m}`);
    lines.push('');
  }
  if (s.fabric) {
    const what = s.fabric.against === 'market' ? "the market's settlement" : 'the settlement above';
    lines.push(`Fabric chaincode (in process): ${s.fabric.accepted} reports accepted, ${s.fabric.rejected} rejected, ${s.fabric.deferred} deferred in ${s.fabric.transactions} transactions; balances in the chaincode ${s.fabric.settledOk ? `equal ${what} to the micro-unit` : `DIFFER from ${what}`}`);
    for (const m of s.fabric.mismatches) lines.push(`  ${m}`);
    lines.push('');
  }
  lines.push(finalLine(s));
  return lines;
}
