// `deep report`, `deep verify`, `deep inspect` through main(argv), and the interoperability
// check: reports written by `deep report` verify with an independent COSE_Sign1 / Ed25519
// implementation (cbor-x + node:crypto, written here from RFC 9052 alone, not our code).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deep } from './_run';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { Decoder, Encoder, Tag } from 'cbor-x';

const SEED = '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb';
const PUB = '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c'; // RFC 8032 §7.1 TEST 2
const dir = mkdtempSync(path.join(tmpdir(), 'deep-report-'));
const FILE = path.join(dir, 'ride.cbor');

test('deep report writes N chained reports; deep verify accepts them all', async () => {
  const r = await deep(['report', '--seed', SEED, '--count', '30', '--out', FILE]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /wrote 30 reports/);
  assert.match(r.out, new RegExp(`public key ${PUB}`));
  const v = await deep(['verify', FILE, '--pubkey', PUB]);
  assert.is(v.code, 0, v.out);
  const summary = JSON.parse(v.out.trim().split('\n').pop()!);
  assert.is(summary.reports, 30);
  assert.is(summary.valid, 30);
  assert.is(summary.rejected, 0);
  assert.is(summary.firstSeq, 0);
  assert.is(summary.lastSeq, 29);
  assert.equal(Object.keys(summary.totalsMwh), ['10', '11']);
  assert.ok(summary.totalsMwh['10'].packToMotor > 0 && summary.totalsMwh['10'].gridToPack > 0 && summary.totalsMwh['10'].packToGrid > 0);
  // the same seed gives the same file
  const again = path.join(dir, 'again.cbor');
  await deep(['report', '--seed', SEED, '--count', '30', '--out', again]);
  assert.ok(readFileSync(again).equals(readFileSync(FILE)));
});

