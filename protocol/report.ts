// EnergyReport v1: the payload of every signed report (CDDL and units in protocol/SPEC.md).
//
// A CBOR map with small integer keys, encoded deterministically (protocol/cbor). Packs are
// positional arrays so a dual-pack report stays small. Integers only, every energy in mWh
// and every charge in mAh, every time in whole seconds.
import { CborMap, CborValue, decode, encode, isCborError, isCborInt } from './cbor';
import { bytesEqual, MAX_SAFE } from './bytes';
import { KID_BYTES } from './kid';
import { sign1, sign1Stepped, Signer, SteppedSigner, SteppedSign1 } from './cose';
import { sha256 } from './sha256';

export var REPORT_VERSION = 1;

/** Clock quality (key 5). */
export var CLOCK_UNSYNCED = 0;
export var CLOCK_SYNCED = 1;

/** Payload map keys (RFC 8949 integer keys keep the report small). */
export var RK = {
  version: 1,
  kid: 2,
  seq: 3,
  prev: 4,
  clock: 5,
  startEpochS: 6,
  startUptimeS: 7,
  durationS: 8,
  packs: 9,
  faults: 10,
  firmware: 11,
  gap: 12,
};

export var MAX_PACKS = 4;
export var PREV_BYTES = 32;
/** Largest BMS CAN id (VESC CAN ids are 0..254; 255 is broadcast). */
export var MAX_CAN_ID = 254;

/** Energy moved per flow, in mWh. */
export interface FlowEnergy {
  /** Charger (grid) into the pack. */
  gridToPackMwh: number;
  /** Pack out to the grid (export mode). */
  packToGridMwh: number;
  /** Pack into the motor controller (riding). */
  packToMotorMwh: number;
  /** Regenerative braking back into the pack. */
  regenToPackMwh: number;
}

/** One battery pack in one report window. */
export interface PackEnergy extends FlowEnergy {
  /** The BMS's CAN id (0..254), identifies the pack. */
  canId: number;
  /** Net charge into the pack during the window in mAh (negative when discharging). */
  chargeMah: number;
  /**
   * Lifetime counters of this pack per flow at the END of the window, since key creation.
   * For consecutive reports: lifetime(n) = lifetime(n-1) + window(n), to the last mWh.
   */
  lifetime: FlowEnergy;
}

export interface FaultCounts {
  /** VESC faults (UART errors, fault codes, silent) recorded during the window. */
  vesc: number;
  /** BMS faults (CAN errors, silent BMS, BMS alarms) recorded during the window. */
  bms: number;
  /** Device faults (flash, network, watchdog, clock) recorded during the window. */
  device: number;
}

/**
 * Windows the device could not report separately because its queue was full: it kept
 * measuring and this report covers all of them (seq and the chain stay unbroken).
 */
export interface GapRecord {
  /** Nominal measurement windows merged into this report beyond the first (>= 0). */
  mergedWindows: number;
  /** Seconds of this window with no measurement at all (power cut, reboot), >= 0. */
  lostS: number;
}

export interface EnergyReport {
  /** Payload format version, 1. */
  version: number;
  /** Device key id, kidFromPublicKey(devicePublicKey), 8 bytes. */
  kid: Uint8Array;
  /** 0 for the key's first report, +1 per report for the life of the key. */
  seq: number;
  /** SHA-256 of the previous report's complete COSE_Sign1 bytes; 32 zero bytes for seq 0. */
  prev: Uint8Array;
  /** CLOCK_SYNCED: startS is UTC epoch seconds. CLOCK_UNSYNCED: startS is uptime seconds. */
  clock: number;
  /** Window start, epoch seconds (synced) or seconds since boot (unsynced). */
  startS: number;
  /** Window length in seconds, >= 1. */
  durationS: number;
  /** 1..4 packs in ascending canId order. */
  packs: PackEnergy[];
  faults: FaultCounts;
  /** Firmware version major*65536 + minor*256 + patch (firmwareVersion()). */
  firmware: number;
  /** Present only when windows were merged or time was lost. */
  gap?: GapRecord;
}

/** Error with a code ('malformed') and the dotted name of the offending field. */
export interface ReportError extends Error {
  code: string;
  field: string;
}

function reportError(field: string, what: string): ReportError {
  var e = new Error('report ' + field + ': ' + what) as ReportError;
  e.code = 'malformed';
  e.field = field;
  return e;
}

/** Firmware version as one integer, e.g. 0.1.0 -> 256. */
export function firmwareVersion(major: number, minor: number, patch: number): number {
  if (!isUint(major, 255) || !isUint(minor, 255) || !isUint(patch, 255)) throw reportError('firmware', 'expected three integers in [0, 255]');
  return major * 65536 + minor * 256 + patch;
}

export function firmwareVersionString(v: number): string {
  return Math.floor(v / 65536) + '.' + (Math.floor(v / 256) % 256) + '.' + (v % 256);
}

