// spawnIngestNode's own contract; the crash test covers a node that comes up, is killed
// and comes back on the same file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { spawnIngestNode } from '../../../host-tools/ingest/child';
import { tempDir } from './_fixtures';

test('bad options throw before anything is spawned', () => {
  assert.throws(() => spawnIngestNode({ db: '' }), /"db" expected a file path/);
  assert.throws(() => spawnIngestNode({ db: 'x.db', workers: 0 }), /"workers" expected integer >= 1, got 0/);
  assert.throws(() => spawnIngestNode({ db: 'x.db', workers: 1.5 }), /"workers" expected integer >= 1, got 1.5/);
});

test('a node that exits before it listens rejects, with its exit code and stderr', async () => {
  const tmp = tempDir();
  try {
    const db = path.join(tmp.dir, 'missing-dir', 'ledger.db');
    const err = await spawnIngestNode({ db }).then(() => undefined, (e: Error) => e);
    assert.ok(err, 'rejected');
    assert.match(err!.message, /^deep ingest exited with 3: /);
    assert.ok(err!.message.includes(`deep ingest: cannot open ledger database ${db}: the folder ${path.dirname(db)} does not exist`), err!.message);
  } finally {
    tmp.cleanup();
  }
});

test.run();
