import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeSign1 } from '../../../protocol/cose';
import { decodeReport } from '../../../protocol/report';
import { sha256Host } from '../../../host-tools/verify';
import { openSqliteStore } from '../../../host-tools/ingest/sqlite';
import { createIngest, type IngestOptions } from '../../../host-tools/ingest/ingest';
import { createMetrics } from '../../../host-tools/ingest/metrics';
import { silentLogger } from '../../../host-tools/ingest/log';
import { packVerdicts } from '../../../host-tools/ingest/verdicts';
import type { Pool } from '../../../host-tools/ingest/pool';
import { device, Ride, tempDir } from './_fixtures';

/**
 * A verify pool that answers at once with the reports' true verdicts, except for the
 * messages whose reports come from `held` devices: those wait until release().
 */
function fakePool(held: Set<string>, answered: Array<WeakRef<ArrayBuffer>> = []) {
  const waiting: Array<() => void> = [];
  const pool: Pool = {
    size: 1,
    run<T>(msg: Record<string, unknown>): Promise<T> {
      const items = msg.items as Uint8Array[];
      const answer = () => {
        const packed = packVerdicts(items.map((b) => ({ ok: true as const, report: decodeReport(decodeSign1(b).payload), hash: sha256Host(b), micros: 1 }))).packed;
        answered.push(new WeakRef(packed.bytes.buffer as ArrayBuffer));
        return packed as T;
      };
      const kid = Buffer.from(decodeSign1(items[0]).kid!).toString('hex');
      if (!held.has(kid)) return Promise.resolve(answer());
      return new Promise<T>((resolve) => waiting.push(() => resolve(answer())));
    },
    broadcast() {},
    inflight: () => waiting.length,
    close: async () => {},
  };
  return { pool, release: () => waiting.splice(0).forEach((f) => f()) };
}

interface IngestUnderTest {
  submit: (r: Uint8Array[]) => Promise<unknown>;
  slow: Ride;
  fast: Ride;
  release: () => void;
  commits: () => Promise<number>;
  /** The byte buffers of every verdict message the pool answered, weakly held. */
  answered: Array<WeakRef<ArrayBuffer>>;
}

async function withIngest(opts: Partial<IngestOptions>, fn: (x: IngestUnderTest) => Promise<void>) {
  const tmp = tempDir();
  const store = openSqliteStore(path.join(tmp.dir, 'ledger.db'));
  const slow = new Ride(device(41));
  const fast = new Ride(device(42));
  for (const r of [slow, fast]) store.transactionSync(() => store.insertDevice({ id: r.dev.id, publicKey: r.dev.publicKey, registeredAt: Date.now() }));
  const answered: Array<WeakRef<ArrayBuffer>> = [];
  const { pool, release } = fakePool(new Set([slow.dev.id]), answered);
  const metrics = createMetrics({ queueDepth: () => 0, openGaps: () => 0, devices: () => 2 });
  const ingest = createIngest({ store, pool, pairing: () => ({ ok: false, detail: 'no pairing here' }), logger: silentLogger, metrics, ...opts });
  const commits = async () => Number(/^deep_ingest_commits_total (\d+)/m.exec(await metrics.render())?.[1]);
  try {
    await fn({ submit: (r) => ingest.submit(r), slow, fast, release, commits, answered });
  } finally {
    release();
    await ingest.close();
    store.close();
    tmp.cleanup();
  }
}

const settled = async (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);

test('group commit: a verified report waits for those still verifying at most commitDelayMs while the node keeps up', async () => {
  await withIngest({ commitDelayMs: 1, backlogCommitDelayMs: 60_000, backlogReports: 50 }, async ({ submit, slow, fast, release }) => {
    // 10 reports in verification: below the backlog mark.
    const behind = submit(slow.take(10));
    const mine = submit(fast.take(1));
    assert.ok(await settled(mine, 5000), 'answered without waiting for the 10 still verifying');
    release();
    await behind;
  });
});

test('group commit: behind its load (backlogReports verifying), the node lets commits grow for backlogCommitDelayMs', async () => {
  await withIngest({ commitDelayMs: 1, backlogCommitDelayMs: 60_000, backlogReports: 50 }, async ({ submit, slow, fast, release, commits }) => {
    const behind = submit(slow.take(60));
    const mine = submit(fast.take(1));
    assert.not.ok(await settled(mine, 200), 'waits while 60 reports are still verifying');
    const before = await commits();
    release();
    await Promise.all([behind, mine]);
    assert.is((await commits()) - before, 1, 'the waiting report and the 60 in one commit');
  });
});

test('a chain head kept after a commit holds no verdict message: those buffers can be collected', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  await withIngest({ commitDelayMs: 1 }, async ({ submit, fast, answered }) => {
    for (let i = 0; i < 3; i++) await submit(fast.take(20));
    assert.is(answered.length, 3);
    // A WeakRef holds its target until the current job ends: collect on a later turn.
    await new Promise((r) => setTimeout(r, 50));
    gc();
    await new Promise((r) => setTimeout(r, 50));
    // The device's head (seq 59) stays in memory; without a copy of its own (keepHead) it
    // would keep the last message's buffer alive, and so would the store's reused bind arrays.
    assert.equal(answered.map((w) => w.deref() === undefined), [true, true, true]);
    // And the head still links: the next report is accepted.
    assert.equal(((await submit(fast.take(1))) as Array<{ status: string }>).map((a) => a.status), ['accepted']);
  });
});

test.run();
