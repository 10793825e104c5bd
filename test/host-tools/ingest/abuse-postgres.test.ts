// The abuse suite (_abuse-suite.ts) on PostgreSQL: a server of its own (test/_postgres.ts), a
// fresh database per ledger. Skipped only on a machine without PostgreSQL outside CI.
import { postgresMissing, startPostgres, type TestPostgres } from '../../_postgres';
import { tempDir } from './_fixtures';
import { abuseSuite } from './_abuse-suite';

const missing = postgresMissing();
if (missing && !process.env.CI) {
  console.warn(`skipping the abuse suite on PostgreSQL: ${missing}`);
} else {
  const tmp = tempDir();
  let server: Promise<TestPostgres> | undefined;
  abuseSuite('abuse of a node on PostgreSQL', {
    dir: tmp.dir,
    async db() {
      server ??= startPostgres().then((s) => s!);
      return (await server).createDatabase();
    },
    async cleanup() {
      if (server) await (await server).stop();
      tmp.cleanup();
    },
  });
}
