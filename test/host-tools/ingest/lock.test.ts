// One ingest node per database file: a node keeps chain heads in memory, so a second
// node on the same file would answer from a ledger the first one is changing under it.
// The lock is SQLite's own (an exclusive lock held by the open connection): the kernel
// drops it when the process dies, so a killed node never blocks its restart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { startIngestNode } from '../../../host-tools/ingest/node';
import { spawnIngestNode } from '../../../host-tools/ingest/child';
import { silentLogger } from '../../../host-tools/ingest/log';
import { openSqliteStore } from '../../../host-tools/ingest/sqlite';
import { device, getJson, register, tempDir } from './_fixtures';

const IN_USE = 'another ingest node (or another program) has it open: one node per database file; stop the other one first';

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

test('a second node on the same file is refused, naming the file; the first carries on', async () => {
  const tmp = tempDir();
  const db = path.join(tmp.dir, 'ledger.db');
  const first = await startIngestNode({ db, port: 0, workers: 1, logger: silentLogger });
  try {
    const err = await startIngestNode({ db, port: 0, workers: 1, logger: silentLogger }).then(
      (second) => second.close().then(() => undefined),
      (e: Error) => e,
    );
    assert.ok(err, 'the second node started');
    assert.is(err!.message, `cannot open ledger database ${db}: ${IN_USE}`);
    // Nor can a bare store (a script) open it behind the node's back.
    assert.throws(() => openSqliteStore(db), (e: Error) => e.message === `cannot open ledger database ${db}: ${IN_USE}`);
    assert.is((await register(first.url, device(70))).status, 201);
  } finally {
    await first.close();
  }
  // Closed: the file is free again, with what the first node wrote.
  const again = await startIngestNode({ db, port: 0, workers: 1, logger: silentLogger });
  try {
    assert.is((await getJson(`${again.url}/v1/devices/${device(70).id}`)).status, 200);
  } finally {
    await again.close();
    tmp.cleanup();
  }
});

test('across processes: the second `deep ingest` exits naming the file; after a SIGKILL of the first, a restart is not blocked', async () => {
  const tmp = tempDir();
  const db = path.join(tmp.dir, 'ledger.db');
  let { child } = await spawnIngestNode({ db, workers: 1 });
  try {
    const err = await spawnIngestNode({ db, workers: 1 }).then(
      (second) => { second.child.kill('SIGKILL'); return exited(second.child).then(() => undefined); },
      (e: Error) => e,
    );
    assert.ok(err, 'the second node started');
    assert.match(err!.message, /^deep ingest exited with 3: /);
    assert.ok(err!.message.includes(`deep ingest: cannot open ledger database ${db}: ${IN_USE}`), err!.message);
    child.kill('SIGKILL');
    await exited(child);
    // The dead process's lock went with it.
    let url: string;
    ({ child, url } = await spawnIngestNode({ db, workers: 1 }));
    assert.is((await getJson(`${url}/healthz`)).status, 200);
  } finally {
    child.kill('SIGKILL');
    await exited(child);
    tmp.cleanup();
  }
});

test.run();
