// What the ingest node indexes of a verified EnergyReport (the bytes themselves are kept
// as received). Flow names and units follow protocol/SPEC.md: energies in mWh, charge in mAh.
import { toHex } from '../../protocol/bytes';
import { CLOCK_SYNCED, type EnergyReport, type PackEnergy } from '../../protocol/report';
import type { FlowAmount, StoredReport } from './store';

export const FLOWS = [
  ['grid_to_pack', 'gridToPackMwh', 'mWh'],
  ['pack_to_grid', 'packToGridMwh', 'mWh'],
  ['pack_to_motor', 'packToMotorMwh', 'mWh'],
  ['regen_to_pack', 'regenToPackMwh', 'mWh'],
] as const;

/** A report's flows: per pack, in pack order, its four energies, then its charge. */
export function flowsOfPacks(packs: readonly PackEnergy[]): FlowAmount[] {
  const flows: FlowAmount[] = [];
  for (const p of packs) {
    for (const [flow, key, unit] of FLOWS) flows.push({ pack: p.canId, flow, unit, amount: p[key] });
    flows.push({ pack: p.canId, flow: 'charge', unit: 'mAh', amount: p.chargeMah });
  }
  return flows;
}

/**
 * A verified report as the node stores it: its facts, its bytes as received, and its packs.
 * One is made for every report the node accepts, so it holds no more than that: the flows
 * (five objects per pack) are made from the packs when first read, and the SQLite store
 * writes the packs without ever asking for them.
 */
export class ReportRecord implements StoredReport {
  readonly deviceId: string;
  readonly seq: number;
  readonly prev: Uint8Array;
  readonly hash: Uint8Array;
  readonly windowStart: number | null;
  readonly windowEnd: number | null;
  readonly faults: Record<string, unknown>;
  readonly packs: readonly PackEnergy[];
  private flowsMade: FlowAmount[] | undefined = undefined;

  constructor(r: EnergyReport, hash: Uint8Array, readonly bytes: Uint8Array, readonly receivedAt: number) {
    const synced = r.clock === CLOCK_SYNCED;
    this.deviceId = toHex(r.kid);
    this.seq = r.seq;
    this.prev = r.prev;
    this.hash = hash;
    this.windowStart = synced ? r.startS : null;
    this.windowEnd = synced ? r.startS + r.durationS : null;
    const faults: Record<string, unknown> = { vesc: r.faults.vesc, bms: r.faults.bms, device: r.faults.device, firmware: r.firmware };
    if (r.gap) faults.gap = { mergedWindows: r.gap.mergedWindows, lostS: r.gap.lostS };
    this.faults = faults;
    this.packs = r.packs;
  }

  get flows(): FlowAmount[] {
    return (this.flowsMade ??= flowsOfPacks(this.packs));
  }
}
