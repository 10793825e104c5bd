// The VESC motor controller (bldc FW 6.05 behaviour) as the device sees it on its UART:
// it parses frames with the protocol's FrameDecoder, answers the commands DEEP uses with
// the protocol's encoders, keeps its own float counters since boot (reset by a reboot),
// and is a node on the CAN bus: it latches onto one BMS for COMM_BMS_GET_VALUES
// (bldc bms.c: first id heard, switching after 2 s of silence) and forwards buffers to
// BMS ids for COMM_FORWARD_CAN.
import { FrameDecoder, encodeFrame } from '../../protocol/vesc/packet';
import {
  encodeValues, encodeFwVersion, encodeBmsValues, encodePingCanReply, decodeGetValuesRequest, decodeForwardCan,
  type VescValues, type BmsValues,
} from '../../protocol/vesc/commands';
import { COMM, CAN_PACKET, CAN_SEND, HW_TYPE } from '../../protocol/vesc/enums';
import { encodeCanBuffer, CanBufferRx } from '../../protocol/can/buffer';
import { decodeCanFrame } from '../../protocol/can/messages';
import { splitId, type CanFrame } from '../../protocol/can/id';
import type { CanBus, CanNode } from './canbus';
import type { VirtualClock } from './clock';
import type { BikeModel } from './model';
import type { UartLink } from './uart';

export interface VescIdentity {
  major: number;
  minor: number;
  hwName: string;
  /** 24 hex digits. */
  uuid: string;
  canId: number;
}

/** Time the VESC takes from the end of a request to the first byte of its reply, µs. */
const PROCESS_US = 300;
/** How long a forwarded request waits for the CAN reply before giving up (bldc: no reply at all). */
const FORWARD_TIMEOUT_US = 100_000;
/** A reboot: the VESC's UART is dead this long. */
export const VESC_BOOT_MS = 1500;

export class SimVesc implements CanNode {
  readonly id: VescIdentity;
  readonly stats = { requests: 0, replies: 0, unknown: 0, reboots: 0, forwarded: 0, forwardTimeouts: 0 };
  private readonly decoder = new FrameDecoder();
  private readonly canRx = new CanBufferRx();
  private bootedAtUs = 0;
  private bootingUntilUs = 0;
  // Counters since boot, floats as in bldc mc_interface.c.
  private ampHours = 0;
  private ampHoursCharged = 0;
  private wattHours = 0;
  private wattHoursCharged = 0;
  private tach = 0;
  private tachAbs = 0;
  // Averages since the last GET_VALUES (bldc reads and resets them).
  private sumInputMaUs = 0;
  private sumMotorMaUs = 0;
  private sumUs = 0;
  /** The VESC's current sensing error: it measures true current × this (a fault, default 1). */
  currentGain = 1;
  /** When values() last ran (virtual ms), for tests that integrate the averages. */
  lastValuesAtMs = 0;
  /** Time up to which the sums are accrued, µs. */
  private accruedUs = 0;
  /** The BMS the VESC keeps full values of, and what it last heard from each id. */
  private latchedBms = -1;
  private readonly bmsHeardUs = new Map<number, number>();
  private readonly bmsCache = new Map<number, BmsValues>();
  private readonly bmsCacheUs = new Map<number, number>();
  private pendingForward: { canId: number; timer: { cancel(): void } } | undefined;

  constructor(
    private readonly model: BikeModel,
    private readonly link: UartLink,
    private readonly bus: CanBus,
    private readonly clock: VirtualClock,
    id: VescIdentity,
    private readonly bmsValuesOf: (canId: number) => BmsValues | undefined,
    /** Ids that answer a CAN PING right now. */
    private readonly pingResponders: () => number[],
  ) {
    this.id = id;
    link.onVescReceive = (bytes) => this.onBytes(bytes);
    bus.attach(this);
  }

  booting(): boolean {
    return this.clock.nowUs < this.bootingUntilUs;
  }

  /** Reboot: counters and averages back to zero, UART deaf and mute for VESC_BOOT_MS. */
  reboot(): void {
    this.stats.reboots++;
    this.ampHours = this.ampHoursCharged = this.wattHours = this.wattHoursCharged = 0;
    this.tach = this.tachAbs = 0;
    this.sumInputMaUs = this.sumMotorMaUs = this.sumUs = 0;
    this.accruedUs = this.clock.nowUs + VESC_BOOT_MS * 1000;
    this.latchedBms = -1;
    this.bmsHeardUs.clear();
    this.bmsCache.clear();
    this.bmsCacheUs.clear();
    this.decoder.reset();
    this.bootedAtUs = this.clock.nowUs + VESC_BOOT_MS * 1000;
    this.bootingUntilUs = this.bootedAtUs;
  }

