// VESC CAN messages: the controller's STATUS broadcasts and the BMS broadcasts, encoders
// and decoders (bldc comm/comm_can.c L1216-1274 and bms.c L70-352, L571-697; vesc_bms_fw
// comm_can.c L606-736; protocol/BUS.md §3). Units as in
// protocol/vesc/commands.ts; float32 fields (V, A, Ah, Wh) are converted once to
// mV, mA, mAh, mWh by rounding half away from zero (protocol/SPEC.md "Bus messages").
import { CAN_PACKET, WIRE_ERR } from '../vesc/enums';
import { Reader, Writer, quotTrunc, failed, wireError, type Decoded } from '../vesc/wire';
import { copyBytes } from '../bytes';
import { frame, splitId, type CanFrame } from './id';

export interface CanStatus { type: 'STATUS'; controllerId: number; erpm: number; currentMa: number; dutyPermille: number }
export interface CanStatus2 { type: 'STATUS_2'; controllerId: number; ampHoursUah: number; ampHoursChargedUah: number }
export interface CanStatus3 { type: 'STATUS_3'; controllerId: number; wattHoursUwh: number; wattHoursChargedUwh: number }
export interface CanStatus4 { type: 'STATUS_4'; controllerId: number; tempFetDeciC: number; tempMotorDeciC: number; currentInMa: number; pidPosCentiDeg: number }
export interface CanStatus5 { type: 'STATUS_5'; controllerId: number; tachometer: number; vInMv: number }
export interface CanStatus6 { type: 'STATUS_6'; controllerId: number; adc1Mv: number; adc2Mv: number; adc3Mv: number; ppmPermille: number }
export interface BmsVTot { type: 'BMS_V_TOT'; controllerId: number; vTotMv: number; vChargeMv: number }
export interface BmsI { type: 'BMS_I'; controllerId: number; iInMa: number; iInIcMa: number }
export interface BmsAhWh { type: 'BMS_AH_WH'; controllerId: number; ahCntMah: number; whCntMwh: number }
export interface BmsVCell { type: 'BMS_V_CELL'; controllerId: number; firstCell: number; cellNum: number; cellsMv: number[] }
export interface BmsBal { type: 'BMS_BAL'; controllerId: number; cellNum: number; balancing: number[] }
export interface BmsTemps { type: 'BMS_TEMPS'; controllerId: number; firstIndex: number; tempNum: number; tempsCentiC: number[] }
export interface BmsHum { type: 'BMS_HUM'; controllerId: number; tempHumCentiC: number; humCentiPct: number; tempIcCentiC: number; pressurePa?: number }
export interface BmsSocSohTempStat {
  type: 'BMS_SOC_SOH_TEMP_STAT'; controllerId: number;
  vCellMinMv: number; vCellMaxMv: number;
  /** The wire byte: SOC = socByte / 255. */
  socByte: number; sohByte: number;
  /** socByte * 1000 / 255 rounded half up (exact integer arithmetic). */
  socPermille: number; sohPermille: number;
  tempCellMaxC: number;
  charging: boolean; balancing: boolean; chargeAllowed: boolean;
  /** bit3, set by vesc_bms_fw; bldc leaves it 0. */
  chargeOk: boolean;
  /** bits 7..4 (bldc bms.c). */
  dataVersion: number;
}
export interface BmsAhWhTotal { type: 'BMS_AH_WH_CHG_TOTAL' | 'BMS_AH_WH_DIS_TOTAL'; controllerId: number; ahMah: number; whMwh: number }
export interface CanPing { type: 'PING'; controllerId: number; senderId: number }
export interface CanPong { type: 'PONG'; controllerId: number; responderId: number; hwType: number }
export interface CanFill { type: 'FILL_RX_BUFFER' | 'FILL_RX_BUFFER_LONG'; controllerId: number; offset: number; bytes: Uint8Array }
export interface CanProcessRx { type: 'PROCESS_RX_BUFFER'; controllerId: number; senderId: number; commandsSend: number; length: number; crc: number }
export interface CanProcessShort { type: 'PROCESS_SHORT_BUFFER'; controllerId: number; senderId: number; commandsSend: number; payload: Uint8Array }

export type CanMessage = CanStatus | CanStatus2 | CanStatus3 | CanStatus4 | CanStatus5 | CanStatus6 | BmsVTot | BmsI
  | BmsAhWh | BmsVCell | BmsBal | BmsTemps | BmsHum | BmsSocSohTempStat | BmsAhWhTotal | CanPing | CanPong
  | CanFill | CanProcessRx | CanProcessShort;

