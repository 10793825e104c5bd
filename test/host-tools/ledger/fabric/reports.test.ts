// RegisterDevice and SubmitReports through the contract API: registration, accepted
// chains, each rejection reason, forged signatures, replays and forks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newLedger, registerDevice, submitReports, query, NOW_S, RIDER } from './_ledger';
import { Ride, device, signWithAlg, BASE_S } from '../../ingest/_fixtures';
import { FabricTxError } from '../../../../host-tools/ledger/fabric/inproc';
import { makePairingProof } from '../../../../protocol/pairing';
import { encodeReport } from '../../../../protocol/report';
import { sign1 } from '../../../../protocol/cose';
import { sha256Host } from '../../../../host-tools/verify';

const refused = async (p: Promise<unknown>, message: RegExp) => {
  try {
    await p;
  } catch (e) {
    assert.instance(e, FabricTxError);
    assert.match((e as Error).message, message);
    return;
  }
  assert.unreachable(`expected a refusal matching ${message}`);
};

test('RegisterDevice: a proof over an issued challenge registers the key for its owner, once per challenge', async () => {
  const ledger = await newLedger();
  const dev = device(1);
  const rec = await registerDevice(ledger, dev, 'rider-a');
  assert.is(rec.kid, dev.id);
  assert.is(rec.owner, 'rider-a');
  assert.is(rec.publicKey, Buffer.from(dev.publicKey).toString('hex'));
  assert.is(rec.headSeq, -1);
  assert.equal((await query(ledger, 'GetDevice', [dev.id])).owner, 'rider-a');
  // the same kid for the same owner again: answered, not duplicated
  assert.is((await registerDevice(ledger, dev, 'rider-a')).kid, dev.id);
  // by another owner: refused
  await refused(registerDevice(ledger, dev, 'rider-b'), /registered to another owner/);
  assert.is((await query(ledger, 'GetDevice', [dev.id])).owner, 'rider-a');
});

test('RegisterDevice refuses a used, unknown or expired challenge, a proof for another challenge, a forged proof', async () => {
  const ledger = await newLedger();
  const dev = device(2);
  const issue = async (t = NOW_S) => new Uint8Array(Buffer.from((await ledger.submit(RIDER, 'IssueChallenge', [], { timestampS: t })).result, 'hex'));
  const reg = (proof: Uint8Array, t = NOW_S) => ledger.submit(RIDER, 'RegisterDevice', [Buffer.from(proof).toString('base64'), 'rider'], { timestampS: t });
  const c = await issue();
  const proof = makePairingProof({ challenge: c, publicKey: dev.publicKey, firmware: 256 }, dev.sign);
  await refused(reg(proof, NOW_S + 301), /challenge expired/);
  await reg(proof);
  // replayed: the challenge is spent
  await refused(reg(proof), /unknown or already used/);
  // never issued
  const stranger = makePairingProof({ challenge: new Uint8Array(32).fill(7), publicKey: dev.publicKey, firmware: 256 }, dev.sign);
  await refused(reg(stranger), /unknown or already used/);
  // signed by another key than the one it presents (a forged proof)
  const other = device(3);
  const c2 = await issue();
  const forged = makePairingProof({ challenge: c2, publicKey: other.publicKey, firmware: 256 }, dev.sign);
  await refused(reg(forged), /bad_signature/);
  await refused(ledger.submit(RIDER, 'RegisterDevice', ['not base64!', 'rider'], { timestampS: NOW_S }), /pairingProof: expected standard base64/);
  await refused(ledger.submit(RIDER, 'RegisterDevice', [Buffer.from(proof).toString('base64'), ' bad owner'], { timestampS: NOW_S }), /owner: expected/);
  assert.is(await query(ledger, 'GetDevice', [other.id]), null);
});

test('SubmitReports accepts a chain in order, answers per report, one event listing the accepted reports', async () => {
  const ledger = await newLedger();
  const dev = device(4);
  await registerDevice(ledger, dev, 'rider-a');
  const ride = new Ride(dev);
  const first = ride.take(5);
  const r1 = await submitReports(ledger, first);
  assert.equal(r1.results.map((a) => [a.status, a.seq, a.state]), [0, 1, 2, 3, 4].map((s) => ['accepted', s, 'committed']));
  assert.is(r1.event?.name, 'DeepReportsAccepted');
  assert.equal(r1.event?.payload.map((e: any) => e.seq), [0, 1, 2, 3, 4]);
  assert.is(r1.event?.payload[4].hash, Buffer.from(sha256Host(first[4])).toString('hex'));
  const r2 = await submitReports(ledger, ride.take(3));
  assert.equal(r2.results.map((a) => a.status), ['accepted', 'accepted', 'accepted']);
  const d = await query(ledger, 'GetDevice', [dev.id]);
  assert.is(d.headSeq, 7);
  // hourly flow totals add up to the reports' sums
  const flows = await query(ledger, 'GetFlows', [dev.id]);
  const motor = flows.reduce((n: number, f: any) => n + f.packToMotorMwh, 0);
  const reports = flows.reduce((n: number, f: any) => n + f.reports, 0);
  assert.is(reports, 8);
  let expected = 0;
  for (let s = 0; s < 8; s++) expected += 1200 + (s % 7) + 900 + (s % 5);
  assert.is(motor, expected);
  assert.ok(flows.every((f: any) => f.hour % 3600 === 0));
});

