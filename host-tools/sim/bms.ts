// One VESC-BMS (vesc_bms_fw 6.00 behaviour) on the simulated CAN bus: it broadcasts its
// status frames at its send rate (10 Hz by default, conf_default.h), answers PING with
// PONG, and answers COMM_BMS_GET_VALUES / COMM_FW_VERSION sent to it as a CAN buffer
// (directly, or from the VESC for COMM_FORWARD_CAN), with its own variant of the reply.
// What it measures is the pack's state at that moment, quantised as its wire allows.
import { encodeCanMessage, decodeCanFrame, type CanMessage } from '../../protocol/can/messages';
import { encodeCanBuffer, CanBufferRx } from '../../protocol/can/buffer';
import { splitId, type CanFrame } from '../../protocol/can/id';
import { encodeBmsValues, encodeFwVersion, type BmsValues } from '../../protocol/vesc/commands';
import { COMM, CAN_PACKET, CAN_SEND, HW_TYPE } from '../../protocol/vesc/enums';
import type { CanBus, CanNode } from './canbus';
import type { VirtualClock } from './clock';
import type { BikeModel } from './model';
import type { Prng } from './prng';

/** Which frames a broadcast carries: everything bms.c sends, or only what energy metering reads. */
export type BmsBroadcastSet = 'all' | 'energy';


export class SimBms implements CanNode {
  readonly canId: number;
  /** true: the BMS neither broadcasts nor answers (a silent BMS fault). */
  silent = false;
  /** The BMS's own counters (float, as the firmware keeps them). */
  ahCnt = 0;
  whCnt = 0;
  ahChgTotal: number;
  whChgTotal: number;
  ahDisTotal: number;
  whDisTotal: number;
  readonly stats = { broadcasts: 0, requests: 0, pongs: 0, reboots: 0 };
  private booting = false;
  /** Told of every broadcast (the VESC listens to all BMS status frames). */
  onBroadcast: (canId: number) => void = () => {};
  private readonly cellOffsetMv: number[];
  private readonly rx = new CanBufferRx();
  private readonly frameCache: Array<{ msg: CanMessage; frame: CanFrame } | undefined> = [];

  constructor(
    private readonly model: BikeModel,
    private readonly index: number,
    private readonly bus: CanBus,
    private readonly clock: VirtualClock,
    rng: Prng,
    private readonly broadcastSet: BmsBroadcastSet,
  ) {
    const pack = model.packs[index];
    this.canId = pack.canId;
    this.cellOffsetMv = Array.from({ length: pack.cells }, () => rng.int(-4, 4));
    // A pack that has seen some use before the simulation starts.
    const cycles = rng.range(5, 60);
    const wh = (pack.capacityMah / 1000) * (pack.cells * 3.7) * cycles;
    this.ahDisTotal = (pack.capacityMah / 1000) * cycles;
    this.whDisTotal = wh;
    this.ahChgTotal = this.ahDisTotal * 1.001;
    this.whChgTotal = wh * 1.04;
    bus.attach(this);
  }

  /**
   * Reboot: silent for `bootMs`, then the net counters ah_cnt / wh_cnt restart at 0; the
   * lifetime charge/discharge totals survive (vesc_bms_fw keeps them in its backup storage).
   */
  reboot(bootMs = 1000): void {
    this.stats.reboots++;
    this.ahCnt = 0;
    this.whCnt = 0;
    this.booting = true;
    this.rx.reset();
    this.clock.after(bootMs * 1000, () => {
      this.booting = false;
    });
  }

  /** After each model step: the BMS's coulomb and energy counters. */
  integrate(dtMs: number): void {
    const pack = this.model.packs[this.index];
    const a = this.measuredMa() / 1000;
    const ah = (a * dtMs) / 3_600_000;
    const wh = ah * (pack.terminalUv / 1e6);
    if (!this.booting) {
      this.ahCnt += ah;
      this.whCnt += wh;
    }
    if (ah > 0) {
      this.ahDisTotal += ah;
      this.whDisTotal += wh;
    } else {
      this.ahChgTotal -= ah;
      this.whChgTotal -= wh;
    }
  }

  /** The BMS's current sensing error: it reports true current × this (a fault, default 1). */
  currentGain = 1;

  /** The pack current as this BMS measures it, mA (exact unless currentGain is set). */
  measuredMa(): number {
    const ma = this.model.packs[this.index].currentMa;
    return this.currentGain === 1 ? ma : Math.round(ma * this.currentGain);
  }

  /** Voltage at the charge port as this BMS sees it, µV: non-zero while plugged in at a hub. */
  vChargeUv(): number {
    if (!this.model.atHub()) return 0;
    return this.model.packs[this.model.busPack].terminalUv;
  }

