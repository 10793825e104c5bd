// The physical e-bike: road load, motor and regen, the dual-battery switch, the hub charger
// and the hub inverter. No bytes here: vesc.ts and bms.ts turn this state into wire messages.
//
// Dual battery: a switched combiner (the "dual battery switch" of most dual-pack e-bikes:
// two MOSFET switches, one pack on the bus at a time). Packs are never paralleled, so no
// current flows from one pack into the other and each pack's energy is exactly what its own
// BMS measures. The switch takes
//   - for riding and exporting: the pack with the higher SOC, moving to the other one when
//     that one is ahead by more than 5 % SOC (so both packs wear evenly, like Bosch
//     DualBattery which alternates in steps), or when the active one is empty/at its floor;
//   - for charging: the pack with the lower SOC that is not full, with the same hysteresis.
// Regen goes into the pack that is on the bus.
import { Pack, checkInt } from './pack';
import { Ledger } from './ledger';
import { Prng } from './prng';
import type { Segment } from './ride';

export interface BikeParams {
  riderKg: number;
  bikeKg: number;
  /** Drag area Cd·A, m². */
  cdA: number;
  /** Rolling resistance coefficient. */
  crr: number;
  wheelDiameterM: number;
  /** Motor revolutions per wheel revolution (geared hub). */
  gearRatio: number;
  polePairs: number;
  /** Electrical RPM per volt at 100 % duty (the motor's speed constant). */
  erpmPerVolt: number;
  maxMotorW: number;
  maxRegenW: number;
  /** Battery → wheel efficiency of motor + controller while driving. */
  driveEff: number;
  /** Wheel → battery efficiency while regenerating. */
  regenEff: number;
  maxDischargeMa: number;
  maxRegenMa: number;
  /** The charger ends when its CV current falls below this. */
  chargeCutoffMa: number;
  /** SOC difference (fraction) at which the battery switch changes pack. */
  switchHysteresis: number;
}

export const DEFAULT_PARAMS: BikeParams = {
  riderKg: 85,
  bikeKg: 26,
  cdA: 0.55,
  crr: 0.007,
  wheelDiameterM: 0.7,
  gearRatio: 5,
  polePairs: 10,
  erpmPerVolt: 280,
  maxMotorW: 750,
  maxRegenW: 400,
  driveEff: 0.82,
  regenEff: 0.65,
  maxDischargeMa: 25000,
  maxRegenMa: 10000,
  chargeCutoffMa: 200,
  switchHysteresis: 0.05,
};

const G = 9.81;
/** The hub's inverter never takes a pack below 5 % (the BMS's own cut-off is lower). */
const PLUGGED_FLOOR = 0.05;
const RHO_AIR = 1.2;

export type Activity = 'ride' | 'brake' | 'park' | 'charge' | 'export' | 'plugged' | 'done';

export class BikeModel {
  readonly packs: Pack[];
  readonly params: BikeParams;
  readonly ledger: Ledger;
  private readonly rng: Prng;
  private readonly ride: Segment[];
  private segIndex = 0;
  private segElapsedMs = 0;
  private brakeFromMs = 0;
  private speedNoise = 0;

  /** Which pack the battery switch connects to the bus (0 or 1). */
  busPack = 0;
  speedMs = 0;
  activity: Activity = 'park';
  hub: string | undefined;
  /** Per pack: the charger has finished (CV current below cut-off) since plug-in. */
  readonly full: boolean[] = [false, false];
  /** What the VESC sees during the last step. */
  vescInputMa = 0;
  vescMotorMa = 0;
  vescDutyPermille = 0;
  erpm = 0;
  /** Wheel power demanded at the last step (W), for display. */
  wheelW = 0;
  fetTempC = 25;
  motorTempC = 25;
  packTempC: number[] = [22, 22];
  ambientC = 20;
  elapsedMs = 0;
  /**
   * The hub's setting for a plugged segment, W: > 0 the charger charges at this power,
   * < 0 the inverter exports it, 0 neither. Cleared when the bike unplugs.
   */
  hubPowerW = 0;

  constructor(packs: Pack[], ride: Segment[], rng: Prng, params: Partial<BikeParams> = {}) {
    if (packs.length !== 2) throw new RangeError(`"packs" expected 2 packs, got ${packs.length}`);
    if (packs[0].canId === packs[1].canId) {
      throw new RangeError(`"packs" have the same BMS CAN id ${packs[0].canId}; a dual-battery bike needs two ids`);
    }
    this.packs = packs;
    this.params = { ...DEFAULT_PARAMS, ...params };
    this.ride = ride;
    this.rng = rng;
    this.ledger = new Ledger(packs.map((p) => p.canId));
    this.busPack = packs[1].soc() > packs[0].soc() ? 1 : 0;
    this.enterSegment();
  }

  segment(): Segment | undefined {
    return this.ride[this.segIndex];
  }

