// The embedded default store: one SQLite file through better-sqlite3.
// Durability: WAL journal with synchronous=FULL, so a transaction is on disk (the WAL is
// fsynced) before transaction() returns; the ingest node answers a device only after that
// (SQLite docs, "PRAGMA synchronous": FULL in WAL mode makes commits durable on power loss).
// Exclusive: the node holds the file's lock while it runs (openDatabase).
import { accessSync, constants as fsConstants, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { AcceptedRow, Awaitable, DeviceRecord, EnergyRow, FlowAmount, StoredReport, SyncStore } from './store';
import type { BatchStore } from './sqlite-batches';
import { BATCH_MIGRATION, ByteSlab, openBatchStore, UnbatchedTail } from './sqlite-batches';
import { flowsOfPackRow, PACK_COLUMN, type PackRow } from './pack-columns';
import { FLOWS } from './facts';

/** The pack-slot columns migration 3 added, p0_pack .. p3_charge_mah (migration 4 keeps them). */
const SLOT_COLUMNS_V3 = [0, 1, 2, 3].flatMap((k) =>
  ['pack', 'grid_to_pack_mwh', 'pack_to_grid_mwh', 'pack_to_motor_mwh', 'regen_to_pack_mwh', 'charge_mah'].map((c) => `p${k}_${c}`),
);

/**
 * Versioned schema migrations. Never edit an entry once released: append a new one.
 * The applied version is PRAGMA user_version, plus a row per migration for the audit trail.
 */
export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'devices, challenges, accepted and pending reports, per-pack energy, forks',
    sql: `
      CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        public_key BLOB NOT NULL,
        registered_at INTEGER NOT NULL,
        revoked_at INTEGER,
        head_seq INTEGER NOT NULL DEFAULT -1,
        head_hash BLOB,
        last_seen_at INTEGER,
        forks INTEGER NOT NULL DEFAULT 0,
        first_fork_seq INTEGER,
        faults TEXT
      ) STRICT;
      CREATE TABLE device_rejections (
        device_id TEXT NOT NULL REFERENCES devices(id),
        reason TEXT NOT NULL,
        count INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, reason)
      ) STRICT;
      CREATE TABLE challenges (
        nonce BLOB PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL REFERENCES devices(id),
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL,
        prev BLOB NOT NULL,
        bytes BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        accepted_at INTEGER NOT NULL,
        window_start INTEGER,
        window_end INTEGER,
        faults TEXT,
        UNIQUE (device_id, seq)
      ) STRICT;
      CREATE TABLE report_packs (
        report_id INTEGER NOT NULL REFERENCES reports(id),
        pack INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        window_start INTEGER,
        grid_to_pack_mwh INTEGER NOT NULL,
        pack_to_grid_mwh INTEGER NOT NULL,
        pack_to_motor_mwh INTEGER NOT NULL,
        regen_to_pack_mwh INTEGER NOT NULL,
        charge_mah INTEGER NOT NULL,
        PRIMARY KEY (report_id, pack)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX report_packs_time ON report_packs(device_id, window_start);
      CREATE TABLE pending (
        device_id TEXT NOT NULL REFERENCES devices(id),
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL,
        prev BLOB NOT NULL,
        bytes BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        window_start INTEGER,
        window_end INTEGER,
        flows TEXT NOT NULL,
        faults TEXT,
        PRIMARY KEY (device_id, seq)
      ) STRICT;
      CREATE TABLE forks (
        device_id TEXT NOT NULL REFERENCES devices(id),
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL,
        bytes BLOB NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (device_id, seq, hash)
      ) STRICT;
    `,
  },
  BATCH_MIGRATION,
  {
    version: 3,
    name: 'pack energies in the reports row (up to 4 pack slots), time index on reports; report_packs folded in',
    // An accepted report wrote six B-tree entries (its row, its (device, seq) key, and per
    // pack a report_packs row and a time-index entry). Under load the ones keyed by device
    // are written to a different page per device on every commit: that was most of the
    // commit's cost. The packs (1..4 per report, protocol/SPEC.md) now live in the report's
    // row, in slots 0..3 in pack order (NULL when the report has fewer), and one index
    // keyed by (device, window start) serves the energy queries: three entries per report.
    sql: `
      ${SLOT_COLUMNS_V3.map((c) => `ALTER TABLE reports ADD COLUMN ${c} INTEGER;`).join('\n      ')}
      ${[0, 1, 2, 3]
        .map(
          (k) => `WITH slotted AS (
        SELECT report_id, pack, grid_to_pack_mwh, pack_to_grid_mwh, pack_to_motor_mwh, regen_to_pack_mwh, charge_mah,
               row_number() OVER (PARTITION BY report_id ORDER BY pack) - 1 AS slot
        FROM report_packs
      )
      UPDATE reports SET p${k}_pack = s.pack, p${k}_grid_to_pack_mwh = s.grid_to_pack_mwh, p${k}_pack_to_grid_mwh = s.pack_to_grid_mwh,
        p${k}_pack_to_motor_mwh = s.pack_to_motor_mwh, p${k}_regen_to_pack_mwh = s.regen_to_pack_mwh, p${k}_charge_mah = s.charge_mah
      FROM slotted s WHERE s.report_id = reports.id AND s.slot = ${k};`,
        )
        .join('\n      ')}
      DROP INDEX report_packs_time;
      DROP TABLE report_packs;
      CREATE INDEX reports_time ON reports(device_id, window_start);
    `,
  },
  {
    version: 4,
    name: 'reports refer to their device by a number (devices.num), not by its 16-digit id',
    // The two indexes keyed by device, (device, seq) and (device, window start), take a
    // dirty page per device on every commit; with 16-character keys their entries were
    // several times an integer key's size, so pages filled and split sooner (measured: ~3 us
    // of main-thread CPU per report). The reports table is rebuilt with device_num; ids
    // stay, so batches keep their ranges.
    sql: `
      ALTER TABLE devices ADD COLUMN num INTEGER;
      UPDATE devices SET num = rowid;
      CREATE UNIQUE INDEX devices_num ON devices(num);
      CREATE TABLE reports_v4 (
        id INTEGER PRIMARY KEY,
        device_num INTEGER NOT NULL REFERENCES devices(num),
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL,
        prev BLOB NOT NULL,
        bytes BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        accepted_at INTEGER NOT NULL,
        window_start INTEGER,
        window_end INTEGER,
        faults TEXT,
        ${SLOT_COLUMNS_V3.map((c) => `${c} INTEGER`).join(',\n        ')},
        UNIQUE (device_num, seq)
      ) STRICT;
      INSERT INTO reports_v4 (id, device_num, seq, hash, prev, bytes, received_at, accepted_at, window_start, window_end, faults, ${SLOT_COLUMNS_V3.join(', ')})
        SELECT r.id, d.num, r.seq, r.hash, r.prev, r.bytes, r.received_at, r.accepted_at, r.window_start, r.window_end, r.faults, ${SLOT_COLUMNS_V3.map((c) => `r.${c}`).join(', ')}
        FROM reports r JOIN devices d ON d.id = r.device_id ORDER BY r.id;
      DROP TABLE reports;
      ALTER TABLE reports_v4 RENAME TO reports;
      CREATE INDEX reports_time ON reports(device_num, window_start);
    `,
  },
];

