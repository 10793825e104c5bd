// A batch of accepted reports as it is committed to and anchored: leaves ordered by
// (device, seq) so each device's reports are one contiguous run, its RFC 9162 tree, and per
// device the seq range, the leaf index where the run starts, energy per flow summed over
// the run and the packs, and the reports that moved grid energy (settled on chain one by
// one, since each is valued at the prices of its own window). protocol/SPEC.md §6.
import { decodeSign1 } from '../../protocol/cose';
import { toHex } from '../../protocol/bytes';
import { CLOCK_SYNCED, decodeReport } from '../../protocol/report';
import { MerkleTree } from './merkle';

export interface BatchLeaf {
  /** kid, 16 lower-case hex digits. */
  device: string;
  seq: number;
  /** The report's COSE_Sign1 bytes exactly as the device sent them. */
  bytes: Uint8Array;
  /** Window start is UTC epoch seconds only when the device clock was synced. */
  synced: boolean;
  startS: number;
  durationS: number;
  gridToPackMwh: number;
  packToGridMwh: number;
  packToMotorMwh: number;
  regenToPackMwh: number;
}

export interface DevicePlan {
  device: string;
  firstSeq: number;
  lastSeq: number;
  /** Leaf index of firstSeq in the batch. */
  firstLeaf: number;
  gridToPackMwh: number;
  packToGridMwh: number;
  packToMotorMwh: number;
  regenToPackMwh: number;
  /** The run's reports with grid->pack or pack->grid energy, seq ascending. */
  grid: BatchLeaf[];
}

export interface BatchPlan {
  leaves: BatchLeaf[];
  tree: MerkleTree;
  root: Uint8Array;
  size: number;
  devices: DevicePlan[];
}

/** The batch facts of a verified report, from its bytes. */
export function leafOfReport(bytes: Uint8Array): BatchLeaf {
  const r = decodeReport(decodeSign1(bytes).payload);
  const sum = (k: 'gridToPackMwh' | 'packToGridMwh' | 'packToMotorMwh' | 'regenToPackMwh') => r.packs.reduce((n, p) => n + p[k], 0);
  return {
    device: toHex(r.kid),
    seq: r.seq,
    bytes,
    synced: r.clock === CLOCK_SYNCED,
    startS: r.startS,
    durationS: r.durationS,
    gridToPackMwh: sum('gridToPackMwh'),
    packToGridMwh: sum('packToGridMwh'),
    packToMotorMwh: sum('packToMotorMwh'),
    regenToPackMwh: sum('regenToPackMwh'),
  };
}

/** Leaves in batch order: device kid ascending (hex of equal length sorts as the bytes), then seq. */
export function compareLeaves(a: { device: string; seq: number }, b: { device: string; seq: number }): number {
  if (a.device !== b.device) return a.device < b.device ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * Orders the leaves and builds the tree and per-device runs. Throws if a device's reports
 * are not one run of consecutive seqs: a batch never holds a hole or a report twice.
 */
export function planBatch(input: readonly BatchLeaf[]): BatchPlan {
  if (!input.length) throw new RangeError('a batch needs at least one report');
  const leaves = input.slice().sort(compareLeaves);
  const devices: DevicePlan[] = [];
  leaves.forEach((l, i) => {
    let d = devices[devices.length - 1];
    if (!d || d.device !== l.device) {
      d = {
        device: l.device, firstSeq: l.seq, lastSeq: l.seq - 1, firstLeaf: i,
        gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 0, regenToPackMwh: 0, grid: [],
      };
      devices.push(d);
    }
    if (l.seq !== d.lastSeq + 1) {
      throw new RangeError(`device ${l.device}: seq ${l.seq} follows seq ${d.lastSeq} in the batch; a batch holds one run of consecutive seqs per device`);
    }
    d.lastSeq = l.seq;
    d.gridToPackMwh += l.gridToPackMwh;
    d.packToGridMwh += l.packToGridMwh;
    d.packToMotorMwh += l.packToMotorMwh;
    d.regenToPackMwh += l.regenToPackMwh;
    if (l.gridToPackMwh > 0 || l.packToGridMwh > 0) d.grid.push(l);
  });
  const tree = MerkleTree.fromLeaves(leaves.map((l) => l.bytes));
  return { leaves, tree, root: tree.root(), size: leaves.length, devices };
}
