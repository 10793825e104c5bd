import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { outageOf } from '../../../host-tools/testnet/group';

test('the network outage of a bike is seeded, mid-day, 4..8 % of the day', () => {
  const day = 86_400_000;
  const seen = new Set<number>();
  for (let seed = 0; seed < 500; seed++) {
    const o = outageOf(seed, day);
    assert.equal(o, outageOf(seed, day));
    assert.ok(o.fromMs >= 0.3 * day && o.fromMs <= 0.6 * day, `from ${o.fromMs}`);
    const len = o.toMs - o.fromMs;
    assert.ok(len >= 0.04 * day && len <= 0.08 * day, `length ${len}`);
    seen.add(Math.floor(o.fromMs / 3600_000));
  }
  // Different seeds cut at different hours (the whole 07:12..14:24 window is used).
  assert.ok(seen.size >= 7, `hours used: ${[...seen].join(',')}`);
});

test.run();
