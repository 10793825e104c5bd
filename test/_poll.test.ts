import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pollUntil } from './_poll';

test('resolves with the first defined value, retrying probes that throw', async () => {
  const t0 = Date.now();
  let calls = 0;
  const v = await pollUntil('ready', () => {
    calls++;
    if (Date.now() - t0 < 150) throw new Error('not there yet');
    return calls >= 3 ? 'ok' : undefined;
  }, { everyMs: 20 });
  assert.is(v, 'ok');
  assert.ok(Date.now() - t0 >= 150);
});

test('rejects at the deadline, naming what was awaited and the last probe', async () => {
  const t0 = Date.now();
  try {
    await pollUntil('the device is online', () => { throw new Error('deep is not defined'); }, { timeoutMs: 200, everyMs: 20 });
    assert.unreachable('resolved');
  } catch (e) {
    assert.is((e as Error).message, 'the device is online: not within 200 ms (last probe: threw deep is not defined)');
  }
  assert.ok(Date.now() - t0 >= 200);
});

test.run();