/** Pack slots of a reports row (migration 3): the pack id, then report_packs' columns. */
const PACK_SLOTS = 4;
const SLOT_FIELDS = ['pack', ...Object.values(PACK_COLUMN).map(([col]) => col)];
/** p0_pack, p0_grid_to_pack_mwh, ... p3_charge_mah: the order insertAccepted binds them. */
const SLOT_COLUMNS = Array.from({ length: PACK_SLOTS }, (_, k) => SLOT_FIELDS.map((f) => `p${k}_${f}`)).flat();
/** Flow name -> [its field in a slot (1.., after the pack id), unit]. */
const SLOT_OF_FLOW: Record<string, [number, string]> = Object.fromEntries(
  Object.entries(PACK_COLUMN).map(([flow, [col, unit]]) => [flow, [SLOT_FIELDS.indexOf(col), unit]]),
);
/** Slot fields of the four energy flows a batch leaf sums. */
const ENERGY_FIELDS = (['grid_to_pack', 'pack_to_grid', 'pack_to_motor', 'regen_to_pack'] as const).map((flow) => SLOT_OF_FLOW[flow][0]);

/** A reports row with its device's id (the row itself holds its number). */
const REPORT_COLUMNS = 'r.*, d.id AS device_id';

/** Values bound to one INSERT of an accepted report: the columns, then the pack slots. */
type Bound = number | string | Uint8Array | null;
const ROW_COLUMNS = 10;
/** Slot field j (1..) as a key of a decoded pack: the flow's key in facts.ts FLOWS, or the charge. */
const SLOT_PACK_KEYS = SLOT_FIELDS.slice(1).map((col) => {
  const flow = Object.keys(PACK_COLUMN).find((f) => PACK_COLUMN[f][0] === col)!;
  return flow === 'charge' ? ('chargeMah' as const) : FLOWS.find((x) => x[0] === flow)![1];
});
const ENERGY_KEYS = FLOWS.map((x) => x[1]);

