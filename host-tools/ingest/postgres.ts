// The PostgreSQL store: several ingest nodes on one database (`deep ingest --db postgres://…`).
//
// Same tables and meaning as the SQLite store (sqlite.ts), in PostgreSQL types. Durability:
// PostgreSQL's defaults (fsync on, synchronous_commit on) make COMMIT return only after the
// commit's WAL is flushed; the node answers a device only after COMMIT returned.
//
// Several nodes: the chain rules lock the rows of the devices a commit touches
// (lockHeads: SELECT … ORDER BY id FOR NO KEY UPDATE; NO KEY, so that other transactions'
// foreign-key checks against these rows are not blocked) and judge against what they read
// under that lock, so two nodes never both extend, or fork, one device's chain. UNIQUE (device_id, seq)
// stays as the last guard. Store calls made inside transaction(fn) run on fn's connection
// (AsyncLocalStorage), others on any connection of the pool.
//
// Not kept here: batches and anchoring (sqlite-batches.ts); a node on PostgreSQL does not
// anchor. The export cursor (GET /v1/export) is the report's row id, allocated when a node
// inserts, while rows become visible when their node commits: with several nodes a reader
// can see id 7 before id 6 commits, so a reader that must not miss rows re-reads a margin
// behind its cursor.
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import type { AcceptedRow, Awaitable, DeviceRecord, EnergyRow, FlowAmount, LockedHead, Store, StoredReport } from './store';
import { flowsOfPackRow, packColumnsOf, type PackRow } from './pack-columns';

/** Versioned schema migrations, as in sqlite.ts: never edit a released entry, append. */
export const PG_MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'devices, challenges, accepted and pending reports, per-pack energy, forks',
    sql: `
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        public_key BYTEA NOT NULL,
        registered_at BIGINT NOT NULL,
        revoked_at BIGINT,
        head_seq BIGINT NOT NULL DEFAULT -1,
        head_hash BYTEA,
        last_seen_at BIGINT,
        forks BIGINT NOT NULL DEFAULT 0,
        first_fork_seq BIGINT,
        faults TEXT
      );
      CREATE TABLE device_rejections (
        device_id TEXT NOT NULL REFERENCES devices(id),
        reason TEXT NOT NULL,
        count BIGINT NOT NULL,
        last_at BIGINT NOT NULL,
        PRIMARY KEY (device_id, reason)
      );
      CREATE TABLE challenges (
        nonce BYTEA PRIMARY KEY,
        expires_at BIGINT NOT NULL
      );
      CREATE TABLE reports (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices(id),
        seq BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        prev BYTEA NOT NULL,
        bytes BYTEA NOT NULL,
        received_at BIGINT NOT NULL,
        accepted_at BIGINT NOT NULL,
        window_start BIGINT,
        window_end BIGINT,
        faults TEXT,
        UNIQUE (device_id, seq)
      );
      CREATE TABLE report_packs (
        report_id BIGINT NOT NULL REFERENCES reports(id),
        pack INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        window_start BIGINT,
        grid_to_pack_mwh BIGINT NOT NULL,
        pack_to_grid_mwh BIGINT NOT NULL,
        pack_to_motor_mwh BIGINT NOT NULL,
        regen_to_pack_mwh BIGINT NOT NULL,
        charge_mah BIGINT NOT NULL,
        PRIMARY KEY (report_id, pack)
      );
      CREATE INDEX report_packs_time ON report_packs(device_id, window_start);
      CREATE TABLE pending (
        device_id TEXT NOT NULL REFERENCES devices(id),
        seq BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        prev BYTEA NOT NULL,
        bytes BYTEA NOT NULL,
        received_at BIGINT NOT NULL,
        window_start BIGINT,
        window_end BIGINT,
        flows TEXT NOT NULL,
        faults TEXT,
        PRIMARY KEY (device_id, seq)
      );
      CREATE TABLE forks (
        device_id TEXT NOT NULL REFERENCES devices(id),
        seq BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        bytes BYTEA NOT NULL,
        seen_at BIGINT NOT NULL,
        PRIMARY KEY (device_id, seq, hash)
      );
    `,
  },
];

// Every BIGINT here is an epoch millisecond, a seq, a count or a row id: all far below 2^53.
const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

