import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { CborMap, decode, encode } from '../../protocol/cbor';
import { fromHex, toHex } from '../../protocol/bytes';
import { decodeSign1 } from '../../protocol/cose';
import { kidFromPublicKey } from '../../protocol/kid';
import {
  CLOCK_SYNCED, CLOCK_UNSYNCED, decodeReport, encodeReport, firmwareVersion, firmwareVersionString, prevOf, reportToCbor,
  signReport, signReportStepped, zeroPrev, type EnergyReport, type ReportError,
} from '../../protocol/report';
import { sha256 } from '../../protocol/sha256';
import { ed25519PublicKey, ed25519Sign, ed25519SignSteps } from '../../firmware/keys/ed25519';

const SEED = fromHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb');
const PUB = ed25519PublicKey(SEED);
const KID = kidFromPublicKey(PUB);

/** A dual-pack bike a year into its life, mid-ride, 60 s window. */
function realistic(): EnergyReport {
  return {
    version: 1, kid: KID, seq: 22000, prev: sha256(new Uint8Array([1])), clock: CLOCK_SYNCED, startS: 1_795_046_400, durationS: 60,
    packs: [10, 11].map((canId, i) => ({
      canId, gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 4200 + i * 150, regenToPackMwh: 310, chargeMah: -95,
      lifetime: { gridToPackMwh: 41_000_000, packToGridMwh: 3_000_000, packToMotorMwh: 36_000_000, regenToPackMwh: 2_500_000 },
    })),
    faults: { vesc: 0, bms: 1, device: 0 }, firmware: firmwareVersion(0, 1, 0),
  };
}

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as ReportError).field;
  }
  return 'no error';
}

test('round trip, canonical bytes, documented sizes', () => {
  const r = realistic();
  const b = encodeReport(r);
  assert.equal(decodeReport(b), r);
  assert.is(b.length, 138, 'payload size stated in SPEC.md');
  const cose = signReport(r, (tbs) => ed25519Sign(tbs, SEED, PUB));
  assert.is(cose.length, 223, 'whole COSE_Sign1 size stated in SPEC.md');
  assert.is(toHex(decodeSign1(cose).payload), toHex(b));
  // keys ascend, the start is under key 6 when synced and key 7 when not
  const m = decode(b) as CborMap;
  assert.equal(m.entries.map((e) => e[0]), [1, 2, 3, 4, 5, 6, 8, 9, 10, 11]);
  const u = decode(encodeReport({ ...r, clock: CLOCK_UNSYNCED, startS: 42 })) as CborMap;
  assert.is(u.get(7), 42);
  assert.not.ok(u.has(6));
});

test('a dual-pack payload stays within 200 bytes while every integer is below 2^32 (merged windows below 2^16)', () => {
  const M = 4294967295;
  const r: EnergyReport = {
    ...realistic(), seq: M, startS: M, durationS: M,
    packs: [253, 254].map((canId) => ({
      canId, gridToPackMwh: M, packToGridMwh: M, packToMotorMwh: M, regenToPackMwh: M, chargeMah: -M,
      lifetime: { gridToPackMwh: M, packToGridMwh: M, packToMotorMwh: M, regenToPackMwh: M },
    })),
    faults: { vesc: M, bms: M, device: M }, firmware: 16777215, gap: { mergedWindows: 65535, lostS: M },
  };
  const b = encodeReport(r);
  assert.ok(b.length <= 200, `${b.length} bytes`);
  assert.equal(decodeReport(b), r);
});

test('signReport chains: prev = SHA-256 of the previous complete COSE bytes; stepped = one-shot', () => {
  const r0 = { ...realistic(), seq: 0, prev: zeroPrev() };
  const c0 = signReport(r0, (tbs) => ed25519Sign(tbs, SEED, PUB));
  const r1 = { ...realistic(), seq: 1, prev: prevOf(c0) };
  assert.is(toHex(r1.prev), toHex(sha256(c0)));
  const one = signReport(r1, (tbs) => ed25519Sign(tbs, SEED, PUB));
  const st = signReportStepped(r1, (tbs) => ed25519SignSteps(tbs, SEED, PUB));
  while (!st.step());
  assert.is(toHex(st.result()), toHex(one));
});

