// createSimBike: one simulated e-bike (a VESC and two BMS on a CAN bus, an MCP2515 for the
// device, the physical model and the true-energy ledger) driven by a virtual clock.
// See README.md for the API, the battery wiring and the signals a meter can use.
import type { SerialClass, SerialIO, SerialOptions, SpiIO, DigitalInIO, DigitalInOptions } from '../../firmware/hal/io';
import type { BmsValues } from '../../protocol/vesc/commands';
import { VirtualClock } from './clock';
import { Prng } from './prng';
import { Pack, checkInt, type PackOptions } from './pack';
import { BikeModel, type BikeParams, type Activity } from './model';
import { randomRide, validateRide, type Segment } from './ride';
import { UartLink } from './uart';
import { CanBus } from './canbus';
import { SimBms, type BmsBroadcastSet } from './bms';
import { SimVesc, type VescIdentity } from './vesc';
import { SimMcp2515 } from './mcp2515';
import type { LedgerSnapshot } from './ledger';

export type { Segment } from './ride';
export { randomRide, validateRide, rideDurationS } from './ride';
export { FLOWS, type Flow, type LedgerSnapshot, type PackLedger, type FlowTotal, type HubLedger } from './ledger';

export interface SimBikeOptions {
  /** Seeds every random choice: same seed and options, same bytes. */
  seed: number;
  /** The ride script; default: randomRide({ seed }) (a 24 h day). */
  ride?: Segment[];
  /** Model step in ms (default 100; 10..1000). Currents are constant within a step. */
  stepMs?: number;
  /** Overrides for the two packs (defaults: ids 10/11, 13S, 14 Ah/10.5 Ah, 110/140 mΩ, SOC 80 %/65 %). */
  packs?: [Partial<PackOptions>?, Partial<PackOptions>?];
  params?: Partial<BikeParams>;
  /** VESC CAN controller id (default 1), FW version 6.05. */
  vescCanId?: number;
  /** VESC UART baud rate (default 115200). */
  baud?: number;
  /** MCP2515 crystal (default 8 MHz). */
  crystalHz?: number;
  /** BMS CAN broadcast rate (default 10 Hz, vesc_bms_fw default); 0 = no broadcasts. */
  bmsRateHz?: number;
  /** 'all' frames of bms.c (default) or only the 'energy' ones (cheaper for long runs). */
  bmsBroadcast?: BmsBroadcastSet;
}

/** Faults on demand; several fields may be given at once. */
export interface SimFault {
  /** Probability (0..1) that a UART byte in flight (either way) is replaced by a random byte; 0 ends it. */
  uartNoise?: number;
  /** Probability (0..1) that a UART byte in flight is lost; 0 ends it. */
  uartDrop?: number;
  /** Random bytes arriving at the device on their own, about this many per second; 0 ends it. */
  uartGarbagePerS?: number;
  /** This BMS stops broadcasting and answering, for `ms` (default: until `bmsResume`). */
  bmsSilent?: { canId: number; ms?: number };
  bmsResume?: number;
  /** This BMS reboots: silent for 1 s, its net counters ah_cnt / wh_cnt restart at 0 (lifetime totals stay). */
  bmsReboot?: number;
  /** Probability (0..1) that a CAN frame is destroyed by an error frame (and retransmitted). */
  canErrorRate?: number;
  /** The CAN bus is broken for this long: nothing passes, a transmitting MCP2515 goes bus-off. */
  canBusOffMs?: number;
  /** The VESC's current sensor reads true × gain from now on (1 = exact; e.g. 1.05 reads 5 % high). */
  vescCurrentGain?: number;
  /** This BMS's current sensor reads true × gain from now on (the ledger keeps the truth). */
  bmsCurrentGain?: { canId: number; gain: number };
  /** The VESC reboots now: its counters restart from zero and it is deaf for 1.5 s. */
  vescReboot?: boolean;
  /** The device's supply browns out for this long: UART link down, MCP2515 unpowered and reset. */
  brownoutMs?: number;
}

export interface SimState {
  tMs: number;
  activity: Activity;
  hub: string | undefined;
  speedKmh: number;
  busPack: number;
  packs: Array<{ canId: number; soc: number; voltageMv: number; currentMa: number; full: boolean }>;
  /** Plugged at a hub: ms until the rider leaves (end of the plugged segment). */
  leavesInMs?: number;
  /** The hub's power setting, W (> 0 charging, < 0 exporting). */
  hubPowerW: number;
  /**
   * Stored charge and full capacity of both packs valued at each pack's present open-circuit
   * voltage, Wh: what a charger has to move to fill it, the hub's view of the bike.
   */
  energyWh: number;
  capacityWh: number;
  vesc: { inputCurrentMa: number; erpm: number; rebooting: boolean };
}

