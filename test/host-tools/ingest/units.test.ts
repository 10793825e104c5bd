// The ingest node's parts on their own: body framing, metrics text, SQLite migrations and
// durability across reopen, challenge expiry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { splitReports, skipItem, parseMediaType, BodyError, TooManyReports } from '../../../host-tools/ingest/body';
import { Counter, Histogram, createMetrics } from '../../../host-tools/ingest/metrics';
import { openSqliteStore, MIGRATIONS } from '../../../host-tools/ingest/sqlite';
import { createIngest } from '../../../host-tools/ingest/ingest';
import { silentLogger } from '../../../host-tools/ingest/log';
import type { Pool } from '../../../host-tools/ingest/pool';
import { encode, CborTag } from '../../../protocol/cbor';
import { tempDir, cborArray } from './_fixtures';
import fc from 'fast-check';

const u8 = (...b: number[]) => new Uint8Array(b);

test('media types: parameters ignored, others refused', () => {
  assert.is(parseMediaType('application/cose; cose-type="cose-sign1"'), 'application/cose');
  assert.is(parseMediaType('Application/CBOR'), 'application/cbor');
  assert.is(parseMediaType('application/cbor-seq'), 'application/cbor-seq');
  assert.is(parseMediaType('application/json'), undefined);
  assert.is(parseMediaType(undefined), undefined);
});

test('framing keeps the exact bytes of each report and names the offset of errors', () => {
  const a = encode(new CborTag(18, [new Uint8Array([0xa1, 1, 0x32]), [], new Uint8Array(3), new Uint8Array(64)]));
  const b = encode(new CborTag(18, [new Uint8Array(0), [], new Uint8Array(1), new Uint8Array(64)]));
  const arr = splitReports(cborArray([a, b]), 'application/cbor', 10);
  assert.equal(arr.map((s) => s.bytes), [a, b]);
  assert.equal(arr.map((s) => s.offset), [1, 1 + a.length]);
  const wrapped = splitReports(cborArray([encode(a)]), 'application/cbor', 10);
  assert.equal(wrapped[0].bytes, a);
  assert.equal(splitReports(new Uint8Array([...a, ...b]), 'application/cbor-seq', 10).map((s) => s.bytes), [a, b]);
  // Non-canonical inside a report is framed (the verifier rejects that report alone).
  assert.is(skipItem(u8(0x18, 0x01), 0), 2);
  assert.throws(() => splitReports(a.subarray(0, a.length - 1), 'application/cose', 10), (e: Error) => e instanceof BodyError && /truncated/.test(e.message));
  assert.throws(() => splitReports(new Uint8Array([...a, 0]), 'application/cose', 10), /1 trailing byte\(s\) after the COSE_Sign1 at byte/);
  assert.throws(() => splitReports(u8(0x81, 0x5f, 0xff), 'application/cbor', 10), /indefinite-length item \(initial byte 0x5f\) at byte 1/);
  assert.throws(() => splitReports(u8(0x81, 0x1c), 'application/cbor', 10), /reserved additional information 28 at byte 1/);
  let deep = u8(0x01);
  for (let i = 0; i < 20; i++) deep = new Uint8Array([0x81, ...deep]);
  assert.throws(() => splitReports(deep, 'application/cose', 10), /nesting deeper than 16/);
  assert.throws(() => splitReports(u8(0x9b, 0, 0, 0, 0, 0, 0, 0, 5), 'application/cbor', 2), (e: Error) => e instanceof TooManyReports);
  assert.throws(() => splitReports(new Uint8Array([...a, ...a, ...a]), 'application/cbor-seq', 2), (e: Error) => e instanceof TooManyReports);
  assert.throws(() => splitReports(u8(0x5a, 0xff, 0xff, 0xff, 0xff), 'application/cose', 10), /declares 4294967295 byte\(s\), 0 left/);
});