  /** After each model step: what the VESC's own integrators see. */
  integrate(dtMs: number): void {
    if (this.booting()) return;
    const m = this.model;
    const ia = (m.vescInputMa * this.currentGain) / 1000;
    const v = m.packs[m.busPack].terminalUv / 1e6;
    const h = dtMs / 3_600_000;
    if (ia >= 0) {
      this.ampHours += ia * h;
      this.wattHours += ia * v * h;
    } else {
      this.ampHoursCharged -= ia * h;
      this.wattHoursCharged -= ia * v * h;
    }
    const steps = (m.erpm * 6 * dtMs) / 60_000; // 6 tachometer steps per electrical revolution
    this.tach += steps;
    this.tachAbs += Math.abs(steps);
    this.accrue();
  }

  /**
   * Adds the currents held since the last accrual to the averages. Called at each model
   * tick (before the next step's currents are set) and at each read, so an average covers
   * exactly the time since the previous read.
   */
  private accrue(): void {
    const now = this.clock.nowUs;
    if (now <= this.accruedUs) return;
    const dt = now - this.accruedUs;
    this.sumInputMaUs += this.model.vescInputMa * this.currentGain * dt;
    this.sumMotorMaUs += this.model.vescMotorMa * this.currentGain * dt;
    this.sumUs += dt;
    this.accruedUs = now;
  }

  /** The values of GET_VALUES right now; reading resets the current averages (bldc). */
  values(): VescValues {
    const m = this.model;
    this.accrue();
    this.lastValuesAtMs = this.clock.nowUs / 1000;
    const avgIn = this.sumUs > 0 ? this.sumInputMaUs / this.sumUs : m.vescInputMa * this.currentGain;
    const avgMotor = this.sumUs > 0 ? this.sumMotorMaUs / this.sumUs : m.vescMotorMa * this.currentGain;
    this.sumInputMaUs = this.sumMotorMaUs = this.sumUs = 0;
    const vinMv = Math.round(m.packs[m.busPack].terminalUv / 1000);
    const fet = Math.round(m.fetTempC * 10);
    return {
      command: COMM.GET_VALUES,
      mask: 0xffffffff,
      tempFetDeciC: fet,
      tempMotorDeciC: Math.round(m.motorTempC * 10),
      motorCurrentMa: Math.trunc(avgMotor),
      inputCurrentMa: Math.trunc(avgIn),
      idMa: 0,
      iqMa: Math.trunc(avgMotor),
      dutyPermille: m.vescDutyPermille,
      erpm: m.erpm,
      vInMv: vinMv,
      ampHoursUah: Math.trunc(this.ampHours * 1e6),
      ampHoursChargedUah: Math.trunc(this.ampHoursCharged * 1e6),
      wattHoursUwh: Math.trunc(this.wattHours * 1e6),
      wattHoursChargedUwh: Math.trunc(this.wattHoursCharged * 1e6),
      tachometer: Math.trunc(this.tach),
      tachometerAbs: Math.trunc(this.tachAbs),
      fault: 0,
      pidPosMicroDeg: 0,
      controllerId: this.id.canId,
      tempMos1DeciC: fet,
      tempMos2DeciC: fet + 3,
      tempMos3DeciC: fet - 2,
      vdMv: 0,
      vqMv: Math.round((vinMv * m.vescDutyPermille) / 1000),
      status: 0,
    };
  }

  // ---- UART -------------------------------------------------------------------------------

  private onBytes(bytes: Uint8Array): void {
    if (this.booting()) return;
    this.decoder.feed(bytes, (payload) => this.handle(payload.slice()));
  }

  private reply(payload: Uint8Array, delayUs = PROCESS_US): void {
    const bootedAt = this.bootedAtUs;
    this.clock.after(delayUs, () => {
      if (this.booting() || bootedAt !== this.bootedAtUs) return; // a reboot in between eats it
      this.stats.replies++;
      this.link.vescWrite(encodeFrame(payload));
    });
  }

  private handle(p: Uint8Array): void {
    this.stats.requests++;
    switch (p[0]) {
      case COMM.FW_VERSION:
        return this.reply(encodeFwVersion({
          major: this.id.major, minor: this.id.minor, hwName: this.id.hwName, uuid: this.id.uuid,
          pairingDone: 0, testVersion: 0, hwType: HW_TYPE.VESC, customConfigCount: 1, hasPhaseFilters: 0,
          qmlHw: 0, qmlApp: 0, nrfFlags: 0, fwName: '', hwCrc: 0x5eed0001,
        }));
      case COMM.GET_VALUES:
      case COMM.GET_VALUES_SELECTIVE: {
        const req = decodeGetValuesRequest(p);
        if (!req.ok) return;
        return this.reply(encodeValues(this.values(), req.value.command === COMM.GET_VALUES ? undefined : req.value.mask));
      }
      case COMM.BMS_GET_VALUES:
        return this.reply(encodeBmsValues(this.latchedBmsValues(), 'vesc'));
      case COMM.ALIVE:
        return;
      case COMM.PING_CAN:
        return this.pingCan();
      case COMM.FORWARD_CAN: {
        const f = decodeForwardCan(p);
        if (!f.ok) return;
        return this.forward(f.value.canId, f.value.inner);
      }
      default:
        this.stats.unknown++;
    }
  }