test('encodeReport: labelled errors naming the field', () => {
  const r = realistic();
  const cases: Array<[Partial<EnergyReport> | ((x: EnergyReport) => void), string]> = [
    [{ version: 2 }, 'version'],
    [{ kid: new Uint8Array(7) }, 'kid'],
    [{ seq: -1 }, 'seq'],
    [{ seq: 1.5 }, 'seq'],
    [{ seq: 0 }, 'prev'], // seq 0 needs an all-zero prev
    [{ prev: new Uint8Array(31) }, 'prev'],
    [{ clock: 2 }, 'clock'],
    [{ startS: -5 }, 'startS'],
    [{ durationS: 0 }, 'durationS'],
    [{ packs: [] }, 'packs'],
    [(x) => { x.packs[1].canId = 10; }, 'packs[1].canId'],
    [(x) => { x.packs[0].canId = 255; }, 'packs[0].canId'],
    [(x) => { x.packs[1].packToMotorMwh = 0.5; }, 'packs[1].packToMotorMwh'],
    [(x) => { x.packs[0].lifetime.regenToPackMwh = -1; }, 'packs[0].lifetime.regenToPackMwh'],
    [(x) => { x.packs[0].chargeMah = 1e300; }, 'packs[0].chargeMah'],
    [{ faults: { vesc: 0, bms: -1, device: 0 } }, 'faults.bms'],
    [{ firmware: 1 << 24 }, 'firmware'],
    [{ gap: { mergedWindows: 0, lostS: 61 } }, 'gap.lostS'],
  ];
  for (const [change, field] of cases) {
    const x: EnergyReport = JSON.parse(JSON.stringify({ ...r, kid: [], prev: [] }));
    x.kid = r.kid;
    x.prev = r.prev;
    if (typeof change === 'function') change(x);
    else Object.assign(x, change);
    assert.is(fieldOf(() => encodeReport(x)), field, JSON.stringify(field));
  }
  assert.is(fieldOf(() => firmwareVersion(256, 0, 0)), 'firmware');
  assert.is(firmwareVersionString(firmwareVersion(1, 2, 3)), '1.2.3');
});

