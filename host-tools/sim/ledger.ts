// The simulator's own account of what really happened, per pack and per flow, kept in exact
// integers: energy in pJ and charge in µC (BigInt, so ten years at 100 A never round).
// Each model step adds V_term µV × I mA × dt ms (pJ) to exactly one flow of the pack that
// carried the current; the flow is decided by what the bike was doing (see README.md):
//   hub connected, pack charging    → gridToPack     hub connected, pack discharging → packToGrid
//   not at a hub, pack discharging  → packToMotor    not at a hub, pack charging     → regenToPack
// Resistive loss inside the pack (I²R) and chemical energy (OCV·I) are kept beside them so
// that tests can check conservation: chemical = terminal + loss, exactly.

export const FLOWS = ['gridToPack', 'packToGrid', 'packToMotor', 'regenToPack'] as const;
export type Flow = (typeof FLOWS)[number];

/** pJ per mWh: 1 mWh = 3.6 J. */
export const PJ_PER_MWH = 3_600_000_000_000n;
/** µC per mAh. */
export const UC_PER_MAH_BIG = 3_600_000n;

export interface FlowTotal {
  /** Exact energy at the pack terminals, pJ (always >= 0). */
  pj: bigint;
  /** Exact charge, µC (always >= 0). */
  uc: bigint;
  /** The same energy in mWh, as a double derived from the exact integer (display, comparisons). */
  mwh: number;
  /** The same charge in mAh. */
  mah: number;
}

export interface PackLedger {
  canId: number;
  flows: Record<Flow, FlowTotal>;
  /** I²R loss inside the pack, pJ / mWh. */
  lossPj: bigint;
  lossMwh: number;
  /** Net chemical energy taken out of the cells (OCV·I, discharge positive), pJ. */
  chemicalPj: bigint;
  /** Charge in the pack now, µC, and the true state of charge 0..1. */
  chargeUc: number;
  soc: number;
}

export interface HubLedger {
  /** Energy the bike took from this hub's grid, and gave back to it, at the pack terminals. */
  gridToPack: FlowTotal;
  packToGrid: FlowTotal;
}

export interface LedgerSnapshot {
  /** Simulated time of the snapshot, ms since the bike was created. */
  tMs: number;
  packs: PackLedger[];
  /** Grid flows by hub name (both packs together). */
  hubs: Record<string, HubLedger>;
}

interface Acc {
  pj: bigint;
  uc: bigint;
}

export class Ledger {
  private readonly acc: Acc[][];
  private readonly loss: bigint[];
  private readonly chem: bigint[];
  private readonly hubs: Record<string, [Acc, Acc]> = {};

  constructor(private readonly canIds: number[]) {
    this.acc = canIds.map(() => FLOWS.map(() => ({ pj: 0n, uc: 0n })));
    this.loss = canIds.map(() => 0n);
    this.chem = canIds.map(() => 0n);
  }

  /**
   * One step of one pack: `currentMa` >0 discharge, `ocvUv` before the step, `rMohm`,
   * `dtMs`; `atHub` tells grid flows from riding flows. All arguments are integers.
   */
  record(pack: number, atHub: boolean, currentMa: number, ocvUv: number, rMohm: number, dtMs: number, hub?: string): void {
    if (currentMa === 0) return;
    const i = BigInt(currentMa);
    const dt = BigInt(dtMs);
    const vTerm = BigInt(ocvUv) - i * BigInt(rMohm);
    const terminal = vTerm * i * dt; // signed, >0 out of the pack
    const loss = i * i * BigInt(rMohm) * dt;
    this.loss[pack] += loss;
    this.chem[pack] += BigInt(ocvUv) * i * dt;
    const flow = currentMa > 0 ? (atHub ? 1 : 2) : atHub ? 0 : 3;
    const a = this.acc[pack][flow];
    a.pj += terminal < 0n ? -terminal : terminal;
    a.uc += (i < 0n ? -i : i) * dt;
    if (atHub && hub !== undefined) {
      const h = this.hubs[hub] ?? (this.hubs[hub] = [{ pj: 0n, uc: 0n }, { pj: 0n, uc: 0n }]);
      const b = h[flow as 0 | 1]; // at a hub the flow is gridToPack (0) or packToGrid (1)
      b.pj += terminal < 0n ? -terminal : terminal;
      b.uc += (i < 0n ? -i : i) * dt;
    }
  }

  snapshot(tMs: number, charges: number[], capacities: number[]): LedgerSnapshot {
    const total = (a: Acc): FlowTotal => ({ pj: a.pj, uc: a.uc, mwh: pjToMwh(a.pj), mah: ucToMah(a.uc) });
    const hubs: Record<string, HubLedger> = {};
    for (const name of Object.keys(this.hubs)) hubs[name] = { gridToPack: total(this.hubs[name][0]), packToGrid: total(this.hubs[name][1]) };
    return {
      tMs,
      hubs,
      packs: this.canIds.map((canId, p) => {
        const flows = {} as Record<Flow, FlowTotal>;
        FLOWS.forEach((f, k) => {
          const a = this.acc[p][k];
          flows[f] = { pj: a.pj, uc: a.uc, mwh: pjToMwh(a.pj), mah: ucToMah(a.uc) };
        });
        return {
          canId,
          flows,
          lossPj: this.loss[p],
          lossMwh: pjToMwh(this.loss[p]),
          chemicalPj: this.chem[p],
          chargeUc: charges[p],
          soc: charges[p] / capacities[p],
        };
      }),
    };
  }
}

/** Exact integer part plus fraction, so large totals keep every digit a double can hold. */
export function pjToMwh(pj: bigint): number {
  const whole = pj / PJ_PER_MWH;
  const rest = pj % PJ_PER_MWH;
  return Number(whole) + Number(rest) / 3.6e12;
}

export function ucToMah(uc: bigint): number {
  const whole = uc / UC_PER_MAH_BIG;
  return Number(whole) + Number(uc % UC_PER_MAH_BIG) / 3.6e6;
}