  /** Time left in the current segment, ms (for a plugged bike: until the rider leaves). */
  segmentLeftMs(): number {
    const s = this.segment();
    return s ? Math.max(0, s.durationS * 1000 - this.segElapsedMs) : 0;
  }

  /** Hub connected: the charge port of the bike is plugged in at a hub. */
  atHub(): boolean {
    return this.activity === 'charge' || this.activity === 'export' || this.activity === 'plugged';
  }

  private enterSegment(): void {
    const s = this.segment();
    this.segElapsedMs = 0;
    const wasAtHub = this.atHub();
    this.activity = s ? s.kind : 'done';
    this.hub = s && 'hub' in s ? s.hub ?? 'hub' : undefined;
    if (s && s.kind === 'brake') this.brakeFromMs = this.speedMs;
    // A charger starts a new charge when plugged in again.
    if (!wasAtHub && this.atHub()) this.full.fill(false);
    if (!this.atHub() || !wasAtHub) this.hubPowerW = 0;
    if (this.atHub() || this.activity === 'park' || this.activity === 'done') this.speedMs = 0;
  }

  /**
   * Decides the currents for the next `dtMs` (integer): moves the bike, picks the pack on
   * the bus, and sets each pack's current and terminal voltage, held until commit().
   */
  plan(dtMs: number): void {
    checkInt('dtMs', dtMs, 1, 60_000);
    const s = this.segment();
    let wantMa = [0, 0];
    if (s && (s.kind === 'ride' || s.kind === 'brake')) wantMa = this.rideStep(s, dtMs);
    else {
      this.speedMs = 0;
      this.wheelW = 0;
      if (s && s.kind === 'charge') wantMa = this.chargeStep(s.currentMa ?? 4000);
      else if (s && s.kind === 'export') wantMa = this.exportStep(s.powerW ?? 300, (s.floorSocPct ?? 30) / 100, dtMs);
      else if (s && s.kind === 'plugged' && this.hubPowerW > 0) {
        // Constant power at the pack on the bus: I = P / OCV (µV), capped at the charger's 4 A.
        wantMa = this.chargeStep(Math.min(4000, Math.floor((this.hubPowerW * 1e9) / this.packs[this.busPack].ocvUv())));
      } else if (s && s.kind === 'plugged' && this.hubPowerW < 0) wantMa = this.exportStep(-this.hubPowerW, PLUGGED_FLOOR, dtMs);
    }
    for (let p = 0; p < 2; p++) {
      const pack = this.packs[p];
      const i = pack.clampCurrentMa(wantMa[p], dtMs);
      pack.currentMa = i;
      pack.terminalUv = pack.ocvUv() - i * pack.resistanceMohm;
    }
    const bus = this.packs[this.busPack];
    const riding = s !== undefined && (s.kind === 'ride' || s.kind === 'brake');
    this.vescInputMa = riding ? bus.currentMa : 0;
    const vinV = bus.terminalUv / 1e6;
    this.erpm = Math.round((this.speedMs / (Math.PI * this.params.wheelDiameterM)) * 60 * this.params.gearRatio * this.params.polePairs);
    const duty = vinV > 1 ? Math.min(0.95, this.erpm / (this.params.erpmPerVolt * vinV)) : 0;
    this.vescDutyPermille = riding && this.vescInputMa !== 0 ? Math.round(duty * 1000) : 0;
    this.vescMotorMa = this.vescDutyPermille > 20 ? Math.round((this.vescInputMa * 1000) / this.vescDutyPermille) : 0;
  }

  /**
   * The `dtMs` since plan() have passed with the planned currents: accounts them in the
   * ledger (exact integers), moves charge, warms things up, and moves along the ride.
   */
  commit(dtMs: number): void {
    checkInt('dtMs', dtMs, 1, 60_000);
    const atHub = this.atHub();
    for (let p = 0; p < 2; p++) {
      const pack = this.packs[p];
      const i = pack.currentMa;
      const ocv = pack.ocvUv();
      this.ledger.record(p, atHub, i, ocv, pack.resistanceMohm, dtMs, this.hub);
      pack.chargeUc -= i * dtMs;
      // First-order pack temperature: I²R heat against a 20-minute time constant.
      const heatC = (((i / 1000) ** 2 * pack.resistanceMohm) / 1000) * 0.5;
      this.packTempC[p] += (this.ambientC + 2 + heatC - this.packTempC[p]) * (dtMs / 1_200_000);
    }
    const elecW = Math.abs(this.vescInputMa / 1000) * (this.packs[this.busPack].terminalUv / 1e6);
    const k = dtMs / 120_000;
    this.fetTempC += (this.ambientC + 0.03 * elecW - this.fetTempC) * k;
    this.motorTempC += (this.ambientC + 0.08 * elecW - this.motorTempC) * (k / 3);
    this.elapsedMs += dtMs;
    this.segElapsedMs += dtMs;
    const s = this.segment();
    if (s && this.segElapsedMs >= s.durationS * 1000) {
      this.segIndex++;
      this.enterSegment();
    }
  }

