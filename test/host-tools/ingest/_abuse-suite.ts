// Abuse of an ingest node by someone who is not the device (issue #14): forged reports in a
// victim's name, replays, fork floods, registration floods. Real HTTP on loopback, against a
// store the caller provides (SQLite: abuse.test.ts; PostgreSQL: abuse-postgres.test.ts).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { startIngestNode, type IngestNode, type NodeOptions } from '../../../host-tools/ingest/node';
import { spawnIngestNode } from '../../../host-tools/ingest/child';
import { createLogger } from '../../../host-tools/ingest/log';
import { makePairingProof } from '../../../protocol/pairing';
import { Ride, device, register, postOne, postReports, getJson, cborArray, type Device } from './_fixtures';

/** Where the suite's ledgers live. */
export interface Ledgers {
  /** A folder for the suite's other files (token files). */
  dir: string;
  /** --db of a ledger for one node: a SQLite file or a postgres:// URL (`name` a hint). */
  db(name: string): Promise<string>;
  cleanup(): void | Promise<void>;
}

export function abuseSuite(name: string, ledger: Ledgers): void {
  const test = suite(name);
  const nodes: IngestNode[] = [];
  let n = 0;

  async function start(opts: Partial<NodeOptions> = {}, lines: string[] = []): Promise<IngestNode> {
    const node = await startIngestNode({
      db: await ledger.db(`ledger-${n++}`),
      port: 0,
      workers: 1,
      logger: createLogger({ level: 'info', sink: { write: (l: string) => lines.push(l) } }),
      ...opts,
    });
    nodes.push(node);
    return node;
  }

  test.after(async () => {
    for (const node of nodes) await node.close();
    await ledger.cleanup();
  });

  async function fresh(url: string, dev: Device): Promise<Ride> {
    const r = await register(url, dev);
    assert.is(r.status, 201, JSON.stringify(r.json));
    return new Ride(dev);
  }

  /** A request from a chosen loopback address (127.0.0.0/8 is all loopback on Linux). */
  function requestFrom(localAddress: string, url: string, method: string, body?: Uint8Array, type = 'application/cbor'): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: any }> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method, localAddress, headers: body ? { 'content-type': type, 'content-length': body.length } : {} }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(body ? Buffer.from(body) : undefined);
    });
  }

  async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
    try {
      await p;
    } catch (e) {
      assert.match((e as Error).message, re);
      return;
    }
    assert.unreachable(`expected a rejection matching ${re}`);
  }

  test("forged reports in a victim's name do not touch the victim's counters; they are counted apart", async () => {
    const node = await start();
    const victim = await fresh(node.url, device(60));
    assert.is((await postOne(node.url, victim.next())).status, 'accepted');
    const before = (await getJson(`${node.url}/v1/devices/${victim.dev.id}`)).json;
    // Three forgeries: the victim's kid, a signature by someone else.
    const forged = [1, 2, 3].map((i) => {
      const b = victim.make({ motorMwh: i }).bytes.slice();
      b[b.length - 1 - i] ^= 0x40;
      return b;
    });
    const r = await postReports(node.url, cborArray(forged));
    assert.equal(r.json.results.map((a: any) => a.reason), ['bad_signature', 'bad_signature', 'bad_signature']);
    const after = (await getJson(`${node.url}/v1/devices/${victim.dev.id}`)).json;
    assert.equal(after.rejections, before.rejections);
    assert.is(after.lastSeenAt, before.lastSeenAt);
    const m = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(m, /deep_ingest_reports_unattributed_total\{reason="bad_signature"\} 3/);
    // A rejection of a report that the device did sign is still the device's.
    const implausible = victim.make({ motorMwh: 20_000_000 }).bytes;
    assert.is((await postOne(node.url, implausible)).reason, 'implausible');
    assert.is((await getJson(`${node.url}/v1/devices/${victim.dev.id}`)).json.rejections.implausible, 1);
  });

  test("a third party re-posting a device's public report does not move its lastSeenAt", async () => {
    const node = await start();
    const ride = await fresh(node.url, device(61));
    const rs = ride.take(3);
    await postReports(node.url, cborArray(rs));
    const seen = (await getJson(`${node.url}/v1/devices/${ride.dev.id}`)).json.lastSeenAt;
    assert.ok(seen);
    await new Promise((r) => setTimeout(r, 30));
    // Anyone can fetch the reports back (GET /v1/devices/{id}/reports) and post them again.
    const page = (await getJson(`${node.url}/v1/devices/${ride.dev.id}/reports`)).json;
    const again = page.reports.map((x: any) => new Uint8Array(Buffer.from(x.cose, 'base64')));
    const r = await postReports(node.url, cborArray(again));
    assert.is(r.json.duplicate, 3);
    assert.is((await getJson(`${node.url}/v1/devices/${ride.dev.id}`)).json.lastSeenAt, seen);
  });

  test('fork evidence is bounded per device: the first few kept, the rest counted; fork logs once per interval', async () => {
    const lines: string[] = [];
    const node = await start({ maxForkEvidence: 4, logIntervalMs: 60_000 }, lines);
    const ride = await fresh(node.url, device(62));
    assert.is((await postOne(node.url, ride.next())).status, 'accepted');
    // 30 distinct, validly signed reports for seq 0: a self-registered key flooding the node.
    const forks = Array.from({ length: 30 }, (_, i) => new Ride(ride.dev).make({ motorMwh: i + 1 }).bytes);
    const r = await postReports(node.url, cborArray(forks));
    assert.is(r.json.rejected, 30);
    assert.ok(r.json.results.every((a: any) => a.reason === 'fork'));
    const d = (await getJson(`${node.url}/v1/devices/${ride.dev.id}`)).json;
    assert.equal(d.fork, { count: 30, firstSeq: 0 });
    assert.is((await node.store.forkEvidence(ride.dev.id)).length, 4);
    const mine = lines.map((l) => JSON.parse(l)).filter((l) => l.device === ride.dev.id && (l.msg === 'fork' || l.msg === 'report rejected'));
    assert.ok(mine.length <= 2, `${mine.length} log lines for one device's flood: ${JSON.stringify(mine.slice(0, 3))}`);
    // The same fork again is neither kept twice nor more evidence.
    await postOne(node.url, forks[0]);
    assert.is((await node.store.forkEvidence(ride.dev.id)).length, 4);
  });

  test('repeated rejections log again after the interval, with the count of those not logged', async () => {
    const lines: string[] = [];
    const node = await start({ logIntervalMs: 200 }, lines);
    const stranger = new Ride(device(63));
    const rs = stranger.take(5);
    await postReports(node.url, cborArray(rs.slice(0, 4)));
    const rejectedLines = () => lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'report rejected' && l.reason === 'unknown_key');
    assert.is(rejectedLines().length, 1);
    await new Promise((r) => setTimeout(r, 250));
    await postOne(node.url, rs[4]);
    const all = rejectedLines();
    assert.is(all.length, 2);
    assert.is(all[1].suppressed, 3);
  });

  test('registration is rate-limited per client address: 429 with Retry-After; other addresses unaffected', async () => {
    const node = await start({ limits: { registerPerMin: 4, rejectionsPerMin: 1000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await requestFrom('127.0.0.1', `${node.url}/v1/devices/challenge`, 'GET')).status);
    assert.equal(statuses, [200, 200, 200, 200, 429, 429]);
    const limited = await requestFrom('127.0.0.1', `${node.url}/v1/devices/challenge`, 'GET');
    assert.is(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1, String(limited.headers['retry-after']));
    assert.match(limited.json.error, /registration.*limit/);
    const post = await requestFrom('127.0.0.1', `${node.url}/v1/devices`, 'POST', new TextEncoder().encode('{}'), 'application/json');
    assert.is(post.status, 429);
    assert.is((await requestFrom('127.0.0.2', `${node.url}/v1/devices/challenge`, 'GET')).status, 200);
    const m = await (await fetch(`${node.url}/metrics`)).text();
    assert.match(m, /deep_ingest_rate_limited_total\{limit="register"\} [3-9]/);
  });

  test('rejections are rate-limited per client address; duplicates and accepted reports cost nothing', async () => {
    const node = await start({ limits: { registerPerMin: 100, rejectionsPerMin: 10 } });
    const ride = await fresh(node.url, device(64));
    const good = ride.take(20);
    // 20 accepted and 20 duplicates from one address: no limit reached.
    assert.is((await requestFrom('127.0.0.2', `${node.url}/v1/reports`, 'POST', cborArray(good))).json.accepted, 20);
    assert.is((await requestFrom('127.0.0.2', `${node.url}/v1/reports`, 'POST', cborArray(good))).json.duplicate, 20);
    const junk = new Ride(device(65)).take(12); // unknown key: 12 rejections
    const first = await requestFrom('127.0.0.3', `${node.url}/v1/reports`, 'POST', cborArray(junk));
    assert.is(first.status, 200);
    assert.is(first.json.rejected, 12);
    const next = await requestFrom('127.0.0.3', `${node.url}/v1/reports`, 'POST', cborArray(junk.slice(0, 1)));
    assert.is(next.status, 429);
    assert.ok(Number(next.headers['retry-after']) >= 1);
    assert.match(next.json.error, /rejected reports/);
    // The honest device at another address carries on.
    assert.is((await requestFrom('127.0.0.2', `${node.url}/v1/reports`, 'POST', cborArray([ride.next()]))).json.accepted, 1);
  });

  test('an enrollment token, when set, is required to register', async () => {
    const node = await start({ enrollToken: 'enroll-me-please' });
    const dev = device(66);
    const attempt = async (auth?: string) => {
      const c = (await getJson(`${node.url}/v1/devices/challenge`)).json.challenge as string;
      const proof = makePairingProof({ challenge: Buffer.from(c, 'hex'), publicKey: dev.publicKey, firmware: 256 }, dev.sign);
      const res = await fetch(`${node.url}/v1/devices`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify({ challenge: c, proof: Buffer.from(proof).toString('base64') }),
      });
      return { status: res.status, json: (await res.json()) as any };
    };
    let r = await attempt();
    assert.is(r.status, 401);
    assert.match(r.json.error, /enrollment token/);
    r = await attempt('Bearer enroll-me-not');
    assert.is(r.status, 401);
    assert.is((await getJson(`${node.url}/v1/devices/${dev.id}`)).status, 404);
    r = await attempt('Bearer enroll-me-please');
    assert.is(r.status, 201, JSON.stringify(r.json));
    // The registering tools send it too (deep report --register, deep pair: --enroll-token-file).
    const { registerTestKey } = await import('../../../host-tools/cli/commands/report');
    const other = device(68);
    await rejects(registerTestKey(node.url, other.seed, other.publicKey), /HTTP 401.*enrollment token/);
    assert.is(await registerTestKey(node.url, other.seed, other.publicKey, 'enroll-me-please'), other.id);
  });

  test('deep ingest --enroll-token-file: an empty or missing file is refused by name; a good one is required', async () => {
    const empty = path.join(ledger.dir, 'empty-token');
    writeFileSync(empty, '\n');
    await rejects(spawnIngestNode({ db: await ledger.db('cli'), args: ['--enroll-token-file', empty] }), /empty-token.*empty/);
    await rejects(spawnIngestNode({ db: await ledger.db('cli'), args: ['--enroll-token-file', path.join(ledger.dir, 'nope')] }), /nope/);
    const file = path.join(ledger.dir, 'token');
    writeFileSync(file, 'from-a-file\n');
    const { child, url } = await spawnIngestNode({ db: await ledger.db('cli'), args: ['--enroll-token-file', file] });
    try {
      assert.is((await register(url, device(67))).status, 401);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  test.run();
}
