// A CAN bus at 500 kbit/s in virtual time. Nodes queue frames; the bus sends one at a time
// (lowest id first when several wait: arbitration), each taking its bit time, and hands
// every frame to every other node when it ends. Faults: error frames at a given rate
// (the frame is destroyed and retransmitted, every node's error counters move) and a
// broken bus (nothing passes for a while).
import type { VirtualClock } from './clock';
import type { Prng } from './prng';
import type { CanFrame } from '../../protocol/can/id';

/** Frames are the protocol's CanFrame (protocol/can/id.ts); `rtr` absent means a data frame. */
export type SimCanFrame = CanFrame;

export interface CanNode {
  /** A frame sent by another node completed at the current clock time. */
  onFrame(frame: SimCanFrame): void;
  /** An error frame destroyed a frame on the bus (`transmitter` tells if it was this node's). */
  onBusError?(transmitter: boolean): void;
  /** This node's frame was sent (or given up when `ok` is false). */
  onSent?(frame: SimCanFrame, ok: boolean): void;
  /** false: the node does not send (listen-only, bus-off, powered down). */
  canTransmit?(): boolean;
  /** true: the node wants every broadcast frame now (an MCP2515 that is receiving). */
  wantsBroadcasts?(): boolean;
}

interface Pending {
  frame: SimCanFrame;
  node: CanNode;
  seq: number;
}

export const CAN_BITRATE = 500_000;

/** Bits on the wire of a frame: fixed fields, data, and a typical 10 % of stuff bits. */
export function frameBits(f: SimCanFrame): number {
  const base = f.ext ? 67 : 47;
  const data = f.rtr === true ? 0 : f.data.length * 8;
  return Math.ceil((base + data) * 1.1) + 3; // + 3 bits of interframe space
}

export class CanBus {
  readonly nodes: CanNode[] = [];
  readonly faults = { errorRate: 0, brokenUntilUs: 0 };
  readonly stats = { frames: 0, errorFrames: 0 };
  private queue: Pending[] = [];
  private busy = false;
  private seq = 0;

  constructor(private readonly clock: VirtualClock, private readonly rng: Prng) {}

  attach(node: CanNode): void {
    this.nodes.push(node);
  }

  /**
   * Does any node need broadcast frames as frames right now? When none does (no MCP2515
   * receiving), status broadcasts skip the bus: the saving that makes day-long runs cheap.
   */
  hasBroadcastListeners(): boolean {
    for (const n of this.nodes) if (n.wantsBroadcasts && n.wantsBroadcasts()) return true;
    return false;
  }

  bitUs(): number {
    return 1_000_000 / CAN_BITRATE;
  }

  /** Queues a frame; it goes out when the bus is free and it wins arbitration. */
  send(node: CanNode, frame: SimCanFrame): void {
    if (frame.data.length > 8) throw new RangeError(`CAN frame data expected 0..8 bytes, got ${frame.data.length}`);
    this.queue.push({ frame, node, seq: this.seq++ });
    if (!this.busy) this.startNext();
  }

  /** Frames waiting to be sent. */
  pending(): number {
    return this.queue.length;
  }

  /** Removes a node's queued frames that match (an aborted transmission). */
  cancel(node: CanNode, match: (f: SimCanFrame) => boolean): void {
    this.queue = this.queue.filter((p) => !(p.node === node && match(p.frame)));
  }

  private startNext(): void {
    if (this.queue.length === 0) {
      this.busy = false;
      return;
    }
    // Arbitration: the lowest id wins (dominant 0 bits); equal ids go in queue order.
    let k = 0;
    for (let i = 1; i < this.queue.length; i++) {
      const a = this.queue[i];
      const b = this.queue[k];
      if (arbKey(a.frame) < arbKey(b.frame) || (arbKey(a.frame) === arbKey(b.frame) && a.seq < b.seq)) k = i;
    }
    const p = this.queue[k];
    this.busy = true;
    this.onWire = p;
    this.clock.after(frameBits(p.frame) * this.bitUs(), this.finishOnWire);
  }

  /** The frame on the wire; one bound callback instead of a closure per frame. */
  private onWire: Pending | undefined;
  private readonly finishOnWire = (): void => this.finish(this.onWire as Pending);

  private finish(p: Pending): void {
    const i = this.queue.indexOf(p);
    if (i < 0) return this.startNext(); // cancelled while on the wire: treat as aborted
    const broken = this.clock.nowUs < this.faults.brokenUntilUs;
    if (p.node.canTransmit && !p.node.canTransmit()) {
      this.queue.splice(i, 1);
      p.node.onSent?.(p.frame, false);
      return this.startNext();
    }
    if (broken) {
      // A shorted or open bus: the frame never completes; every transmitter's TEC climbs
      // to bus-off, so the frame is given up (its node is told) instead of retried forever.
      this.stats.errorFrames++;
      this.queue.splice(i, 1);
      for (const n of this.nodes) n.onBusError?.(n === p.node);
      p.node.onSent?.(p.frame, false);
      return this.startNext();
    }
    if (this.faults.errorRate > 0 && this.rng.chance(this.faults.errorRate)) {
      // An error frame: everybody sees it, the transmitter retries automatically.
      this.stats.errorFrames++;
      for (const n of this.nodes) n.onBusError?.(n === p.node);
      return this.startNext();
    }
    this.queue.splice(i, 1);
    this.stats.frames++;
    for (const n of this.nodes) if (n !== p.node) n.onFrame(p.frame);
    p.node.onSent?.(p.frame, true);
    this.startNext();
  }
}

function arbKey(f: SimCanFrame): number {
  // Standard ids arbitrate against the top 11 bits of extended ids and win ties (SRR/IDE).
  return f.ext ? f.id * 2 + 1 : f.id * 2 ** 19;
}
