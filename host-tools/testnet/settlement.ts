// Prosumer settlement on verified data only: every grid→pack flow of a verified report is
// bought at the import price of its interval, every pack→grid flow sold at the export
// price. Integer arithmetic throughout (BigInt on the host):
// - energy in mWh (the report's unit), price in micro-units per kWh, so energy × price is
//   in pico-units (1 mWh × 1 micro-unit/kWh = 10^-6 kWh × 10^-6 /kWh = 10^-12 units);
// - a report window [start, end) that straddles price intervals is valued at the
//   time-weighted price of the window (energy assumed spread evenly over its window):
//   value_pico = E_mWh × Σ(price_i × seconds_i) / (end − start), rounded once per report
//   to the nearest pico-unit, ties to even;
// - a rider's balance (revenue − cost) is summed exactly in pico-units and rounded once,
//   at the end, to integer micro-units, ties to even (banker's rounding), so the order
//   reports arrive in never changes a balance.
// Reports without a trusted time (the device's clock was not synced) or outside the price
// series cannot be priced; their energy is counted as unpriced, never guessed.
import { priceSeconds, type PriceSeries } from './prices';

/** One verified report's grid flows, summed over the bike's packs. */
export interface GridFlowRecord {
  device: string;
  seq: number;
  /** Window in epoch seconds; only meaningful when `synced`. */
  startS: number;
  endS: number;
  synced: boolean;
  gridToPackMwh: number;
  packToGridMwh: number;
}

export interface Balance {
  device: string;
  importMwh: number;
  exportMwh: number;
  unpricedImportMwh: number;
  unpricedExportMwh: number;
  /** Exact sums of per-report values, pico-units (10^-12 of the currency). */
  costPico: bigint;
  revenuePico: bigint;
  /** revenue − cost, rounded to micro-units (ties to even). Positive: the grid owes the rider. */
  balanceMicro: bigint;
  reports: number;
}

/** n / d rounded to the nearest integer, ties to even; d > 0. */
export function divRoundHalfEven(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError(`"d" expected > 0, got ${d}`);
  const neg = n < 0n;
  const a = neg ? -n : n;
  let q = a / d;
  const r2 = (a % d) * 2n;
  if (r2 > d || (r2 === d && q % 2n === 1n)) q += 1n;
  return neg ? -q : q;
}

/** Value in pico-units of `mwh` spread over [startS, endS), or undefined if unpriced. */
export function valueFlowPico(series: PriceSeries, mwh: number, startS: number, endS: number, side: 'import' | 'export'): bigint | undefined {
  if (!Number.isSafeInteger(mwh) || mwh < 0) throw new RangeError(`"mwh" expected a safe integer >= 0, got ${mwh}`);
  if (mwh === 0) return 0n;
  // A zero-length window (possible only for a degenerate report) takes the price of its instant.
  const end = endS > startS ? endS : startS + 1;
  const ps = priceSeconds(series, startS, end);
  if (!ps) return undefined;
  const weighted = side === 'import' ? ps.importMicroS : ps.exportMicroS;
  return divRoundHalfEven(BigInt(mwh) * weighted, BigInt(end - startS));
}

export function emptyBalance(device: string): Balance {
  return {
    device, importMwh: 0, exportMwh: 0, unpricedImportMwh: 0, unpricedExportMwh: 0,
    costPico: 0n, revenuePico: 0n, balanceMicro: 0n, reports: 0,
  };
}

/** Adds one verified report to a balance (mutates and returns it). */
export function addRecord(series: PriceSeries, b: Balance, r: GridFlowRecord): Balance {
  b.reports++;
  const cost = r.synced ? valueFlowPico(series, r.gridToPackMwh, r.startS, r.endS, 'import') : undefined;
  const rev = r.synced ? valueFlowPico(series, r.packToGridMwh, r.startS, r.endS, 'export') : undefined;
  if (cost === undefined) b.unpricedImportMwh += r.gridToPackMwh;
  else { b.importMwh += r.gridToPackMwh; b.costPico += cost; }
  if (rev === undefined) b.unpricedExportMwh += r.packToGridMwh;
  else { b.exportMwh += r.packToGridMwh; b.revenuePico += rev; }
  b.balanceMicro = divRoundHalfEven(b.revenuePico - b.costPico, 1_000_000n);
  return b;
}

/** A report as the ingest node's store lists it: its window (null start: clock not synced) and flows. */
export interface StoredFlows {
  seq: number;
  windowStart: number | null;
  windowEnd: number | null;
  flows: { flow: string; amount: number }[];
}

/** The grid flows of one accepted report, summed over its packs. */
export function recordOfStored(device: string, r: StoredFlows): GridFlowRecord {
  let g2p = 0, p2g = 0;
  for (const f of r.flows) {
    if (f.flow === 'grid_to_pack') g2p += f.amount;
    else if (f.flow === 'pack_to_grid') p2g += f.amount;
  }
  // The store keeps no window start for a report made before the clock synced.
  const synced = r.windowStart !== null;
  return { device, seq: r.seq, startS: r.windowStart ?? 0, endS: r.windowEnd ?? 0, synced, gridToPackMwh: g2p, packToGridMwh: p2g };
}

/** Settles every record, one balance per device, in device order. */
export function settle(series: PriceSeries, records: Iterable<GridFlowRecord>): Balance[] {
  const byDevice: Record<string, Balance> = {};
  for (const r of records) addRecord(series, (byDevice[r.device] ??= emptyBalance(r.device)), r);
  return Object.keys(byDevice).sort().map((k) => byDevice[k]);
}
