// The SQLite store's schema migrations on a ledger with data: a version 2 file (packs in
// report_packs) and a version 3 file (packs in the report row, keyed by device id) open as
// the latest version (reports keyed by device number) with the same energies, flows and
// batch leaves, and take new reports after.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore, MIGRATIONS } from '../../../host-tools/ingest/sqlite';
import type { EnergyRow, FlowAmount, StoredReport } from '../../../host-tools/ingest/store';
import { tempDir } from './_fixtures';

const FLOWS = [['grid_to_pack', 'mWh'], ['pack_to_grid', 'mWh'], ['pack_to_motor', 'mWh'], ['regen_to_pack', 'mWh'], ['charge', 'mAh']] as const;
const T0 = 1_700_000_400; // a multiple of 3600 + 400 s

interface Row { device: string; seq: number; window: number | null; packs: Array<[number, number[]]> }

/** Reports of three bikes: one, two and four packs; some windows unsynced; packs not in id order. */
function rows(): Row[] {
  const out: Row[] = [];
  const devices: Array<[string, number[]]> = [['00000000000000a1', [7]], ['00000000000000a2', [11, 10]], ['00000000000000a3', [40, 3, 12, 9]]];
  for (const [device, packs] of devices) {
    for (let seq = 0; seq < 9; seq++) {
      out.push({
        device, seq, window: seq % 4 === 3 ? null : T0 + seq * 700,
        packs: packs.map((p, i) => [p, [seq * 10 + i, seq, p, i, -seq * p]]),
      });
    }
  }
  return out;
}

function expectedEnergy(device: string, from: number, to: number, bucketS: number): EnergyRow[] {
  const acc = new Map<string, EnergyRow>();
  for (const r of rows()) {
    if (r.device !== device) continue;
    if (r.window !== null && (r.window < from || r.window >= to)) continue;
    const bucket = r.window === null ? null : r.window - (r.window % bucketS);
    for (const [pack, v] of r.packs) {
      FLOWS.forEach(([flow, unit], i) => {
        const key = `${bucket}/${pack}/${flow}`;
        const e = acc.get(key) ?? { bucket, pack, flow, unit, total: 0, reports: 0 };
        e.total += v[i];
        e.reports++;
        acc.set(key, e);
      });
    }
  }
  const order = FLOWS.map(([f]) => f as string);
  return [...acc.values()].sort((a, b) => ((a.bucket ?? -1) - (b.bucket ?? -1)) || a.pack - b.pack || order.indexOf(a.flow) - order.indexOf(b.flow));
}

const flowsOf = (r: Row): FlowAmount[] =>
  [...r.packs].sort((a, b) => a[0] - b[0]).flatMap(([pack, v]) => FLOWS.map(([flow, unit], i) => ({ pack, flow, unit, amount: v[i] })));

/** A file as a version 3 node left it: version 2's, migrated with version 3's own SQL. */
function version3(file: string): void {
  version2(file);
  const db = new Database(file);
  const m = MIGRATIONS.find((x) => x.version === 3)!;
  db.transaction(() => {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, 1);
    db.pragma('user_version = 3');
  })();
  db.close();
}

/** A file as a version 2 node left it, written with version 2's own SQL. */
function version2(file: string): void {
  const db = new Database(file);
  db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT');
  for (const m of MIGRATIONS.filter((m) => m.version <= 2)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, 1);
  }
  db.pragma('user_version = 2');
  const dev = db.prepare('INSERT OR IGNORE INTO devices (id, public_key, registered_at) VALUES (?, ?, 1)');
  const rep = db.prepare(
    'INSERT INTO reports (device_id, seq, hash, prev, bytes, received_at, accepted_at, window_start, window_end, faults) VALUES (?, ?, ?, ?, ?, 2, 3, ?, ?, NULL)',
  );
  const pk = db.prepare('INSERT INTO report_packs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  for (const r of rows()) {
    dev.run(r.device, Buffer.alloc(32));
    const id = Number(rep.run(r.device, r.seq, Buffer.alloc(32, r.seq + 1), Buffer.alloc(32, r.seq), Buffer.from([r.seq]), r.window, r.window === null ? null : r.window + 60).lastInsertRowid);
    for (const [pack, v] of r.packs) pk.run(id, pack, r.device, r.window, ...v);
  }
  db.close();
}