export interface SimBike {
  readonly seed: number;
  readonly stepMs: number;
  readonly ride: Segment[];
  /** ECMA-419-style class for the device end of the VESC UART: new bike.VescSerial({ baud, onReadable }). */
  readonly VescSerial: SerialClass;
  /** Same as new VescSerial(options). */
  openVescSerial(options: SerialOptions): SerialIO;
  /** The MCP2515 behind a SPI bus (one transfer() = one chip-select cycle). */
  readonly mcp2515Spi: SpiIO;
  /** The MCP2515 INT pin (active low), for polling. */
  readonly canInt: DigitalInIO;
  /** An INT pin with a falling-edge callback (delivered from advance(), never from an IO call). */
  openCanInt(options?: DigitalInOptions): DigitalInIO;
  /** Runs the simulation forward by `ms` of virtual time (fractions allowed, µs resolution). */
  advance(ms: number): void;
  /** Virtual time, ms since creation. */
  nowMs(): number;
  /**
   * Virtual time of the next event the device could notice (a UART byte, a CAN frame, an INT
   * edge, the end of a fault), ms, so a driver loop can step exactly to it; model ticks and
   * broadcasts that no MCP2515 receives are left out (advance() runs them all the same).
   */
  nextEventMs(): number | undefined;
  /** The true flows, exact up to the last step boundary (its tMs). */
  ledger(): LedgerSnapshot;
  state(): SimState;
  inject(fault: SimFault): void;
  /** Sets the hub's charger (> 0 W) or inverter (< 0 W) for the bike plugged in; ignored when not plugged (the setting ends with the plug). */
  setHubPowerW(w: number): void;
  /** The ride has ended (the bike stays parked from then on). */
  done(): boolean;
  /** Internals, for tests and tools. */
  readonly internals: { clock: VirtualClock; model: BikeModel; uart: UartLink; bus: CanBus; vesc: SimVesc; bms: SimBms[]; mcp2515: SimMcp2515 };
}

const PACK_DEFAULTS: PackOptions[] = [
  { canId: 10, cells: 13, capacityMah: 14000, resistanceMohm: 110, socPermille: 800 },
  { canId: 11, cells: 13, capacityMah: 10500, resistanceMohm: 140, socPermille: 650 },
];

const FAULT_KEYS = new Set(['uartNoise', 'uartDrop', 'uartGarbagePerS', 'bmsSilent', 'bmsResume', 'bmsReboot', 'canErrorRate', 'canBusOffMs', 'vescReboot', 'brownoutMs', 'vescCurrentGain', 'bmsCurrentGain']);