/** CAN_PACKET_ID -> message type name, for the ids decoded here. */
export var CAN_TYPE_NAMES: Record<number, string> = {};
(function () {
  var names = ['STATUS', 'STATUS_2', 'STATUS_3', 'STATUS_4', 'STATUS_5', 'STATUS_6', 'BMS_V_TOT', 'BMS_I', 'BMS_AH_WH',
    'BMS_V_CELL', 'BMS_BAL', 'BMS_TEMPS', 'BMS_HUM', 'BMS_SOC_SOH_TEMP_STAT', 'BMS_AH_WH_CHG_TOTAL', 'BMS_AH_WH_DIS_TOTAL',
    'PING', 'PONG', 'FILL_RX_BUFFER', 'FILL_RX_BUFFER_LONG', 'PROCESS_RX_BUFFER', 'PROCESS_SHORT_BUFFER'];
  var ids = CAN_PACKET as unknown as Record<string, number>;
  for (var i = 0; i < names.length; i++) CAN_TYPE_NAMES[ids[names[i]]] = names[i];
})();

/** Integer socByte * 1000 / 255, rounded half up. */
function byteToPermille(b: number): number {
  return Math.floor((b * 2000 + 255) / 510);
}

function exactLength(r: Reader, n: number, name: string): void {
  if (r.error) return;
  if (r.end < n) r.fail(WIRE_ERR.TRUNCATED, 'dlc', r.end, name + ' needs ' + n + ' data bytes, got ' + r.end);
  else if (r.end > n) r.fail(WIRE_ERR.TRAILING_BYTES, 'dlc', n, name + ' has ' + n + ' data bytes, got ' + r.end);
}

