// AnchorBatch: the EVM contract's batch bookkeeping (host-tools/ledger/evm/DeepLedger.sol):
// batches numbered 1, 2, ... without holes, per-device seq ranges that continue the
// device's anchored range exactly, ranges in ascending kid order adding up to the tree
// size; RFC 9162 inclusion proofs checked against the stored root. Anchorer role only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newLedger, NOW_S, ANCHORER, GRID, RIDER, refused } from './_ledger';
import { Ride, device } from '../../ingest/_fixtures';
import { makeIdentity } from '../../../../host-tools/ledger/fabric/identity';
import { anchorBatchArgs } from '../../../../host-tools/ledger/fabric/anchor-args';
import { leafOfReport, planBatch } from '../../../../host-tools/ledger/batch';
import { leafHash } from '../../../../host-tools/ledger/merkle';
import type { FabricIdentity } from '../../../../host-tools/ledger/fabric/identity';

const at = { timestampS: NOW_S };
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const rides = [device(31), device(32), device(33)].map((d) => new Ride(d));
const first = planBatch(rides.flatMap((r) => r.take(5)).map(leafOfReport));
const second = planBatch(rides.flatMap((r) => r.take(3 + (r.seq % 2))).map(leafOfReport));

test('anchors batches in order; every leaf\'s audit path verifies against the stored root', async () => {
  const ledger = await newLedger();
  const { result } = await ledger.submit(ANCHORER, 'AnchorBatch', anchorBatchArgs(1, first), at);
  assert.equal(JSON.parse(result).ranges.map((r: any) => [r.firstSeq, r.lastSeq]), [[0, 4], [0, 4], [0, 4]]);
  await ledger.submit(ANCHORER, 'AnchorBatch', anchorBatchArgs(2, second), at);
  const last = JSON.parse(await ledger.evaluate(RIDER, 'GetLastBatch', [], at));
  assert.is(last.last, 2);
  assert.is(last.batch.root, hex(second.root));
  for (let i = 0; i < first.size; i++) {
    const path = JSON.stringify(first.tree.auditPath(i).map(hex));
    assert.is(await ledger.evaluate(RIDER, 'VerifyInclusion', ['1', hex(leafHash(first.leaves[i].bytes)), String(i), path], at), 'true', `leaf ${i}`);
    // the same path for another index, or against another batch, does not verify
    assert.is(await ledger.evaluate(RIDER, 'VerifyInclusion', ['1', hex(leafHash(first.leaves[i].bytes)), String((i + 1) % first.size), path], at), 'false');
    assert.is(await ledger.evaluate(RIDER, 'VerifyInclusion', ['2', hex(leafHash(first.leaves[i].bytes)), String(i), path], at), 'false');
  }
  assert.is(await ledger.evaluate(RIDER, 'VerifyInclusion', ['9', '00'.repeat(32), '0', '[]'], at), 'false');
});

test('the EVM contract\'s refusals: order, duplicates, ranges, sizes', async () => {
  const ledger = await newLedger();
  const [id, root, size, ranges] = anchorBatchArgs(1, first);
  const r = JSON.parse(ranges);
  const anchor = (...a: string[]) => ledger.submit(ANCHORER, 'AnchorBatch', a, at);
  await refused(anchor('2', root, size, ranges), /BatchOutOfOrder: expected batch 1, got 2/);
  await refused(anchor(id, root, size, '[]'), /EmptyBatch/);
  await refused(anchor(id, root, '0', ranges), /EmptyBatch/);
  await refused(anchor(id, root, String(first.size + 1), ranges), /TreeSizeMismatch/);
  await refused(anchor(id, root, size, JSON.stringify([r[1], r[0], r[2]])), /DevicesNotSorted/);
  await refused(anchor(id, root, size, JSON.stringify([r[0], r[0], r[2]])), /DevicesNotSorted/);
  await refused(anchor(id, root, size, JSON.stringify([{ ...r[0], firstSeq: 1, lastSeq: 5 }, r[1], r[2]])), /SeqGap: device \w+ continues at seq 0/);
  await refused(anchor(id, root, size, JSON.stringify([{ ...r[0], firstSeq: 4, lastSeq: 3 }, r[1], r[2]])), /BadSeqRange/);
  await refused(anchor(id, 'AB'.repeat(32), size, ranges), /root: expected 32 bytes/);
  await refused(anchor(id, root, size, JSON.stringify([{ ...r[0], device: 'xyz' }])), /ranges\[0\]\.device/);
  await refused(anchor(id, root, size, 'not json'), /ranges: not JSON/);
  await anchor(id, root, size, ranges);
  await refused(anchor(id, root, size, ranges), /BatchAlreadyAnchored: batch 1, the last anchored is 1/);
  // batch 2 that starts again at an anchored seq, or leaves a hole
  const [, root2, size2, ranges2] = anchorBatchArgs(2, second);
  const r2 = JSON.parse(ranges2);
  await refused(anchor('2', root2, String(Number(size2) + 1), JSON.stringify([{ ...r2[0], firstSeq: 4 }, r2[1], r2[2]])), /SeqOverlap: device \w+ continues at seq 5, the batch starts at 4/);
  await refused(anchor('2', root2, String(Number(size2) - 1), JSON.stringify([{ ...r2[0], firstSeq: 6 }, r2[1], r2[2]])), /SeqGap: device \w+ continues at seq 5, the batch starts at 6/);
  // a device absent from a batch keeps its place
  await anchor('2', root2, String(second.devices[0].lastSeq - 4), JSON.stringify([r2[0]]));
  assert.is(JSON.parse(await ledger.evaluate(RIDER, 'GetLastBatch', [], at)).last, 2);
});

test('only the anchorer MSP with deep.role=anchorer anchors', async () => {
  const ledger = await newLedger();
  const args = anchorBatchArgs(1, first);
  const sameMspOtherRole: FabricIdentity = makeIdentity(ANCHORER.mspId, 'clerk', { 'deep.role': 'client' });
  const otherMspSameRole: FabricIdentity = makeIdentity('EvilMSP', 'ingest-node', { 'deep.role': 'anchorer' });
  await refused(ledger.submit(GRID, 'AnchorBatch', args, at), /NotAnchorer: the caller is of MSP GridMSP/);
  await refused(ledger.submit(otherMspSameRole, 'AnchorBatch', args, at), /NotAnchorer: the caller is of MSP EvilMSP/);
  await refused(ledger.submit(sameMspOtherRole, 'AnchorBatch', args, at), /NotAnchorer: the caller's certificate has deep.role="client"/);
  await ledger.submit(ANCHORER, 'AnchorBatch', args, at);
});

test.run();
