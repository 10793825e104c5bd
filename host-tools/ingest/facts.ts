// What the ingest node indexes of a verified EnergyReport (the bytes themselves are kept
// as received). Flow names and units follow protocol/SPEC.md: energies in mWh, charge in mAh.
import { toHex } from '../../protocol/bytes';
import { CLOCK_SYNCED, type EnergyReport } from '../../protocol/report';
import type { FlowAmount } from './store';
import type { ReportFacts } from './types';

export const FLOWS = [
  ['grid_to_pack', 'gridToPackMwh', 'mWh'],
  ['pack_to_grid', 'packToGridMwh', 'mWh'],
  ['pack_to_motor', 'packToMotorMwh', 'mWh'],
  ['regen_to_pack', 'regenToPackMwh', 'mWh'],
] as const;

export function factsOf(r: EnergyReport, hash: Uint8Array): ReportFacts {
  const flows: FlowAmount[] = [];
  for (const p of r.packs) {
    for (const [flow, key, unit] of FLOWS) flows.push({ pack: p.canId, flow, unit, amount: p[key] });
    flows.push({ pack: p.canId, flow: 'charge', unit: 'mAh', amount: p.chargeMah });
  }
  const synced = r.clock === CLOCK_SYNCED;
  const faults: Record<string, unknown> = { vesc: r.faults.vesc, bms: r.faults.bms, device: r.faults.device, firmware: r.firmware };
  if (r.gap) faults.gap = { mergedWindows: r.gap.mergedWindows, lostS: r.gap.lostS };
  return {
    deviceId: toHex(r.kid),
    seq: r.seq,
    prev: r.prev,
    hash,
    windowStart: synced ? r.startS : null,
    windowEnd: synced ? r.startS + r.durationS : null,
    flows,
    faults,
  };
}