test('metrics: Prometheus text with labels, cumulative histogram buckets, live gauges', async () => {
  const c = new Counter('x_total', 'help');
  c.inc({ reason: 'fork' });
  c.inc({ reason: 'fork' }, 2);
  c.inc({ reason: 'a"b' });
  assert.match(c.render(), /^x_total\{reason="fork"\} 3$/m);
  assert.match(c.render(), /^x_total\{reason="a\\"b"\} 1$/m);
  const h = new Histogram('h_seconds', 'help', [0.1, 1]);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const text = h.render();
  assert.match(text, /h_seconds_bucket\{le="0.1"\} 1\nh_seconds_bucket\{le="1"\} 2\nh_seconds_bucket\{le="\+Inf"\} 3\nh_seconds_sum 5.55\nh_seconds_count 3/);
  let depth = 7;
  const m = createMetrics({ queueDepth: () => depth, openGaps: () => 2, devices: () => 1 });
  assert.match(await m.render(), /^deep_ingest_queue_depth 7$/m);
  depth = 0;
  assert.match(await m.render(), /^deep_ingest_queue_depth 0$/m);
  assert.match(await m.render(), /# TYPE deep_ingest_verify_seconds histogram/);
});

test('SQLite store: migrations recorded once, WAL + synchronous FULL, refuses a newer schema, data survives reopen', () => {
  const tmp = tempDir();
  try {
    const file = path.join(tmp.dir, 'a.db');
    let s = openSqliteStore(file);
    assert.is(s.schemaVersion, MIGRATIONS[MIGRATIONS.length - 1].version);
    s.transactionSync(() => s.insertDevice({ id: '0011223344556677', publicKey: new Uint8Array(32).fill(9), registeredAt: 5 }));
    s.transactionSync(() =>
      s.insertPending({
        deviceId: '0011223344556677', seq: 4, hash: new Uint8Array(32).fill(1), prev: new Uint8Array(32), bytes: u8(1, 2, 3),
        receivedAt: 6, windowStart: null, windowEnd: null, flows: [{ pack: 10, flow: 'charge', unit: 'mAh', amount: -5 }], faults: null,
      }),
    );
    s.close();
    s.close(); // harmless twice
    s = openSqliteStore(file);
    assert.equal(s.getPending('0011223344556677', 4)!.bytes, u8(1, 2, 3));
    assert.equal(s.pendingSummary('0011223344556677'), { count: 1, minSeq: 4, maxSeq: 4, since: 6 });
    assert.equal(s.headOf('0011223344556677'), { seq: -1, hash: new Uint8Array(0) });
    // What the workers and the devices gauge read: the devices not revoked, without their counters.
    s.transactionSync(() => {
      s.insertDevice({ id: '1111111111111111', publicKey: new Uint8Array(32).fill(1), registeredAt: 7 });
      s.insertDevice({ id: '2222222222222222', publicKey: new Uint8Array(32).fill(2), registeredAt: 8 });
      s.revokeDevice('1111111111111111', 9);
    });
    assert.is(s.activeDevices(), 2);
    assert.equal(s.activeKeys(), [['0011223344556677', new Uint8Array(32).fill(9)], ['2222222222222222', new Uint8Array(32).fill(2)]]);
    s.close();
    const db = new Database(file);
    assert.equal(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all(), MIGRATIONS.map((m) => ({ version: m.version })));
    assert.is(db.pragma('journal_mode', { simple: true }), 'wal');
    db.pragma('user_version = 99');
    db.close();
    assert.throws(() => openSqliteStore(file), /schema version 99 is newer than this node understands/);
  } finally {
    tmp.cleanup();
  }
});

/** The message openSqliteStore(file) throws with. */
function openError(file: string): string {
  try {
    openSqliteStore(file).close();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${file} opened`);
}

test('SQLite store: a database that cannot be opened is named in the error, with the reason', () => {
  const tmp = tempDir();
  try {
    const missing = path.join(tmp.dir, 'no-such-dir');
    assert.is(openError(path.join(missing, 'ledger.db')), `cannot open ledger database ${path.join(missing, 'ledger.db')}: the folder ${missing} does not exist`);
    assert.is(openError(path.join(missing, 'deeper', 'ledger.db')), `cannot open ledger database ${path.join(missing, 'deeper', 'ledger.db')}: the folder ${path.join(missing, 'deeper')} does not exist`);
    const text = path.join(tmp.dir, 'notes.txt');
    writeFileSync(text, 'these are notes, not a ledger\n'.repeat(10));
    assert.is(openError(text), `cannot open ledger database ${text}: it is not a SQLite database`);
    assert.is(openError(path.join(text, 'ledger.db')), `cannot open ledger database ${path.join(text, 'ledger.db')}: ${text} is a file, not a folder`);
    assert.is(openError(tmp.dir), `cannot open ledger database ${tmp.dir}: it is a folder, not a file`);
    // A relative path is named as given and as resolved.
    const rel = path.relative(process.cwd(), text);
    assert.is(openError(rel), `cannot open ledger database ${rel} (${text}): it is not a SQLite database`);
    // A ledger written by a newer node.
    const newer = path.join(tmp.dir, 'newer.db');
    const db = new Database(newer);
    db.pragma('user_version = 99');
    db.close();
    assert.is(openError(newer), `cannot open ledger database ${newer}: its schema version 99 is newer than this node understands (${MIGRATIONS[MIGRATIONS.length - 1].version}); upgrade the node`);
  } finally {
    tmp.cleanup();
  }
});

test('pairing challenges are single use and expire', async () => {
  const tmp = tempDir();
  const store = openSqliteStore(path.join(tmp.dir, 'c.db'));
  let now = 1_000_000;
  const pool: Pool = { size: 1, run: () => Promise.reject(new Error('unused')), broadcast() {}, inflight: () => 0, close: async () => {} };
  const ingest = createIngest({
    store, pool, logger: silentLogger, now: () => now, challengeTtlMs: 1000,
    metrics: createMetrics({ queueDepth: () => 0, openGaps: () => 0, devices: () => 0 }),
    pairing: () => ({ ok: true, deviceId: '00112233445566ff', publicKey: new Uint8Array(32).fill(3) }),
  });
  try {
    const c1 = await ingest.challenge();
    assert.is(c1.expiresAt, now + 1000);
    now += 1001;
    assert.equal(await ingest.register(c1.challenge, u8()), { ok: false, status: 400, error: 'challenge expired' });
    const c2 = await ingest.challenge();
    const r = await ingest.register(c2.challenge, u8());
    assert.ok(r.ok);
    assert.equal(await ingest.register(c2.challenge, u8()), { ok: false, status: 400, error: 'unknown or already used challenge' });
  } finally {
    store.close();
    tmp.cleanup();
  }
});

test('property: a body splits into exactly the items it was made of, and any bytes at all either split or fail with a BodyError', () => {
  const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.maxSafeNat(),
      fc.integer({ min: -1e9, max: -1 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ maxLength: 40 }),
      fc.boolean(),
      fc.array(tie('v'), { maxLength: 5 }),
    ),
  })).v;
  fc.assert(
    fc.property(fc.array(value, { maxLength: 12 }), (items) => {
      const parts = items.map((x) => encode(x as never));
      const body = new Uint8Array(Buffer.concat([cborArray(parts)]));
      const spans = splitReports(body, 'application/cbor', 100);
      // Byte strings are unwrapped (a wrapped report); everything else is the item itself.
      assert.equal(spans.map((sp) => Buffer.from(sp.bytes).toString('hex')), parts.map((b, i) => Buffer.from(items[i] instanceof Uint8Array ? (items[i] as Uint8Array) : b).toString('hex')));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom('application/cbor', 'application/cbor-seq', 'application/cose'), (bytes, type) => {
      try {
        splitReports(bytes, type as 'application/cbor', 10);
      } catch (e) {
        assert.ok(e instanceof BodyError || e instanceof TooManyReports, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});

test.run();
