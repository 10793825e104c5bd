// VESC UART command payloads (payload[0] = COMM_PACKET_ID), both directions, so that the
// firmware can ask and the simulator can answer with the real bytes. Layouts from bldc
// comm/commands.c and bms.c and vesc_bms_fw commands.c, summarised in
// protocol/BUS.md §2. Units: see protocol/SPEC.md "Bus messages".
//
// Decoded numbers are integers in the unit named by the field suffix, chosen so the wire
// value converts exactly (wire int * 10^k): DeciC = 0.1 °C, CentiC = 0.01 °C, Ma = mA,
// Ua = µA, Mv = mV, Uv = µV, Uah = µAh, Uwh = µWh, Mah = mAh, Mwh = mWh, Permille = 0.1 %.
// Encoders take the same units; a value finer than the wire is truncated toward zero, as
// the VESC's C casts do (bldc util/buffer.c).
import { COMM, WIRE_ERR } from './enums';
import { Reader, Writer, quotTrunc, type Decoded, wireError, failed } from './wire';
import { copyBytes, toHex } from '../bytes';

function single(command: number): Uint8Array {
  var b = new Uint8Array(1);
  b[0] = command;
  return b;
}

/** The command byte, after checking it is the expected one. */
function expect(r: Reader, command: number, name: string): void {
  var c = r.u8('command');
  if (!r.error && c !== command) r.fail(WIRE_ERR.WRONG_TYPE, 'command', 0, 'expected ' + name + ' (' + command + '), got command ' + c);
}

// ---------------------------------------------------------------------------------------
// COMM_FW_VERSION (0)

export interface FwVersion {
  major: number;
  minor: number;
  hwName: string;
  /** 12 bytes as 24 lowercase hex digits (vesc_express: 6-byte MAC + 6 zero bytes). */
  uuid: string;
  // Each of the following is present only if the reply carries it: older firmware and the
  // VESC-BMS stop early (vesc_bms_fw commands.c ends after hwType + 1 byte).
  pairingDone?: number;
  /** 0 = release. */
  testVersion?: number;
  /** HW_TYPE: 0 VESC, 1 VESC BMS, 2 custom module. */
  hwType?: number;
  customConfigCount?: number;
  hasPhaseFilters?: number;
  qmlHw?: number;
  qmlApp?: number;
  nrfFlags?: number;
  fwName?: string;
  hwCrc?: number;
}

var FW_TAIL_U8 = ['pairingDone', 'testVersion', 'hwType', 'customConfigCount', 'hasPhaseFilters', 'qmlHw', 'qmlApp', 'nrfFlags'];

export function encodeFwVersionRequest(): Uint8Array {
  return single(COMM.FW_VERSION);
}

export function decodeFwVersion(payload: Uint8Array): Decoded<FwVersion> {
  var r = new Reader(payload);
  expect(r, COMM.FW_VERSION, 'FW_VERSION');
  var v: FwVersion = { major: r.u8('major'), minor: r.u8('minor'), hwName: r.cstring('hwName', 64), uuid: toHex(r.take(12, 'uuid')) };
  var rec = v as unknown as Record<string, unknown>;
  for (var i = 0; i < FW_TAIL_U8.length && r.remaining() > 0; i++) rec[FW_TAIL_U8[i]] = r.u8(FW_TAIL_U8[i]);
  if (!r.error && r.remaining() > 0) v.fwName = r.cstring('fwName', 64);
  if (!r.error && r.remaining() > 0) v.hwCrc = r.u32('hwCrc');
  // later firmware may append fields: bytes after hwCrc are ignored
  return r.result(v);
}

