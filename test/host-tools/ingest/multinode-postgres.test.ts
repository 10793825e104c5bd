// Several ingest nodes on one PostgreSQL database (issue #14): the chain rules are serialized
// per device in the database, so nodes that take reports for the same devices at the same
// time lose none, store none twice and make no fork; and a node killed with SIGKILL under
// load loses no report it acknowledged.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { postgresMissing, startPostgres, type TestPostgres } from '../../_postgres';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { spawnIngestNode } from '../../../host-tools/ingest/child';
import { silentLogger } from '../../../host-tools/ingest/log';
import { sha256Host } from '../../../host-tools/verify';
import { toHex } from '../../../protocol/bytes';
import { Ride, device, register, postReports, cborArray, type Device } from './_fixtures';

const test = suite('several ingest nodes on one PostgreSQL');
let server: TestPostgres;

/** A seeded PRNG (mulberry32): the shuffles are the same on every run. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** What the database holds: per device, the stored reports' seq -> hash, head, forks, pending. */
async function ledgerOf(url: string, devices: Device[]) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const out = new Map<string, { hashes: Map<number, string>; rows: number; head: number; forks: number; kept: number; pending: number }>();
    for (const d of devices) {
      const rows = (await c.query('SELECT seq, hash FROM reports WHERE device_id = $1', [d.id])).rows as { seq: string; hash: Buffer }[];
      const dev = (await c.query('SELECT head_seq, forks FROM devices WHERE id = $1', [d.id])).rows[0];
      const kept = (await c.query('SELECT count(*) AS n FROM forks WHERE device_id = $1', [d.id])).rows[0].n;
      const pending = (await c.query('SELECT count(*) AS n FROM pending WHERE device_id = $1', [d.id])).rows[0].n;
      out.set(d.id, {
        hashes: new Map(rows.map((r) => [Number(r.seq), r.hash.toString('hex')])),
        rows: rows.length,
        head: Number(dev.head_seq),
        forks: Number(dev.forks),
        kept: Number(kept),
        pending: Number(pending),
      });
    }
    return out;
  } finally {
    await c.end();
  }
}

test.before(async () => {
  server = (await startPostgres())!;
});

test.after(async () => {
  await server?.stop();
});