/** Decodes one VESC CAN frame from its 29-bit id and data. */
export function decodeCanFrame(id: number, data: Uint8Array): Decoded<CanMessage> {
  if (!(id >= 0 && id <= 0x1fffffff && Math.floor(id) === id)) {
    return failed<CanMessage>(wireError(WIRE_ERR.BAD_VALUE, 'id', 0, 'CAN id must be an integer in [0, 0x1FFFFFFF], got ' + id));
  }
  if (data.length > 8) return failed<CanMessage>(wireError(WIRE_ERR.TOO_LONG, 'dlc', 8, 'a CAN frame carries at most 8 data bytes, got ' + data.length));
  var s = splitId(id);
  var c = s.controllerId, p = s.packetId;
  var r = new Reader(data);
  var n = data.length;
  var m: CanMessage;
  var i;
  switch (p) {
    case CAN_PACKET.STATUS:
      exactLength(r, 8, 'STATUS');
      m = { type: 'STATUS', controllerId: c, erpm: r.i32('erpm'), currentMa: r.i16('current') * 100, dutyPermille: r.i16('duty') };
      break;
    case CAN_PACKET.STATUS_2:
      exactLength(r, 8, 'STATUS_2');
      m = { type: 'STATUS_2', controllerId: c, ampHoursUah: r.i32('ampHours') * 100, ampHoursChargedUah: r.i32('ampHoursCharged') * 100 };
      break;
    case CAN_PACKET.STATUS_3:
      exactLength(r, 8, 'STATUS_3');
      m = { type: 'STATUS_3', controllerId: c, wattHoursUwh: r.i32('wattHours') * 100, wattHoursChargedUwh: r.i32('wattHoursCharged') * 100 };
      break;
    case CAN_PACKET.STATUS_4:
      exactLength(r, 8, 'STATUS_4');
      m = { type: 'STATUS_4', controllerId: c, tempFetDeciC: r.i16('tempFet'), tempMotorDeciC: r.i16('tempMotor'), currentInMa: r.i16('currentIn') * 100, pidPosCentiDeg: r.i16('pidPos') * 2 };
      break;
    case CAN_PACKET.STATUS_5:
      exactLength(r, 8, 'STATUS_5');
      m = { type: 'STATUS_5', controllerId: c, tachometer: r.i32('tachometer'), vInMv: r.i16('vIn') * 100 };
      r.i16('reserved');
      break;
    case CAN_PACKET.STATUS_6:
      exactLength(r, 8, 'STATUS_6');
      m = { type: 'STATUS_6', controllerId: c, adc1Mv: r.i16('adc1'), adc2Mv: r.i16('adc2'), adc3Mv: r.i16('adc3'), ppmPermille: r.i16('ppm') };
      break;
    case CAN_PACKET.BMS_V_TOT:
      exactLength(r, 8, 'BMS_V_TOT');
      m = { type: 'BMS_V_TOT', controllerId: c, vTotMv: r.f32Milli('vTot'), vChargeMv: r.f32Milli('vCharge') };
      break;
    case CAN_PACKET.BMS_I:
      exactLength(r, 8, 'BMS_I');
      m = { type: 'BMS_I', controllerId: c, iInMa: r.f32Milli('iIn'), iInIcMa: r.f32Milli('iInIc') };
      break;
    case CAN_PACKET.BMS_AH_WH:
      exactLength(r, 8, 'BMS_AH_WH');
      m = { type: 'BMS_AH_WH', controllerId: c, ahCntMah: r.f32Milli('ahCnt'), whCntMwh: r.f32Milli('whCnt') };
      break;
    case CAN_PACKET.BMS_AH_WH_CHG_TOTAL:
    case CAN_PACKET.BMS_AH_WH_DIS_TOTAL:
      exactLength(r, 8, 'BMS_AH_WH_TOTAL');
      m = { type: p === CAN_PACKET.BMS_AH_WH_CHG_TOTAL ? 'BMS_AH_WH_CHG_TOTAL' : 'BMS_AH_WH_DIS_TOTAL', controllerId: c, ahMah: r.f32Milli('ah'), whMwh: r.f32Milli('wh') };
      break;
    case CAN_PACKET.BMS_V_CELL:
    case CAN_PACKET.BMS_TEMPS: {
      var cells = p === CAN_PACKET.BMS_V_CELL;
      var first = r.u8(cells ? 'firstCell' : 'firstIndex');
      var num = r.u8(cells ? 'cellNum' : 'tempNum');
      // 2 header bytes then 1..3 int16 values (bms.c sends at least one)
      if (!r.error && (n < 4 || n % 2 !== 0)) r.fail(n < 4 ? WIRE_ERR.TRUNCATED : WIRE_ERR.BAD_VALUE, 'dlc', n, 'expected 4, 6 or 8 data bytes, got ' + n);
      if (!r.error && first + (n - 2) / 2 > num) r.fail(WIRE_ERR.BAD_VALUE, 'firstCell', 0, 'values ' + first + '..' + (first + (n - 2) / 2 - 1) + ' exceed the count ' + num);
      var vals: number[] = [];
      while (!r.error && r.remaining() >= 2) vals.push(r.i16('values'));
      m = cells
        ? { type: 'BMS_V_CELL', controllerId: c, firstCell: first, cellNum: num, cellsMv: vals }
        : { type: 'BMS_TEMPS', controllerId: c, firstIndex: first, tempNum: num, tempsCentiC: vals };
      break;
    }
    case CAN_PACKET.BMS_BAL: {
      exactLength(r, 8, 'BMS_BAL');
      var cn = r.u8('cellNum');
      if (!r.error && cn > 56) r.fail(WIRE_ERR.BAD_VALUE, 'cellNum', 0, 'the bitmap holds 56 cells, got ' + cn);
      var bal: number[] = [];
      // bytes 1..7 = 56-bit bitmap, big-endian, bit i = cell i (bms.c L248-268)
      for (i = 0; !r.error && i < cn; i++) bal.push((data[7 - (i >> 3)] >> (i & 7)) & 1);
      m = { type: 'BMS_BAL', controllerId: c, cellNum: cn, balancing: bal };
      break;
    }
    case CAN_PACKET.BMS_HUM:
      if (n !== 6 && n !== 8) r.fail(n < 6 ? WIRE_ERR.TRUNCATED : WIRE_ERR.BAD_VALUE, 'dlc', n, 'BMS_HUM has 6 or 8 data bytes, got ' + n);
      m = { type: 'BMS_HUM', controllerId: c, tempHumCentiC: r.i16('tempHum'), humCentiPct: r.i16('hum'), tempIcCentiC: r.i16('tempIc') };
      // float16(pressure, 1e-1): 10 Pa steps; only when DLC = 8 (bms.c L291-305)
      if (n === 8) m.pressurePa = r.i16('pressure') * 10;
      break;
    case CAN_PACKET.BMS_SOC_SOH_TEMP_STAT: {
      exactLength(r, 8, 'BMS_SOC_SOH_TEMP_STAT');
      var vmin = r.i16('vCellMin'), vmax = r.i16('vCellMax'), soc = r.u8('soc'), soh = r.u8('soh'), tmax = r.i8('tCellMax'), st = r.u8('flags');
      m = {
        type: 'BMS_SOC_SOH_TEMP_STAT', controllerId: c, vCellMinMv: vmin, vCellMaxMv: vmax,
        socByte: soc, sohByte: soh, socPermille: byteToPermille(soc), sohPermille: byteToPermille(soh), tempCellMaxC: tmax,
        charging: (st & 1) !== 0, balancing: (st & 2) !== 0, chargeAllowed: (st & 4) !== 0, chargeOk: (st & 8) !== 0, dataVersion: st >> 4,
      };
      break;
    }
    case CAN_PACKET.PING:
      exactLength(r, 1, 'PING');
      m = { type: 'PING', controllerId: c, senderId: r.u8('senderId') };
      break;
    case CAN_PACKET.PONG:
      // older firmware answers with 1 byte: HW type VESC assumed (comm_can.c L1847-1856)
      if (n === 1 || n === 2) m = { type: 'PONG', controllerId: c, responderId: r.u8('responderId'), hwType: n === 2 ? r.u8('hwType') : 0 };
      else {
        r.fail(n === 0 ? WIRE_ERR.TRUNCATED : WIRE_ERR.TRAILING_BYTES, 'dlc', n, 'PONG has 1 or 2 data bytes, got ' + n);
        m = { type: 'PONG', controllerId: c, responderId: 0, hwType: 0 };
      }
      break;
    case CAN_PACKET.FILL_RX_BUFFER:
      if (n < 2) r.fail(WIRE_ERR.TRUNCATED, 'dlc', n, 'FILL_RX_BUFFER needs an offset and at least 1 byte');
      m = { type: 'FILL_RX_BUFFER', controllerId: c, offset: r.u8('offset'), bytes: r.error ? new Uint8Array(0) : copyBytes(data, 1) };
      break;
    case CAN_PACKET.FILL_RX_BUFFER_LONG:
      if (n < 3) r.fail(WIRE_ERR.TRUNCATED, 'dlc', n, 'FILL_RX_BUFFER_LONG needs an offset and at least 1 byte');
      m = { type: 'FILL_RX_BUFFER_LONG', controllerId: c, offset: r.u16('offset'), bytes: r.error ? new Uint8Array(0) : copyBytes(data, 2) };
      break;
    case CAN_PACKET.PROCESS_RX_BUFFER:
      exactLength(r, 6, 'PROCESS_RX_BUFFER');
      m = { type: 'PROCESS_RX_BUFFER', controllerId: c, senderId: r.u8('senderId'), commandsSend: r.u8('commandsSend'), length: r.u16('length'), crc: r.u16('crc') };
      break;
    case CAN_PACKET.PROCESS_SHORT_BUFFER:
      if (n < 3) r.fail(WIRE_ERR.TRUNCATED, 'dlc', n, 'PROCESS_SHORT_BUFFER needs sender, mode and at least 1 payload byte');
      m = { type: 'PROCESS_SHORT_BUFFER', controllerId: c, senderId: r.u8('senderId'), commandsSend: r.u8('commandsSend'), payload: r.error ? new Uint8Array(0) : copyBytes(data, 2) };
      break;
    default:
      return failed<CanMessage>(wireError(WIRE_ERR.WRONG_TYPE, 'id', 0, p < 0 ? 'id 0x' + id.toString(16) + ' is not a VESC id (bits 28..16 set)' : 'CAN packet id ' + p + ' is not decoded'));
  }
  return r.result(m);
}