test('deep verify: one line per problem, JSON summary, exit 1', async () => {
  const bytes = readFileSync(FILE);
  // Tamper a signature byte of report 2, drop report 5, repeat report 7 at the end.
  const { decodeSequence } = await import('../../../protocol/cbor');
  const seq = decodeSequence(new Uint8Array(bytes));
  const parts = seq.map((s) => Buffer.from(s.bytes));
  parts[2] = Buffer.from(parts[2]);
  parts[2][parts[2].length - 3] ^= 0x40;
  const bad = Buffer.concat([...parts.slice(0, 5), ...parts.slice(6), parts[7]]);
  const badFile = path.join(dir, 'bad.cbor');
  writeFileSync(badFile, bad);
  const v = await deep(['verify', badFile, '--pubkey', PUB]);
  assert.is(v.code, 1);
  const lines = v.out.trim().split('\n');
  const summary = JSON.parse(lines.pop()!);
  assert.match(lines[0], /^report #2 \(offset \d+\): bad_signature: /);
  // report 3 now follows an unknown head (2 was rejected): a gap, and so on down the chain
  assert.match(lines[1], /^report #3 \(offset \d+ seq 3\): gap: /);
  assert.is(summary.byReason.bad_signature, 1);
  assert.ok(summary.rejected >= 2);
  // a file that ends in the middle of a report
  writeFileSync(badFile, bytes.subarray(0, bytes.length - 10));
  const t = await deep(['verify', badFile, '--pubkey', PUB]);
  assert.is(t.code, 1);
  assert.match(t.out, /offset \d+: malformed: CBOR truncated/);
  // wrong key: every report unknown_key
  const w = await deep(['verify', FILE, '--pubkey', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a']);
  assert.is(w.code, 1);
  assert.is(JSON.parse(w.out.trim().split('\n').pop()!).byReason.unknown_key, 30);
});

test('usage errors exit 2, missing files exit 3', async () => {
  assert.is((await deep(['report', '--seed', 'abc', '--count', '1', '--out', FILE])).code, 2);
  assert.is((await deep(['report', '--seed', SEED, '--count', '0', '--out', FILE])).code, 2);
  assert.is((await deep(['report', '--seed', SEED, '--count', '1'])).code, 2);
  assert.is((await deep(['verify', FILE])).code, 2);
  assert.is((await deep(['verify', '--pubkey', PUB])).code, 2);
  assert.is((await deep(['verify', path.join(dir, 'nope.cbor'), '--pubkey', PUB])).code, 3);
  assert.is((await deep(['inspect'])).code, 2);
});

test('verify and inspect: a device, an empty file and an absurd --now are clear errors', async () => {
  // /dev/zero never ends: refused at once, not read until memory runs out.
  let r = await deep(['verify', '/dev/zero', '--pubkey', PUB]);
  assert.is(r.code, 3);
  assert.match(r.err, /deep verify: \/dev\/zero is a character device, not a file of reports/);
  r = await deep(['inspect', '/dev/zero']);
  assert.is(r.code, 3);
  assert.match(r.err, /deep inspect: \/dev\/zero is a character device/);

  const empty = path.join(dir, 'empty.cbor');
  writeFileSync(empty, '');
  r = await deep(['inspect', empty]);
  assert.is(r.code, 1);
  assert.is(r.out, '');
  assert.match(r.err, /deep inspect: .*empty\.cbor is empty: no reports/);
  r = await deep(['verify', empty, '--pubkey', PUB]);
  assert.is(r.code, 1);
  assert.match(r.out, /^.*empty\.cbor is empty: no reports\n\{"file"/);

  for (const now of ['1000000000000000000000000000000', '0', '1704067199', '4102444801']) {
    r = await deep(['verify', FILE, '--pubkey', PUB, '--now', now]);
    assert.is(r.code, 2, now);
    assert.match(r.err, new RegExp(`--now expected epoch seconds from 1704067200 \\(2024-01-01\\) to 4102444800 \\(2100-01-01\\), got "${now}"`));
  }
  r = await deep(['verify', FILE, '--pubkey', PUB, '--now', '4102444800']);
  assert.is(r.code, 0, r.out);
});

test('deep inspect prints diagnostic notation with names and units', async () => {
  const r = await deep(['inspect', FILE]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^\/ item 0, offset 0, \d+ bytes \/\n18\(\[\n  h'a10132' \/ \{1: -19\} alg Ed25519 \//);
  assert.match(r.out, /5: 0 \/ clock: UNSYNCED, times are uptime \//);
  assert.match(r.out, /6: 1795\d+ \/ window start, epoch s = 2026-11-19T/);
  assert.match(r.out, /\d+ \/ pack→motor mWh \//);
  assert.match(r.out, /-?\d+ \/ net charge mAh \//);
  assert.match(r.out, /11: 256 \/ firmware 0\.1\.0 \//);
  assert.is((r.out.match(/^\/ item \d+/gm) ?? []).length, 30);
  // a pairing proof is annotated too
  const { makePairingProof } = await import('../../../protocol/pairing');
  const { ed25519Sign } = await import('../../../firmware/keys/ed25519');
  const proof = makePairingProof(
    { challenge: new Uint8Array(16).fill(0xab), publicKey: Buffer.from(PUB, 'hex'), firmware: 256 },
    (tbs) => ed25519Sign(tbs, Buffer.from(SEED, 'hex')),
  );
  const pf = path.join(dir, 'proof.cbor');
  writeFileSync(pf, proof);
  const p = await deep(['inspect', pf]);
  assert.is(p.code, 0);
  assert.match(p.out, /1: "deep-pair\/1" \/ context \//);
  assert.match(p.out, /2: h'(ab){16}' \/ challenge \//);
  // garbage is reported with its offset, exit 1
  writeFileSync(pf, Buffer.from([0x1c]));
  const g = await deep(['inspect', pf]);
  assert.is(g.code, 1);
  assert.match(g.out, /item 0 at offset 0: CBOR reserved_info/);
});

// ---------------------------------------------------------------- interoperability

/** Deterministic re-encoding per RFC 8949 §4.2.1 for the types a report uses, written
 * independently of protocol/cbor: if it reproduces the payload, the payload is canonical. */
function canonical(v: unknown): Buffer {
  const head = (major: number, n: number | bigint): Buffer => {
    const b = BigInt(n);
    if (b < 24n) return Buffer.from([(major << 5) | Number(b)]);
    if (b < 0x100n) return Buffer.from([(major << 5) | 24, Number(b)]);
    if (b < 0x10000n) { const x = Buffer.alloc(3); x[0] = (major << 5) | 25; x.writeUInt16BE(Number(b), 1); return x; }
    if (b < 0x100000000n) { const x = Buffer.alloc(5); x[0] = (major << 5) | 26; x.writeUInt32BE(Number(b), 1); return x; }
    const x = Buffer.alloc(9); x[0] = (major << 5) | 27; x.writeBigUInt64BE(b, 1); return x;
  };
  if (typeof v === 'number' || typeof v === 'bigint') {
    const b = BigInt(v);
    return b >= 0n ? head(0, b) : head(1, -1n - b);
  }
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), v]);
  if (typeof v === 'string') { const s = Buffer.from(v, 'utf8'); return Buffer.concat([head(3, s.length), s]); }
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(canonical)]);
  if (v instanceof Map) {
    const e = [...v.entries()].map(([k, x]) => [canonical(k), canonical(x)]).sort((a, b) => Buffer.compare(a[0], b[0]));
    return Buffer.concat([head(5, e.length), ...e.flat()]);
  }
  throw new Error(`unexpected ${typeof v} in a report`);
}

test('interop: every report verifies with cbor-x + node:crypto, and its payload is canonical CBOR', () => {
  const bytes = readFileSync(FILE);
  const d = new Decoder({ mapsAsObjects: false, useRecords: false });
  const enc = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(PUB, 'hex')]), format: 'der', type: 'spki' });
  const msgs = d.decodeMultiple(bytes) as unknown[];
  assert.is(msgs.length, 30);
  let prevHash = Buffer.alloc(32);
  let offset = 0;
  msgs.forEach((m, i) => {
    assert.ok(m instanceof Tag && m.tag === 18, `item ${i} is COSE_Sign1 (tag 18)`);
    const [prot, unprot, payload, sig] = (m as Tag).value as [Uint8Array, Map<number, Uint8Array>, Uint8Array, Uint8Array];
    assert.is(Buffer.from(prot).toString('hex'), 'a10132');
    assert.equal((d.decode(prot) as Map<number, number>).get(1), -19);
    const kid = unprot.get(4)!;
    assert.is(Buffer.from(kid).toString('hex'), createHash('sha256').update(Buffer.from(PUB, 'hex')).digest('hex').slice(0, 16));
    // RFC 9052 §4.4 Sig_structure, encoded by cbor-x
    const tbs = enc.encode(['Signature1', Buffer.from(prot), Buffer.alloc(0), Buffer.from(payload)]);
    assert.ok(verify(null, tbs, key, Buffer.from(sig)), `report ${i} verifies`);
    const p = d.decode(payload) as Map<number, unknown>;
    assert.ok(canonical(p).equals(Buffer.from(payload)), `report ${i} payload is canonical`);
    assert.is(p.get(3), i, 'seq');
    assert.is(Buffer.from(p.get(4) as Uint8Array).toString('hex'), prevHash.toString('hex'), 'prev');
    // the item's exact bytes: it re-encodes canonically too, so its length is known
    const whole = Buffer.concat([Buffer.from([0xd2]), canonical([prot, unprot, payload, sig])]);
    assert.ok(whole.equals(bytes.subarray(offset, offset + whole.length)), `report ${i} is canonical COSE`);
    prevHash = createHash('sha256').update(whole).digest();
    offset += whole.length;
  });
  assert.is(offset, bytes.length);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('deep report --register: the test key is paired with an ingest node, which then accepts the file', async () => {
  const { startIngestNode } = await import('../../../host-tools/ingest/node');
  const { silentLogger } = await import('../../../host-tools/ingest/log');
  const node = await startIngestNode({ db: path.join(dir, 'ledger.sqlite'), port: 0, host: '127.0.0.1', logger: silentLogger, workers: 1 });
  try {
    const file = path.join(dir, 'registered.cbor');
    const r = await deep(['report', '--seed', SEED, '--count', '5', '--out', file, '--register', node.url]);
    assert.is(r.code, 0, r.err);
    const kid = /kid ([0-9a-f]{16})/.exec(r.out)![1];
    assert.match(r.out, new RegExp(`registered with .* as device ${kid}`));
    const res = await fetch(`${node.url}/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/cbor-seq' }, body: readFileSync(file) });
    assert.is(res.status, 200);
    const body = (await res.json()) as { results: { status: string }[] };
    assert.equal(body.results.map((x) => x.status), ['accepted', 'accepted', 'accepted', 'accepted', 'accepted']);
    // registering the same key again is harmless: the node keeps the one device
    const again = await deep(['report', '--seed', SEED, '--count', '1', '--out', path.join(dir, 'x.cbor'), '--register', node.url]);
    assert.is(again.code, 0, again.err);
    assert.match(again.out, new RegExp(`as device ${kid}`));
    // not a URL: a usage error before anything is written
    const notUrl = path.join(dir, 'not-url.cbor');
    for (const bad of ['notaurl', 'ftp://127.0.0.1/']) {
      const u = await deep(['report', '--seed', SEED, '--count', '1', '--out', notUrl, '--register', bad]);
      assert.is(u.code, 2, bad);
      assert.match(u.err, new RegExp(`--register expected an http:// or https:// URL, got "${bad}"`));
      assert.not.ok(existsSync(notUrl), 'the reports were written despite the bad --register');
    }
    // a node that is not there is a clear I/O error
    const down = await deep(['report', '--seed', SEED, '--count', '1', '--out', path.join(dir, 'y.cbor'), '--register', 'http://127.0.0.1:1']);
    assert.is(down.code, 3);
    assert.match(down.err, /unreachable/);
  } finally {
    await node.close();
  }
});

test.run();
