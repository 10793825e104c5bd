// The abuse suite (_abuse-suite.ts) on SQLite files in a temp dir.
import path from 'node:path';
import { tempDir } from './_fixtures';
import { abuseSuite } from './_abuse-suite';

const tmp = tempDir();
abuseSuite('abuse of a node on SQLite', { dir: tmp.dir, db: async (name) => path.join(tmp.dir, `${name}.db`), cleanup: () => tmp.cleanup() });