test('two nodes posting the same chains in shuffled batches: 0 lost, 0 duplicated, 0 forks', async () => {
  const db = await server.createDatabase();
  const nodes: IngestNode[] = [];
  try {
    for (let i = 0; i < 2; i++) nodes.push(await startIngestNode({ db, port: 0, workers: 1, logger: silentLogger, policies: false }));
    const rand = prng(14);
    const devices = [71, 72, 73, 74, 75, 76].map(device);
    const perDevice = 40;
    const chains = devices.map((d) => new Ride(d).take(perDevice));
    // Half the devices registered through each node: the other node learns their keys.
    for (let i = 0; i < devices.length; i++) assert.is((await register(nodes[i % 2].url, devices[i])).status, 201);
    // Every device's chain cut into batches of 1..6, and every batch posted to both nodes,
    // all in one shuffled order, several requests in flight at once.
    const posts: { node: number; reports: Uint8Array[] }[] = [];
    chains.forEach((chain) => {
      for (let at = 0; at < chain.length; ) {
        const n = 1 + Math.floor(rand() * 6);
        const reports = chain.slice(at, at + n);
        posts.push({ node: 0, reports }, { node: 1, reports });
        at += n;
      }
    });
    shuffle(posts, rand);
    const statuses = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      for (let k = next++; k < posts.length; k = next++) {
        const r = await postReports(nodes[posts[k].node].url, cborArray(posts[k].reports));
        assert.is(r.status, 200, JSON.stringify(r.json));
        for (const a of r.json.results) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        const bad = r.json.results.find((a: { status: string }) => a.status === 'rejected');
        assert.not.ok(bad, `a report was rejected: ${JSON.stringify(bad)}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // Each report was posted twice: exactly one answer accepted it, the other found it stored.
    assert.equal(Object.fromEntries(statuses), { accepted: devices.length * perDevice, duplicate: devices.length * perDevice });
    const ledger = await ledgerOf(db, devices);
    devices.forEach((d, i) => {
      const l = ledger.get(d.id)!;
      assert.is(l.rows, perDevice, `device ${i}: ${l.rows} reports stored, ${perDevice} sent`);
      for (let seq = 0; seq < perDevice; seq++) assert.is(l.hashes.get(seq), toHex(sha256Host(chains[i][seq])), `device ${i} seq ${seq}`);
      assert.is(l.head, perDevice - 1);
      assert.is(l.forks, 0);
      assert.is(l.kept, 0);
      assert.is(l.pending, 0);
    });
  } finally {
    for (const n of nodes) await n.close();
  }
});

test('two histories of one key posted to two nodes at once: one chain is stored, every report of the other is a fork', async () => {
  const db = await server.createDatabase();
  const nodes: IngestNode[] = [];
  try {
    for (let i = 0; i < 2; i++) nodes.push(await startIngestNode({ db, port: 0, workers: 1, logger: silentLogger, policies: false }));
    const dev = device(91);
    assert.is((await register(nodes[0].url, dev)).status, 201);
    const n = 20;
    // Same key, same seqs, other energy figures: two histories that share no report.
    const histories = [new Ride(dev).take(n), (() => { const r = new Ride(dev); return Array.from({ length: n }, () => r.next({ motorMwh: 5 })); })()];
    const answers: { status: string; reason?: string }[][] = [[], []];
    // Seq by seq, both histories' report at once, one to each node: each time the two race
    // for the same place in the chain. (Not further apart: a report ahead of the head
    // would be held pending, and which one is then judged a fork depends on timing.)
    for (let seq = 0; seq < n; seq++) {
      await Promise.all(histories.map(async (h, k) => {
        const r = await postReports(nodes[k].url, cborArray([h[seq]]));
        assert.is(r.status, 200, JSON.stringify(r.json));
        answers[k].push(r.json.results[0]);
      }));
    }
    const ledger = (await ledgerOf(db, [dev])).get(dev.id)!;
    // The history that won seq 0 is the chain; the other one forks at every seq.
    const won = ledger.hashes.get(0) === toHex(sha256Host(histories[0][0])) ? 0 : 1;
    for (let seq = 0; seq < n; seq++) assert.is(ledger.hashes.get(seq), toHex(sha256Host(histories[won][seq])), `seq ${seq}`);
    assert.is(ledger.rows, n);
    assert.ok(answers[won].every((a) => a.status === 'accepted'), JSON.stringify(answers[won]));
    assert.ok(answers[1 - won].every((a) => a.status === 'rejected' && a.reason === 'fork'), JSON.stringify(answers[1 - won]));
    assert.is(ledger.forks, n);
    assert.is(ledger.pending, 0);
  } finally {
    for (const node of nodes) await node.close();
  }
});

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

test('SIGKILL of one of two nodes under load loses no acknowledged report', async () => {
  const db = await server.createDatabase();
  const a = await spawnIngestNode({ db, workers: 1 });
  const b = await spawnIngestNode({ db, workers: 1 });
  try {
    const devices = [81, 82, 83, 84].map(device);
    const perDevice = 300;
    const chains = devices.map((d) => new Ride(d).take(perDevice));
    for (let i = 0; i < devices.length; i++) assert.is((await register(i % 2 ? b.url : a.url, devices[i])).status, 201);
    const acked = devices.map(() => new Set<number>());
    let total = 0;
    let killedAt = -1;
    // Each device posts its chain in batches of 10, alternating between the nodes; a request
    // that fails (the killed node) is sent again to the live one.
    await Promise.all(chains.map(async (chain, i) => {
      for (let at = 0, k = i; at < chain.length; k++) {
        const batch = chain.slice(at, at + 10);
        const to = killedAt >= 0 || k % 2 ? b : a;
        let r: { status: number; json: any } | undefined;
        try {
          r = await postReports(to.url, cborArray(batch));
        } catch {
          r = undefined;
        }
        if (!r || r.status !== 200) continue;
        r.json.results.forEach((x: { status: string; state?: string }, j: number) => {
          if (x.status === 'accepted' || x.status === 'duplicate') acked[i].add(at + j);
        });
        assert.is(r.json.rejected, 0, JSON.stringify(r.json.results.find((x: { reason?: string }) => x.reason)));
        at += batch.length;
        total += batch.length;
        if (killedAt < 0 && total >= 400) {
          killedAt = total;
          a.child.kill('SIGKILL');
        }
      }
    }));
    await exited(a.child);
    assert.ok(killedAt > 0, 'node A was killed under load');
    const ledger = await ledgerOf(db, devices);
    devices.forEach((d, i) => {
      const l = ledger.get(d.id)!;
      const lost = [...acked[i]].filter((seq) => l.hashes.get(seq) !== toHex(sha256Host(chains[i][seq])));
      assert.equal(lost, [], `device ${i}: acknowledged and not stored: ${lost.slice(0, 10).join(', ')}`);
      assert.is(l.rows, perDevice);
      assert.is(l.head, perDevice - 1);
      assert.is(l.forks, 0);
    });
  } finally {
    a.child.kill('SIGKILL');
    b.child.kill('SIGTERM');
    await Promise.all([exited(a.child), exited(b.child)]);
  }
});

test('a PostgreSQL URL that cannot be opened is refused by name, without its password', async () => {
  // Port 1 (tcpmux): nothing listens there on a test machine's loopback.
  const url = 'postgres://deep:s3cret@127.0.0.1:1/nope';
  try {
    await startIngestNode({ db: url, port: 0, workers: 1, logger: silentLogger });
    assert.unreachable('the node started on a database it cannot reach');
  } catch (e) {
    const m = (e as Error).message;
    assert.match(m, /^cannot open ledger database postgres:\/\/deep:\*\*\*@127\.0\.0\.1:\d+\/nope: .*ECONNREFUSED/);
    assert.not.match(m, /s3cret/);
  }
});

const missing = postgresMissing();
if (missing && !process.env.CI) console.warn(`skipping the multi-node PostgreSQL tests: ${missing}`);
else test.run();
