// The report_packs table's energy columns, shared by both stores (./sqlite.ts,
// ./postgres.ts): one row per report and pack, one column per flow of
// host-tools/ingest/facts.ts.
import type { FlowAmount, StoredReport } from './store';

/** One report_packs row as both databases return it. */
export interface PackRow {
  pack: number;
  grid_to_pack_mwh: number;
  pack_to_grid_mwh: number;
  pack_to_motor_mwh: number;
  regen_to_pack_mwh: number;
  charge_mah: number;
}

export type PackColumn = Exclude<keyof PackRow, 'pack'>;

/** Flow name -> [report_packs column, unit]. */
export const PACK_COLUMN: Record<string, [PackColumn, string]> = {
  grid_to_pack: ['grid_to_pack_mwh', 'mWh'],
  pack_to_grid: ['pack_to_grid_mwh', 'mWh'],
  pack_to_motor: ['pack_to_motor_mwh', 'mWh'],
  regen_to_pack: ['regen_to_pack_mwh', 'mWh'],
  charge: ['charge_mah', 'mAh'],
};

/** A report's flows by pack, as report_packs columns (a flow without a column is refused). */
export function packColumnsOf(r: StoredReport): Map<number, Partial<Record<PackColumn, number>>> {
  const packs = new Map<number, Partial<Record<PackColumn, number>>>();
  for (const f of r.flows) {
    const col = PACK_COLUMN[f.flow];
    if (!col || f.unit !== col[1]) throw new TypeError(`flow ${JSON.stringify(f.flow)} in ${f.unit} has no column in report_packs`);
    let p = packs.get(f.pack);
    if (!p) packs.set(f.pack, (p = {}));
    p[col[0]] = f.amount;
  }
  return packs;
}

/** The flows of one report_packs row. */
export function flowsOfPackRow(row: PackRow): FlowAmount[] {
  return Object.entries(PACK_COLUMN).map(([flow, [col, unit]]) => ({ pack: row.pack, flow, unit, amount: row[col] }));
}