  private rideStep(s: Extract<Segment, { kind: 'ride' | 'brake' }>, dtMs: number): number[] {
    const P = this.params;
    const dt = dtMs / 1000;
    let target: number;
    let slope = 0;
    let assist = 1;
    if (s.kind === 'ride') {
      // Ornstein-Uhlenbeck wobble of ±0.5 m/s around the target: traffic, rider effort.
      this.speedNoise += -this.speedNoise * dt / 20 + (this.rng.next() - 0.5) * 0.3 * Math.sqrt(dt);
      target = Math.max(0, s.speedKmh / 3.6 + this.speedNoise);
      slope = (s.slopePct ?? 0) / 100;
      assist = s.assist ?? 0.7;
    } else {
      const to = (s.toKmh ?? 0) / 3.6;
      const frac = Math.min(1, (this.segElapsedMs + dtMs) / (s.durationS * 1000));
      target = this.brakeFromMs + (to - this.brakeFromMs) * frac;
    }
    const v0 = this.speedMs;
    const maxA = 1.0 * dt;
    // The rider follows the target with a 3 s lag (no step changes of speed), within 1 m/s²
    // up and 2 m/s² down; a brake segment follows its ramp exactly.
    const v1 = s.kind === 'brake' ? target : v0 + Math.max(-maxA * 2, Math.min(maxA, ((target - v0) * dt) / 3));
    const v = (v0 + v1) / 2;
    const a = (v1 - v0) / dt;
    this.speedMs = v1;
    const m = P.riderKg + P.bikeKg;
    const theta = Math.atan(slope);
    const force = m * G * (P.crr * Math.cos(theta) + Math.sin(theta)) + 0.5 * RHO_AIR * P.cdA * v * v + m * a;
    const wheelW = force * v;
    this.wheelW = wheelW;
    let elecW = 0;
    if (wheelW > 0) elecW = Math.min(wheelW * assist, P.maxMotorW) / P.driveEff;
    else if (v > 1.5) elecW = Math.max(wheelW, -P.maxRegenW) * P.regenEff;
    this.chooseDischargePack(0);
    const bus = this.packs[this.busPack];
    let ma = elecW === 0 ? 0 : bus.currentForPowerMa(elecW * 1000, dtMs);
    ma = Math.max(-P.maxRegenMa, Math.min(P.maxDischargeMa, ma));
    // Regen never lifts the pack above 4.20 V/cell (the VESC's battery voltage limit and the
    // BMS's charge limit): near full, the mechanical brake takes the rest.
    if (ma < 0) ma = Math.max(ma, -Math.max(0, Math.floor((bus.fullUv() - bus.ocvUv()) / bus.resistanceMohm)));
    const out = [0, 0];
    out[this.busPack] = ma;
    return out;
  }

  /** Higher SOC with hysteresis; a pack at or below `floorUc` counts as empty. */
  private chooseDischargePack(floorFrac: number): boolean {
    const [a, b] = [this.busPack, 1 - this.busPack];
    const pa = this.packs[a];
    const pb = this.packs[b];
    const usable = (p: Pack): boolean => p.chargeUc > Math.ceil(p.capacityUc * floorFrac);
    if (!usable(pa) && usable(pb)) this.busPack = b;
    else if (usable(pb) && pb.soc() > pa.soc() + this.params.switchHysteresis) this.busPack = b;
    return usable(this.packs[this.busPack]);
  }

  private chargeStep(ccMa: number): number[] {
    const out = [0, 0];
    const a = this.busPack;
    const b = 1 - a;
    const can = (p: number): boolean => !this.full[p] && this.packs[p].chargeUc < this.packs[p].capacityUc;
    if (!can(a) && can(b)) this.busPack = b;
    else if (can(b) && this.packs[b].soc() < this.packs[a].soc() - this.params.switchHysteresis) this.busPack = b;
    const p = this.busPack;
    if (!can(p)) return out;
    const pack = this.packs[p];
    // CC until the terminal voltage reaches 4.20 V/cell, then CV: I = (Vfull − OCV)/R
    // (µV / mΩ = mA, floored so that the terminal voltage never exceeds Vfull).
    const ocv = pack.ocvUv();
    const cvMa = Math.floor((pack.fullUv() - ocv) / pack.resistanceMohm);
    const ma = Math.min(ccMa, cvMa);
    if (ma < this.params.chargeCutoffMa) {
      this.full[p] = true;
      return out;
    }
    out[p] = -ma;
    return out;
  }

  private exportStep(powerW: number, floorFrac: number, dtMs: number): number[] {
    const out = [0, 0];
    if (!this.chooseDischargePack(floorFrac)) return out;
    const pack = this.packs[this.busPack];
    const floorUc = Math.ceil(pack.capacityUc * floorFrac);
    const ma = Math.min(pack.currentForPowerMa(powerW * 1000, dtMs), Math.floor((pack.chargeUc - floorUc) / dtMs));
    out[this.busPack] = Math.max(0, ma);
    return out;
  }
}
