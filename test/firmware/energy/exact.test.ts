import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createAccumulator, divFloor, ADD_MAX } from '../../../firmware/energy/exact';

test('divFloor is exact floor division near multiples, for large and negative x', () => {
  const d = 3600000000;
  for (const k of [0, 1, 7, 1250000, 2501999]) {
    for (const delta of [-1, 0, 1]) {
      const x = k * d + delta;
      if (Math.abs(x) >= 2 ** 53) continue;
      assert.is(BigInt(divFloor(x, d)), ((BigInt(x) - (BigInt(x) % BigInt(d) + BigInt(d)) % BigInt(d)) / BigInt(d)), `x=${x}`);
    }
  }
  // Near 2^53 the product q * d of a rounded quotient can leave the exact range (found by
  // the property below): -9007199254740985 / 11 is -818836295885544.09..., floor ...545.
  assert.is(divFloor(-9007199254740985, 11), -818836295885545);
  assert.is(divFloor(9007199254740991, 8589934591), 1048576);
  assert.is(divFloor(-9007199254740991, 8589934591), -1048577);
  fc.assert(fc.property(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), fc.integer({ min: 1, max: 2 ** 33 - 1 }), (x, dd) => {
    const q = divFloor(x, dd);
    const bx = BigInt(x), bd = BigInt(dd);
    let bq = bx / bd;
    if (bx % bd !== 0n && bx < 0n) bq -= 1n;
    return BigInt(q) === bq;
  }), { numRuns: 2000 });
});

test('accumulator: units * unitSize + remainder equals the exact (BigInt) sum', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: -ADD_MAX, max: ADD_MAX }), { maxLength: 200 }), (adds) => {
    const a = createAccumulator(3600000000);
    let exact = 0n;
    for (const x of adds) { a.add(x); exact += BigInt(x); }
    const r = a.remainder();
    return r >= 0 && r < 3600000000 && BigInt(a.units()) * 3600000000n + BigInt(r) === exact;
  }), { numRuns: 300 });
});

test('accumulator rejects non-integers and out-of-range adds; setUnits restores', () => {
  const a = createAccumulator(1000);
  assert.throws(() => a.add(1.5), /fine/);
  assert.throws(() => a.add(ADD_MAX + 2), /fine/);
  assert.throws(() => createAccumulator(0), /unitSize/);
  a.add(1999);
  assert.is(a.units(), 1); assert.is(a.remainder(), 999);
  a.setUnits(42);
  assert.is(a.units(), 42); assert.is(a.remainder(), 0);
});

test.run();