  /** bldc comm_can_ping per id 0..254: answered ids cost ~1 ms, silent ones the 10 ms timeout. */
  private pingCan(): void {
    const ids = this.pingResponders().filter((x) => x !== this.id.canId).sort((a, b) => a - b);
    const us = ids.length * 1_000 + (254 - ids.length) * 10_000;
    this.reply(encodePingCanReply(ids), us);
  }

  /** BMS ids heard on the bus within the last 2 s. */
  aliveBmsIds(): number[] {
    const out: number[] = [];
    for (const [id, t] of this.bmsHeardUs) if (this.clock.nowUs - t <= 2_000_000) out.push(id);
    return out.sort((a, b) => a - b);
  }

  private forward(canId: number, inner: Uint8Array): void {
    if (canId === this.id.canId) return this.handle(inner);
    if (this.pendingForward) this.pendingForward.timer.cancel();
    this.stats.forwarded++;
    const timer = this.clock.after(FORWARD_TIMEOUT_US, () => {
      this.stats.forwardTimeouts++;
      this.pendingForward = undefined;
    });
    this.pendingForward = { canId, timer };
    // comm_can_send_buffer(id, data, len, send = 0): process and reply to us
    for (const fr of encodeCanBuffer(canId, this.id.canId, inner, CAN_SEND.PROCESS_AND_REPLY)) this.bus.send(this, fr);
  }

  private latchedBmsValues(): BmsValues {
    const now = this.clock.nowUs;
    if (this.latchedBms >= 0 && now - (this.bmsHeardUs.get(this.latchedBms) ?? 0) > 2_000_000) {
      const other = this.aliveBmsIds()[0];
      this.latchedBms = other === undefined ? this.latchedBms : other;
    }
    // Heard within the last broadcast period or so: what it said last is what it says now.
    const fresh = now - (this.bmsHeardUs.get(this.latchedBms) ?? -Infinity) <= 150_000 ? this.bmsValuesOf(this.latchedBms) : undefined;
    const v = fresh ?? this.bmsCache.get(this.latchedBms);
    if (v) return { ...v, variant: 'vesc', dataVersion: 1, status: v.status ?? '' };
    // Nothing heard yet: bldc sends its zeroed m_values.
    return {
      variant: 'vesc', vTotUv: 0, vChargeUv: 0, iInUa: 0, iInIcUa: 0, ahCntMah: 0, whCntMwh: 0, cellsMv: [], balancing: [],
      tempsCentiC: [], tempIcCentiC: 0, tempHumCentiC: 0, humCentiPct: 0, tempMaxCellCentiC: 0, socPermille: 0,
      sohPermille: 0, canId: 255, ahChgTotalMah: 0, whChgTotalMwh: 0, ahDisTotalMah: 0, whDisTotalMwh: 0, pressurePa: 0,
      dataVersion: 1, status: '',
    };
  }

  /**
   * A BMS broadcast its status (called at each broadcast, whether or not the frames go on
   * the bus). bldc bms.c keeps the first id it hears and its latest values.
   */
  noteBms(canId: number): void {
    if (this.booting()) return;
    this.bmsHeardUs.set(canId, this.clock.nowUs);
    if (this.latchedBms < 0) this.latchedBms = canId;
    // Keep a copy of the latched BMS about once a second, for when it falls silent; while it
    // talks, a request gets its latest broadcast (computed then: same values, less work).
    const kept = this.bmsCacheUs.get(canId) ?? -Infinity;
    if (canId === this.latchedBms && this.clock.nowUs - kept >= 1_000_000) {
      const v = this.bmsValuesOf(canId);
      if (v) {
        this.bmsCache.set(canId, v);
        this.bmsCacheUs.set(canId, this.clock.nowUs);
      }
    }
  }

  // ---- CanNode ----------------------------------------------------------------------------

  canTransmit(): boolean {
    return !this.booting();
  }

  onFrame(frame: CanFrame): void {
    if (this.booting() || !frame.ext) return;
    const { packetId, controllerId } = splitId(frame.id);
    if (controllerId !== this.id.canId) return;
    if (packetId === CAN_PACKET.PONG) {
      const m = decodeCanFrame(frame.id, frame.data);
      if (m.ok && m.value.type === 'PONG') this.bmsHeardUs.set(m.value.responderId, this.clock.nowUs);
      return;
    }
    const got = this.canRx.accept(packetId, frame.data);
    if (!got || !got.ok) return;
    if (got.value.commandsSend === CAN_SEND.REPLY && this.pendingForward && got.value.senderId === this.pendingForward.canId) {
      // bldc: a reply buffer goes back on the link the request came from, as a plain payload.
      this.pendingForward.timer.cancel();
      this.pendingForward = undefined;
      this.reply(got.value.payload, 50);
    }
  }
}
