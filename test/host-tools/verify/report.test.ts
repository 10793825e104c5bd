import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CborMap, encode } from '../../../protocol/cbor';
import { fromHex, toHex } from '../../../protocol/bytes';
import { sign1, sign1BeginHeaders } from '../../../protocol/cose';
import { kidFromPublicKey } from '../../../protocol/kid';
import { decodeReport, encodeReport, prevOf, signReport, zeroPrev, type EnergyReport } from '../../../protocol/report';
import { decodeSign1 } from '../../../protocol/cose';
import { ed25519PublicKey, ed25519Sign } from '../../../firmware/keys/ed25519';
import {
  checkChain, keyRegistry, MemoryChain, REJECT, REJECT_REASONS, verifyReportBytes, type ChainView, type VerifyResult, type VerifiedReport,
} from '../../../host-tools/verify';
import { makeSignedRide } from '../../../host-tools/cli/commands/report';
import { createHash } from 'node:crypto';
import { sha256Host, sha256Into } from '../../../host-tools/verify/report';
import fc from 'fast-check';

const SEED = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const PUB = ed25519PublicKey(SEED);
const KID = kidFromPublicKey(PUB);
const REG = keyRegistry([PUB], kidFromPublicKey);
const ride = makeSignedRide(SEED, 24);
const signer = (tbs: Uint8Array) => ed25519Sign(tbs, SEED, PUB);

function report(i: number): EnergyReport {
  return decodeReport(decodeSign1(ride.reports[i]).payload);
}

function reasonOf(r: VerifyResult | { ok: true }): string {
  return r.ok ? 'ok' : r.reason;
}

function verified(bytes: Uint8Array): VerifiedReport {
  const v = verifyReportBytes(bytes, REG);
  if (!v.ok) throw new Error(v.detail);
  return v;
}

test('a whole simulated ride verifies and chains; the reasons are the documented eight', () => {
  assert.equal([...REJECT_REASONS].sort(), ['bad_signature', 'fork', 'gap', 'implausible', 'malformed', 'replay', 'unknown_key', 'unsupported_alg']);
  const chain = new MemoryChain();
  for (const b of ride.reports) {
    const v = verified(b);
    assert.equal(checkChain(v, chain), { ok: true, status: 'accept' });
    chain.apply(v);
  }
  assert.is(chain.head(KID)!.seq, 23);
  // a resend of the same bytes is a duplicate, not an error
  assert.equal(checkChain(verified(ride.reports[5]), chain), { ok: true, status: 'duplicate' });
});

test('stateless rejections: malformed, unknown_key, unsupported_alg, bad_signature', () => {
  const good = ride.reports[3];
  assert.is(reasonOf(verifyReportBytes(new Uint8Array([0xd2, 0x84]), REG)), REJECT.MALFORMED);
  assert.is(reasonOf(verifyReportBytes(new Uint8Array([...good, 0]), REG)), REJECT.MALFORMED);
  assert.is(reasonOf(verifyReportBytes(good, keyRegistry([ed25519PublicKey(new Uint8Array(32))], kidFromPublicKey))), REJECT.UNKNOWN_KEY);
  // alg ES256 (-7) and no alg at all
  const payload = decodeSign1(good).payload;
  for (const prot of [new CborMap([[1, -7]]), new CborMap()]) {
    const d = sign1BeginHeaders(prot, new CborMap([[4, KID]]), payload);
    assert.is(reasonOf(verifyReportBytes(d.finish(signer(d.toBeSigned)), REG)), REJECT.UNSUPPORTED_ALG);
  }
  // the polymorphic EdDSA id is accepted
  const d8 = sign1BeginHeaders(new CborMap([[1, -8]]), new CborMap([[4, KID]]), payload);
  assert.is(reasonOf(verifyReportBytes(d8.finish(signer(d8.toBeSigned)), REG)), 'ok');
  // any flipped bit in the signature or in the payload
  for (const at of [good.length - 1, good.length - 40, 30, 60, 90]) {
    const b = good.slice();
    b[at] ^= 0x04;
    const r = reasonOf(verifyReportBytes(b, REG));
    assert.ok(r === REJECT.BAD_SIGNATURE || r === REJECT.MALFORMED, `byte ${at}: ${r}`);
  }
  const sigFlip = good.slice();
  sigFlip[good.length - 1] ^= 1;
  assert.is(reasonOf(verifyReportBytes(sigFlip, REG)), REJECT.BAD_SIGNATURE);
  // a validly signed payload that is not a report
  assert.is(reasonOf(verifyReportBytes(sign1(encode([1, 2, 3]), KID, signer), REG)), REJECT.MALFORMED);
  // a validly signed report whose payload kid is not the header kid
  const other = { ...report(3), kid: fromHex('0000000000000000') };
  const r = verifyReportBytes(sign1(encodeReport(other), KID, signer), REG);
  assert.is(reasonOf(r), REJECT.MALFORMED);
  assert.is(!r.ok && r.field, 'kid');
  // an extra header is outside the profile
  const extra = sign1BeginHeaders(new CborMap([[1, -19]]), new CborMap([[4, KID], [5, new Uint8Array(1)]]), payload);
  assert.is(reasonOf(verifyReportBytes(extra.finish(signer(extra.toBeSigned)), REG)), REJECT.MALFORMED);
});

test('the bytes received are verified, not a re-encoding', () => {
  // Same report, same signature, but the protected header re-encoded non-canonically
  // (alg as a 2-byte negative int): the strict decoder refuses it outright.
  const good = ride.reports[2];
  const hex = toHex(good).replace('43a10132', '44a1013812');
  assert.is.not(hex, toHex(good));
  assert.is(reasonOf(verifyReportBytes(fromHex(hex), REG)), REJECT.MALFORMED);
});