test('decodeReport: strict, with the field named', () => {
  const m = reportToCbor(realistic());
  const withEntry = (k: number, v: unknown) => encode(new CborMap([...m.entries.filter((e) => e[0] !== k), [k, v as never]]));
  const without = (k: number) => encode(new CborMap(m.entries.filter((e) => e[0] !== k)));
  assert.is(fieldOf(() => decodeReport(withEntry(99, 1))), 'payload'); // unknown key
  assert.is(fieldOf(() => decodeReport(withEntry(7, 5))), 'startUptimeS'); // both start keys
  assert.is(fieldOf(() => decodeReport(without(3))), 'seq');
  assert.is(fieldOf(() => decodeReport(without(6))), 'startS');
  assert.is(fieldOf(() => decodeReport(withEntry(12, [0, 0]))), 'payload'); // [0,0] gap is not canonical
  assert.is(fieldOf(() => decodeReport(withEntry(9, [[10, 1, 2, 3]]))), 'packs[0]');
  assert.is(fieldOf(() => decodeReport(withEntry(10, [0, 0]))), 'faults');
  assert.is(fieldOf(() => decodeReport(withEntry(1, 'deep-pair/1'))), 'version');
  assert.is(fieldOf(() => decodeReport(encode([1, 2]))), 'payload');
  // an integer written as a float (8 decodes from f94800) is not the canonical form
  const b = encodeReport(realistic());
  const i = toHex(b).indexOf('0818' + '3c'); // key 8 (duration) = 60
  const floaty = fromHex(toHex(b).slice(0, i) + '08f95380' + toHex(b).slice(i + 6));
  assert.is(fieldOf(() => decodeReport(floaty)), 'payload');
  // -0 (the half float f98000) is not the integer 0: its re-encoding is f98000 again, so
  // only the field check can refuse it (and Espruino has no -0 at all)
  const negZero = (k: number) => decodeReport(withEntry(k, -0));
  assert.is(toHex(withEntry(11, -0)).indexOf('0bf98000') >= 0, true);
  assert.is(fieldOf(() => negZero(11)), 'firmware');
  assert.is(fieldOf(() => decodeReport(withEntry(10, [0, -0, 0]))), 'faults.bms');
  assert.throws(() => negZero(11), /firmware: expected integer in \[0, \d+\], got -0 \(a float\)/);
  assert.is(fieldOf(() => decodeReport(encode(new CborMap(m.entries.map((e) => (e[0] === 9 ? [9, [[10, 4200, -0, 0, 310, -95, 1, 2, 3, 4]]] : e) as never))))), 'packs[0].packToGridMwh');
  assert.throws(() => encodeReport({ ...realistic(), durationS: -0 }), /durationS/);
  // truncated and trailing bytes
  assert.is(fieldOf(() => decodeReport(b.subarray(0, b.length - 1))), 'payload');
  assert.is(fieldOf(() => decodeReport(new Uint8Array([...b, 0]))), 'payload');
});

const flowsArb = fc.record({
  gridToPackMwh: fc.nat({ max: 1e7 }), packToGridMwh: fc.nat({ max: 1e7 }), packToMotorMwh: fc.nat({ max: 1e7 }), regenToPackMwh: fc.nat({ max: 1e7 }),
});
const reportArb: fc.Arbitrary<EnergyReport> = fc.record({
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  prev: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  clock: fc.constantFrom(0, 1),
  startS: fc.maxSafeNat(),
  durationS: fc.integer({ min: 1, max: 86400 }),
  ids: fc.uniqueArray(fc.integer({ min: 0, max: 254 }), { minLength: 1, maxLength: 4 }),
  flows: fc.array(fc.tuple(flowsArb, flowsArb, fc.integer({ min: -1e6, max: 1e6 })), { minLength: 4, maxLength: 4 }),
  faults: fc.record({ vesc: fc.nat(), bms: fc.nat(), device: fc.nat() }),
  firmware: fc.integer({ min: 0, max: 16777215 }),
  gap: fc.option(fc.record({ mergedWindows: fc.integer({ min: 1, max: 1000 }), lostS: fc.constant(0) }), { nil: undefined }),
}).map((x) => {
  const r: EnergyReport = {
    version: 1, kid: KID, seq: x.seq, prev: x.prev, clock: x.clock, startS: x.startS, durationS: x.durationS,
    packs: [...x.ids].sort((a, b) => a - b).map((canId, i) => ({ canId, ...x.flows[i][0], chargeMah: x.flows[i][2], lifetime: { ...x.flows[i][1] } })),
    faults: { ...x.faults }, firmware: x.firmware,
  };
  if (x.gap) r.gap = { ...x.gap };
  return r;
});

test('property: decodeReport(encodeReport(r)) = r; any single-byte change is rejected or changes the report', () => {
  fc.assert(
    fc.property(reportArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (r, pos, x) => {
      const b = encodeReport(r);
      assert.equal(decodeReport(b), r);
      const c = b.slice();
      c[pos % c.length] ^= x;
      let d: EnergyReport | undefined;
      try {
        d = decodeReport(c);
      } catch (e) {
        assert.is((e as ReportError).code, 'malformed');
        return;
      }
      assert.is.not(toHex(encodeReport(d)), toHex(b));
    }),
    { numRuns: 300 },
  );
});

test.run();