// An integer field takes what CBOR writes as an integer (isCborInt), so not -0: it compares
// equal to 0 yet encodes as the float f98000, and the re-encoding check cannot catch it
// since it re-encodes the same way (one report, one encoding; Espruino has no -0 and would
// read such a report as 0).
function isUint(v: unknown, max: number): boolean {
  return typeof v === 'number' && isCborInt(v) && v >= 0 && v <= max;
}

function uint(v: unknown, field: string, max?: number): number {
  var m = max === undefined ? MAX_SAFE : max;
  if (!isUint(v, m)) throw reportError(field, 'expected integer in [0, ' + m + '], got ' + describe(v));
  return v as number;
}

function sint(v: unknown, field: string): number {
  if (typeof v !== 'number' || !isCborInt(v)) {
    throw reportError(field, 'expected integer, got ' + describe(v));
  }
  return v;
}

function bytes(v: unknown, field: string, len: number): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== len) throw reportError(field, 'expected ' + len + ' bytes, got ' + describe(v));
  return v;
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return v.length + ' bytes';
  if (v instanceof Array) return 'array of ' + v.length;
  if (v instanceof CborMap) return 'map';
  if (typeof v === 'string') return 'text';
  // The one number equal to 0 that is not a CBOR integer.
  if (v === 0 && !isCborInt(v)) return '-0 (a float)';
  return String(v);
}

function flows(f: FlowEnergy, field: string): CborValue[] {
  if (!f || typeof f !== 'object') throw reportError(field, 'expected flow energies, got ' + describe(f));
  return [
    uint(f.gridToPackMwh, field + '.gridToPackMwh'),
    uint(f.packToGridMwh, field + '.packToGridMwh'),
    uint(f.packToMotorMwh, field + '.packToMotorMwh'),
    uint(f.regenToPackMwh, field + '.regenToPackMwh'),
  ];
}

/** Validates a report and builds its CBOR map (used by encodeReport; exported for tools). */
export function reportToCbor(r: EnergyReport): CborMap {
  if (!r || typeof r !== 'object') throw reportError('report', 'expected an object');
  if (r.version !== REPORT_VERSION) throw reportError('version', 'expected ' + REPORT_VERSION + ', got ' + describe(r.version));
  var m = new CborMap();
  m.set(RK.version, REPORT_VERSION);
  m.set(RK.kid, bytes(r.kid, 'kid', KID_BYTES));
  var seq = uint(r.seq, 'seq');
  m.set(RK.seq, seq);
  var prev = bytes(r.prev, 'prev', PREV_BYTES);
  if (seq === 0) {
    for (var z = 0; z < PREV_BYTES; z++) if (prev[z] !== 0) throw reportError('prev', 'expected 32 zero bytes for seq 0');
  }
  m.set(RK.prev, prev);
  if (r.clock !== CLOCK_SYNCED && r.clock !== CLOCK_UNSYNCED) throw reportError('clock', 'expected 0 (unsynced) or 1 (synced), got ' + describe(r.clock));
  m.set(RK.clock, r.clock);
  m.set(r.clock === CLOCK_SYNCED ? RK.startEpochS : RK.startUptimeS, uint(r.startS, 'startS'));
  var dur = uint(r.durationS, 'durationS', 4294967295);
  if (dur < 1) throw reportError('durationS', 'expected >= 1, got 0');
  m.set(RK.durationS, dur);
  if (!(r.packs instanceof Array) || r.packs.length < 1 || r.packs.length > MAX_PACKS) {
    throw reportError('packs', 'expected 1..' + MAX_PACKS + ' packs, got ' + describe(r.packs));
  }
  var packs: CborValue[] = [];
  for (var i = 0; i < r.packs.length; i++) {
    var p = r.packs[i];
    var f = 'packs[' + i + ']';
    if (!p || typeof p !== 'object') throw reportError(f, 'expected a pack');
    var id = uint(p.canId, f + '.canId', MAX_CAN_ID);
    if (i > 0 && id <= r.packs[i - 1].canId) throw reportError(f + '.canId', 'expected ascending distinct CAN ids, got ' + id + ' after ' + r.packs[i - 1].canId);
    var w = flows(p, f);
    var l = flows(p.lifetime, f + '.lifetime');
    packs.push([id, w[0], w[1], w[2], w[3], sint(p.chargeMah, f + '.chargeMah'), l[0], l[1], l[2], l[3]]);
  }
  m.set(RK.packs, packs);
  if (!r.faults || typeof r.faults !== 'object') throw reportError('faults', 'expected fault counts');
  m.set(RK.faults, [uint(r.faults.vesc, 'faults.vesc'), uint(r.faults.bms, 'faults.bms'), uint(r.faults.device, 'faults.device')]);
  m.set(RK.firmware, uint(r.firmware, 'firmware', 16777215));
  if (r.gap !== undefined) {
    var merged = uint(r.gap.mergedWindows, 'gap.mergedWindows');
    var lost = uint(r.gap.lostS, 'gap.lostS', dur);
    // An all-zero gap is written as no gap, so one report has exactly one encoding.
    if (merged > 0 || lost > 0) m.set(RK.gap, [merged, lost]);
  }
  return m;
}

/** Deterministic CBOR of a validated EnergyReport; throws a labelled error on bad fields. */
export function encodeReport(r: EnergyReport): Uint8Array {
  return encode(reportToCbor(r));
}

