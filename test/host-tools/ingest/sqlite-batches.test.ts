// The unbatched tail of the SQLite store (sqlite-batches.ts UnbatchedTail): what closing a
// batch reads must be what the database holds, whatever commits, rolls back or is batched,
// and across a restart (when the backlog is read from the database).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import path from 'node:path';
import { openSqliteStore, type SqliteStore } from '../../../host-tools/ingest/sqlite';
import { ByteSlab, UnbatchedTail } from '../../../host-tools/ingest/sqlite-batches';
import { planBatch } from '../../../host-tools/ledger/batch';
import type { StoredReport } from '../../../host-tools/ingest/store';
import { tempDir } from './_fixtures';

const DEVICES = ['00000000000000a1', '00000000000000a2', '00000000000000a3'];

function report(device: string, seq: number, synced: boolean): StoredReport {
  const b = (x: number) => new Uint8Array(32).fill(x & 255);
  return {
    deviceId: device, seq, hash: b(seq + 1), prev: b(seq), bytes: new Uint8Array([0xd2, seq & 255, device.charCodeAt(15)]), receivedAt: 1000 + seq,
    windowStart: synced ? 1_700_000_000 + seq * 60 : null, windowEnd: synced ? 1_700_000_060 + seq * 60 : null,
    flows: [10, 11].flatMap((pack) => [
      { pack, flow: 'grid_to_pack', unit: 'mWh', amount: seq * 3 + pack },
      { pack, flow: 'pack_to_grid', unit: 'mWh', amount: seq },
      { pack, flow: 'pack_to_motor', unit: 'mWh', amount: 7 * pack },
      { pack, flow: 'regen_to_pack', unit: 'mWh', amount: 2 },
      { pack, flow: 'charge', unit: 'mAh', amount: -seq },
    ]),
    faults: null,
  };
}

type Op = { kind: 'commit' | 'rollback'; reports: number[] } | { kind: 'batch'; size: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('commit' as const, 'rollback' as const), reports: fc.array(fc.nat({ max: 2 }), { minLength: 1, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('batch' as const), size: fc.integer({ min: 1, max: 20 }) }),
);

function snapshot(store: SqliteStore) {
  const u = store.batches.unbatched();
  return { u, leaves: store.batches.unbatchedLeaves(u.afterReport, 1_000_000) };
}

test('property: the in-memory unbatched tail answers what the database holds (commits, rollbacks, batches, restarts)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), fc.nat({ max: 24 }), async (ops, restartAt) => {
      const tmp = tempDir();
      const file = path.join(tmp.dir, 'ledger.db');
      let store = openSqliteStore(file);
      try {
        for (const id of DEVICES) store.transactionSync(() => store.insertDevice({ id, publicKey: new Uint8Array(32), registeredAt: 1 }));
        const next = [0, 0, 0];
        let t = 0;
        for (const [i, op] of ops.entries()) {
          if (i === restartAt) {
            // A restart: the backlog is then read from the database.
            const before = snapshot(store);
            store.close();
            store = openSqliteStore(file);
            assert.equal(snapshot(store), before, 'the same after a restart');
          }
          if (op.kind === 'batch') {
            const u = store.batches.unbatched();
            const rows = store.batches.unbatchedLeaves(u.afterReport, op.size);
            if (!rows.length) continue;
            const plan = planBatch(rows);
            store.transactionSync(() => store.batches.insert(plan, u.afterReport, rows[rows.length - 1].rowId, ++t));
            continue;
          }
          const seqs = next.slice();
          const run = store.transaction(async () => {
            for (const d of op.reports) await store.insertAccepted(report(DEVICES[d], seqs[d]++, d !== 2), ++t);
            if (op.kind === 'rollback') throw new Error('rolled back');
          });
          if (op.kind === 'commit') {
            await run;
            next.splice(0, 3, ...seqs);
          } else {
            await run.then(() => assert.unreachable('the transaction threw'), (e: Error) => assert.is(e.message, 'rolled back'));
          }
        }
        const inMemory = snapshot(store);
        store.close();
        store = openSqliteStore(file);
        // Freshly opened, every unbatched row comes from the database.
        assert.equal(snapshot(store), inMemory);
        const total = next.reduce((a, b) => a + b, 0);
        const batched = inMemory.u.afterReport === 0 ? 0 : total - inMemory.u.count;
        assert.ok(batched >= 0);
      } finally {
        store.close();
        tmp.cleanup();
      }
    }),
    { numRuns: 60 },
  );
});

test('a full tail lets go of its rows and answers only for what it still holds', () => {
  const leaf = (rowId: number) => ({ rowId, acceptedAt: rowId, device: 'd', seq: rowId, bytes: new Uint8Array(1), synced: false, startS: 0, durationS: 0, gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 0, regenToPackMwh: 0 });
  const tail = new UnbatchedTail(10, 3);
  for (let id = 11; id <= 13; id++) tail.push(leaf(id));
  assert.equal(tail.after(10)!.map((l) => l.rowId), [11, 12, 13]);
  // A fourth row overflows it: rows 11..13 are now the database's to answer.
  tail.push(leaf(14));
  assert.is(tail.after(10), undefined);
  assert.is(tail.after(12), undefined);
  assert.equal(tail.after(13)!.map((l) => l.rowId), [14]);
});

test('property: ByteSlab copies are equal to their source, independent of it and of each other', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 200 }), fc.integer({ min: 64, max: 4096 }), (inputs, size) => {
      const slab = new ByteSlab(size);
      const sources = inputs.map((b) => b.slice());
      const copies = sources.map((b) => slab.copy(b));
      // Overwriting the sources changes no copy.
      for (const b of sources) b.fill(0xee);
      assert.equal(copies.map((c) => Array.from(c)), inputs.map((b) => Array.from(b)));
      for (const [i, c] of copies.entries()) assert.ok(c.buffer !== sources[i].buffer);
    }),
    { numRuns: 200 },
  );
});

test.run();