export function createSimBike(o: SimBikeOptions): SimBike {
  if (!o || typeof o !== 'object') throw new TypeError('"options" expected an object');
  checkInt('seed', o.seed, 0, 0xffffffff);
  const stepMs = o.stepMs ?? 100;
  checkInt('stepMs', stepMs, 10, 1000);
  const bmsRateHz = o.bmsRateHz ?? 10;
  if (typeof bmsRateHz !== 'number' || !(bmsRateHz >= 0 && bmsRateHz <= 100)) throw new RangeError(`"bmsRateHz" expected a number in [0, 100], got ${String(bmsRateHz)}`);
  const vescCanId = o.vescCanId ?? 1;
  checkInt('vescCanId', vescCanId, 0, 254);
  const bmsSet = o.bmsBroadcast ?? 'all';
  if (bmsSet !== 'all' && bmsSet !== 'energy') throw new RangeError(`"bmsBroadcast" expected 'all' or 'energy', got ${String(bmsSet)}`);

  const root = new Prng(o.seed);
  // Separate streams, so that e.g. UART noise does not change the ride.
  const rideRng = root.fork();
  const modelRng = root.fork();
  const faultRng = root.fork();
  const bmsRng = root.fork();
  const identityRng = root.fork();

  const ride = validateRide(o.ride ?? randomRide({ seed: rideRng.u32() }));
  const packs = [0, 1].map((i) => new Pack({ ...PACK_DEFAULTS[i], ...(o.packs?.[i] ?? {}) }));
  if (packs[0].canId === vescCanId || packs[1].canId === vescCanId) {
    throw new RangeError(`"vescCanId" ${vescCanId} is also a BMS id; every CAN node needs its own id`);
  }
  const clock = new VirtualClock();
  const model = new BikeModel(packs, ride, modelRng, o.params);
  const uart = new UartLink(clock, faultRng, o.baud ?? 115200);
  const bus = new CanBus(clock, faultRng);
  const bms = [0, 1].map((i) => new SimBms(model, i, bus, clock, bmsRng, bmsSet));
  let uuid = '';
  for (let i = 0; i < 12; i++) uuid += identityRng.int(0, 255).toString(16).padStart(2, '0');
  const identity: VescIdentity = { major: 6, minor: 5, hwName: '60', uuid, canId: vescCanId };
  // The VESC's copy of a BMS comes over CAN: float32 volts and amps, i.e. mV / mA here.
  const bmsCopy = (canId: number): BmsValues | undefined => {
    const b = bms.find((x) => x.canId === canId);
    if (!b || b.mute()) return undefined;
    const v = b.values('vesc');
    return { ...v, vTotUv: Math.round(v.vTotUv / 1000) * 1000, vChargeUv: Math.round(v.vChargeUv / 1000) * 1000 };
  };
  const vesc = new SimVesc(model, uart, bus, clock, identity, bmsCopy, () =>
    bms.filter((b) => !b.mute() && clock.nowUs >= bus.faults.brokenUntilUs).map((b) => b.canId));
  for (const b of bms) b.onBroadcast = (id) => vesc.noteBms(id);
  const mcp = new SimMcp2515(clock, bus, { crystalHz: o.crystalHz });

  // The model ticks every step: commit the interval that ended, plan the next one.
  const stepUs = stepMs * 1000;
  model.plan(stepMs);
  const tick = (): void => {
    model.commit(stepMs);
    for (const b of bms) b.integrate(stepMs);
    vesc.integrate(stepMs);
    model.plan(stepMs);
    clock.after(stepUs, tick, always);
  };
  // A tick changes what the buses will say, but nothing reaches the device until it asks or
  // a broadcast goes out, so ticks are quiet for nextEventMs().
  const always = (): boolean => true;
  clock.after(stepUs, tick, always);
  // BMS broadcasts, the two packs out of phase so that their bursts do not collide.
  // A broadcast nobody receives as frames (no MCP2515 listening) is quiet too.
  const noFrames = (): boolean => !bus.hasBroadcastListeners();
  if (bmsRateHz > 0) {
    const periodUs = Math.round(1e6 / bmsRateHz);
    bms.forEach((b, i) => {
      const beat = (): void => {
        b.broadcast();
        clock.after(periodUs, beat, noFrames);
      };
      clock.at(Math.round(periodUs * (0.07 + 0.5 * i)), beat, noFrames);
    });
  }

  const silentTimers = new Map<number, { cancel(): void }>();
  const VescSerial = uart.serialClass();

  const bike: SimBike = {
    seed: o.seed,
    stepMs,
    ride,
    VescSerial,
    openVescSerial: (options) => new VescSerial(options),
    mcp2515Spi: mcp.spi,
    canInt: mcp.intPin,
    openCanInt: (options) => mcp.openInt(options),
    advance(ms: number): void {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) throw new RangeError(`"ms" expected a finite number >= 0, got ${String(ms)}`);
      clock.runUntil(clock.nowUs + Math.round(ms * 1000));
    },
    nowMs: () => clock.nowUs / 1000,
    nextEventMs: () => {
      const t = clock.nextVisibleUs();
      return t === undefined ? undefined : t / 1000;
    },
    ledger: () => model.ledger.snapshot(model.elapsedMs, packs.map((p) => p.chargeUc), packs.map((p) => p.capacityUc)),
    state: () => ({
      tMs: clock.nowUs / 1000,
      activity: model.activity,
      hub: model.hub,
      speedKmh: Math.round(model.speedMs * 36) / 10,
      busPack: model.busPack,
      packs: packs.map((p, i) => ({
        canId: p.canId, soc: p.soc(), voltageMv: Math.round(p.terminalUv / 1000), currentMa: p.currentMa, full: model.full[i],
      })),
      vesc: { inputCurrentMa: model.vescInputMa, erpm: model.erpm, rebooting: vesc.booting() },
      ...(model.activity === 'plugged' ? { leavesInMs: model.segmentLeftMs() } : {}),
      hubPowerW: model.hubPowerW,
      energyWh: packs.reduce((t, p) => t + (p.chargeUc / 3.6e9) * (p.ocvUv() / 1e6), 0),
      capacityWh: packs.reduce((t, p) => t + (p.capacityUc / 3.6e9) * (p.ocvUv() / 1e6), 0),
    }),
    setHubPowerW(w: number): void {
      if (typeof w !== 'number' || !Number.isFinite(w) || Math.abs(w) > 3000) throw new RangeError(`"w" expected a number in [-3000, 3000], got ${String(w)}`);
      if (model.activity === 'plugged') model.hubPowerW = w;
    },
    inject(f: SimFault): void {
      if (!f || typeof f !== 'object') throw new TypeError('"fault" expected an object');
      for (const k of Object.keys(f)) if (!FAULT_KEYS.has(k)) throw new TypeError(`unknown fault "${k}" (known: ${[...FAULT_KEYS].join(', ')})`);
      const prob = (name: string, v: unknown): number => {
        if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`"${name}" expected a probability in [0, 1], got ${String(v)}`);
        return v;
      };
      const dur = (name: string, v: unknown): number => {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`"${name}" expected ms >= 0, got ${String(v)}`);
        return Math.round(v * 1000);
      };
      const findBms = (id: unknown): SimBms => {
        const b = bms.find((x) => x.canId === id);
        if (!b) throw new RangeError(`no BMS with CAN id ${String(id)} (have ${bms.map((x) => x.canId).join(', ')})`);
        return b;
      };
      if (f.uartNoise !== undefined) uart.faults.noise = prob('uartNoise', f.uartNoise);
      if (f.uartDrop !== undefined) uart.faults.drop = prob('uartDrop', f.uartDrop);
      if (f.uartGarbagePerS !== undefined) {
        const r = f.uartGarbagePerS;
        if (typeof r !== 'number' || !(r >= 0 && r <= 11520)) throw new RangeError(`"uartGarbagePerS" expected a number in [0, 11520], got ${String(r)}`);
        uart.setGarbage(r);
      }
      if (f.canErrorRate !== undefined) bus.faults.errorRate = prob('canErrorRate', f.canErrorRate);
      if (f.bmsSilent !== undefined) {
        const b = findBms(f.bmsSilent.canId);
        b.silent = true;
        silentTimers.get(b.canId)?.cancel();
        if (f.bmsSilent.ms !== undefined) {
          silentTimers.set(b.canId, clock.after(dur('bmsSilent.ms', f.bmsSilent.ms), () => { b.silent = false; }));
        }
      }
      if (f.bmsResume !== undefined) {
        const b = findBms(f.bmsResume);
        silentTimers.get(b.canId)?.cancel();
        b.silent = false;
      }
      if (f.bmsReboot !== undefined) findBms(f.bmsReboot).reboot();
      if (f.canBusOffMs !== undefined) {
        const us = dur('canBusOffMs', f.canBusOffMs);
        bus.faults.brokenUntilUs = Math.max(bus.faults.brokenUntilUs, clock.nowUs + us);
        // An active MCP2515 is forced bus-off until 128 × 11 recessive bits after the bus is
        // back (§6.7); in listen-only or configuration mode it just hears nothing.
        if (mcp.mode() === 0x00 && mcp.canTransmit()) mcp.enterBusOff(bus.faults.brokenUntilUs + 2816);
      }
      const gain = (name: string, v: unknown): number => {
        if (typeof v !== 'number' || !(v >= 0.5 && v <= 1.5)) throw new RangeError(`"${name}" expected a gain in [0.5, 1.5], got ${String(v)}`);
        return v;
      };
      if (f.vescCurrentGain !== undefined) vesc.currentGain = gain('vescCurrentGain', f.vescCurrentGain);
      if (f.bmsCurrentGain !== undefined) findBms(f.bmsCurrentGain.canId).currentGain = gain('bmsCurrentGain.gain', f.bmsCurrentGain.gain);
      if (f.vescReboot) vesc.reboot();
      if (f.brownoutMs !== undefined) {
        const us = dur('brownoutMs', f.brownoutMs);
        uart.setUp(false);
        mcp.setPowered(false);
        clock.after(us, () => {
          uart.setUp(true);
          mcp.setPowered(true);
        });
      }
    },
    done: () => model.activity === 'done',
    internals: { clock, model, uart, bus, vesc, bms, mcp2515: mcp },
  };
  return bike;
}