function resign(r: EnergyReport): Uint8Array {
  return signReport(r, signer);
}

test('implausible: power above 10 kW, charge above 500 A, lifetime below window, pre-2024 time, future', () => {
  const base = report(5); // a synced riding window
  const cases: Array<[(r: EnergyReport) => void, string]> = [
    [(r) => { r.packs[0].packToMotorMwh = 166_667; r.packs[0].lifetime.packToMotorMwh += 200_000; }, 'packs[0]'],
    [(r) => { r.packs[1].chargeMah = -8_334; }, 'packs[1].chargeMah'],
    [(r) => { r.packs[0].lifetime.regenToPackMwh = r.packs[0].regenToPackMwh - 1; }, 'packs[0].lifetime.regenToPackMwh'],
    [(r) => { r.startS = 86_400; }, 'startS'],
  ];
  for (const [change, field] of cases) {
    const r = structuredClone(base);
    change(r);
    const v = verifyReportBytes(resign(r), REG);
    assert.is(reasonOf(v), REJECT.IMPLAUSIBLE, field);
    assert.is(!v.ok && v.field, field);
  }
  // exactly 10 kW for 60 s (166 666 mWh) is still plausible
  const edge = structuredClone(base);
  edge.packs[0] = { ...edge.packs[0], gridToPackMwh: 0, packToGridMwh: 0, regenToPackMwh: 0, packToMotorMwh: 166_666 };
  edge.packs[0].lifetime = { gridToPackMwh: 0, packToGridMwh: 0, regenToPackMwh: 0, packToMotorMwh: 166_666 };
  assert.is(reasonOf(verifyReportBytes(resign(edge), REG)), 'ok');
  const end = base.startS + base.durationS;
  assert.is(reasonOf(verifyReportBytes(ride.reports[5], REG, { nowS: end - 300 })), 'ok');
  assert.is(reasonOf(verifyReportBytes(ride.reports[5], REG, { nowS: end - 301 })), REJECT.IMPLAUSIBLE);
});

test('chain: gap, fork (other bytes, wrong prev), replay, lifetime continuity, time order', () => {
  const chain = new MemoryChain();
  for (let i = 0; i <= 5; i++) chain.apply(verified(ride.reports[i]));
  // seq 7 while the head is 5
  assert.is(reasonOf(checkChain(verified(ride.reports[7]), chain)), REJECT.GAP);
  // seq 0 of a fresh chain must be seq 0
  assert.is(reasonOf(checkChain(verified(ride.reports[1]), new MemoryChain())), REJECT.GAP);
  // other bytes for an accepted seq
  const r3 = report(3);
  r3.faults.device = 1;
  assert.is(reasonOf(checkChain(verified(resign(r3)), chain)), REJECT.FORK);
  // next seq but prev not the head's hash
  const r6 = report(6);
  r6.prev = prevOf(ride.reports[4]);
  assert.is(reasonOf(checkChain(verified(resign(r6)), chain)), REJECT.FORK);
  // a chain store that no longer holds old hashes: the old seq is a replay
  const pruned: ChainView = { head: (k) => chain.head(k), hashAt: () => undefined };
  assert.is(reasonOf(checkChain(verified(ride.reports[2]), pruned)), REJECT.REPLAY);
  // lifetime counters that do not continue the head's
  const r6b = report(6);
  r6b.packs[1].lifetime.packToMotorMwh += 1;
  const v = checkChain(verified(resign(r6b)), chain);
  assert.is(reasonOf(v), REJECT.IMPLAUSIBLE);
  assert.is(!v.ok && v.field, 'packs[1].lifetime.packToMotorMwh');
  // a synced window starting well before the head's window ended
  const r6c = report(6);
  r6c.startS -= 61 + 60;
  assert.is(reasonOf(checkChain(verified(resign(r6c)), chain)), REJECT.IMPLAUSIBLE);
  // and the genuine seq 6 is accepted
  assert.equal(checkChain(verified(ride.reports[6]), chain), { ok: true, status: 'accept' });
  // seq 0 on an empty chain is accepted with its zero prev
  assert.equal(report(0).prev, zeroPrev());
});

test('property: no corruption of a valid report is ever accepted', () => {
  const reg = keyRegistry([PUB]);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 23 }), fc.nat(), fc.integer({ min: 0, max: 7 }), fc.integer({ min: -3, max: 3 }), (i, pos, bit, cut) => {
      const b = ride.reports[i].slice();
      const at = pos % b.length;
      b[at] ^= 1 << bit;
      const len = cut < 0 ? b.length + cut : b.length;
      const bytes = cut > 0 ? new Uint8Array([...b, ...new Uint8Array(cut)]) : b.subarray(0, len);
      const r = verifyReportBytes(bytes, reg);
      assert.not.ok(r.ok, `flipped bit ${bit} of byte ${at} in report ${i} was accepted`);
      // the flip lands in a structure, the kid, the signed bytes or the signature
      assert.ok(['malformed', 'unknown_key', 'bad_signature', 'unsupported_alg'].includes(reasonOf(r)), reasonOf(r));
    }),
    { numRuns: 300 },
  );
});

test('property: sha256Host and sha256Into give node:crypto\'s SHA-256 digest, at any offset', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 40 }), (data, at) => {
      const want = createHash('sha256').update(data).digest();
      assert.equal(Buffer.from(sha256Host(data)), want);
      const out = new Uint8Array(at + 40).fill(0xaa);
      sha256Into(data, out, at);
      assert.equal(Buffer.from(out.subarray(at, at + 32)), want);
      // Nothing written around it.
      assert.ok(out.subarray(0, at).every((x) => x === 0xaa) && out.subarray(at + 32).every((x) => x === 0xaa));
    }),
    { numRuns: 500 },
  );
});

test.run();