function isHex(s: unknown, n: number): boolean {
  if (typeof s !== 'string' || s.length !== n) return false;
  for (var i = 0; i < n; i++) {
    var c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

export function encodeFwVersion(v: FwVersion): Uint8Array {
  var w = new Writer(3 + 65 + 12 + 8 + 65 + 4);
  w.u8(COMM.FW_VERSION, 'command');
  w.u8(v.major, 'major');
  w.u8(v.minor, 'minor');
  w.cstring(v.hwName, 64, 'hwName');
  // no regular expression: Espruino's engine rejects this one ({24} quantifier)
  if (!isHex(v.uuid, 24)) throw new Error('"uuid" expected 24 hex digits, got ' + v.uuid);
  for (var i = 0; i < 12; i++) w.u8(parseInt(v.uuid.substr(i * 2, 2), 16), 'uuid');
  var rec = v as unknown as Record<string, number | undefined>;
  for (var k = 0; k < FW_TAIL_U8.length; k++) {
    var x = rec[FW_TAIL_U8[k]];
    if (x === undefined) return w.done();
    w.u8(x, FW_TAIL_U8[k]);
  }
  if (v.fwName === undefined) return w.done();
  w.cstring(v.fwName, 64, 'fwName');
  if (v.hwCrc !== undefined) w.u32(v.hwCrc, 'hwCrc');
  return w.done();
}

// ---------------------------------------------------------------------------------------
// COMM_GET_VALUES (4) and COMM_GET_VALUES_SELECTIVE (50): bldc comm/commands.c L384-483

export interface VescValues {
  /** 4 (GET_VALUES, all fields) or 50 (GET_VALUES_SELECTIVE). */
  command: number;
  /** Which fields are present: bit n as in VALUE_FIELDS. 0xFFFFFFFF for GET_VALUES. */
  mask: number;
  tempFetDeciC?: number;
  tempMotorDeciC?: number;
  motorCurrentMa?: number;
  /** Battery current, > 0 when the battery discharges into the controller. */
  inputCurrentMa?: number;
  idMa?: number;
  iqMa?: number;
  dutyPermille?: number;
  /** Electrical RPM. */
  erpm?: number;
  vInMv?: number;
  ampHoursUah?: number;
  ampHoursChargedUah?: number;
  wattHoursUwh?: number;
  wattHoursChargedUwh?: number;
  tachometer?: number;
  tachometerAbs?: number;
  /** mc_fault_code, see FAULT_NAMES. */
  fault?: number;
  pidPosMicroDeg?: number;
  controllerId?: number;
  tempMos1DeciC?: number;
  tempMos2DeciC?: number;
  tempMos3DeciC?: number;
  vdMv?: number;
  vqMv?: number;
  /** bit0 timeout active, bit1 kill switch active. */
  status?: number;
}

/** [mask bit, field name, wire type, unit per wire step]. Bit 18 carries three fields. */
export var VALUE_FIELDS: Array<[number, string, string, number]> = [
  [0, 'tempFetDeciC', 'i16', 1],
  [1, 'tempMotorDeciC', 'i16', 1],
  [2, 'motorCurrentMa', 'i32', 10],
  [3, 'inputCurrentMa', 'i32', 10],
  [4, 'idMa', 'i32', 10],
  [5, 'iqMa', 'i32', 10],
  [6, 'dutyPermille', 'i16', 1],
  [7, 'erpm', 'i32', 1],
  [8, 'vInMv', 'i16', 100],
  [9, 'ampHoursUah', 'i32', 100],
  [10, 'ampHoursChargedUah', 'i32', 100],
  [11, 'wattHoursUwh', 'i32', 100],
  [12, 'wattHoursChargedUwh', 'i32', 100],
  [13, 'tachometer', 'i32', 1],
  [14, 'tachometerAbs', 'i32', 1],
  [15, 'fault', 'u8', 1],
  [16, 'pidPosMicroDeg', 'i32', 1],
  [17, 'controllerId', 'u8', 1],
  [18, 'tempMos1DeciC', 'i16', 1],
  [18, 'tempMos2DeciC', 'i16', 1],
  [18, 'tempMos3DeciC', 'i16', 1],
  [19, 'vdMv', 'i32', 1],
  [20, 'vqMv', 'i32', 1],
  [21, 'status', 'u8', 1],
];

/** Mask bits by name, for building a GET_VALUES_SELECTIVE request. */
export var VALUE_BIT = {
  TEMP_FET: 1, TEMP_MOTOR: 2, MOTOR_CURRENT: 4, INPUT_CURRENT: 8, ID: 16, IQ: 32, DUTY: 64,
  ERPM: 128, V_IN: 256, AMP_HOURS: 512, AMP_HOURS_CHARGED: 1024, WATT_HOURS: 2048,
  WATT_HOURS_CHARGED: 4096, TACHOMETER: 8192, TACHOMETER_ABS: 16384, FAULT: 32768,
  PID_POS: 65536, CONTROLLER_ID: 131072, TEMP_MOS: 262144, VD: 524288, VQ: 1048576, STATUS: 2097152,
};

/** Mask bits 22..31 carry no field; bit n set means field n is present. */
function bitSet(mask: number, bit: number): boolean {
  // arithmetic, not >>>: the mask reaches 2^32 - 1 and firmware/README.md keeps bitwise ops below 2^31
  return Math.floor(mask / (1 << bit)) % 2 === 1;
}

export function encodeGetValuesRequest(): Uint8Array {
  return single(COMM.GET_VALUES);
}

export function encodeGetValuesSelectiveRequest(mask: number): Uint8Array {
  var w = new Writer(5);
  w.u8(COMM.GET_VALUES_SELECTIVE, 'command');
  w.u32(mask, 'mask');
  return w.done();
}

/** Request decoder (for the simulator): the mask asked for, 0xFFFFFFFF for GET_VALUES. */
export function decodeGetValuesRequest(payload: Uint8Array): Decoded<{ command: number; mask: number }> {
  var r = new Reader(payload);
  var c = r.u8('command');
  var mask = 0xffffffff;
  if (!r.error && c === COMM.GET_VALUES_SELECTIVE) mask = r.u32('mask');
  else if (!r.error && c !== COMM.GET_VALUES) r.fail(WIRE_ERR.WRONG_TYPE, 'command', 0, 'expected GET_VALUES (4) or GET_VALUES_SELECTIVE (50), got command ' + c);
  r.finish('request');
  return r.result({ command: c, mask: mask });
}

/** Decodes a GET_VALUES (4) or GET_VALUES_SELECTIVE (50) reply. */
export function decodeValues(payload: Uint8Array): Decoded<VescValues> {
  var r = new Reader(payload);
  var c = r.u8('command');
  var mask = 0xffffffff;
  if (!r.error && c === COMM.GET_VALUES_SELECTIVE) mask = r.u32('mask');
  else if (!r.error && c !== COMM.GET_VALUES) r.fail(WIRE_ERR.WRONG_TYPE, 'command', 0, 'expected GET_VALUES (4) or GET_VALUES_SELECTIVE (50), got command ' + c);
  var v: VescValues = { command: c, mask: mask };
  var rec = v as unknown as Record<string, number>;
  for (var i = 0; i < VALUE_FIELDS.length && !r.error; i++) {
    var f = VALUE_FIELDS[i];
    if (!bitSet(mask, f[0])) continue;
    var raw = f[2] === 'i16' ? r.i16(f[1]) : f[2] === 'i32' ? r.i32(f[1]) : r.u8(f[1]);
    rec[f[1]] = raw * f[3];
  }
  r.finish('values');
  return r.result(v);
}

/**
 * Encodes a reply. With mask undefined it is a GET_VALUES (4) reply with every field
 * (absent ones sent as 0); otherwise a GET_VALUES_SELECTIVE (50) reply echoing `mask`.
 */
export function encodeValues(v: Partial<VescValues>, mask?: number): Uint8Array {
  var selective = mask !== undefined;
  var m = selective ? (mask as number) : 0xffffffff;
  var w = new Writer(80);
  if (selective) {
    w.u8(COMM.GET_VALUES_SELECTIVE, 'command');
    w.u32(m, 'mask');
  } else {
    w.u8(COMM.GET_VALUES, 'command');
  }
  var rec = v as unknown as Record<string, number | undefined>;
  for (var i = 0; i < VALUE_FIELDS.length; i++) {
    var f = VALUE_FIELDS[i];
    if (!bitSet(m, f[0])) continue;
    var x = rec[f[1]];
    var raw = x === undefined ? 0 : quotTrunc(x, f[3]);
    if (f[2] === 'i16') w.i16(raw, f[1]);
    else if (f[2] === 'i32') w.i32(raw, f[1]);
    else w.u8(raw, f[1]);
  }
  return w.done();
}

// ---------------------------------------------------------------------------------------
// COMM_BMS_GET_VALUES (96): bldc bms.c L482-544 (variant 'vesc'), vesc_bms_fw
// commands.c L257-317 (variant 'bms', ends after pressure).

export interface BmsValues {
  /** 'vesc' when the reply carries dataVersion and status (bldc), else 'bms'. */
  variant: string;
  vTotUv: number;
  vChargeUv: number;
  /** Pack current, > 0 = discharge (vesc_bms_fw bms_if.c). */
  iInUa: number;
  iInIcUa: number;
  /** Net counters since the BMS booted or was reset. */
  ahCntMah: number;
  whCntMwh: number;
  cellsMv: number[];
  /** 0/1 per cell. */
  balancing: number[];
  tempsCentiC: number[];
  tempIcCentiC: number;
  tempHumCentiC: number;
  humCentiPct: number;
  tempMaxCellCentiC: number;
  socPermille: number;
  sohPermille: number;
  // The tail is optional field by field (older BMS firmware stops earlier).
  canId?: number;
  /** float32 on the wire (Ah, Wh), rounded half away from zero to mAh / mWh. */
  ahChgTotalMah?: number;
  whChgTotalMwh?: number;
  ahDisTotalMah?: number;
  whDisTotalMwh?: number;
  pressurePa?: number;
  dataVersion?: number;
  status?: string;
}

/** The BMS status string limit (bldc bms.c m_values.status, 40 characters + NUL). */
export var BMS_STATUS_MAX = 40;

export function encodeBmsGetValuesRequest(): Uint8Array {
  return single(COMM.BMS_GET_VALUES);
}

export function decodeBmsValues(payload: Uint8Array): Decoded<BmsValues> {
  var r = new Reader(payload);
  expect(r, COMM.BMS_GET_VALUES, 'BMS_GET_VALUES');
  var v: BmsValues = {
    variant: 'bms',
    vTotUv: r.i32('vTot'),
    vChargeUv: r.i32('vCharge'),
    iInUa: r.i32('iIn'),
    iInIcUa: r.i32('iInIc'),
    ahCntMah: r.i32('ahCnt'),
    whCntMwh: r.i32('whCnt'),
    cellsMv: [],
    balancing: [],
    tempsCentiC: [],
    tempIcCentiC: 0, tempHumCentiC: 0, humCentiPct: 0, tempMaxCellCentiC: 0, socPermille: 0, sohPermille: 0,
  };
  var n = r.u8('cellNum');
  var i;
  if (r.has(n * 3, 'cells')) {
    for (i = 0; i < n; i++) v.cellsMv.push(r.i16('cells'));
    for (i = 0; i < n; i++) v.balancing.push(r.u8('balancing'));
  }
  var t = r.u8('tempNum');
  if (r.has(t * 2, 'temps')) for (i = 0; i < t; i++) v.tempsCentiC.push(r.i16('temps'));
  v.tempIcCentiC = r.i16('tempIc');
  v.tempHumCentiC = r.i16('tempHum');
  v.humCentiPct = r.i16('hum');
  v.tempMaxCellCentiC = r.i16('tempMaxCell');
  v.socPermille = r.i16('soc');
  v.sohPermille = r.i16('soh');
  if (r.error || r.remaining() === 0) return r.result(v);
  v.canId = r.u8('canId');
  if (r.remaining() === 0) return r.result(v);
  v.ahChgTotalMah = r.f32Milli('ahChgTotal');
  v.whChgTotalMwh = r.f32Milli('whChgTotal');
  v.ahDisTotalMah = r.f32Milli('ahDisTotal');
  v.whDisTotalMwh = r.f32Milli('whDisTotal');
  if (r.error || r.remaining() === 0) return r.result(v);
  // float16(pressure, 1e-1): the wire counts 10 Pa steps
  v.pressurePa = r.i16('pressure') * 10;
  if (r.error || r.remaining() === 0) return r.result(v);
  v.variant = 'vesc';
  v.dataVersion = r.u8('dataVersion');
  v.status = r.cstring('status', BMS_STATUS_MAX);
  r.finish('status');
  return r.result(v);
}

/**
 * Encodes a BMS_GET_VALUES reply as `variant` ('vesc' adds dataVersion and status).
 * Optional tail fields must be given up to the variant's end.
 */
export function encodeBmsValues(v: BmsValues, variant?: string): Uint8Array {
  var vesc = (variant === undefined ? v.variant : variant) === 'vesc';
  var n = v.cellsMv.length, t = v.tempsCentiC.length;
  if (v.balancing.length !== n) throw new Error('"balancing" expected ' + n + ' entries (one per cell), got ' + v.balancing.length);
  var w = new Writer(1 + 24 + 1 + n * 3 + 1 + t * 2 + 12 + 1 + 16 + 2 + 1 + BMS_STATUS_MAX + 1);
  w.u8(COMM.BMS_GET_VALUES, 'command');
  w.i32(v.vTotUv, 'vTotUv');
  w.i32(v.vChargeUv, 'vChargeUv');
  w.i32(v.iInUa, 'iInUa');
  w.i32(v.iInIcUa, 'iInIcUa');
  w.i32(v.ahCntMah, 'ahCntMah');
  w.i32(v.whCntMwh, 'whCntMwh');
  w.u8(n, 'cellNum');
  var i;
  for (i = 0; i < n; i++) w.i16(v.cellsMv[i], 'cellsMv');
  for (i = 0; i < n; i++) w.u8(v.balancing[i], 'balancing');
  w.u8(t, 'tempNum');
  for (i = 0; i < t; i++) w.i16(v.tempsCentiC[i], 'tempsCentiC');
  w.i16(v.tempIcCentiC, 'tempIcCentiC');
  w.i16(v.tempHumCentiC, 'tempHumCentiC');
  w.i16(v.humCentiPct, 'humCentiPct');
  w.i16(v.tempMaxCellCentiC, 'tempMaxCellCentiC');
  w.i16(v.socPermille, 'socPermille');
  w.i16(v.sohPermille, 'sohPermille');
  if (v.canId === undefined && !vesc) return w.done();
  w.u8(need(v.canId, 'canId'), 'canId');
  if (v.ahChgTotalMah === undefined && !vesc) return w.done();
  w.f32Milli(need(v.ahChgTotalMah, 'ahChgTotalMah'), 'ahChgTotalMah');
  w.f32Milli(need(v.whChgTotalMwh, 'whChgTotalMwh'), 'whChgTotalMwh');
  w.f32Milli(need(v.ahDisTotalMah, 'ahDisTotalMah'), 'ahDisTotalMah');
  w.f32Milli(need(v.whDisTotalMwh, 'whDisTotalMwh'), 'whDisTotalMwh');
  if (v.pressurePa === undefined && !vesc) return w.done();
  w.i16(quotTrunc(need(v.pressurePa, 'pressurePa'), 10), 'pressurePa');
  if (!vesc) return w.done();
  w.u8(v.dataVersion === undefined ? 0 : v.dataVersion, 'dataVersion');
  w.cstring(v.status === undefined ? '' : v.status, BMS_STATUS_MAX, 'status');
  return w.done();
}

function need(x: number | undefined, field: string): number {
  if (x === undefined) throw new Error('"' + field + '" is required by this variant');
  return x;
}

// ---------------------------------------------------------------------------------------
// COMM_FORWARD_CAN (34): [34, target CAN id, inner payload...]. The VESC sends the inner
// payload to the target over CAN; the target's reply comes back as a PLAIN inner reply
// payload, with no header saying who sent it (bldc commands.c L733-747).

export function encodeForwardCan(canId: number, inner: Uint8Array): Uint8Array {
  if (inner.length < 1) throw new Error('"inner" expected at least 1 byte (a command)');
  var w = new Writer(2 + inner.length);
  w.u8(COMM.FORWARD_CAN, 'command');
  w.u8(canId, 'canId');
  w.bytes(inner, 'inner');
  return w.done();
}

export function decodeForwardCan(payload: Uint8Array): Decoded<{ canId: number; inner: Uint8Array }> {
  var r = new Reader(payload);
  expect(r, COMM.FORWARD_CAN, 'FORWARD_CAN');
  var id = r.u8('canId');
  if (!r.error && r.remaining() < 1) r.fail(WIRE_ERR.TRUNCATED, 'inner', r.pos, 'no inner command to forward');
  return r.result({ canId: id, inner: r.error ? new Uint8Array(0) : copyBytes(payload, 2) });
}

// ---------------------------------------------------------------------------------------
// COMM_PING_CAN (62): request [62]; reply [62, id...] listing every controller id that
// answered a CAN PING within 10 ms (bldc commands.c L2355-2369).

export function encodePingCanRequest(): Uint8Array {
  return single(COMM.PING_CAN);
}

export function encodePingCanReply(ids: number[]): Uint8Array {
  var w = new Writer(1 + ids.length);
  w.u8(COMM.PING_CAN, 'command');
  for (var i = 0; i < ids.length; i++) w.u8(ids[i], 'ids');
  return w.done();
}

export function decodePingCanReply(payload: Uint8Array): Decoded<{ ids: number[] }> {
  var r = new Reader(payload);
  expect(r, COMM.PING_CAN, 'PING_CAN');
  var ids: number[] = [];
  while (!r.error && r.remaining() > 0) ids.push(r.u8('ids'));
  return r.result({ ids: ids });
}

// ---------------------------------------------------------------------------------------
// COMM_ALIVE (30): keeps motor commands alive (timeout 1000 ms by default); no reply.

export function encodeAlive(): Uint8Array {
  return single(COMM.ALIVE);
}

export function decodeAlive(payload: Uint8Array): Decoded<{ command: number }> {
  var r = new Reader(payload);
  expect(r, COMM.ALIVE, 'ALIVE');
  r.finish('alive');
  return r.result({ command: COMM.ALIVE });
}

// ---------------------------------------------------------------------------------------

/** Checks a request that is a bare command byte, e.g. [0], [62], [96]. */
export function decodeBareRequest(payload: Uint8Array, command: number, name: string): Decoded<{ command: number }> {
  var r = new Reader(payload);
  expect(r, command, name);
  r.finish(name);
  return r.result({ command: command });
}

/** An empty payload is never valid; named so callers can report it uniformly. */
export function emptyPayloadError<T>(): Decoded<T> {
  return failed<T>(wireError(WIRE_ERR.TRUNCATED, 'command', 0, 'empty payload'));
}
