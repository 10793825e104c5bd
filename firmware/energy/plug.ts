// Is the bike plugged in at a hub? The rule that sends each mWh to a grid flow (at a hub:
// into a pack = grid->pack, out of it = pack->grid) or a ride flow (regen, motor). Money
// depends on it, so it is one pure function of the newest bus readings, tested by a table
// of cases (test/firmware/energy/plug.test.ts).
//
// Plugged when, for any pack that is not stale:
// - the BMS says it is charging, or
// - the BMS said "charge OK" (the chargeOk bit of CAN_PACKET_BMS_SOC_SOH_TEMP_STAT, set while
//   the charge port sees the hub; vesc_bms_fw) in a status frame less than
//   CHARGE_OK_FRESH_MS old: the BMS sends that frame about once a second, so three missed
//   frames end the evidence.
// Only where the BMS are reached through the VESC (COMM_FORWARD_CAN, which does not carry
// that bit), one more rule: a pack that discharges more than PLUG_MIN_MA while the VESC draws
// less than a tenth of it and the wheel stands still can only be feeding the hub's inverter,
// because the dual-battery switch routes all motor current through the VESC. With an
// MCP2515 the chargeOk bit is read directly and this inference is not needed.

/** Discharge below this (mA) is standby draw, not export (protocol/SPEC.md "Flows"). */
export var PLUG_MIN_MA = 300;
/** How long a "charge OK" status stays evidence (ms): three missed 1 Hz status frames. */
export var CHARGE_OK_FRESH_MS = 3000;

export interface PlugPack {
  stale: boolean;
  charging?: boolean;
  chargeOk?: boolean;
  /** When the last status frame (chargeOk) arrived, same clock as nowMs; -1 never. */
  statMs: number;
  /** Pack current, mA, > 0 = discharge. */
  iInMa?: number;
}

export interface PlugInputs {
  nowMs: number;
  packs: PlugPack[];
  /** True when the BMS are read on CAN directly (MCP2515), false through the VESC. */
  viaCan: boolean;
  /** The newest VESC reading, undefined before the first. */
  vesc: { inputCurrentMa?: number; erpm?: number } | undefined;
}

export function isPlugged(x: PlugInputs): boolean {
  var packs = x.packs;
  for (var i = 0; i < packs.length; i++) {
    var p = packs[i];
    if (p.stale) continue;
    if (p.charging) return true;
    if (p.chargeOk && p.statMs >= 0 && x.nowMs - p.statMs < CHARGE_OK_FRESH_MS) return true;
  }
  if (x.viaCan) return false;
  var v = x.vesc;
  if (!v || v.inputCurrentMa === undefined) return false;
  var vescMa = v.inputCurrentMa < 0 ? -v.inputCurrentMa : v.inputCurrentMa;
  if ((v.erpm || 0) !== 0) return false;
  for (var j = 0; j < packs.length; j++) {
    var ma = packs[j].iInMa;
    if (!packs[j].stale && ma !== undefined && ma > PLUG_MIN_MA && vescMa * 10 < ma) return true;
  }
  return false;
}