function i16x(w: Writer, value: number, perStep: number, field: string): void {
  w.i16(quotTrunc(value, perStep), field);
}

function i32x(w: Writer, value: number, perStep: number, field: string): void {
  w.i32(quotTrunc(value, perStep), field);
}

/** Encodes a message (the same shape decodeCanFrame returns) into its frame. */
export function encodeCanMessage(m: CanMessage): CanFrame {
  var w = new Writer(8);
  var i;
  switch (m.type) {
    case 'STATUS': w.i32(m.erpm, 'erpm'); i16x(w, m.currentMa, 100, 'currentMa'); w.i16(m.dutyPermille, 'dutyPermille'); break;
    case 'STATUS_2': i32x(w, m.ampHoursUah, 100, 'ampHoursUah'); i32x(w, m.ampHoursChargedUah, 100, 'ampHoursChargedUah'); break;
    case 'STATUS_3': i32x(w, m.wattHoursUwh, 100, 'wattHoursUwh'); i32x(w, m.wattHoursChargedUwh, 100, 'wattHoursChargedUwh'); break;
    case 'STATUS_4':
      w.i16(m.tempFetDeciC, 'tempFetDeciC'); w.i16(m.tempMotorDeciC, 'tempMotorDeciC');
      i16x(w, m.currentInMa, 100, 'currentInMa'); i16x(w, m.pidPosCentiDeg, 2, 'pidPosCentiDeg');
      break;
    case 'STATUS_5': w.i32(m.tachometer, 'tachometer'); i16x(w, m.vInMv, 100, 'vInMv'); w.i16(0, 'reserved'); break;
    case 'STATUS_6': w.i16(m.adc1Mv, 'adc1Mv'); w.i16(m.adc2Mv, 'adc2Mv'); w.i16(m.adc3Mv, 'adc3Mv'); w.i16(m.ppmPermille, 'ppmPermille'); break;
    case 'BMS_V_TOT': w.f32Milli(m.vTotMv, 'vTotMv'); w.f32Milli(m.vChargeMv, 'vChargeMv'); break;
    case 'BMS_I': w.f32Milli(m.iInMa, 'iInMa'); w.f32Milli(m.iInIcMa, 'iInIcMa'); break;
    case 'BMS_AH_WH': w.f32Milli(m.ahCntMah, 'ahCntMah'); w.f32Milli(m.whCntMwh, 'whCntMwh'); break;
    case 'BMS_AH_WH_CHG_TOTAL':
    case 'BMS_AH_WH_DIS_TOTAL': w.f32Milli(m.ahMah, 'ahMah'); w.f32Milli(m.whMwh, 'whMwh'); break;
    case 'BMS_V_CELL':
    case 'BMS_TEMPS': {
      var vals = m.type === 'BMS_V_CELL' ? m.cellsMv : m.tempsCentiC;
      if (vals.length < 1 || vals.length > 3) throw new Error('"values" expected 1..3 per frame, got ' + vals.length);
      w.u8(m.type === 'BMS_V_CELL' ? m.firstCell : m.firstIndex, 'first');
      w.u8(m.type === 'BMS_V_CELL' ? m.cellNum : m.tempNum, 'num');
      for (i = 0; i < vals.length; i++) w.i16(vals[i], 'values');
      break;
    }
    case 'BMS_BAL': {
      if (m.balancing.length !== m.cellNum || m.cellNum > 56) throw new Error('"balancing" expected cellNum (<= 56) entries, got ' + m.balancing.length);
      w.u8(m.cellNum, 'cellNum');
      var bits = new Uint8Array(7);
      for (i = 0; i < m.cellNum; i++) if (m.balancing[i]) bits[6 - (i >> 3)] |= 1 << (i & 7);
      w.bytes(bits, 'balancing');
      break;
    }
    case 'BMS_HUM':
      w.i16(m.tempHumCentiC, 'tempHumCentiC'); w.i16(m.humCentiPct, 'humCentiPct'); w.i16(m.tempIcCentiC, 'tempIcCentiC');
      if (m.pressurePa !== undefined) i16x(w, m.pressurePa, 10, 'pressurePa');
      break;
    case 'BMS_SOC_SOH_TEMP_STAT':
      w.i16(m.vCellMinMv, 'vCellMinMv'); w.i16(m.vCellMaxMv, 'vCellMaxMv'); w.u8(m.socByte, 'socByte'); w.u8(m.sohByte, 'sohByte');
      w.i8(m.tempCellMaxC, 'tempCellMaxC');
      if (!(m.dataVersion >= 0 && m.dataVersion <= 15)) throw new Error('"dataVersion" expected integer in [0, 15], got ' + m.dataVersion);
      w.u8((m.charging ? 1 : 0) | (m.balancing ? 2 : 0) | (m.chargeAllowed ? 4 : 0) | (m.chargeOk ? 8 : 0) | (m.dataVersion << 4), 'flags');
      break;
    case 'PING': w.u8(m.senderId, 'senderId'); break;
    case 'PONG': w.u8(m.responderId, 'responderId'); w.u8(m.hwType, 'hwType'); break;
    case 'FILL_RX_BUFFER': w.u8(m.offset, 'offset'); w.bytes(m.bytes, 'bytes'); break;
    case 'FILL_RX_BUFFER_LONG': w.u16(m.offset, 'offset'); w.bytes(m.bytes, 'bytes'); break;
    case 'PROCESS_RX_BUFFER': w.u8(m.senderId, 'senderId'); w.u8(m.commandsSend, 'commandsSend'); w.u16(m.length, 'length'); w.u16(m.crc, 'crc'); break;
    case 'PROCESS_SHORT_BUFFER': w.u8(m.senderId, 'senderId'); w.u8(m.commandsSend, 'commandsSend'); w.bytes(m.payload, 'payload'); break;
    default: throw new Error('"type" is not a known CAN message: ' + (m as { type: string }).type);
  }
  var ids = CAN_PACKET as unknown as Record<string, number>;
  return frame(ids[m.type], m.controllerId, w.done());
}

