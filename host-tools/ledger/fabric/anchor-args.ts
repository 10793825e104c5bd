// The arguments of the chaincode's AnchorBatch for a planned batch (host-tools/ledger/batch.ts):
// the same root, size and per-device seq ranges the EVM publisher anchors.
import type { BatchPlan } from '../batch';

export function anchorBatchArgs(batchId: number, plan: BatchPlan): [string, string, string, string] {
  const ranges = plan.devices.map((d) => ({ device: d.device, firstSeq: d.firstSeq, lastSeq: d.lastSeq }));
  return [String(batchId), Buffer.from(plan.root).toString('hex'), String(plan.size), JSON.stringify(ranges)];
}