/**
 * Writes a report's pack slots into `out` from ROW_COLUMNS on (PACK_SLOTS x SLOT_FIELDS
 * values, slots in pack order, NULL for the slots it has no pack for), its four energy
 * flows summed over the packs into `sums`, and returns how many packs it has. On every
 * accepted report: a decoded report's packs (ascending CAN ids, as the protocol requires)
 * are copied as they are; otherwise the slots are made from its flows.
 */
function slotsOf(r: StoredReport, out: Bound[], sums: number[]): number {
  const packs = r.packs;
  let ordered = !!packs && packs.length >= 1 && packs.length <= PACK_SLOTS;
  for (let k = 1; ordered && k < packs!.length; k++) ordered = packs![k].canId > packs![k - 1].canId;
  if (!ordered) return slotsOfFlows(r, out, sums);
  for (let j = 0; j < ENERGY_KEYS.length; j++) sums[j] = 0;
  for (let k = 0; k < PACK_SLOTS; k++) {
    const base = ROW_COLUMNS + k * SLOT_FIELDS.length;
    const p = packs![k];
    out[base] = p ? p.canId : null;
    for (let j = 0; j < SLOT_PACK_KEYS.length; j++) out[base + 1 + j] = p ? p[SLOT_PACK_KEYS[j]] : null;
    if (p) for (let j = 0; j < ENERGY_KEYS.length; j++) sums[j] += p[ENERGY_KEYS[j]];
  }
  return packs!.length;
}

/** slotsOf for a report known by its flows only (a pending one, read back from its row). */
function slotsOfFlows(r: StoredReport, out: Bound[], sums: number[]): number {
  const packs: number[] = [];
  for (const f of r.flows) {
    if (packs.indexOf(f.pack) < 0) {
      if (packs.length === PACK_SLOTS) throw new RangeError(`report ${r.deviceId}/${r.seq}: more than ${PACK_SLOTS} packs, a report has at most ${PACK_SLOTS}`);
      packs.push(f.pack);
    }
  }
  packs.sort((a, b) => a - b);
  for (let k = 0; k < PACK_SLOTS; k++) for (let j = 0; j < SLOT_FIELDS.length; j++) out[ROW_COLUMNS + k * SLOT_FIELDS.length + j] = k < packs.length ? (j === 0 ? packs[k] : 0) : null;
  for (const f of r.flows) {
    const slot = SLOT_OF_FLOW[f.flow];
    if (!slot || f.unit !== slot[1]) throw new TypeError(`flow ${JSON.stringify(f.flow)} in ${f.unit} has no column in the reports row`);
    out[ROW_COLUMNS + packs.indexOf(f.pack) * SLOT_FIELDS.length + slot[0]] = f.amount;
  }
  ENERGY_FIELDS.forEach((j, e) => {
    let sum = 0;
    for (let k = 0; k < packs.length; k++) sum += out[ROW_COLUMNS + k * SLOT_FIELDS.length + j] as number;
    sums[e] = sum;
  });
  return packs.length;
}

/** The packs of a reports row, as report_packs rows were. */
function packRowsOf(row: Record<string, unknown>): PackRow[] {
  const out: PackRow[] = [];
  for (let k = 0; k < PACK_SLOTS; k++) {
    const pack = row[`p${k}_pack`];
    if (pack === null || pack === undefined) break;
    const p = { pack } as Record<string, unknown>;
    for (const [col] of Object.values(PACK_COLUMN)) p[col] = row[`p${k}_${col}`];
    out.push(p as unknown as PackRow);
  }
  return out;
}

