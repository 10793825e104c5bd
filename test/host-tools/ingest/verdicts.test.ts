import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import type { EnergyReport } from '../../../protocol/report';
import { ReportRecord } from '../../../host-tools/ingest/facts';
import { ownHead, packVerdicts, unpackVerdicts, type WorkerVerdict } from '../../../host-tools/ingest/verdicts';
import type { Verdict } from '../../../host-tools/ingest/types';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const big = fc.oneof(fc.nat({ max: 300 }), fc.maxSafeNat(), fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32, MAX_SAFE));
const flowsArb = fc.record({ gridToPackMwh: big, packToGridMwh: big, packToMotorMwh: big, regenToPackMwh: big });
const reportArb: fc.Arbitrary<EnergyReport> = fc
  .record({
    kid: fc.uint8Array({ minLength: 8, maxLength: 8 }),
    seq: big,
    prev: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    clock: fc.constantFrom(0, 1),
    startS: big,
    durationS: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
    packs: fc.array(fc.tuple(fc.integer({ min: 0, max: 2047 }), flowsArb, flowsArb, fc.integer({ min: -MAX_SAFE, max: MAX_SAFE })), { minLength: 1, maxLength: 4 }),
    faults: fc.record({ vesc: big, bms: big, device: big }),
    firmware: fc.integer({ min: 0, max: 16777215 }),
    gap: fc.option(fc.record({ mergedWindows: big, lostS: big }), { nil: undefined }),
  })
  .map((x) => {
    const r: EnergyReport = {
      version: 1, kid: x.kid, seq: x.seq, prev: x.prev, clock: x.clock, startS: x.startS, durationS: x.durationS,
      packs: x.packs.map(([canId, w, l, chargeMah]) => ({ canId, ...w, chargeMah, lifetime: { ...l } })),
      faults: { ...x.faults }, firmware: x.firmware,
    };
    if (x.gap) r.gap = { ...x.gap };
    return r;
  });
const rejectedArb: fc.Arbitrary<WorkerVerdict> = fc.record({
  ok: fc.constant(false as const), reason: fc.constantFrom('bad_signature', 'malformed', 'unknown_key') as fc.Arbitrary<never>,
  detail: fc.string(), deviceId: fc.option(fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('hex')), { nil: undefined }),
  seq: fc.option(fc.nat(), { nil: undefined }), signed: fc.boolean(), micros: fc.nat(),
}, { requiredKeys: ['ok', 'reason', 'detail', 'signed', 'micros'] }).map((v) => ({ ...v }));
const acceptedArb: fc.Arbitrary<WorkerVerdict> = fc
  .tuple(reportArb, fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.nat({ max: 10 ** 6 }))
  .map(([report, hash, micros]) => ({ ok: true as const, report, hash, micros }));
/** The bytes of report i, as the main thread holds them (the verdicts only point at them). */
const bytesOf = (n: number) => Array.from({ length: n }, (_, i) => new Uint8Array([0xd2, i & 255, i >> 8]));
const AT = 1_700_000_000_123;
/** What the main thread must get for worker verdict i: the report with its record (facts, bytes, time received). */
const expected = (v: WorkerVerdict, i: number): Verdict =>
  v.ok ? { ok: true, report: v.report, facts: new ReportRecord(v.report, v.hash, bytesOf(i + 1)[i], AT), micros: v.micros } : v;

test('property: verdicts unpack to what was packed (reports, their records, rejections in place)', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(acceptedArb, rejectedArb), { maxLength: 40 }), (verdicts) => {
      const { packed } = packVerdicts(verdicts);
      assert.equal(unpackVerdicts(packed, bytesOf(verdicts.length), 0, AT), verdicts.map(expected));
    }),
    { numRuns: 300 },
  );
});

test('the packed buffers are moved through postMessage, and what arrives unpacks the same', () => {
  const verdicts = fc.sample(fc.oneof(acceptedArb, rejectedArb), { numRuns: 20, seed: 7 });
  const { packed, transfer } = packVerdicts(verdicts);
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(packed, transfer);
  // Moved: the sender's views are detached.
  assert.is(packed.numbers.length, 0);
  const got = receiveMessageOnPort(port2)!.message;
  assert.equal(unpackVerdicts(got, bytesOf(verdicts.length), 0, AT), verdicts.map(expected));
  port1.close();
});

test('unpacked byte arrays are views into the message, and ownHead copies them out for a head that stays', () => {
  const [v] = fc.sample(acceptedArb, { numRuns: 1, seed: 3 });
  const got = unpackVerdicts(packVerdicts([v, v]).packed, bytesOf(2), 0, AT)[0] as Extract<Verdict, { ok: true }>;
  // No copy per report: kid, prev and hash share the message's buffer (2 verdicts x 72 bytes).
  for (const b of [got.facts.hash, got.report.prev, got.report.kid]) assert.is(b.buffer.byteLength, 144);
  const own = ownHead(got.report, got.facts.hash);
  assert.is(own.hash.buffer.byteLength, 32);
  assert.is(own.report.prev.buffer.byteLength, 32);
  assert.is(own.report.kid.buffer.byteLength, 8);
  assert.equal(own.hash, got.facts.hash);
  assert.equal(own.report, got.report);
});

test('a verdict of a share of a request points at its own report: reports[from + i]', () => {
  const verdicts = fc.sample(acceptedArb, { numRuns: 3, seed: 11 });
  const all = bytesOf(8);
  const got = unpackVerdicts(packVerdicts(verdicts).packed, all, 5, AT) as Extract<Verdict, { ok: true }>[];
  assert.equal(got.map((v) => v.facts.bytes), all.slice(5));
  assert.equal(got.map((v) => v.facts.receivedAt), [AT, AT, AT]);
  // Flows, made when first read, are the packs' energies and charge in pack order.
  const r = verdicts[0] as Extract<WorkerVerdict, { ok: true }>;
  assert.equal(got[0].facts.flows, r.report.packs.flatMap((p) => [
    { pack: p.canId, flow: 'grid_to_pack', unit: 'mWh', amount: p.gridToPackMwh },
    { pack: p.canId, flow: 'pack_to_grid', unit: 'mWh', amount: p.packToGridMwh },
    { pack: p.canId, flow: 'pack_to_motor', unit: 'mWh', amount: p.packToMotorMwh },
    { pack: p.canId, flow: 'regen_to_pack', unit: 'mWh', amount: p.regenToPackMwh },
    { pack: p.canId, flow: 'charge', unit: 'mAh', amount: p.chargeMah },
  ]));
});

test('a report outside the protocol limits is refused with a reason, not packed wrong', () => {
  const [v] = fc.sample(acceptedArb, { numRuns: 1, seed: 5 }) as Extract<WorkerVerdict, { ok: true }>[];
  const five = { ...v, report: { ...v.report, packs: [...Array(5)].map((_, i) => ({ ...v.report.packs[0], canId: i })) } };
  assert.throws(() => packVerdicts([five]), /verdict 0: a report outside the protocol's limits/);
});

test.run();