type Row = Record<string, unknown>;

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the given postgres:// URL';
  }
}

export interface PostgresOptions {
  /** Connections of this node's pool (default 8). */
  maxConnections?: number;
}

export async function openPostgresStore(url: string, opts: PostgresOptions = {}): Promise<Store> {
  // A server that does not answer a connection attempt within 10 s fails the request (503,
  // the device resends) rather than holding the commit queue forever.
  const pool = new pg.Pool({ connectionString: url, max: opts.maxConnections ?? 8, types, connectionTimeoutMillis: 10_000, keepAlive: true });
  // An idle connection that fails (server restart) must not crash the node: the next query
  // gets a fresh connection, and a query that fails answers 503 through the caller.
  pool.on('error', () => undefined);
  let schemaVersion: number;
  try {
    schemaVersion = await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot open ledger database ${redact(url)}: ${(err as Error).message}`);
  }

  // The running transaction of this async context: its connection, and the accepted
  // reports inserted in it and not yet sent. Those go in one statement (a round trip and a
  // parse per commit, not per report) before the next query of the transaction or its
  // COMMIT, so every read inside the transaction still sees them.
  interface Tx {
    client: pg.PoolClient;
    accepted: { r: StoredReport; acceptedAt: number; packs: Map<number, Record<string, number>> }[];
  }
  const tx = new AsyncLocalStorage<Tx>();
  async function q(sql: string, params?: unknown[]): Promise<Row[]> {
    const t = tx.getStore();
    if (!t) return ((await pool.query({ text: sql, values: params })) as pg.QueryResult<Row>).rows;
    if (t.accepted.length) await insertAcceptedNow(t);
    return ((await t.client.query({ text: sql, values: params })) as pg.QueryResult<Row>).rows;
  }

  async function insertAcceptedNow(t: Tx): Promise<void> {
    const list = t.accepted;
    t.accepted = [];
    const r = { device: [] as string[], seq: [] as number[], hash: [] as Buffer[], prev: [] as Buffer[], bytes: [] as Buffer[], received: [] as number[], accepted: [] as number[], ws: [] as (number | null)[], we: [] as (number | null)[], faults: [] as (string | null)[] };
    const p = { device: [] as string[], seq: [] as number[], pack: [] as number[], a: [] as number[], b: [] as number[], c: [] as number[], d: [] as number[], e: [] as number[] };
    for (const { r: x, acceptedAt, packs } of list) {
      r.device.push(x.deviceId); r.seq.push(x.seq); r.hash.push(buf(x.hash)); r.prev.push(buf(x.prev)); r.bytes.push(buf(x.bytes));
      r.received.push(x.receivedAt); r.accepted.push(acceptedAt); r.ws.push(x.windowStart); r.we.push(x.windowEnd);
      r.faults.push(x.faults ? JSON.stringify(x.faults) : null);
      for (const [pack, cols] of packs) {
        p.device.push(x.deviceId); p.seq.push(x.seq); p.pack.push(pack);
        p.a.push(cols.grid_to_pack_mwh ?? 0); p.b.push(cols.pack_to_grid_mwh ?? 0); p.c.push(cols.pack_to_motor_mwh ?? 0); p.d.push(cols.regen_to_pack_mwh ?? 0); p.e.push(cols.charge_mah ?? 0);
      }
    }
    // Row ids follow the order of the arrays: the order the chain rules accepted them in.
    await t.client.query({
      text: `WITH r AS (
               INSERT INTO reports (device_id, seq, hash, prev, bytes, received_at, accepted_at, window_start, window_end, faults)
               SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::text[])
               RETURNING id, device_id, seq, window_start)
             INSERT INTO report_packs (report_id, pack, device_id, window_start, grid_to_pack_mwh, pack_to_grid_mwh, pack_to_motor_mwh, regen_to_pack_mwh, charge_mah)
             SELECT r.id, p.pack, r.device_id, r.window_start, p.a, p.b, p.c, p.d, p.e
             FROM unnest($11::text[], $12::bigint[], $13::int[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[]) AS p(device_id, seq, pack, a, b, c, d, e)
             JOIN r ON r.device_id = p.device_id AND r.seq = p.seq`,
      values: [r.device, r.seq, r.hash, r.prev, r.bytes, r.received, r.accepted, r.ws, r.we, r.faults, p.device, p.seq, p.pack, p.a, p.b, p.c, p.d, p.e],
    });
  }
  async function one(sql: string, params?: unknown[]): Promise<Row | undefined> {
    return (await q(sql, params))[0];
  }

  async function device(row: Row | undefined): Promise<DeviceRecord | undefined> {
    if (!row) return undefined;
    const rejections: Record<string, number> = {};
    for (const r of await q('SELECT reason, count FROM device_rejections WHERE device_id = $1', [row.id])) rejections[r.reason as string] = r.count as number;
    return {
      id: row.id as string,
      publicKey: u8(row.public_key as Buffer),
      registeredAt: row.registered_at as number,
      revokedAt: row.revoked_at as number | null,
      headSeq: row.head_seq as number,
      headHash: row.head_hash ? u8(row.head_hash as Buffer) : null,
      lastSeenAt: row.last_seen_at as number | null,
      forks: row.forks as number,
      firstForkSeq: row.first_fork_seq as number | null,
      faults: row.faults ? JSON.parse(row.faults as string) : null,
      rejections,
    };
  }

  /** Accepted rows with their flows, read in one query for the whole page. */
  async function accepted(rows: Row[], withFlows: boolean): Promise<AcceptedRow[]> {
    const flows = new Map<number, FlowAmount[]>();
    if (withFlows && rows.length) {
      for (const p of await q('SELECT * FROM report_packs WHERE report_id = ANY($1) ORDER BY report_id, pack', [rows.map((r) => r.id)])) {
        const id = p.report_id as number;
        flows.set(id, [...(flows.get(id) ?? []), ...flowsOfPackRow(p as unknown as PackRow)]);
      }
    }
    return rows.map((row) => ({
      flows: flows.get(row.id as number) ?? [],
      rowId: row.id as number,
      deviceId: row.device_id as string,
      seq: row.seq as number,
      hash: u8(row.hash as Buffer),
      prev: u8(row.prev as Buffer),
      bytes: u8(row.bytes as Buffer),
      receivedAt: row.received_at as number,
      acceptedAt: row.accepted_at as number,
      windowStart: row.window_start as number | null,
      windowEnd: row.window_end as number | null,
      faults: row.faults ? JSON.parse(row.faults as string) : null,
    }));
  }

  let open = true;
  const store: Store = {
    kind: 'postgres',
    shared: true,
    schemaVersion,
    async transaction<T>(fn: () => Awaitable<T>): Promise<T> {
      // A transaction inside a transaction joins it (its statements run on the same connection).
      if (tx.getStore()) return fn();
      const client = await pool.connect();
      let broken: unknown;
      try {
        await client.query('BEGIN');
        const t: Tx = { client, accepted: [] };
        const r = await tx.run(t, fn);
        if (t.accepted.length) await insertAcceptedNow(t);
        await client.query('COMMIT');
        return r;
      } catch (err) {
        broken = err;
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        // After a failure the connection may be in any state (a lost server, a statement
        // cut off): dropped, not reused.
        client.release(broken !== undefined);
      }
    },
    async lockHeads(ids: string[]): Promise<LockedHead[]> {
      const rows = await q(
        `SELECT id, public_key, revoked_at, head_seq, head_hash,
                EXISTS (SELECT 1 FROM pending p WHERE p.device_id = d.id) AS has_pending
         FROM devices d WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`,
        [ids],
      );
      return rows.map((r) => ({
        id: r.id as string,
        publicKey: u8(r.public_key as Buffer),
        revokedAt: r.revoked_at as number | null,
        seq: r.head_seq as number,
        hash: r.head_hash ? u8(r.head_hash as Buffer) : new Uint8Array(0),
        hasPending: r.has_pending as boolean,
      }));
    },
    async close() {
      if (!open) return;
      open = false;
      await pool.end();
    },
    async insertDevice(d) {
      await q('INSERT INTO devices (id, public_key, registered_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [d.id, buf(d.publicKey), d.registeredAt]);
    },
    getDevice: async (id) => device(await one('SELECT * FROM devices WHERE id = $1', [id])),
    async deviceState(id) {
      const r = await one('SELECT public_key, revoked_at, head_seq FROM devices WHERE id = $1', [id]);
      return r ? { publicKey: u8(r.public_key as Buffer), revokedAt: r.revoked_at as number | null, headSeq: r.head_seq as number } : undefined;
    },
    async headOf(id) {
      const r = await one('SELECT head_seq, head_hash FROM devices WHERE id = $1', [id]);
      return r ? { seq: r.head_seq as number, hash: r.head_hash ? u8(r.head_hash as Buffer) : new Uint8Array(0) } : undefined;
    },
    async hashAt(deviceId, seq) {
      const r = await one('SELECT hash FROM reports WHERE device_id = $1 AND seq = $2', [deviceId, seq]);
      return r ? u8(r.hash as Buffer) : undefined;
    },
    async listDevices() {
      const out: DeviceRecord[] = [];
      for (const r of await q('SELECT * FROM devices ORDER BY registered_at, id')) out.push((await device(r))!);
      return out;
    },
    activeKeys: async () => (await q('SELECT id, public_key FROM devices WHERE revoked_at IS NULL ORDER BY id')).map((r) => [r.id as string, u8(r.public_key as Buffer)]),
    activeDevices: async () => (await one('SELECT count(*) AS n FROM devices WHERE revoked_at IS NULL'))!.n as number,
    async revokeDevice(id, at) {
      await q('UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id]);
    },
    async setHead(id, seq, hash, lastSeenAt, faults) {
      await q('UPDATE devices SET head_seq = $1, head_hash = $2, last_seen_at = $3, faults = $4 WHERE id = $5', [seq, buf(hash), lastSeenAt, faults ? JSON.stringify(faults) : null, id]);
    },
    async touchDevice(id, at) {
      await q('UPDATE devices SET last_seen_at = greatest(coalesce(last_seen_at, 0), $1) WHERE id = $2', [at, id]);
    },
    async recordFork(id, seq, hash, bytes, at, keep) {
      const kept = await one('SELECT EXISTS (SELECT 1 FROM forks WHERE device_id = $1 AND seq = $2 AND hash = $3) AS kept', [id, seq, buf(hash)]);
      if (kept!.kept) return;
      if (((await one('SELECT count(*) AS n FROM forks WHERE device_id = $1', [id]))!.n as number) < keep) {
        await q('INSERT INTO forks (device_id, seq, hash, bytes, seen_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING', [id, seq, buf(hash), buf(bytes), at]);
      }
      await q('UPDATE devices SET forks = forks + 1, first_fork_seq = coalesce(first_fork_seq, $1) WHERE id = $2', [seq, id]);
    },
    forkEvidence: async (id) =>
      (await q('SELECT seq, hash, bytes, seen_at FROM forks WHERE device_id = $1 ORDER BY seen_at, seq, hash', [id])).map((r) => ({
        seq: r.seq as number,
        hash: u8(r.hash as Buffer),
        bytes: u8(r.bytes as Buffer),
        seenAt: r.seen_at as number,
      })),
    async countRejection(id, reason, at) {
      await q(
        `INSERT INTO device_rejections (device_id, reason, count, last_at) VALUES ($1, $2, 1, $3)
         ON CONFLICT (device_id, reason) DO UPDATE SET count = device_rejections.count + 1, last_at = excluded.last_at`,
        [id, reason, at],
      );
    },
    async insertChallenge(nonce, expiresAt) {
      await q('DELETE FROM challenges WHERE expires_at < $1', [Date.now()]);
      await q('INSERT INTO challenges (nonce, expires_at) VALUES ($1, $2)', [buf(nonce), expiresAt]);
    },
    async consumeChallenge(nonce, now) {
      // DELETE … RETURNING: of two nodes consuming one challenge, one gets the row.
      const row = await one('DELETE FROM challenges WHERE nonce = $1 RETURNING expires_at', [buf(nonce)]);
      if (!row) return 'unknown';
      return (row.expires_at as number) < now ? 'expired' : 'ok';
    },
    async getAccepted(deviceId, seq) {
      const row = await one('SELECT * FROM reports WHERE device_id = $1 AND seq = $2', [deviceId, seq]);
      return row ? (await accepted([row], true))[0] : undefined;
    },
    async insertAccepted(r: StoredReport, acceptedAt) {
      // A flow without a column fails here, at its report, not at the commit.
      const packs = packColumnsOf(r);
      const t = tx.getStore();
      if (t) t.accepted.push({ r, acceptedAt, packs });
      else await store.transaction(() => store.insertAccepted(r, acceptedAt));
    },
    async insertPending(r) {
      await q(
        `INSERT INTO pending (device_id, seq, hash, prev, bytes, received_at, window_start, window_end, flows, faults)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [r.deviceId, r.seq, buf(r.hash), buf(r.prev), buf(r.bytes), r.receivedAt, r.windowStart, r.windowEnd, JSON.stringify(r.flows), r.faults ? JSON.stringify(r.faults) : null],
      );
    },
    async getPending(deviceId, seq) {
      const row = await one('SELECT * FROM pending WHERE device_id = $1 AND seq = $2', [deviceId, seq]);
      if (!row) return undefined;
      return {
        deviceId: row.device_id as string,
        seq: row.seq as number,
        hash: u8(row.hash as Buffer),
        prev: u8(row.prev as Buffer),
        bytes: u8(row.bytes as Buffer),
        receivedAt: row.received_at as number,
        windowStart: row.window_start as number | null,
        windowEnd: row.window_end as number | null,
        flows: JSON.parse(row.flows as string),
        faults: row.faults ? JSON.parse(row.faults as string) : null,
      };
    },
    async deletePending(deviceId, seq) {
      await q('DELETE FROM pending WHERE device_id = $1 AND seq = $2', [deviceId, seq]);
    },
    async pendingSummary(deviceId) {
      const r = (await one('SELECT count(*) AS count, min(seq) AS min_seq, max(seq) AS max_seq, min(received_at) AS since FROM pending WHERE device_id = $1', [deviceId]))!;
      return { count: r.count as number, minSeq: r.min_seq as number | null, maxSeq: r.max_seq as number | null, since: r.since as number | null };
    },
    devicesWithPending: async () => (await q('SELECT DISTINCT device_id FROM pending ORDER BY device_id')).map((r) => r.device_id as string),
    listAccepted: async (deviceId, afterSeq, limit) => accepted(await q('SELECT * FROM reports WHERE device_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [deviceId, afterSeq, limit]), true),
    exportAccepted: async (afterRowId, limit) => accepted(await q('SELECT * FROM reports WHERE id > $1 ORDER BY id LIMIT $2', [afterRowId, limit]), false),
    async energy(deviceId, from, to, bucketS) {
      const out: EnergyRow[] = [];
      const rows = await q(
        `SELECT CASE WHEN window_start IS NULL THEN NULL ELSE window_start - (window_start % $1) END AS bucket, pack,
                sum(grid_to_pack_mwh)::bigint AS grid_to_pack_mwh, sum(pack_to_grid_mwh)::bigint AS pack_to_grid_mwh,
                sum(pack_to_motor_mwh)::bigint AS pack_to_motor_mwh, sum(regen_to_pack_mwh)::bigint AS regen_to_pack_mwh,
                sum(charge_mah)::bigint AS charge_mah, count(*) AS reports
         FROM report_packs
         WHERE device_id = $2 AND (window_start IS NULL OR (window_start >= $3 AND window_start < $4))
         GROUP BY bucket, pack ORDER BY bucket NULLS FIRST, pack`,
        [bucketS, deviceId, from, to],
      );
      for (const row of rows) {
        for (const f of flowsOfPackRow(row as unknown as PackRow)) out.push({ bucket: row.bucket as number | null, pack: f.pack, flow: f.flow, unit: f.unit, total: f.amount, reports: row.reports as number });
      }
      return out;
    },
  };
  return store;
}

/** Applies the migrations not yet applied; one node at a time (an advisory lock). */
async function migrate(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Any constant: the nodes of one database agree on it, other programs are unlikely to use it.
    await client.query('SELECT pg_advisory_xact_lock(7419245301)');
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const current = Number((await client.query('SELECT coalesce(max(version), 0) AS v FROM schema_migrations')).rows[0].v);
    const latest = PG_MIGRATIONS[PG_MIGRATIONS.length - 1].version;
    if (current > latest) throw new Error(`its schema version ${current} is newer than this node understands (${latest}); upgrade the node`);
    for (const m of PG_MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
    }
    await client.query('COMMIT');
    return latest;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
