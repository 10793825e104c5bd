// One VESC-BMS (vesc_bms_fw 6.00 behaviour) on the simulated CAN bus: it broadcasts its
// status frames at its send rate (10 Hz by default, conf_default.h), answers PING with
// PONG, and answers COMM_BMS_GET_VALUES / COMM_FW_VERSION sent to it as a CAN buffer
// (directly, or from the VESC for COMM_FORWARD_CAN), with its own variant of the reply.
// What it measures is the pack's state at that moment, quantised as its wire allows.
import { encodeBmsBroadcast, encodeCanMessage, decodeCanFrame } from '../../protocol/can/messages';
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

/** The energy set: V_TOT, I, AH_WH, SOC_SOH_TEMP_STAT, CHG_TOTAL, DIS_TOTAL. */
const ENERGY_PACKETS = new Set<number>([
  CAN_PACKET.BMS_V_TOT, CAN_PACKET.BMS_I, CAN_PACKET.BMS_AH_WH, CAN_PACKET.BMS_SOC_SOH_TEMP_STAT,
  CAN_PACKET.BMS_AH_WH_CHG_TOTAL, CAN_PACKET.BMS_AH_WH_DIS_TOTAL,
]);

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
  readonly stats = { broadcasts: 0, requests: 0, pongs: 0 };
  /** Told of every broadcast (the VESC listens to all BMS status frames). */
  onBroadcast: (canId: number) => void = () => {};
  private readonly cellOffsetMv: number[];
  private readonly rx = new CanBufferRx();

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

  /** After each model step: the BMS's coulomb and energy counters. */
  integrate(dtMs: number): void {
    const pack = this.model.packs[this.index];
    const a = pack.currentMa / 1000;
    const ah = (a * dtMs) / 3_600_000;
    const wh = ah * (pack.terminalUv / 1e6);
    this.ahCnt += ah;
    this.whCnt += wh;
    if (ah > 0) {
      this.ahDisTotal += ah;
      this.whDisTotal += wh;
    } else {
      this.ahChgTotal -= ah;
      this.whChgTotal -= wh;
    }
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
      iInUa: pack.currentMa * 1000,
      iInIcUa: pack.currentMa * 1000,
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

  /** The status frames of one broadcast cycle (protocol/can encodeBmsBroadcast). */
  broadcastFrames(): CanFrame[] {
    const v = this.values();
    const cells = v.cellsMv;
    const frames = encodeBmsBroadcast(this.canId, {
      vTotMv: Math.round(v.vTotUv / 1000),
      vChargeMv: Math.round(v.vChargeUv / 1000),
      iInMa: this.model.packs[this.index].currentMa,
      iInIcMa: this.model.packs[this.index].currentMa,
      ahCntMah: v.ahCntMah,
      whCntMwh: v.whCntMwh,
      cellsMv: cells,
      balancing: v.balancing,
      tempsCentiC: v.tempsCentiC,
      tempHumCentiC: v.tempHumCentiC,
      humCentiPct: v.humCentiPct,
      tempIcCentiC: v.tempIcCentiC,
      pressurePa: v.pressurePa,
      vCellMinMv: Math.min(...cells),
      vCellMaxMv: Math.max(...cells),
      socByte: Math.round(this.model.packs[this.index].soc() * 255),
      sohByte: Math.round(0.97 * 255),
      tempCellMaxC: Math.round(v.tempMaxCellCentiC / 100),
      charging: this.charging(),
      balancingActive: false,
      chargeAllowed: this.model.packs[this.index].soc() < 1,
      chargeOk: this.model.atHub(),
      dataVersion: 0,
      ahChgTotalMah: v.ahChgTotalMah as number,
      whChgTotalMwh: v.whChgTotalMwh as number,
      ahDisTotalMah: v.ahDisTotalMah as number,
      whDisTotalMwh: v.whDisTotalMwh as number,
    });
    if (this.broadcastSet === 'all') return frames;
    return frames.filter((f) => ENERGY_PACKETS.has(splitId(f.id).packetId));
  }

  broadcast(): void {
    if (this.silent) return;
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
    return !this.silent;
  }

  onFrame(frame: CanFrame): void {
    if (this.silent || !frame.ext) return;
    const { packetId, controllerId } = splitId(frame.id);
    if (controllerId !== this.canId && controllerId !== 255) return;
    if (packetId === CAN_PACKET.PING) {
      const m = decodeCanFrame(frame.id, frame.data);
      if (!m.ok || m.value.type !== 'PING') return;
      const sender = m.value.senderId;
      this.stats.pongs++;
      this.clock.after(150, () => {
        if (!this.silent) this.bus.send(this, encodeCanMessage({ type: 'PONG', controllerId: sender, responderId: this.canId, hwType: HW_TYPE.VESC_BMS }));
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
      if (this.silent) return;
      for (const f of encodeCanBuffer(msg.senderId, this.canId, reply, CAN_SEND.REPLY)) this.bus.send(this, f);
    });
  }
}
