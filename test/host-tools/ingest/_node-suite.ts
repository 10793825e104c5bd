// The ingest node over real HTTP on loopback, against a store the caller provides (a SQLite
// file in a temp dir: node.test.ts; a PostgreSQL database: node-postgres.test.ts). The same
// tests, the same answers, whichever store is behind the node.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { createLogger } from '../../../host-tools/ingest/log';
import { verifyReportBytes, keyRegistry, kidFromPublicKey, sha256Host } from '../../../host-tools/verify';
import { encodeReport } from '../../../protocol/report';
import { encode, CborTag } from '../../../protocol/cbor';
import { BASE_S, Ride, device, register, postOne, postReports, getJson, cborArray, cborSeq, signWithAlg, waitFor, type Device } from './_fixtures';

/** Where the node's ledger lives for one run of the suite. */
export interface LedgerDb {
  /** --db: a SQLite file or a postgres:// URL. */
  db: string;
  cleanup(): void | Promise<void>;
}

export function nodeSuite(name: string, ledger: () => Promise<LedgerDb>): void {
  const test = suite(name);
  const __dirname_ = path.dirname(fileURLToPath(import.meta.url));
  const logLines: string[] = [];
  let node: IngestNode;
  let url: string;
  let where: LedgerDb;
  const alice = device(1);
  const bob = device(2);
  const mallory = device(3);

  test.before(async () => {
    where = await ledger();
    node = await startIngestNode({ db: where.db, port: 0, workers: 2, logger: createLogger({ level: 'warn', sink: { write: (l: string) => logLines.push(l) } }), gapAlertMs: 150, maxAhead: 1000, maxBodyBytes: 64 * 1024, adminToken: 'op-secret' });
    url = node.url;
  });

  test.after(async () => {
    await node.close();
    await where.cleanup();
  });

  async function fresh(dev: Device): Promise<Ride> {
    const r = await register(url, dev);
    assert.is(r.status, 201, JSON.stringify(r.json));
    return new Ride(dev);
  }

  test('registration: a proof over the node challenge registers; bad proofs and reused challenges do not', async () => {
    const bad = await register(url, bob, (c) => c.map((x) => x ^ 1));
    assert.is(bad.status, 400);
    assert.match(bad.json.error, /bad pairing proof: replay: pairing proof is for another challenge/);
    // A proof signed by another key than the one it presents.
    const c = (await getJson(`${url}/v1/devices/challenge`)).json.challenge as string;
    const { makePairingProof } = await import('../../../protocol/pairing');
    const forged = makePairingProof({ challenge: Buffer.from(c, 'hex'), publicKey: bob.publicKey, firmware: 256 }, mallory.sign);
    const post = (challenge: string, proof: Uint8Array) =>
      fetch(`${url}/v1/devices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ challenge, proof: Buffer.from(proof).toString('base64') }) });
    let res = await post(c, forged);
    assert.is(res.status, 400);
    assert.match(((await res.json()) as any).error, /bad_signature/);
    // The challenge was burned by the failed attempt: single use.
    const good = makePairingProof({ challenge: Buffer.from(c, 'hex'), publicKey: bob.publicKey, firmware: 256 }, bob.sign);
    res = await post(c, good);
    assert.is(res.status, 400);
    assert.match(((await res.json()) as any).error, /unknown or already used challenge/);
    assert.is((await getJson(`${url}/v1/devices/${bob.id}`)).status, 404);
    // Malformed requests.
    res = await fetch(`${url}/v1/devices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"challenge": 1}' });
    assert.is(res.status, 400);
    res = await fetch(`${url}/v1/devices`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    assert.is(res.status, 415);
    const ok = await register(url, alice);
    assert.is(ok.status, 201);
    assert.is(ok.json.id, alice.id);
    assert.is(ok.json.publicKey, Buffer.from(alice.publicKey).toString('hex'));
    assert.is(ok.json.head, null);
  });

  test('accepts a chain in order, answers a resend as duplicate, serves head, reports and export', async () => {
    const ride = new Ride(alice);
    const reports = ride.take(40);
    let r = await postReports(url, cborArray(reports.slice(0, 30)));
    assert.is(r.status, 200);
    assert.is(r.json.accepted, 30);
    assert.ok(r.json.results.every((a: any, i: number) => a.status === 'accepted' && a.state === 'committed' && a.seq === i && a.device === alice.id));
    // Resend of the same bytes (the device lost the answer): success, nothing stored twice.
    r = await postReports(url, cborArray(reports.slice(25, 40)));
    assert.equal(r.json.results.map((a: any) => a.status), [...Array(5).fill('duplicate'), ...Array(10).fill('accepted')]);
    const d = (await getJson(`${url}/v1/devices/${alice.id}`)).json;
    assert.is(d.head.seq, 39);
    assert.is(d.head.hash, Buffer.from(sha256Host(reports[39])).toString('hex'));
    assert.ok(d.lastSeenAt);
    assert.equal(d.faults, { vesc: 0, bms: 1, device: 0, firmware: 256 });
    // Paged reports carry the raw COSE bytes: re-verify them with the library.
    const reg = keyRegistry([alice.publicKey], kidFromPublicKey);
    let next: string | null = `/v1/devices/${alice.id}/reports?limit=16`;
    const seen: number[] = [];
    while (next) {
      const page: any = (await getJson(url + next)).json;
      for (const rep of page.reports) {
        const bytes = new Uint8Array(Buffer.from(rep.cose, 'base64'));
        assert.equal(bytes, reports[rep.seq]);
        assert.ok(verifyReportBytes(bytes, reg).ok);
        seen.push(rep.seq);
      }
      next = page.next;
    }
    assert.equal(seen, [...Array(40).keys()]);
    // Export: NDJSON, every accepted report with its bytes.
    const text = await (await fetch(`${url}/v1/export`)).text();
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    const mine = lines.filter((l) => l.device === alice.id);
    assert.is(mine.length, 40);
    assert.equal(new Uint8Array(Buffer.from(mine[7].cose, 'base64')), reports[mine[7].seq]);
    const after = await (await fetch(`${url}/v1/export?after=${lines[lines.length - 2].cursor}`)).text();
    assert.is(after.trim().split('\n').length, 1);
    // Energy per pack and flow, in hourly buckets: 40 one-minute windows.
    const e = (await getJson(`${url}/v1/devices/${alice.id}/energy?bucket=1d`)).json;
    let motor10 = 0;
    for (const b of e.buckets) motor10 += b.packs['10'].pack_to_motor.total;
    let expected = 0;
    for (let s = 0; s < 40; s++) expected += 1200 + (s % 7);
    assert.is(motor10, expected);
    assert.is(e.totals['10'].pack_to_motor.total, expected);
    assert.is(e.totals['11'].regen_to_pack.total, 20 * 40);
    assert.is(e.totals['10'].charge.unit, 'mAh');
    const narrow = (await getJson(`${url}/v1/devices/${alice.id}/energy?from=0&to=1&bucket=1h`)).json;
    assert.equal(narrow.buckets, []);
    assert.is((await getJson(`${url}/v1/devices/${alice.id}/energy?bucket=0`)).status, 400);
  });

  test('every rejection reason, typed, counted per device and in /metrics', async () => {
    const ride = await fresh(device(10));
    const first = ride.take(3);
    await postReports(url, cborArray(first));
    const next = ride.make().bytes;
    // bad_signature: one bit flipped in the signature.
    const flipped = next.slice();
    flipped[flipped.length - 1] ^= 1;
    // unsupported_alg: ES256 (-7) in the protected header.
    const es256 = signWithAlg(ride.dev, encodeReport(ride.make().report), -7);
    // malformed: a tag-18 COSE array of 3, and a non-canonical payload.
    const three = encode(new CborTag(18, [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)]));
    // unknown_key: a device never registered.
    const stranger = new Ride(device(11)).next();
    // fork: other bytes for seq 1 (committed).
    const other = new Ride(ride.dev);
    other.take(1);
    const fork = other.make({ motorMwh: 5 }).bytes;
    // implausible: 20 kWh in one minute on pack 10.
    const huge = ride.make({ motorMwh: 20_000_000 }).bytes;
    // implausible through the chain rules: lifetime counters that do not add up.
    const broken = ride.make({ tweak: (r) => (r.packs[0].lifetime.packToMotorMwh += 1) }).bytes;
    // gap beyond the pending window (maxAhead 1000).
    const far = new Ride(ride.dev);
    far.seq = 5000;
    const farBytes = far.make({ tweak: (r) => (r.startS = BASE_S) }).bytes;
    const r = await postReports(url, cborArray([flipped, es256, three, stranger, fork, huge, broken, farBytes]));
    assert.is(r.status, 200);
    assert.equal(
      r.json.results.map((a: any) => a.reason),
      ['bad_signature', 'unsupported_alg', 'malformed', 'unknown_key', 'fork', 'implausible', 'implausible', 'gap'],
    );
    assert.is(r.json.rejected, 8);
    for (const a of r.json.results) assert.ok(a.detail.length > 5, a.detail);
    assert.match(r.json.results[6].detail, /lifetime/);
    // The chain is untouched and the device is flagged for the fork.
    const d = (await getJson(`${url}/v1/devices/${ride.dev.id}`)).json;
    assert.is(d.head.seq, 2);
    assert.equal(d.fork, { count: 1, firstSeq: 1 });
    // A flipped signature is anyone's doing: counted apart, not against the device it names.
    assert.is(d.rejections.bad_signature, undefined);
    assert.is(d.rejections.implausible, 2);
    assert.is(d.rejections.fork, 1);
    // The good report still goes in after all that.
    assert.is((await postOne(url, ride.next())).status, 'accepted');
    const m = await (await fetch(`${url}/metrics`)).text();
    for (const reason of ['bad_signature', 'unsupported_alg', 'malformed', 'unknown_key', 'fork', 'implausible', 'gap']) {
      assert.match(m, new RegExp(`deep_ingest_reports_rejected_total\\{reason="${reason}"\\} [1-9]`));
    }
    assert.match(m, /deep_ingest_verify_seconds_count [1-9]/);
    assert.match(m, /deep_ingest_queue_depth 0/);
  });

  test('out of order: later reports wait pending (durably), the gap is reported, then filled and promoted', async () => {
    const ride = await fresh(device(20));
    const rs = ride.take(8);
    let r = await postReports(url, cborArray([rs[0], rs[1], rs[5], rs[6], rs[4]]));
    assert.equal(r.json.results.map((a: any) => `${a.status}/${a.state}`), ['accepted/committed', 'accepted/committed', 'accepted/pending', 'accepted/pending', 'accepted/pending']);
    let d = (await getJson(`${url}/v1/devices/${ride.dev.id}`)).json;
    assert.is(d.head.seq, 1);
    assert.equal({ ...d.gap, since: undefined }, { from: 2, to: 3, pending: 3, highestPending: 6, since: undefined });
    const gaps = (await getJson(`${url}/v1/gaps`)).json.gaps;
    // A gap that stays open (gapAlertMs 150) is reported in the structured log (JSON lines).
    const logged = await waitFor('the "gap still open" warning', () =>
      logLines.map((l) => JSON.parse(l)).find((l) => l.msg === 'gap still open' && l.device === ride.dev.id),
    );
    assert.equal([logged.level, logged.missingFrom, logged.missingTo, logged.pending], ['warn', 2, 3, 3]);
    assert.ok(Date.parse(logged.t) > 0);
    assert.ok(gaps.some((g: any) => g.device === ride.dev.id && g.from === 2 && g.to === 3));
    assert.match(await (await fetch(`${url}/metrics`)).text(), /deep_ingest_open_gaps [1-9]/);
    // A resend of a pending report is a duplicate too.
    assert.equal(await postOne(url, rs[5]), { index: 0, status: 'duplicate', device: ride.dev.id, seq: 5, state: 'pending' });
    // The same seq with other bytes while pending: fork.
    const other = new Ride(ride.dev);
    other.take(6);
    assert.is((await postOne(url, other.make({ motorMwh: 3 }).bytes)).reason, 'fork');
    r = await postReports(url, cborArray([rs[3], rs[2]]));
    assert.equal(r.json.results.map((a: any) => `${a.status}/${a.state}`), ['accepted/committed', 'accepted/committed']); // 3 was held, then promoted by 2 in the same commit
    d = (await getJson(`${url}/v1/devices/${ride.dev.id}`)).json;
    assert.is(d.head.seq, 6);
    assert.is(d.gap, null);
    assert.is((await postOne(url, rs[7])).state, 'committed');
    const page = (await getJson(`${url}/v1/devices/${ride.dev.id}/reports`)).json;
    assert.equal(page.reports.map((x: any) => x.seq), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(new Uint8Array(Buffer.from(page.reports[5].cose, 'base64')), rs[5]);
  });

  test('a pending report that does not link once the gap fills is rejected as a fork and flags the device', async () => {
    const ride = await fresh(device(21));
    const rs = ride.take(2);
    const alt = new Ride(ride.dev);
    alt.take(1);
    alt.make({ motorMwh: 9 });
    alt.next({ motorMwh: 9 }); // a different seq 1
    const orphan = alt.next(); // seq 2 chained to the other seq 1
    assert.is((await postOne(url, rs[0])).state, 'committed');
    assert.is((await postOne(url, orphan)).state, 'pending');
    assert.is((await postOne(url, rs[1])).state, 'committed');
    const d = (await getJson(`${url}/v1/devices/${ride.dev.id}`)).json;
    assert.is(d.head.seq, 1);
    assert.is(d.gap, null);
    assert.equal(d.fork, { count: 1, firstSeq: 2 });
    assert.is(d.rejections.fork, 1);
  });

  test('revocation: operator only, then the device is rejected as unknown_key and cannot re-register', async () => {
    const ride = await fresh(device(30));
    assert.is((await postOne(url, ride.next())).status, 'accepted');
    let res = await fetch(`${url}/v1/devices/${ride.dev.id}/revoke`, { method: 'POST' });
    assert.is(res.status, 401);
    res = await fetch(`${url}/v1/devices/${ride.dev.id}/revoke`, { method: 'POST', headers: { authorization: 'Bearer op-secret' } });
    assert.is(res.status, 200);
    assert.ok(((await res.json()) as any).revokedAt);
    const a = await postOne(url, ride.next());
    assert.is(a.status, 'rejected');
    assert.is(a.reason, 'unknown_key');
    assert.match(a.detail!, /revoked|no registered key/);
    const again = await register(url, ride.dev);
    assert.is(again.status, 409);
    res = await fetch(`${url}/v1/devices/0000000000000000/revoke`, { method: 'POST', headers: { authorization: 'Bearer op-secret' } });
    assert.is(res.status, 404);
  });

  test('operator token: the scheme is case-insensitive (RFC 7235 §2.1), the token is not', async () => {
    const revoke = (authorization: string) => fetch(`${url}/v1/devices/0000000000000000/revoke`, { method: 'POST', headers: { authorization } });
    // 404: past the operator check (no such device).
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) assert.is((await revoke(`${scheme} op-secret`)).status, 404, scheme);
    assert.is((await revoke('Bearer  op-secret')).status, 404, 'more than one space after the scheme');
    for (const bad of ['Bearer OP-SECRET', 'Bearer op-secret2', 'Bearer op-secre', 'Bearer', 'Bearer ', 'Basic op-secret', 'op-secret', 'Bearerop-secret']) {
      const res = await revoke(bad);
      assert.is(res.status, 401, bad);
      assert.is(res.headers.get('www-authenticate'), 'Bearer');
    }
  });

  test('operator token: compared in constant time (timingSafeEqual over SHA-256 digests, any length)', async () => {
    const crypto = (await import('node:crypto')).default;
    const original = crypto.timingSafeEqual;
    const calls: number[][] = [];
    crypto.timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.push([a.byteLength, b.byteLength]);
      return original(a, b);
    };
    try {
      const revoke = (authorization: string) => fetch(`${url}/v1/devices/0000000000000000/revoke`, { method: 'POST', headers: { authorization } });
      assert.is((await revoke('Bearer op-secret')).status, 404);
      assert.is((await revoke('Bearer x')).status, 401);
      assert.is((await revoke(`Bearer ${'y'.repeat(300)}`)).status, 401);
    } finally {
      crypto.timingSafeEqual = original;
    }
    assert.equal(calls, [[32, 32], [32, 32], [32, 32]]);
  });

  test('HTTP errors: 415 content type, 400 malformed CBOR with offsets, 413 oversized, 404, 405', async () => {
    let r = await postReports(url, new Uint8Array([1]), 'application/json');
    assert.is(r.status, 415);
    assert.match(r.json.error, /application\/cose/);
    r = await postReports(url, new Uint8Array([0x82, 0xd2]), 'application/cbor');
    assert.is(r.status, 400);
    assert.match(r.json.error, /malformed CBOR: truncated.*byte 2/);
    r = await postReports(url, new Uint8Array([0xa0]), 'application/cbor');
    assert.match(r.json.error, /expected a CBOR array/);
    r = await postReports(url, new Uint8Array([0x9f, 0xff]), 'application/cbor');
    assert.match(r.json.error, /indefinite-length/);
    r = await postReports(url, new Uint8Array([0x80, 0x00]), 'application/cbor');
    assert.match(r.json.error, /1 trailing byte\(s\) after the array at byte 1/);
    r = await postReports(url, new Uint8Array(0), 'application/cose');
    assert.is(r.status, 400);
    r = await postReports(url, new Uint8Array(70 * 1024), 'application/cbor');
    assert.is(r.status, 413);
    assert.match(r.json.error, /exceeds the limit of 65536 bytes/);
    assert.is((await getJson(`${url}/v1/nope`)).status, 404);
    assert.is((await getJson(`${url}/v1/devices/zz`)).status, 400);
    assert.is((await getJson(`${url}/v1/reports`)).status, 405);
    const h = (await getJson(`${url}/healthz`)).json;
    // SQLite's schema has batches (version 2) and packs in the report row (3); PostgreSQL's is version 1, without them.
    assert.equal({ ...h, queueDepth: 0 }, { status: 'ok', schemaVersion: node.store.kind === 'sqlite' ? 4 : 1, workers: 2, queueDepth: 0 });
  });

  test('bad percent-encoding in a device id answers 400 saying so, on every {id} route', async () => {
    for (const p of ['/v1/devices/%E0%A4%A', '/v1/devices/%ZZ/reports', '/v1/devices/%/energy']) {
      const r = await getJson(url + p);
      assert.is(r.status, 400, p);
      assert.match(r.json.error, /device id .* is not valid percent-encoded UTF-8/, p);
    }
    const res = await fetch(`${url}/v1/devices/%C3%28/revoke`, { method: 'POST', headers: { authorization: 'Bearer op-secret' } });
    assert.is(res.status, 400);
    assert.match(((await res.json()) as any).error, /"%C3%28" is not valid percent-encoded UTF-8/);
  });

  test('a request target that is no URL path answers 400 and the node carries on', async () => {
    const { connect } = await import('node:net');
    const u = new URL(url);
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(u.port), u.hostname, () => sock.write('GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let text = '';
      sock.on('data', (d) => (text += d));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error, /request target "\/\/\[" is not a valid URL path/);
    assert.is((await getJson(`${url}/healthz`)).status, 200);
  });

  test('CBOR sequences (deep report output) and byte-string-wrapped array elements are accepted', async () => {
    const ride = await fresh(device(40));
    const rs = ride.take(6);
    let r = await postReports(url, cborSeq(rs.slice(0, 3)), 'application/cbor-seq');
    assert.is(r.json.accepted, 3);
    const wrapped = rs.slice(3).map((b) => encode(b));
    r = await postReports(url, cborArray(wrapped), 'application/cbor');
    assert.is(r.json.accepted, 3);
    assert.is((await getJson(`${url}/v1/devices/${ride.dev.id}`)).json.head.seq, 5);
  });

  test('every path of openapi.yaml is served (documented API = implemented API)', async () => {
    const { readFileSync } = await import('node:fs');
    const spec = readFileSync(path.resolve(__dirname_, '../../../host-tools/ingest/openapi.yaml'), 'utf8');
    const paths = [...spec.matchAll(/^  (\/[^:]*):$/gm)].map((m) => m[1]);
    assert.ok(paths.length >= 10, paths.join(' '));
    for (const p of paths) {
      const concrete = p.replace('{id}', alice.id).replace('{seq}', '0').replace('{file}', 'index.html');
      const method = /\/revoke$|^\/v1\/devices$/.test(p) ? 'OPTIONS' : 'GET';
      const res = await fetch(url + concrete, { method });
      const body = await res.text();
      assert.not.match(body, /no route/, `${p} is documented but not served`);
    }
    // Both ways, with the methods: the route table is what openapi.yaml documents.
    const { ROUTE_TABLE } = await import('../../../host-tools/ingest/server');
    const documented: string[] = [];
    let at = '';
    for (const line of spec.slice(0, spec.indexOf('\ncomponents:')).split('\n')) {
      const p = /^  (\/[^:]*):$/.exec(line);
      if (p) at = p[1];
      const m = /^    (get|post|put|patch|delete):$/.exec(line);
      if (m) documented.push(`${m[1].toUpperCase()} ${at}`);
    }
    assert.equal(ROUTE_TABLE.map((r) => `${r.method} ${r.path}`).sort(), documented.sort());
  });

  test('a deep report ride (device code path, unsynced then synced clock) goes in as a CBOR sequence', async () => {
    const { makeSignedRide, RIDE_UNSYNCED_WINDOWS } = await import('../../../host-tools/cli/commands/report');
    const seed = new Uint8Array(32).fill(0x42);
    const ride = makeSignedRide(seed, 6);
    const dev: Device = { ...device(0x42), publicKey: ride.publicKey, kid: ride.kid, id: Buffer.from(ride.kid).toString('hex') };
    assert.is((await register(url, dev)).status, 201);
    const r = await postReports(url, cborSeq(ride.reports), 'application/cbor-seq');
    assert.is(r.json.accepted, 6, JSON.stringify(r.json.results.find((a: any) => a.reason)));
    const e = (await getJson(`${url}/v1/devices/${dev.id}/energy?bucket=1d`)).json;
    // Unsynced windows have no wall time: summed apart, never placed at a made-up date.
    const unsyncedReports = Object.values(e.unsynced as Record<string, any>)[0].pack_to_motor.reports;
    assert.is(unsyncedReports, RIDE_UNSYNCED_WINDOWS);
    const page = (await getJson(`${url}/v1/devices/${dev.id}/reports`)).json;
    assert.is(page.reports[0].windowStart, null);
    assert.ok(page.reports[5].windowStart > 1_700_000_000);
  });

  // Last: it breaks the node's store on purpose.
  test('a storage failure answers 503 with Retry-After and acknowledges nothing', async () => {
    const ride = await fresh(device(50));
    const rs = ride.take(2);
    assert.is((await postOne(url, rs[0])).state, 'committed');
    node.store.close();
    const r = await fetch(`${url}/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/cose' }, body: rs[1] });
    assert.is(r.status, 503);
    assert.is(r.headers.get('retry-after'), '5');
    assert.match(((await r.json()) as any).error, /nothing of this request was committed, resend it/);
    assert.ok(logLines.some((l) => JSON.parse(l).msg === 'commit failed'));
  });


  test.run();
}