test('each rejection reason, answered per report; the chain is untouched by them', async () => {
  const ledger = await newLedger();
  const dev = device(5);
  const stranger = device(6);
  await registerDevice(ledger, dev, 'rider-a');
  const ride = new Ride(dev);
  const good = ride.take(3);
  await submitReports(ledger, good);
  // seq 3 as it should be, and variants of it
  const next = ride.make();
  const forged = Buffer.from(next.bytes);
  forged[forged.length - 5] ^= 0x01; // a flipped signature bit
  const otherKey = sign1(encodeReport(next.report), dev.kid, stranger.sign); // signed by a key that is not the device's
  const badAlg = signWithAlg(dev, encodeReport(next.report), -7);
  const strangerReport = new Ride(stranger).next();
  const future = new Ride(dev);
  Object.assign(future, { seq: ride.seq, prev: ride.prev, life: ride.life });
  const fromFuture = future.make({ tweak: (r) => { r.startS = NOW_S + 3600; } }).bytes;
  const counters = future.make({ tweak: (r) => { r.packs[0].lifetime.packToMotorMwh += 5; } }).bytes;
  const gap = (() => { const f = new Ride(dev); Object.assign(f, { seq: ride.seq + 1, prev: ride.prev, life: ride.life }); return f.make().bytes; })();
  const forkAtHead = new Ride(dev);
  Object.assign(forkAtHead, { seq: 2, prev: sha256Host(good[1]), life: ride.life });
  const fork = forkAtHead.make({ motorMwh: 3 }).bytes;
  const badPrev = future.make({ tweak: (r) => { r.prev = new Uint8Array(32).fill(9); } }).bytes;
  const garbage = new Uint8Array([0x84, 0x40, 0xa0]); // an array of 4 with 2 items, then the end
  const { results } = await submitReports(ledger, [forged, otherKey, badAlg, strangerReport, fromFuture, counters, gap, fork, badPrev, garbage]);
  assert.equal(results.map((a) => a.reason), ['bad_signature', 'bad_signature', 'unsupported_alg', 'unknown_key', 'implausible', 'implausible', 'gap', 'fork', 'fork', 'malformed']);
  assert.ok(results.every((a) => a.status === 'rejected' && a.detail));
  assert.match(results[4].detail!, /in the future/);
  assert.match(results[5].detail!, /counters must add up/);
  assert.equal([results[6].device, results[6].seq], [dev.id, 4]);
  // nothing moved; the fork is kept as evidence and counted
  const d = await query(ledger, 'GetDevice', [dev.id]);
  assert.is(d.headSeq, 2);
  assert.is(d.forks, 2);
  assert.is((await submitReports(ledger, [next.bytes])).results[0].status, 'accepted');
});

test('replays: a report sent again is a duplicate (success, nothing written); other bytes for an accepted seq are a fork', async () => {
  const ledger = await newLedger();
  const dev = device(7);
  await registerDevice(ledger, dev, 'rider-a');
  const ride = new Ride(dev);
  const reports = ride.take(4);
  await submitReports(ledger, reports);
  const before = await query(ledger, 'GetDevice', [dev.id]);
  const { results, event } = await submitReports(ledger, [reports[1], reports[3], reports[3]]);
  assert.equal(results.map((a) => a.status), ['duplicate', 'duplicate', 'duplicate']);
  assert.is(event, null);
  assert.equal(await query(ledger, 'GetDevice', [dev.id]), before);
  // the same seq 1 with other figures, properly signed: a second history
  const alt = new Ride(dev);
  Object.assign(alt, { seq: 1, prev: sha256Host(reports[0]) });
  const fork = alt.make({ motorMwh: 9 }).bytes;
  const f = await submitReports(ledger, [fork]);
  assert.equal([f.results[0].status, f.results[0].reason], ['rejected', 'fork']);
  assert.match(f.results[0].detail!, /seq 1 already accepted with other bytes/);
  // within one transaction: the chain moves report by report, and a resend in the same batch is a duplicate
  const more = ride.take(2);
  const same = await submitReports(ledger, [more[0], more[0], more[1]]);
  assert.equal(same.results.map((a) => a.status), ['accepted', 'duplicate', 'accepted']);
});

test('SubmitReports refuses what is not base64; an empty sequence answers nothing', async () => {
  const ledger = await newLedger();
  await refused(ledger.submit(RIDER, 'SubmitReports', ['%%%'], { timestampS: NOW_S }), /reports: expected standard base64/);
  assert.equal((await submitReports(ledger, [])).results, []);
  void BASE_S;
});

test.run();
