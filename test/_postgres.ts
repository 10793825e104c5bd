// A throwaway PostgreSQL server for the tests: initdb in a temp folder, one loopback port
// chosen free, torn down by stop() (and killed at process exit if a test forgot).
//
// Debian's postgresql package puts initdb and postgres under /usr/lib/postgresql/N/bin.
// initdb refuses to run as root, so as root the server runs as the `postgres` user (or
// `nobody`) in a folder that user owns. Where initdb is absent: CI fails with a clear
// message (.ci/run installs the package, so absence there is a broken setup); a developer
// machine skips the PostgreSQL tests and says so.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  /** postgres://… of the server's `postgres` database (superuser `deep`, trust on loopback). */
  url: string;
  /** A fresh empty database on the server, and its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

function findBin(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(path.join(base, v, 'bin', name))) return path.join(base, v, 'bin', name);
  return undefined;
}

function uidOf(user: string): { uid: number; gid: number } | undefined {
  try {
    return { uid: Number(execFileSync('id', ['-u', user]).toString()), gid: Number(execFileSync('id', ['-g', user]).toString()) };
  } catch {
    return undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresMissing(): string | undefined {
  if (!findBin('initdb') || !findBin('postgres')) return 'initdb/postgres not found (Debian: apt-get install postgresql)';
  return undefined;
}

/**
 * Starts a server, or returns undefined when initdb is absent and this is not CI (the
 * caller skips its PostgreSQL tests). Throws, with the server's log, when it cannot start.
 */
export async function startPostgres(): Promise<TestPostgres | undefined> {
  const missing = postgresMissing();
  if (missing) {
    if (process.env.CI) throw new Error(`PostgreSQL tests cannot run in CI: ${missing}; .ci/run should have installed it`);
    console.warn(`skipping PostgreSQL tests: ${missing}`);
    return undefined;
  }
  const initdb = findBin('initdb')!;
  const postgres = findBin('postgres')!;
  const root = mkdtempSync(path.join(tmpdir(), 'deep-pg-'));
  const data = path.join(root, 'data');
  const as = process.getuid?.() === 0 ? uidOf('postgres') ?? uidOf('nobody') : undefined;
  if (as) {
    chownSync(root, as.uid, as.gid);
    chmodSync(root, 0o700);
  }
  const ids = as ? { uid: as.uid, gid: as.gid } : {};
  try {
    execFileSync(initdb, ['-D', data, '-U', 'deep', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'], { ...ids, stdio: 'pipe' });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed in ${data}: ${e.stderr?.toString().trim() || e.message}`);
  }
  const port = await freePort();
  const log = path.join(root, 'server.log');
  // fsync stays on: the durability tests kill nodes, not the server, but the server is run
  // as an operator would run it. Unix socket in our own folder, TCP on loopback only.
  const child: ChildProcess = spawn(
    'sh',
    ['-c', `exec "$0" "$@" >>${JSON.stringify(log)} 2>&1`, postgres, '-D', data, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=60'],
    { ...ids, stdio: 'ignore' },
  );
  const kill = () => {
    try {
      child.kill('SIGQUIT');
    } catch {
      /* already gone */
    }
  };
  process.once('exit', kill);
  const url = `postgres://deep@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
      rmSync(root, { recursive: true, force: true });
      throw new Error(`PostgreSQL server exited with code ${child.exitCode} while starting:\n${text}`);
    }
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      break;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) {
        kill();
        throw new Error(`PostgreSQL server did not accept connections on port ${port} within 30 s (${(err as Error).message}):\n${readFileSync(log, 'utf8')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  let n = 0;
  return {
    url,
    async createDatabase() {
      const name = `t${process.pid}_${++n}`;
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return `postgres://deep@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      process.removeListener('exit', kill);
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        // SIGINT: fast shutdown (clients disconnected, no checkpoint wait beyond the final one).
        child.kill('SIGINT');
        await gone;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