  charging(): boolean {
    return this.model.atHub() && this.model.packs[this.index].currentMa < 0;
  }

  cellsMv(): number[] {
    const pack = this.model.packs[this.index];
    const avg = pack.terminalUv / pack.cells / 1000;
    return this.cellOffsetMv.map((o) => Math.round(avg + o));
  }

  tempsCentiC(): number[] {
    const t = this.model.packTempC[this.index];
    return [0, 30, -20, 10].map((d) => Math.round(t * 100 + d));
  }

  /** COMM_BMS_GET_VALUES as this BMS answers it (variant 'bms', or 'vesc' for the VESC's copy). */
  values(variant: 'bms' | 'vesc' = 'bms'): BmsValues {
    const pack = this.model.packs[this.index];
    const cells = this.cellsMv();
    const temps = this.tempsCentiC();
    const v: BmsValues = {
      variant,
      vTotUv: pack.terminalUv,
      vChargeUv: this.vChargeUv(),
      iInUa: this.measuredMa() * 1000,
      iInIcUa: this.measuredMa() * 1000,
      ahCntMah: Math.trunc(this.ahCnt * 1000),
      whCntMwh: Math.trunc(this.whCnt * 1000),
      cellsMv: cells,
      balancing: cells.map(() => 0),
      tempsCentiC: temps,
      tempIcCentiC: Math.round(this.model.packTempC[this.index] * 100) + 250,
      tempHumCentiC: Math.round(this.model.ambientC * 100),
      humCentiPct: 4500,
      tempMaxCellCentiC: Math.max(...temps),
      socPermille: Math.round(pack.soc() * 1000),
      sohPermille: 970,
      canId: this.canId,
      ahChgTotalMah: Math.round(this.ahChgTotal * 1000),
      whChgTotalMwh: Math.round(this.whChgTotal * 1000),
      ahDisTotalMah: Math.round(this.ahDisTotal * 1000),
      whDisTotalMwh: Math.round(this.whDisTotal * 1000),
      pressurePa: 101_320,
    };
    if (variant === 'vesc') {
      v.dataVersion = 1;
      v.status = this.charging() ? 'Charging' : pack.chargeUc <= 0 ? 'Empty' : 'Ok';
    }
    return v;
  }

  /**
   * The status messages of one broadcast cycle, in the order bms.c sends them (the order of
   * protocol/can encodeBmsBroadcast), only the energy ones for the 'energy' set.
   */
  broadcastMessages(): CanMessage[] {
    const pack = this.model.packs[this.index];
    const c = this.canId;
    const ma = this.measuredMa();
    const out: CanMessage[] = [];
    const all = this.broadcastSet === 'all';
    out.push({ type: 'BMS_V_TOT', controllerId: c, vTotMv: Math.round(pack.terminalUv / 1000), vChargeMv: Math.round(this.vChargeUv() / 1000) });
    out.push({ type: 'BMS_I', controllerId: c, iInMa: ma, iInIcMa: ma });
    out.push({ type: 'BMS_AH_WH', controllerId: c, ahCntMah: Math.trunc(this.ahCnt * 1000), whCntMwh: Math.trunc(this.whCnt * 1000) });
    const cells = this.cellsMv();
    const temps = this.tempsCentiC();
    if (all) {
      for (let i = 0; i < cells.length; i += 3) {
        out.push({ type: 'BMS_V_CELL', controllerId: c, firstCell: i, cellNum: cells.length, cellsMv: cells.slice(i, i + 3) });
      }
      out.push({ type: 'BMS_BAL', controllerId: c, cellNum: cells.length, balancing: cells.map(() => 0) });
      for (let i = 0; i < temps.length; i += 3) {
        out.push({ type: 'BMS_TEMPS', controllerId: c, firstIndex: i, tempNum: temps.length, tempsCentiC: temps.slice(i, i + 3) });
      }
      out.push({
        type: 'BMS_HUM', controllerId: c, tempHumCentiC: Math.round(this.model.ambientC * 100), humCentiPct: 4500,
        tempIcCentiC: Math.round(this.model.packTempC[this.index] * 100) + 250, pressurePa: 101_320,
      });
    }
    out.push({
      type: 'BMS_SOC_SOH_TEMP_STAT', controllerId: c, vCellMinMv: Math.min(...cells), vCellMaxMv: Math.max(...cells),
      socByte: Math.round(pack.soc() * 255), sohByte: Math.round(0.97 * 255), socPermille: 0, sohPermille: 0,
      tempCellMaxC: Math.round(Math.max(...temps) / 100), charging: this.charging(), balancing: false,
      chargeAllowed: pack.soc() < 1, chargeOk: this.model.atHub(), dataVersion: 0,
    });
    out.push({ type: 'BMS_AH_WH_CHG_TOTAL', controllerId: c, ahMah: Math.round(this.ahChgTotal * 1000), whMwh: Math.round(this.whChgTotal * 1000) });
    out.push({ type: 'BMS_AH_WH_DIS_TOTAL', controllerId: c, ahMah: Math.round(this.ahDisTotal * 1000), whMwh: Math.round(this.whDisTotal * 1000) });
    return out;
  }