function arr(v: CborValue, field: string, len: number): CborValue[] {
  if (!(v instanceof Array) || v.length !== len) throw reportError(field, 'expected array of ' + len + ', got ' + describe(v));
  return v;
}

/**
 * Strict decoding of a payload: canonical CBOR only (it must re-encode to the same bytes),
 * every key known, every field in range. Throws a ReportError naming the field.
 */
export function decodeReport(payload: Uint8Array): EnergyReport {
  var v: CborValue;
  try {
    v = decode(payload, { maxDepth: 4, maxItems: 16, maxBytes: 64 });
  } catch (e) {
    if (isCborError(e)) throw reportError('payload', e.message);
    throw e;
  }
  if (!(v instanceof CborMap)) throw reportError('payload', 'expected a map, got ' + describe(v));
  var known: { [k: string]: boolean } = {};
  for (var name in RK) known[(RK as { [k: string]: number })[name]] = true;
  for (var i = 0; i < v.entries.length; i++) {
    var key = v.entries[i][0];
    if (typeof key !== 'number' || !known[key]) throw reportError('payload', 'unknown key ' + describe(key));
  }
  var version = v.get(RK.version);
  if (version !== REPORT_VERSION) throw reportError('version', 'expected ' + REPORT_VERSION + ', got ' + describe(version));
  var clock = v.get(RK.clock);
  if (clock !== CLOCK_SYNCED && clock !== CLOCK_UNSYNCED) throw reportError('clock', 'expected 0 or 1, got ' + describe(clock));
  var startKey = clock === CLOCK_SYNCED ? RK.startEpochS : RK.startUptimeS;
  var otherKey = clock === CLOCK_SYNCED ? RK.startUptimeS : RK.startEpochS;
  if (v.has(otherKey)) {
    throw reportError(clock === CLOCK_SYNCED ? 'startUptimeS' : 'startEpochS', 'not allowed when clock is ' + clock);
  }
  var rawPacks = v.get(RK.packs);
  if (!(rawPacks instanceof Array)) throw reportError('packs', 'expected array, got ' + describe(rawPacks));
  var packs: PackEnergy[] = [];
  for (i = 0; i < rawPacks.length; i++) {
    var f = 'packs[' + i + ']';
    var p = arr(rawPacks[i], f, 10);
    packs.push({
      canId: uint(p[0], f + '.canId'),
      gridToPackMwh: uint(p[1], f + '.gridToPackMwh'),
      packToGridMwh: uint(p[2], f + '.packToGridMwh'),
      packToMotorMwh: uint(p[3], f + '.packToMotorMwh'),
      regenToPackMwh: uint(p[4], f + '.regenToPackMwh'),
      chargeMah: sint(p[5], f + '.chargeMah'),
      lifetime: {
        gridToPackMwh: uint(p[6], f + '.lifetime.gridToPackMwh'),
        packToGridMwh: uint(p[7], f + '.lifetime.packToGridMwh'),
        packToMotorMwh: uint(p[8], f + '.lifetime.packToMotorMwh'),
        regenToPackMwh: uint(p[9], f + '.lifetime.regenToPackMwh'),
      },
    });
  }
  var faults = arr(v.get(RK.faults), 'faults', 3);
  var r: EnergyReport = {
    version: REPORT_VERSION,
    kid: v.get(RK.kid) as Uint8Array,
    seq: v.get(RK.seq) as number,
    prev: v.get(RK.prev) as Uint8Array,
    clock: clock,
    startS: v.get(startKey) as number,
    durationS: v.get(RK.durationS) as number,
    packs: packs,
    faults: { vesc: faults[0] as number, bms: faults[1] as number, device: faults[2] as number },
    firmware: v.get(RK.firmware) as number,
  };
  if (v.has(RK.gap)) {
    var g = arr(v.get(RK.gap), 'gap', 2);
    r.gap = { mergedWindows: g[0] as number, lostS: g[1] as number };
  }
  // Full validation (ranges, order, missing fields) is the encoder's, and the re-encoding
  // must give back the very bytes received: one report, one encoding.
  var again = encodeReport(r);
  if (!bytesEqual(again, payload)) throw reportError('payload', 'not in canonical form (RFC 8949 §4.2.1 / SPEC.md)');
  return r;
}

/** The device path: encode and sign a report as a DEEP COSE_Sign1 (kid header = r.kid). */
export function signReport(r: EnergyReport, signer: Signer): Uint8Array {
  return sign1(encodeReport(r), r.kid, signer);
}

/** The same through a stepped signer, so signing can yield to the event loop. */
export function signReportStepped(r: EnergyReport, signer: SteppedSigner): SteppedSign1 {
  return sign1Stepped(encodeReport(r), r.kid, signer);
}

/** `prev` of the report that follows the one whose complete COSE bytes are `cose`. */
export function prevOf(cose: Uint8Array): Uint8Array {
  return sha256(cose);
}

/** `prev` of report 0. */
export function zeroPrev(): Uint8Array {
  return new Uint8Array(PREV_BYTES);
}
