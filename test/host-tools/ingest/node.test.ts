// The ingest node suite (_node-suite.ts) on a SQLite file in a temp dir.
import path from 'node:path';
import { tempDir } from './_fixtures';
import { nodeSuite } from './_node-suite';

nodeSuite('ingest node on SQLite', async () => {
  const tmp = tempDir();
  return { db: path.join(tmp.dir, 'ledger.db'), cleanup: () => tmp.cleanup() };
});
