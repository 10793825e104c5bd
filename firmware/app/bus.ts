// The buses, wired: VescUart on the board's UART, the two BMS through the MCP2515 (CAN
// broadcasts) or through the VESC (FORWARD_CAN) when the board has no CAN transceiver,
// and one meter sample per poll period built from the newest readings.
//
// Sample: every pollMs the newest pack voltage and current of each BMS (null when that pack
// is stale: the meter then counts the time as lost, never guesses), plus whether the bike
// is plugged in at a hub (firmware/energy/plug.ts): chargerConnected = exportMode =
// plugged: at a hub, current into a pack comes from the grid and current out of it goes to
// the grid; on the road, into a pack is regen and out of it is the motor.
// Over CAN only the BMS energy and status frames are taken (Mcp2515 bmsEnergyIds: 4-6
// frames per BMS cycle instead of ~15), decoded once, by DualBms.
// The poll timer's largest interval is kept (pollStats): a signature that holds the
// interpreter longer than a poll period shows there.
// The VESC's and the BMS's own Wh counters go to the meter's cross-check.
import type { Hal } from '../hal/espruino/index';
import { VescUart, VescSample } from '../drivers/vesc-uart';
import { Mcp2515 } from '../drivers/mcp2515';
import { DualBms, PackState } from '../drivers/dual-bms';
import { isPlugged } from '../energy/plug';
import type { CanFrame } from '../../protocol/can/id';
import type { MeterSample } from '../energy/meter';
import type { DigitalInIO, DigitalInOptions } from '../hal/io';


export interface BusOptions {
  hal: Hal;
  packIds: number[];
  pollMs: number;
  /** A meter sample is ready. */
  onSample: (s: MeterSample) => void;
  /** The VESC's counters (mWh consumed, charged) of the latest poll. */
  onVescCounters: (consumedMwh: number, chargedMwh: number) => void;
  /** A BMS's lifetime totals (mWh charged, discharged). */
  onBmsCounters: (pack: number, chgMwh: number, disMwh: number) => void;
  onFault: (code: string, detail: string) => void;
}

export interface Bus {
  vesc: VescUart;
  bms: DualBms;
  can: Mcp2515 | undefined;
  latestVesc(): VescSample | undefined;
  packs(): PackState[];
  plugged(): boolean;
  /** Samples handed to the meter. */
  samples(): number;
  /** The poll period and the largest interval seen between two polls (ms). */
  pollStats(): { pollMs: number; maxGapMs: number };
  close(): void;
}

export function startBus(o: BusOptions): Bus {
  var hal = o.hal;
  var timers = hal.time;
  var nSamples = 0;
  var latest: VescSample | undefined;
  var ids = o.packIds;

  var vesc = new VescUart({
    io: hal.VescSerial,
    timers: timers,
    baud: hal.board.vesc.baud,
    // The meter samples at pollMs; the VESC is polled at the same rate for the
    // cross-check counters and the motor signals.
    pollHz: Math.max(1, Math.floor(1000 / o.pollMs)),
    onSample: function (s: VescSample) {
      latest = s;
      if (s.wattHoursUwh !== undefined && s.wattHoursChargedUwh !== undefined) {
        o.onVescCounters(Math.floor(s.wattHoursUwh / 1000), Math.floor(s.wattHoursChargedUwh / 1000));
      }
    },
    onFault: o.onFault,
  });

  var viaCan = hal.board.can.via === 'mcp2515' && hal.canSpi !== undefined;
  var bms = new DualBms({
    packIds: ids,
    source: viaCan ? 'can' : 'vesc',
    timers: timers,
    vesc: viaCan ? undefined : vesc,
    onUpdate: function (p: PackState) {
      if (p.whChgTotalMwh !== undefined && p.whDisTotalMwh !== undefined) o.onBmsCounters(p.index, p.whChgTotalMwh, p.whDisTotalMwh);
    },
    onFault: o.onFault,
  });

  var can: Mcp2515 | undefined;
  var canInt = hal.canInt;
  if (viaCan && hal.canSpi) {
    var board = hal.board.can;
    can = new Mcp2515({
      spi: hal.canSpi,
      timers: timers,
      crystalHz: board.via === 'mcp2515' ? board.crystalHz : 8000000,
      bmsEnergyIds: ids,
      // The INT edge does the work; this is only the backstop for a missed edge.
      pollMs: 500,
      openInt: canInt ? (function (ci: (f?: () => void) => DigitalInIO) { return function (opts: DigitalInOptions) { return ci(opts.onFall); }; })(canInt) : undefined,
      onFrame: function (f: CanFrame) { bms.receive(f); },
      onFault: o.onFault,
    });
  }

  function plugged(): boolean {
    return isPlugged({ nowMs: timers.now(), packs: bms.packs, viaCan: can !== undefined, vesc: latest });
  }

  var closed = false;
  var lastTickMs = -1;
  var maxGapMs = 0;
  function tick(): void {
    if (closed) return;
    var t = timers.now();
    if (lastTickMs >= 0 && t - lastTickMs > maxGapMs) maxGapMs = t - lastTickMs;
    lastTickMs = t;
    var packs = bms.packs;
    var readings: ({ mv: number; ma: number } | null)[] = [];
    for (var i = 0; i < packs.length; i++) {
      var p = packs[i];
      readings.push(!p.stale && p.vTotMv !== undefined && p.iInMa !== undefined ? { mv: p.vTotMv, ma: p.iInMa } : null);
    }
    var pl = plugged();
    nSamples++;
    o.onSample({ tMs: timers.now(), packs: readings, chargerConnected: pl, exportMode: pl });
    timers.setTimeout(tick, o.pollMs);
  }
  timers.setTimeout(tick, o.pollMs);

  return {
    vesc: vesc,
    bms: bms,
    can: can,
    latestVesc: function () { return latest; },
    packs: function () { return bms.packs; },
    plugged: plugged,
    samples: function () { return nSamples; },
    pollStats: function () { return { pollMs: o.pollMs, maxGapMs: maxGapMs }; },
    close: function () {
      closed = true;
      vesc.close();
      bms.close();
      if (can) can.close();
    },
  };
}
