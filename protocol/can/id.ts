// VESC CAN identifiers: 29-bit extended id = (CAN_PACKET_ID << 8) | controller id
// (bldc comm/comm_can.c L1586-1587; protocol/BUS.md §3).

/** A CAN frame as the drivers and the simulator pass it around. */
export interface CanFrame {
  /** 29-bit id when ext, 11-bit otherwise. */
  id: number;
  /** Extended (29-bit) id. VESC protocol frames are always extended. */
  ext: boolean;
  /** Remote transmission request (no data). Absent means false. */
  rtr?: boolean;
  /** 0..8 bytes. */
  data: Uint8Array;
}

/** Controller id 255 addresses every node (comm_can.c L1603-1605). */
export var CAN_BROADCAST_ID = 255;

export function composeId(packetId: number, controllerId: number): number {
  if (!(packetId >= 0 && packetId <= 255 && Math.floor(packetId) === packetId)) throw new Error('"packetId" expected integer in [0, 255], got ' + packetId);
  if (!(controllerId >= 0 && controllerId <= 255 && Math.floor(controllerId) === controllerId)) throw new Error('"controllerId" expected integer in [0, 255], got ' + controllerId);
  return packetId * 256 + controllerId;
}

/**
 * Splits an extended id into CAN_PACKET_ID and controller id. Bits 28..16 are not used by
 * the VESC protocol; an id with any of them set gives packetId -1 (not a VESC frame).
 */
export function splitId(id: number): { packetId: number; controllerId: number } {
  if (!(id >= 0 && id <= 0x1fffffff && Math.floor(id) === id)) throw new Error('"id" expected integer in [0, 0x1FFFFFFF], got ' + id);
  return { packetId: id > 0xffff ? -1 : id >> 8, controllerId: id & 0xff };
}

export function frame(packetId: number, controllerId: number, data: Uint8Array): CanFrame {
  if (data.length > 8) throw new Error('"data" expected at most 8 bytes, got ' + data.length);
  return { id: composeId(packetId, controllerId), ext: true, data: data };
}
