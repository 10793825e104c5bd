// A Li-ion pack as the simulator sees it: an open-circuit voltage that depends on the state
// of charge, in series with a fixed internal resistance (Thevenin model without the RC
// branch; the RC branch matters for sub-second transients, not for energy over minutes).
//
// State is integers so that the ledger can be exact (see ledger.ts):
//   charge in µC (= mA·ms), OCV in µV, resistance in mΩ, current in mA (>0 = discharge,
//   the BMS sign convention of vesc_bms_fw bms_if.c).
// Then for one step of dt ms at current I mA:
//   terminal voltage µV  = OCV µV − I mA × R mΩ           (mA·mΩ = µV, exact)
//   terminal energy  pJ  = V_term µV × I mA × dt ms         (µV·mA·ms = pJ, exact)
//   chemical energy  pJ  = OCV µV × I mA × dt ms
//   resistive loss   pJ  = I² × R × dt                     (mA²·mΩ·ms = pJ)
// and chemical = terminal + loss holds exactly, in integers.

/**
 * Open-circuit voltage of one NMC 18650/21700 cell, µV, at SOC 0 %, 10 %, ..., 100 %.
 * A typical rested-cell curve (Samsung 35E / LG MJ1 class): steep below 10 %, a long
 * plateau, 4.20 V at full. 3.00 V is the discharge cut-off of the BMS.
 */
export const CELL_OCV_UV = [
  3_000_000, 3_450_000, 3_550_000, 3_620_000, 3_680_000, 3_750_000,
  3_830_000, 3_920_000, 4_000_000, 4_080_000, 4_200_000,
];

/** µC per mAh: 1 mAh = 1 mA × 3 600 000 ms. */
export const UC_PER_MAH = 3_600_000;

export interface PackOptions {
  /** BMS CAN controller id (0..254); the two packs must differ. */
  canId: number;
  /** Cells in series, 10..16 (13S = 48 V nominal, 14S = 52 V). */
  cells: number;
  /** Rated capacity in mAh. */
  capacityMah: number;
  /** Internal resistance of the whole pack, mΩ. */
  resistanceMohm: number;
  /** Initial state of charge, per mille (0..1000). */
  socPermille: number;
}

export class Pack {
  readonly canId: number;
  readonly cells: number;
  readonly capacityMah: number;
  readonly capacityUc: number;
  readonly resistanceMohm: number;
  /** Charge in the pack, µC, 0..capacityUc. */
  chargeUc: number;
  /** Current of the last step, mA, >0 discharge. */
  currentMa = 0;
  /** Terminal voltage of the last step, µV. */
  terminalUv: number;

  constructor(o: PackOptions) {
    checkInt('canId', o.canId, 0, 254);
    checkInt('cells', o.cells, 10, 16);
    checkInt('capacityMah', o.capacityMah, 100, 200_000);
    checkInt('resistanceMohm', o.resistanceMohm, 1, 5_000);
    checkInt('socPermille', o.socPermille, 0, 1000);
    this.canId = o.canId;
    this.cells = o.cells;
    this.capacityMah = o.capacityMah;
    this.capacityUc = o.capacityMah * UC_PER_MAH;
    this.resistanceMohm = o.resistanceMohm;
    this.chargeUc = Math.round((this.capacityUc * o.socPermille) / 1000);
    this.terminalUv = this.ocvUv();
  }

  /** State of charge as a fraction 0..1 (coulomb counted, the truth). */
  soc(): number {
    return this.chargeUc / this.capacityUc;
  }

  /** Open-circuit voltage at the present charge, integer µV (piecewise linear in SOC). */
  ocvUv(chargeUc = this.chargeUc): number {
    const x = (chargeUc / this.capacityUc) * 10;
    const i = Math.min(9, Math.max(0, Math.floor(x)));
    const f = Math.min(1, Math.max(0, x - i));
    return Math.round(this.cells * (CELL_OCV_UV[i] + (CELL_OCV_UV[i + 1] - CELL_OCV_UV[i]) * f));
  }

  /** Voltage at which a CC-CV charger holds the pack: 4.20 V per cell, µV. */
  fullUv(): number {
    return this.cells * CELL_OCV_UV[10];
  }

  /**
   * Energy stored between empty and `chargeUc`, pJ: the exact integral of the OCV curve
   * over charge (trapezoids are exact on a piecewise-linear curve). Float, used only by
   * tests to check the ledger against the change of state.
   */
  storedPj(chargeUc = this.chargeUc): number {
    const seg = this.capacityUc / 10;
    let e = 0;
    for (let i = 0; i < 10 && chargeUc > i * seg; i++) {
      const q = Math.min(seg, chargeUc - i * seg);
      const v0 = this.cells * CELL_OCV_UV[i];
      const v1 = v0 + (this.cells * (CELL_OCV_UV[i + 1] - CELL_OCV_UV[i]) * q) / seg;
      e += ((v0 + v1) / 2) * q;
    }
    return e;
  }

  /**
   * Current in mA that delivers `powerMw` at the terminals (negative power = charging), from
   * P = (OCV − I·R)·I, the root nearest zero. Limited to what the pack can give: at most
   * the maximum-power point OCV/2R, and never more charge than there is (or room for).
   */
  currentForPowerMa(powerMw: number, dtMs: number): number {
    const ocvV = this.ocvUv() / 1e6;
    const r = this.resistanceMohm / 1000;
    const p = powerMw / 1000;
    const disc = ocvV * ocvV - 4 * r * p;
    const amps = disc <= 0 ? ocvV / (2 * r) : (ocvV - Math.sqrt(disc)) / (2 * r);
    return this.clampCurrentMa(Math.round(amps * 1000), dtMs);
  }

  /** Keeps the charge within 0..capacity over the next step. */
  clampCurrentMa(currentMa: number, dtMs: number): number {
    if (currentMa > 0) return Math.min(currentMa, Math.floor(this.chargeUc / dtMs));
    if (currentMa < 0) return Math.max(currentMa, -Math.floor((this.capacityUc - this.chargeUc) / dtMs));
    return 0;
  }

  /** Terminal voltage µV at a given current, exact integer. */
  terminalAtUv(currentMa: number): number {
    return this.ocvUv() - currentMa * this.resistanceMohm;
  }
}

export function checkInt(name: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`"${name}" expected integer in [${min}, ${max}], got ${String(v)}`);
  }
}