for (const [from, make] of [[2, version2], [3, version3]] as const) test(`a version ${from} ledger migrates to the latest version with the same energies, flows and batch leaves`, () => {
  const tmp = tempDir();
  try {
    const file = path.join(tmp.dir, `v${from}.db`);
    make(file);
    const s = openSqliteStore(file);
    try {
      assert.is(s.schemaVersion, MIGRATIONS[MIGRATIONS.length - 1].version);
      assert.is(s.schemaVersion, 4);
      for (const device of ['00000000000000a1', '00000000000000a2', '00000000000000a3']) {
        for (const [from, to, bucket] of [[0, 2e9, 3600], [T0 + 700, T0 + 3500, 900], [T0, T0 + 1, 60]]) {
          assert.equal(s.energy(device, from, to, bucket), expectedEnergy(device, from, to, bucket), `${device} ${from}..${to} by ${bucket}`);
        }
      }
      for (const r of rows()) assert.equal(s.getAccepted(r.device, r.seq)!.flows, flowsOf(r), `${r.device}/${r.seq}`);
      const leaves = s.batches.unbatchedLeaves(0, 1000);
      assert.is(leaves.length, rows().length);
      rows().forEach((r, i) => {
        const sum = (k: number) => r.packs.reduce((a, [, v]) => a + v[k], 0);
        assert.equal(
          [leaves[i].device, leaves[i].seq, leaves[i].gridToPackMwh, leaves[i].packToGridMwh, leaves[i].packToMotorMwh, leaves[i].regenToPackMwh],
          [r.device, r.seq, sum(0), sum(1), sum(2), sum(3)],
        );
      });
      // And the migrated file takes reports as a new one does.
      const next: StoredReport = {
        deviceId: '00000000000000a2', seq: 9, hash: new Uint8Array(32).fill(10), prev: new Uint8Array(32).fill(9), bytes: new Uint8Array([9]),
        receivedAt: 5, windowStart: T0, windowEnd: T0 + 60, faults: null,
        flows: [11, 10].flatMap((pack) => FLOWS.map(([flow, unit]) => ({ pack, flow, unit, amount: 1000 + pack }))),
      };
      s.transactionSync(() => s.insertAccepted(next, 6));
      assert.equal(s.getAccepted(next.deviceId, 9)!.flows, [10, 11].flatMap((pack) => FLOWS.map(([flow, unit]) => ({ pack, flow, unit, amount: 1000 + pack }))));
      const hour = s.energy(next.deviceId, T0, T0 + 1, 3600).filter((e) => e.bucket !== null && e.flow === 'grid_to_pack');
      // seq 0 of this bike wrote pack 11 first (grid_to_pack 0), then pack 10 (1).
      assert.equal(hour.map((e) => [e.pack, e.total, e.reports]), [[10, 1 + 1010, 2], [11, 0 + 1011, 2]]);
    } finally {
      s.close();
    }
  } finally {
    tmp.cleanup();
  }
});

test('a report of five packs is refused with the reason, not stored in part', () => {
  const tmp = tempDir();
  const s = openSqliteStore(path.join(tmp.dir, 'a.db'));
  try {
    s.transactionSync(() => s.insertDevice({ id: '00000000000000b1', publicKey: new Uint8Array(32), registeredAt: 1 }));
    const five: StoredReport = {
      deviceId: '00000000000000b1', seq: 0, hash: new Uint8Array(32), prev: new Uint8Array(32), bytes: new Uint8Array([1]), receivedAt: 1,
      windowStart: null, windowEnd: null, faults: null,
      flows: [1, 2, 3, 4, 5].map((pack) => ({ pack, flow: 'charge', unit: 'mAh', amount: 1 })),
    };
    assert.throws(() => s.transactionSync(() => s.insertAccepted(five, 1)), /report 00000000000000b1\/0: more than 4 packs, a report has at most 4/);
    assert.is(s.getAccepted('00000000000000b1', 0), undefined);
  } finally {
    s.close();
    tmp.cleanup();
  }
});

test.run();
