// The VESC CAN buffer transfer, which carries a UART-style command payload (up to 512
// bytes) over 8-byte CAN frames (bldc comm/comm_can.c L422-505 send, L1642-1808 receive;
// protocol/BUS.md §3 "Multiple BMS"):
//   <= 6 bytes: one PROCESS_SHORT_BUFFER [sender, commandsSend, payload...]
//   longer:     FILL_RX_BUFFER [offset u8, 7 bytes] for offsets 0, 7, ... 252,
//               FILL_RX_BUFFER_LONG [offset u16, 6 bytes] from 259 on,
//               PROCESS_RX_BUFFER [sender, commandsSend, len u16, crc16 u16] (CRC-16/XMODEM).
// FILL frames carry no sender id: two nodes answering the same receiver at once would mix
// their bytes, so a requester asks one node at a time (see DualBms).
import { CAN_PACKET, WIRE_ERR } from '../vesc/enums';
import { crc16 } from '../vesc/crc16';
import { wireError, okValue, failed, type Decoded } from '../vesc/wire';
import { copyBytes } from '../bytes';
import { frame, type CanFrame } from './id';

/** bldc RX_BUFFER_SIZE = PACKET_MAX_PL_LEN. */
export var CAN_BUFFER_MAX = 512;

/** The frames that carry `payload` from `senderId` to `targetId`, in sending order. */
export function encodeCanBuffer(targetId: number, senderId: number, payload: Uint8Array, commandsSend: number, maxLength?: number): CanFrame[] {
  var max = maxLength === undefined ? CAN_BUFFER_MAX : maxLength;
  var len = payload.length;
  if (len < 1 || len > max) throw new Error('"payload" expected 1..' + max + ' bytes, got ' + len);
  if (!(senderId >= 0 && senderId <= 255)) throw new Error('"senderId" expected integer in [0, 255], got ' + senderId);
  if (!(commandsSend >= 0 && commandsSend <= 255)) throw new Error('"commandsSend" expected integer in [0, 255], got ' + commandsSend);
  var out: CanFrame[] = [];
  var d: Uint8Array;
  if (len <= 6) {
    d = new Uint8Array(2 + len);
    d[0] = senderId;
    d[1] = commandsSend;
    d.set(payload, 2);
    out.push(frame(CAN_PACKET.PROCESS_SHORT_BUFFER, targetId, d));
    return out;
  }
  var i, n;
  var endA = 0;
  // comm_can_send_buffer: 7-byte chunks while the offset fits a byte (last one at 252)
  for (i = 0; i < len && i <= 255; i += 7) {
    endA = i + 7;
    n = len - i < 7 ? len - i : 7;
    d = new Uint8Array(1 + n);
    d[0] = i;
    d.set(payload.subarray(i, i + n), 1);
    out.push(frame(CAN_PACKET.FILL_RX_BUFFER, targetId, d));
  }
  for (i = endA; i < len; i += 6) {
    n = len - i < 6 ? len - i : 6;
    d = new Uint8Array(2 + n);
    d[0] = i >> 8;
    d[1] = i & 0xff;
    d.set(payload.subarray(i, i + n), 2);
    out.push(frame(CAN_PACKET.FILL_RX_BUFFER_LONG, targetId, d));
  }
  var crc = crc16(payload);
  d = new Uint8Array(6);
  d[0] = senderId;
  d[1] = commandsSend;
  d[2] = len >> 8;
  d[3] = len & 0xff;
  d[4] = crc >> 8;
  d[5] = crc & 0xff;
  out.push(frame(CAN_PACKET.PROCESS_RX_BUFFER, targetId, d));
  return out;
}

export interface CanBufferMessage {
  senderId: number;
  commandsSend: number;
  /** A copy, the caller keeps it. */
  payload: Uint8Array;
  /** True when it came in a single PROCESS_SHORT_BUFFER. */
  short: boolean;
}

export interface CanBufferStats {
  fills: number;
  /** FILL frames that continued no transfer (a frame before them was lost, or a repeat). */
  ignored: number;
  completed: number;
  badCrc: number;
  /** PROCESS_RX_BUFFER whose length no slot had reached (frames lost). */
  missing: number;
  /** A PROCESS_RX_BUFFER repeated right after it completed its buffer: ignored. */
  duplicates: number;
}

/**
 * Reassembles buffers addressed to one receiver, the way the VESC does (comm_can.c
 * L1642-1760): `slots` buffers (3 in bldc); a FILL frame is taken by the slot whose next
 * expected offset equals the frame's offset, or starts slot 0 at offset 0; anything else is
 * ignored. So a repeated frame is harmless (its offset is no longer expected), a lost frame
 * stops its transfer, and PROCESS_RX_BUFFER then finds no slot of that length and reports
 * MISSING_FRAMES; the CRC catches the rest. Buffers are allocated once.
 */
export class CanBufferRx {
  readonly maxLength: number;
  readonly stats: CanBufferStats;
  private bufs: Uint8Array[];
  private next: number[];
  /** sender, commandsSend, length and CRC of the last completed buffer, to spot a repeat. */
  private lastDone: number;