  /**
   * The frames of one broadcast, encoded by protocol/can encodeCanMessage. A message whose
   * content did not change since the last cycle reuses its frame (a parked bike repeats
   * itself for hours; encoding float32 fields is the costly part of a broadcast).
   */
  broadcastFrames(): CanFrame[] {
    const msgs = this.broadcastMessages();
    const frames: CanFrame[] = [];
    for (let k = 0; k < msgs.length; k++) {
      let slot = this.frameCache[k];
      if (!slot || !sameMessage(slot.msg, msgs[k])) {
        slot = { msg: msgs[k], frame: encodeCanMessage(msgs[k]) };
        this.frameCache[k] = slot;
      }
      frames.push(slot.frame);
    }
    return frames;
  }

  broadcast(): void {
    if (this.silent || this.booting) return;
    this.stats.broadcasts++;
    this.onBroadcast(this.canId);
    if (!this.bus.hasBroadcastListeners()) return;
    for (const f of this.broadcastFrames()) this.bus.send(this, f);
  }

  /** Replies to a command payload, as vesc_bms_fw commands.c would; undefined = no reply. */
  process(payload: Uint8Array): Uint8Array | undefined {
    if (payload.length === 0) return undefined;
    if (payload[0] === COMM.BMS_GET_VALUES) return encodeBmsValues(this.values('bms'), 'bms');
    if (payload[0] === COMM.FW_VERSION) {
      // vesc_bms_fw commands.c L94-124: the short variant, HW_TYPE_VESC_BMS
      return encodeFwVersion({
        major: 6, minor: 0, hwName: 'VESC BMS', uuid: (0x424d530000 + this.canId).toString(16).padStart(24, '0'),
        pairingDone: 0, testVersion: 0, hwType: HW_TYPE.VESC_BMS, customConfigCount: 1,
      });
    }
    return undefined;
  }

  // ---- CanNode ----------------------------------------------------------------------------

  canTransmit(): boolean {
    return !this.silent && !this.booting;
  }

  /** Answers nothing: silenced by a fault, or booting. */
  mute(): boolean {
    return this.silent || this.booting;
  }

  onFrame(frame: CanFrame): void {
    if (this.mute() || !frame.ext) return;
    const { packetId, controllerId } = splitId(frame.id);
    if (controllerId !== this.canId && controllerId !== 255) return;
    if (packetId === CAN_PACKET.PING) {
      const m = decodeCanFrame(frame.id, frame.data);
      if (!m.ok || m.value.type !== 'PING') return;
      const sender = m.value.senderId;
      this.stats.pongs++;
      this.clock.after(150, () => {
        if (!this.mute()) this.bus.send(this, encodeCanMessage({ type: 'PONG', controllerId: sender, responderId: this.canId, hwType: HW_TYPE.VESC_BMS }));
      });
      return;
    }
    const got = this.rx.accept(packetId, frame.data);
    if (!got || !got.ok) return;
    const msg = got.value;
    if (msg.commandsSend === CAN_SEND.REPLY || msg.commandsSend === CAN_SEND.PROCESS_NO_REPLY) return;
    this.stats.requests++;
    const reply = this.process(msg.payload);
    if (!reply) return;
    // The BMS needs a moment to run the command (its main loop), then streams the buffer.
    this.clock.after(300, () => {
      if (this.mute()) return;
      for (const f of encodeCanBuffer(msg.senderId, this.canId, reply, CAN_SEND.REPLY)) this.bus.send(this, f);
    });
  }
}

/** Same fields, same values (numbers, booleans, arrays of numbers): the frame would be identical. */
function sameMessage(a: CanMessage, b: CanMessage): boolean {
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  for (const k in x) {
    const u = x[k];
    const v = y[k];
    if (u === v) continue;
    if (!Array.isArray(u) || !Array.isArray(v) || u.length !== v.length) return false;
    for (let i = 0; i < u.length; i++) if (u[i] !== v[i]) return false;
  }
  for (const k in y) if (!(k in x)) return false;
  return true;
}