interface DeviceSqlRow {
  id: string;
  public_key: Buffer;
  registered_at: number;
  revoked_at: number | null;
  head_seq: number;
  head_hash: Buffer | null;
  last_seen_at: number | null;
  forks: number;
  first_fork_seq: number | null;
  faults: string | null;
}

interface ReportSqlRow {
  id: number;
  device_id: string;
  seq: number;
  hash: Buffer;
  prev: Buffer;
  bytes: Buffer;
  received_at: number;
  accepted_at: number;
  window_start: number | null;
  window_end: number | null;
  faults: string | null;
}


const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** A refusal of ours while opening (schema too new): its message is the reason as is. */
class OpenRefused extends Error {}

/**
 * Opens the file for this node alone, sets the durability pragmas and migrates the schema.
 *
 * One node per file: the node keeps chain heads and pending sets in memory, so a second
 * writer would make the two disagree. In EXCLUSIVE locking mode the connection keeps the
 * file's lock from its first access until it closes (SQLite docs, "PRAGMA locking_mode"),
 * so a second node (or any other program) gets SQLITE_BUSY at once (timeout 0). The lock
 * is an OS file lock: it dies with the process, so a killed node never blocks a restart.
 * Set before WAL mode, it also means no -shm shared memory is used.
 */
function openDatabase(file: string): Database.Database {
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    // A write transaction takes the exclusive lock now, not at the first report.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    // 64 MiB of page cache (negative = KiB): chain heads and indexes stay in memory.
    db.pragma('cache_size = -65536');
    migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** stat, or undefined when there is nothing to stat (ENOENT, ENOTDIR, EACCES...). */
function statOf(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/**
 * Why `file` could not be opened, in an operator's words. SQLite's messages ("unable to
 * open database file", "file is not a database") name neither the path nor the cause, so
 * the cause is read from the error code and, failing that, from the filesystem.
 */
function whyNotOpened(file: string, err: unknown): string {
  if (err instanceof OpenRefused) return err.message;
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return 'another ingest node (or another program) has it open: one node per database file; stop the other one first';
  }
  if (code === 'SQLITE_NOTADB') return 'it is not a SQLite database';
  if (code === 'SQLITE_CORRUPT') return `the database is corrupt (SQLite: ${message})`;
  if (code === 'SQLITE_FULL') return 'the disk is full';
  if (code === 'SQLITE_READONLY') return `it can only be read, and the node writes (SQLite: ${message})`;
  const abs = path.resolve(file);
  if (statOf(abs)?.isDirectory()) return 'it is a folder, not a file';
  const dir = path.dirname(abs);
  const dirStat = statOf(dir);
  if (!dirStat) {
    // The nearest ancestor that exists may be a file; otherwise the folder is missing.
    for (let up = path.dirname(dir); up !== path.dirname(up); up = path.dirname(up)) {
      const st = statOf(up);
      if (st) return st.isDirectory() ? `the folder ${dir} does not exist` : `${up} is a file, not a folder`;
    }
    return `the folder ${dir} does not exist`;
  }
  if (!dirStat.isDirectory()) return `${dir} is a file, not a folder`;
  const exists = statOf(abs) !== undefined;
  try {
    if (exists) accessSync(abs, fsConstants.R_OK | fsConstants.W_OK);
    else accessSync(dir, fsConstants.W_OK | fsConstants.X_OK);
  } catch {
    return exists ? 'no permission to read and write it' : `no permission to create a file in the folder ${dir}`;
  }
  return `SQLite: ${message}${typeof code === 'string' ? ` (${code})` : ''}`;
}

/**
 * The SQLite store: every method answers at once, so the batcher (batches.ts) can use it
 * synchronously; the ingest pipeline awaits it like any store (store.ts).
 */
export interface SqliteStore extends SyncStore {
  readonly kind: 'sqlite';
  readonly shared: false;
  readonly batches: BatchStore;
  /** One transaction at a time: a later one waits for the running one to commit. */
  transaction<T>(fn: () => Awaitable<T>): Promise<T>;
  /** A transaction that runs fn at once (fn must not await). */
  transactionSync<T>(fn: () => T): T;
}

export function openSqliteStore(file: string): SqliteStore {
  let db: Database.Database;
  try {
    db = openDatabase(file);
  } catch (err) {
    const abs = path.resolve(file);
    throw new Error(`cannot open ledger database ${abs === file ? file : `${file} (${abs})`}: ${whyNotOpened(file, err)}`);
  }

  const st = {
    // num: the next number (reports refer to the device by it, migration 4).
    insertDevice: db.prepare(
      'INSERT INTO devices (id, public_key, registered_at, num) VALUES (?, ?, ?, (SELECT coalesce(max(num), 0) + 1 FROM devices)) ON CONFLICT (id) DO NOTHING',
    ),
    deviceNum: db.prepare('SELECT num FROM devices WHERE id = ?'),
    getDevice: db.prepare('SELECT * FROM devices WHERE id = ?'),
    deviceState: db.prepare('SELECT public_key, revoked_at, head_seq FROM devices WHERE id = ?'),
    headOf: db.prepare('SELECT head_seq, head_hash FROM devices WHERE id = ?'),
    hashAt: db.prepare('SELECT hash FROM reports WHERE device_num = (SELECT num FROM devices WHERE id = ?) AND seq = ?'),
    listDevices: db.prepare('SELECT * FROM devices ORDER BY registered_at, id'),
    activeKeys: db.prepare('SELECT id, public_key FROM devices WHERE revoked_at IS NULL ORDER BY id'),
    activeDevices: db.prepare('SELECT count(*) AS n FROM devices WHERE revoked_at IS NULL'),
    rejections: db.prepare('SELECT reason, count FROM device_rejections WHERE device_id = ?'),
    revoke: db.prepare('UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    setHead: db.prepare('UPDATE devices SET head_seq = ?, head_hash = ?, last_seen_at = ?, faults = ? WHERE id = ?'),
    touch: db.prepare('UPDATE devices SET last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ?'),
    fork: db.prepare('INSERT OR IGNORE INTO forks (device_id, seq, hash, bytes, seen_at) VALUES (?, ?, ?, ?, ?)'),
    forkKept: db.prepare('SELECT EXISTS (SELECT 1 FROM forks WHERE device_id = ? AND seq = ? AND hash = ?) AS kept'),
    forksKept: db.prepare('SELECT count(*) AS n FROM forks WHERE device_id = ?'),
    forkEvidence: db.prepare('SELECT seq, hash, bytes, seen_at FROM forks WHERE device_id = ? ORDER BY seen_at, seq, hash'),
    forkCount: db.prepare('UPDATE devices SET forks = forks + 1, first_fork_seq = coalesce(first_fork_seq, ?) WHERE id = ?'),
    reject: db.prepare(
      `INSERT INTO device_rejections (device_id, reason, count, last_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (device_id, reason) DO UPDATE SET count = count + 1, last_at = excluded.last_at`,
    ),
    insChallenge: db.prepare('INSERT INTO challenges (nonce, expires_at) VALUES (?, ?)'),
    getChallenge: db.prepare('SELECT expires_at FROM challenges WHERE nonce = ?'),
    delChallenge: db.prepare('DELETE FROM challenges WHERE nonce = ?'),
    purgeChallenges: db.prepare('DELETE FROM challenges WHERE expires_at < ?'),
    getAccepted: db.prepare(`SELECT ${REPORT_COLUMNS} FROM devices d JOIN reports r ON r.device_num = d.num WHERE d.id = ? AND r.seq = ?`),
    // By pack count (0..4): the slots a report has no pack for are left NULL, not bound.
    insAccepted: Array.from({ length: PACK_SLOTS + 1 }, (_, n) => {
      const cols = SLOT_COLUMNS.slice(0, n * SLOT_FIELDS.length);
      return db.prepare(
        `INSERT INTO reports (device_num, seq, hash, prev, bytes, received_at, accepted_at, window_start, window_end, faults${cols.map((c) => `, ${c}`).join('')})
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?${cols.map(() => ', ?').join('')})`,
      );
    }),
    insPending: db.prepare(
      `INSERT INTO pending (device_id, seq, hash, prev, bytes, received_at, window_start, window_end, flows, faults)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getPending: db.prepare('SELECT * FROM pending WHERE device_id = ? AND seq = ?'),
    delPending: db.prepare('DELETE FROM pending WHERE device_id = ? AND seq = ?'),
    pendingSummary: db.prepare(
      'SELECT count(*) AS count, min(seq) AS min_seq, max(seq) AS max_seq, min(received_at) AS since FROM pending WHERE device_id = ?',
    ),
    devicesWithPending: db.prepare('SELECT DISTINCT device_id FROM pending ORDER BY device_id'),
    listAccepted: db.prepare(`SELECT ${REPORT_COLUMNS} FROM devices d JOIN reports r ON r.device_num = d.num WHERE d.id = ? AND r.seq > ? ORDER BY r.seq LIMIT ?`),
    exportAccepted: db.prepare(`SELECT ${REPORT_COLUMNS} FROM reports r JOIN devices d ON d.num = r.device_num WHERE r.id > ? ORDER BY r.id LIMIT ?`),
    // One pass over the device's rows per pack slot; a report counts once per pack.
    energy: db.prepare(
      `SELECT bucket, pack, sum(grid_to_pack_mwh) AS grid_to_pack_mwh, sum(pack_to_grid_mwh) AS pack_to_grid_mwh,
              sum(pack_to_motor_mwh) AS pack_to_motor_mwh, sum(regen_to_pack_mwh) AS regen_to_pack_mwh,
              sum(charge_mah) AS charge_mah, count(*) AS reports
       FROM (${[0, 1, 2, 3]
         .map(
           (k) => `SELECT CASE WHEN window_start IS NULL THEN NULL ELSE window_start - (window_start % :bucket) END AS bucket, p${k}_pack AS pack,
                  p${k}_grid_to_pack_mwh AS grid_to_pack_mwh, p${k}_pack_to_grid_mwh AS pack_to_grid_mwh, p${k}_pack_to_motor_mwh AS pack_to_motor_mwh,
                  p${k}_regen_to_pack_mwh AS regen_to_pack_mwh, p${k}_charge_mah AS charge_mah
           FROM reports WHERE device_num = (SELECT num FROM devices WHERE id = :device) AND (window_start IS NULL OR (window_start >= :from AND window_start < :to)) AND p${k}_pack IS NOT NULL`,
         )
         .join(' UNION ALL ')})
       GROUP BY bucket, pack ORDER BY bucket, pack`,
    ),
  };

  function device(row: DeviceSqlRow | undefined): DeviceRecord | undefined {
    if (!row) return undefined;
    const rejections: Record<string, number> = {};
    for (const r of st.rejections.all(row.id) as { reason: string; count: number }[]) rejections[r.reason] = r.count;
    return {
      id: row.id,
      publicKey: u8(row.public_key),
      registeredAt: row.registered_at,
      revokedAt: row.revoked_at,
      headSeq: row.head_seq,
      headHash: row.head_hash ? u8(row.head_hash) : null,
      lastSeenAt: row.last_seen_at,
      forks: row.forks,
      firstForkSeq: row.first_fork_seq,
      faults: row.faults ? JSON.parse(row.faults) : null,
      rejections,
    };
  }

  function accepted(row: ReportSqlRow): AcceptedRow {
    let flows: FlowAmount[] | undefined;
    return {
      // Made when asked for: the export reads many rows and never these.
      get flows(): FlowAmount[] {
        return (flows ??= packRowsOf(row as unknown as Record<string, unknown>).flatMap(flowsOfPackRow));
      },
      rowId: row.id,
      deviceId: row.device_id,
      seq: row.seq,
      hash: u8(row.hash),
      prev: u8(row.prev),
      bytes: u8(row.bytes),
      receivedAt: row.received_at,
      acceptedAt: row.accepted_at,
      windowStart: row.window_start,
      windowEnd: row.window_end,
      faults: row.faults ? JSON.parse(row.faults) : null,
    };
  }

  const insertRow: Bound[] = new Array(ROW_COLUMNS + SLOT_COLUMNS.length).fill(null);
  // The values bound for a report of n packs: insertRow's first ROW_COLUMNS + n slots.
  const insertValues: Bound[][] = Array.from({ length: PACK_SLOTS + 1 }, (_, n) => new Array(ROW_COLUMNS + n * SLOT_FIELDS.length).fill(null));
  const insertSums = [0, 0, 0, 0];
  // Device numbers by id, as committed (cleared when a transaction rolls back: a number read
  // inside it may belong to a device that is gone with it). Bounded: cleared when full.
  const nums = new Map<string, number>();
  const numOf = (id: string): number => {
    let n = nums.get(id);
    if (n === undefined) {
      const row = st.deviceNum.get(id) as { num: number } | undefined;
      if (!row) throw new Error(`report of device ${id}: no such device in this ledger`);
      if (nums.size >= 1_000_000) nums.clear();
      nums.set(id, (n = row.num));
    }
    return n;
  };
  const tailBytes = new ByteSlab();
  const unbatched = new UnbatchedTail((db.prepare('SELECT coalesce(max(id), 0) AS id FROM reports').get() as { id: number }).id);
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  // The running transaction (settled): the next one starts after it. The store's methods
  // answer at once, so fn's awaits are microtask turns, yet other callers' microtasks can
  // run in between: their transactions must wait, or they would nest in this one.
  let tail: Promise<unknown> = Promise.resolve();
  let open = true;
  return {
    kind: 'sqlite',
    shared: false,
    schemaVersion: db.pragma('user_version', { simple: true }) as number,
    batches: openBatchStore(db, unbatched),
    transaction<T>(fn: () => Awaitable<T>): Promise<T> {
      const run = async (): Promise<T> => {
        begin.run();
        unbatched.begin();
        try {
          const r = await fn();
          // synchronous=FULL: the WAL is fsynced before COMMIT returns.
          commit.run();
          unbatched.commit();
          return r;
        } catch (err) {
          if (db.inTransaction) rollback.run();
          unbatched.rollback();
          nums.clear();
          throw err;
        }
      };
      const p = tail.then(run, run);
      tail = p.catch(() => undefined);
      return p;
    },
    transactionSync<T>(fn: () => T): T {
      unbatched.begin();
      try {
        const r = db.transaction(fn)();
        unbatched.commit();
        return r;
      } catch (err) {
        unbatched.rollback();
        nums.clear();
        throw err;
      }
    },
    close() {
      if (!open) return;
      open = false;
      db.close();
    },
    insertDevice(d) {
      st.insertDevice.run(d.id, d.publicKey, d.registeredAt);
    },
    getDevice: (id) => device(st.getDevice.get(id) as DeviceSqlRow | undefined),
    deviceState(id) {
      const r = st.deviceState.get(id) as { public_key: Buffer; revoked_at: number | null; head_seq: number } | undefined;
      return r ? { publicKey: u8(r.public_key), revokedAt: r.revoked_at, headSeq: r.head_seq } : undefined;
    },
    headOf(id) {
      const r = st.headOf.get(id) as { head_seq: number; head_hash: Buffer | null } | undefined;
      return r ? { seq: r.head_seq, hash: r.head_hash ? u8(r.head_hash) : new Uint8Array(0) } : undefined;
    },
    hashAt(deviceId, seq) {
      const r = st.hashAt.get(deviceId, seq) as { hash: Buffer } | undefined;
      return r ? u8(r.hash) : undefined;
    },
    listDevices: () => (st.listDevices.all() as DeviceSqlRow[]).map((r) => device(r)!),
    activeKeys: () => (st.activeKeys.all() as { id: string; public_key: Buffer }[]).map((r) => [r.id, u8(r.public_key)]),
    activeDevices: () => (st.activeDevices.get() as { n: number }).n,
    revokeDevice(id, at) {
      st.revoke.run(at, id);
    },
    setHead(id, seq, hash, lastSeenAt, faults) {
      st.setHead.run(seq, hash, lastSeenAt, faults ? JSON.stringify(faults) : null, id);
    },
    touchDevice(id, at) {
      st.touch.run(at, id);
    },
    recordFork(id, seq, hash, bytes, at, keep) {
      if ((st.forkKept.get(id, seq, hash) as { kept: number }).kept) return;
      if ((st.forksKept.get(id) as { n: number }).n < keep) st.fork.run(id, seq, hash, bytes, at);
      st.forkCount.run(seq, id);
    },
    forkEvidence: (id) =>
      (st.forkEvidence.all(id) as { seq: number; hash: Buffer; bytes: Buffer; seen_at: number }[]).map((r) => ({ seq: r.seq, hash: u8(r.hash), bytes: u8(r.bytes), seenAt: r.seen_at })),
    countRejection(id, reason, at) {
      st.reject.run(id, reason, at);
    },
    insertChallenge(nonce, expiresAt) {
      st.purgeChallenges.run(Date.now());
      st.insChallenge.run(nonce, expiresAt);
    },
    consumeChallenge(nonce, now) {
      const row = st.getChallenge.get(nonce) as { expires_at: number } | undefined;
      if (!row) return 'unknown';
      st.delChallenge.run(nonce);
      return row.expires_at < now ? 'expired' : 'ok';
    },
    getAccepted(deviceId, seq) {
      const row = st.getAccepted.get(deviceId, seq) as ReportSqlRow | undefined;
      return row ? accepted(row) : undefined;
    },
    insertAccepted(r, acceptedAt) {
      // Bound at once by run(): the same arrays serve every insert.
      const v = insertRow;
      v[0] = numOf(r.deviceId);
      v[1] = r.seq;
      v[2] = r.hash;
      v[3] = r.prev;
      v[4] = r.bytes;
      v[5] = r.receivedAt;
      v[6] = acceptedAt;
      v[7] = r.windowStart;
      v[8] = r.windowEnd;
      v[9] = r.faults ? JSON.stringify(r.faults) : null;
      const n = slotsOf(r, v, insertSums);
      const bound = insertValues[n];
      for (let i = 0; i < bound.length; i++) bound[i] = v[i];
      const id = Number(st.insAccepted[n].run(bound).lastInsertRowid);
      // The arrays outlive the insert: they must not keep the report's message buffers.
      v[2] = v[3] = v[4] = bound[2] = bound[3] = bound[4] = null;
      const synced = r.windowStart !== null && r.windowEnd !== null;
      unbatched.push({
        rowId: id, acceptedAt, device: r.deviceId, seq: r.seq, bytes: tailBytes.copy(r.bytes), synced,
        startS: synced ? r.windowStart! : 0, durationS: synced ? r.windowEnd! - r.windowStart! : 0,
        gridToPackMwh: insertSums[0], packToGridMwh: insertSums[1], packToMotorMwh: insertSums[2], regenToPackMwh: insertSums[3],
      });
    },
    insertPending(r) {
      st.insPending.run(
        r.deviceId, r.seq, r.hash, r.prev, r.bytes, r.receivedAt, r.windowStart, r.windowEnd, JSON.stringify(r.flows),
        r.faults ? JSON.stringify(r.faults) : null,
      );
    },
    getPending(deviceId, seq) {
      const row = st.getPending.get(deviceId, seq) as (Omit<ReportSqlRow, 'id' | 'accepted_at'> & { flows: string }) | undefined;
      if (!row) return undefined;
      return {
        deviceId: row.device_id,
        seq: row.seq,
        hash: u8(row.hash),
        prev: u8(row.prev),
        bytes: u8(row.bytes),
        receivedAt: row.received_at,
        windowStart: row.window_start,
        windowEnd: row.window_end,
        flows: JSON.parse(row.flows),
        faults: row.faults ? JSON.parse(row.faults) : null,
      };
    },
    deletePending(deviceId, seq) {
      st.delPending.run(deviceId, seq);
    },
    pendingSummary(deviceId) {
      const r = st.pendingSummary.get(deviceId) as { count: number; min_seq: number | null; max_seq: number | null; since: number | null };
      return { count: r.count, minSeq: r.min_seq, maxSeq: r.max_seq, since: r.since };
    },
    devicesWithPending: () => (st.devicesWithPending.all() as { device_id: string }[]).map((r) => r.device_id),
    listAccepted: (deviceId, afterSeq, limit) => (st.listAccepted.all(deviceId, afterSeq, limit) as ReportSqlRow[]).map((r) => accepted(r)),
    exportAccepted: (afterRowId, limit) => (st.exportAccepted.all(afterRowId, limit) as ReportSqlRow[]).map((r) => accepted(r)),
    energy(deviceId, from, to, bucketS) {
      const out: EnergyRow[] = [];
      for (const row of st.energy.all({ bucket: bucketS, device: deviceId, from, to }) as (PackRow & { bucket: number | null; reports: number })[]) {
        for (const f of flowsOfPackRow(row)) out.push({ bucket: row.bucket, pack: f.pack, flow: f.flow, unit: f.unit, total: f.amount, reports: row.reports });
      }
      return out;
    },
  };
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = MIGRATIONS[MIGRATIONS.length - 1].version;
  if (current > latest) {
    throw new OpenRefused(`its schema version ${current} is newer than this node understands (${latest}); upgrade the node`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