  constructor(slots?: number, maxLength?: number) {
    var s = slots === undefined ? 3 : slots;
    var max = maxLength === undefined ? CAN_BUFFER_MAX : maxLength;
    if (!(s >= 1 && s <= 8 && Math.floor(s) === s)) throw new Error('"slots" expected integer in [1, 8], got ' + s);
    if (!(max >= 7 && max <= 65535 && Math.floor(max) === max)) throw new Error('"maxLength" expected integer in [7, 65535], got ' + max);
    this.maxLength = max;
    this.bufs = [];
    this.next = [];
    for (var i = 0; i < s; i++) {
      this.bufs.push(new Uint8Array(max));
      this.next.push(0);
    }
    this.lastDone = -1;
    this.stats = { fills: 0, ignored: 0, completed: 0, badCrc: 0, missing: 0, duplicates: 0 };
  }

  /** Drops every transfer in progress (after a timeout). */
  reset(): void {
    for (var i = 0; i < this.next.length; i++) this.next[i] = 0;
  }

  /**
   * Takes the data of a frame addressed to this receiver with CAN_PACKET_ID `packetId`.
   * Returns undefined when the frame was consumed without completing anything (or is not
   * a buffer frame), else the completed message or the reason it failed.
   */
  accept(packetId: number, data: Uint8Array): Decoded<CanBufferMessage> | undefined {
    var n = data.length;
    if (packetId === CAN_PACKET.FILL_RX_BUFFER || packetId === CAN_PACKET.FILL_RX_BUFFER_LONG) {
      // a new transfer is under way: a later PROCESS frame like the last one is not a repeat
      if (data.length > 1 && data[0] === 0 && packetId === CAN_PACKET.FILL_RX_BUFFER) this.lastDone = -1;
      var long = packetId === CAN_PACKET.FILL_RX_BUFFER_LONG;
      var h = long ? 2 : 1;
      if (n <= h) {
        this.stats.ignored++;
        return undefined;
      }
      var off = long ? (data[0] << 8) | data[1] : data[0];
      var slot = this.next.indexOf(off);
      if (slot < 0) {
        if (off !== 0) {
          this.stats.ignored++;
          return undefined;
        }
        slot = 0;
      }
      if (off + n - h > this.maxLength) {
        this.stats.ignored++;
        return undefined;
      }
      this.bufs[slot].set(data.subarray(h), off);
      this.next[slot] = off + n - h;
      this.stats.fills++;
      return undefined;
    }
    if (packetId === CAN_PACKET.PROCESS_SHORT_BUFFER) {
      if (n < 3) return failed<CanBufferMessage>(wireError(WIRE_ERR.TRUNCATED, 'dlc', n, 'PROCESS_SHORT_BUFFER needs sender, mode and at least 1 payload byte'));
      this.stats.completed++;
      return okValue({ senderId: data[0], commandsSend: data[1], payload: copyBytes(data, 2), short: true });
    }
    if (packetId !== CAN_PACKET.PROCESS_RX_BUFFER) return undefined;
    if (n !== 6) return failed<CanBufferMessage>(wireError(n < 6 ? WIRE_ERR.TRUNCATED : WIRE_ERR.TRAILING_BYTES, 'dlc', n, 'PROCESS_RX_BUFFER has 6 data bytes, got ' + n));
    var len = (data[2] << 8) | data[3];
    if (len > this.maxLength) {
      return failed<CanBufferMessage>(wireError(WIRE_ERR.TOO_LONG, 'length', 2, 'buffer length ' + len + ' exceeds ' + this.maxLength));
    }
    var s = this.next.indexOf(len);
    // sender, mode, length and CRC in one number below 2^48 (exact in a double)
    var key = ((data[0] * 256 + data[1]) * 65536 + len) * 65536 + ((data[4] << 8) | data[5]);
    if (s < 0 && key === this.lastDone) {
      this.stats.duplicates++;
      return undefined;
    }
    this.lastDone = -1;
    if (s < 0 || len === 0) {
      var got = 0;
      for (var k = 0; k < this.next.length; k++) if (this.next[k] > got) got = this.next[k];
      this.reset();
      this.stats.missing++;
      return failed<CanBufferMessage>(wireError(WIRE_ERR.MISSING_FRAMES, 'length', 2, 'buffer of ' + len + ' bytes announced, ' + got + ' received in sequence'));
    }
    this.next[s] = 0;
    var crc = (data[4] << 8) | data[5];
    var calc = crc16(this.bufs[s], 0, len);
    if (calc !== crc) {
      this.stats.badCrc++;
      return failed<CanBufferMessage>(wireError(WIRE_ERR.BAD_CRC, 'crc', 4, 'CRC 0x' + crc.toString(16) + ' announced, 0x' + calc.toString(16) + ' computed over ' + len + ' bytes'));
    }
    this.stats.completed++;
    this.lastDone = key;
    return okValue({ senderId: data[0], commandsSend: data[1], payload: copyBytes(this.bufs[s], 0, len), short: false });
  }
}