/**
 * All the frames a BMS broadcasts per cycle for its values, in the order bms.c sends them
 * (V_TOT, I, AH_WH, V_CELL..., BAL, TEMPS..., HUM, SOC_SOH_TEMP_STAT, CHG_TOTAL, DIS_TOTAL).
 */
export function encodeBmsBroadcast(controllerId: number, b: {
  vTotMv: number; vChargeMv: number; iInMa: number; iInIcMa: number; ahCntMah: number; whCntMwh: number;
  cellsMv: number[]; balancing: number[]; tempsCentiC: number[]; tempHumCentiC: number; humCentiPct: number;
  tempIcCentiC: number; pressurePa?: number; vCellMinMv: number; vCellMaxMv: number; socByte: number; sohByte: number;
  tempCellMaxC: number; charging: boolean; balancingActive: boolean; chargeAllowed: boolean; chargeOk: boolean;
  dataVersion: number; ahChgTotalMah: number; whChgTotalMwh: number; ahDisTotalMah: number; whDisTotalMwh: number;
}): CanFrame[] {
  var c = controllerId;
  var out: CanFrame[] = [];
  out.push(encodeCanMessage({ type: 'BMS_V_TOT', controllerId: c, vTotMv: b.vTotMv, vChargeMv: b.vChargeMv }));
  out.push(encodeCanMessage({ type: 'BMS_I', controllerId: c, iInMa: b.iInMa, iInIcMa: b.iInIcMa }));
  out.push(encodeCanMessage({ type: 'BMS_AH_WH', controllerId: c, ahCntMah: b.ahCntMah, whCntMwh: b.whCntMwh }));
  var n = b.cellsMv.length, i;
  for (i = 0; i < n; i += 3) out.push(encodeCanMessage({ type: 'BMS_V_CELL', controllerId: c, firstCell: i, cellNum: n, cellsMv: b.cellsMv.slice(i, i + 3) }));
  out.push(encodeCanMessage({ type: 'BMS_BAL', controllerId: c, cellNum: n, balancing: b.balancing }));
  var t = b.tempsCentiC.length;
  for (i = 0; i < t; i += 3) out.push(encodeCanMessage({ type: 'BMS_TEMPS', controllerId: c, firstIndex: i, tempNum: t, tempsCentiC: b.tempsCentiC.slice(i, i + 3) }));
  out.push(encodeCanMessage({ type: 'BMS_HUM', controllerId: c, tempHumCentiC: b.tempHumCentiC, humCentiPct: b.humCentiPct, tempIcCentiC: b.tempIcCentiC, pressurePa: b.pressurePa === undefined ? 0 : b.pressurePa }));
  out.push(encodeCanMessage({
    type: 'BMS_SOC_SOH_TEMP_STAT', controllerId: c, vCellMinMv: b.vCellMinMv, vCellMaxMv: b.vCellMaxMv, socByte: b.socByte,
    sohByte: b.sohByte, socPermille: 0, sohPermille: 0, tempCellMaxC: b.tempCellMaxC, charging: b.charging,
    balancing: b.balancingActive, chargeAllowed: b.chargeAllowed, chargeOk: b.chargeOk, dataVersion: b.dataVersion,
  }));
  out.push(encodeCanMessage({ type: 'BMS_AH_WH_CHG_TOTAL', controllerId: c, ahMah: b.ahChgTotalMah, whMwh: b.whChgTotalMwh }));
  out.push(encodeCanMessage({ type: 'BMS_AH_WH_DIS_TOTAL', controllerId: c, ahMah: b.ahDisTotalMah, whMwh: b.whDisTotalMwh }));
  return out;
}

