import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCrossCheck, XCHECK_IDLE, XCHECK_OK, XCHECK_MISMATCH, XCHECK_RESET } from '../../../firmware/energy/xcheck';
import { createFaultLog } from '../../../firmware/app/faults';

test('tolerance is abs + rel of the reference, judged once a span is long enough', () => {
  const faults = createFaultLog({ now: () => 0 });
  const x = createCrossCheck({ faults, mismatchCode: 2, resetCode: 4, label: 't', absTolMwh: 100, relTolPermille: 50, minSpanMwh: 1000 });
  assert.is(x.observe(0, 0), XCHECK_IDLE);
  assert.is(x.observe(999, 0), XCHECK_IDLE, 'span too short');
  // ref +2000, tolerance 100 + 100 = 200: meter 2200 passes, 2201 fails.
  assert.is(x.observe(2000, 2200), XCHECK_OK);
  assert.is(x.observe(4000, 4401), XCHECK_MISMATCH);
  assert.is(x.observe(6000, 6201), XCHECK_OK, 're-anchored after the mismatch');
  assert.is(x.observe(8000, 8000 + 1799 - 2000), XCHECK_MISMATCH, 'too low fails too');
  assert.is(x.mismatches(), 2);
  assert.is(faults.count(2), 2);
  assert.is(x.observe(10, 8000), XCHECK_RESET);
  assert.is(faults.count(4), 1);
  assert.is(x.observe(2010, 10000), XCHECK_OK, 'after a reset the span starts at the new values');
  assert.throws(() => x.observe(NaN, 1), /numbers/);
  assert.throws(() => createCrossCheck({ mismatchCode: 1, resetCode: 2, label: 'x', absTolMwh: -1 }), /absTolMwh/);
});

test.run();
