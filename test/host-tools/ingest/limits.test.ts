import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LogThrottle, RateLimiter } from '../../../host-tools/ingest/limits';

test('rate limiter: a burst of one minute, refilled evenly; Retry-After until one token is back; keys apart; 0 = no limit', () => {
  let t = 0;
  const r = new RateLimiter(60, () => t);
  for (let i = 0; i < 60; i++) {
    assert.is(r.retryAfterS('a'), 0);
    r.take('a');
  }
  assert.is(r.retryAfterS('a'), 1);
  assert.is(r.retryAfterS('b'), 0);
  t += 1000;
  assert.is(r.retryAfterS('a'), 0);
  // A large charge is paid back in time: 10 over the allowance waits 11 s.
  r.take('a', 11);
  assert.is(r.retryAfterS('a'), 11);
  t += 11_000;
  assert.is(r.retryAfterS('a'), 0);
  const off = new RateLimiter(0, () => t);
  off.take('a', 1e9);
  assert.is(off.retryAfterS('a'), 0);
  assert.throws(() => new RateLimiter(-1), /count per minute/);
});

test('log throttle: first line per key and interval, then the count of the ones held back', () => {
  let t = 0;
  const l = new LogThrottle(1000, () => t);
  assert.equal(l.admit('x'), {});
  assert.is(l.admit('x'), undefined);
  assert.is(l.admit('x'), undefined);
  assert.equal(l.admit('y'), {});
  t = 999;
  assert.is(l.admit('x'), undefined);
  t = 1000;
  assert.equal(l.admit('x'), { suppressed: 3 });
  t = 5000;
  assert.equal(l.admit('x'), {});
});

test.run();
