import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomRide, validateRide, rideDurationS } from '../../../host-tools/sim/ride';
import { Prng } from '../../../host-tools/sim/prng';

test('random day: same seed same ride, exact length, every segment kind present, valid', () => {
  const a = randomRide({ seed: 77 });
  assert.equal(randomRide({ seed: 77 }), a);
  assert.not.equal(randomRide({ seed: 78 }), a);
  assert.is(rideDurationS(a), 86400);
  validateRide(a);
  const kinds = new Set(a.map((s) => s.kind));
  for (const k of ['park', 'ride', 'brake']) assert.ok(kinds.has(k as never), k);
  // Over several seeds, hubs are visited for charging and for export
  const all = new Set<string>();
  for (let s = 0; s < 10; s++) for (const seg of randomRide({ seed: s })) all.add(seg.kind);
  for (const k of ['charge', 'export', 'plugged']) assert.ok(all.has(k), k);
  assert.is(rideDurationS(randomRide({ seed: 1, durationS: 3600 })), 3600);
});

test('validateRide names the segment and field that is wrong', () => {
  assert.throws(() => validateRide({}), /array of segments/);
  assert.throws(() => validateRide([{ kind: 'fly', durationS: 1 }]), /ride\[0\]\.kind expected one of/);
  assert.throws(() => validateRide([{ kind: 'park', durationS: 1 }, { kind: 'ride', durationS: 10 }]), /ride\[1\]\.speedKmh expected a number/);
  assert.throws(() => validateRide([{ kind: 'ride', durationS: 10, speedKmh: 20, slopePct: 40 }]), /ride\[0\]\.slopePct/);
  assert.throws(() => validateRide([{ kind: 'export', durationS: 10, floorSocPct: 120 }]), /floorSocPct/);
});

test('Prng: reproducible, in range, roughly uniform', () => {
  const a = new Prng(5);
  const b = new Prng(5);
  const xs = Array.from({ length: 1000 }, () => a.u32());
  assert.equal(Array.from({ length: 1000 }, () => b.u32()), xs);
  const r = new Prng(6);
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const v = r.int(1, 6);
    assert.ok(v >= 1 && v <= 6 && Number.isInteger(v));
    sum += v;
  }
  assert.ok(Math.abs(sum / 10000 - 3.5) < 0.1);
  assert.throws(() => new Prng(1.5), /"seed"/);
});

test.run();
