// The ingest node suite (_node-suite.ts) on PostgreSQL: a server of its own (test/_postgres.ts),
// a fresh database. Skipped only on a machine without PostgreSQL outside CI: in CI a
// server that cannot start fails the suite.
import { postgresMissing, startPostgres } from '../../_postgres';
import { nodeSuite } from './_node-suite';

const missing = postgresMissing();
if (missing && !process.env.CI) {
  console.warn(`skipping the ingest node suite on PostgreSQL: ${missing}`);
} else {
  nodeSuite('ingest node on PostgreSQL', async () => {
    const server = (await startPostgres())!;
    return { db: await server.createDatabase(), cleanup: () => server.stop() };
  });
}
