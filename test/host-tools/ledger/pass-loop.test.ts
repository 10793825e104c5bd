import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { passLoop } from '../../../host-tools/ledger/pass-loop';

test('step joins the running pass; start repeats passes pollMs apart; stop ends them and waits', async () => {
  let passes = 0;
  let release: (() => void) | undefined;
  const loop = passLoop(() => new Promise<void>((resolve) => { passes++; release = resolve; }), 5);
  const a = loop.step();
  const b = loop.step();
  assert.is(passes, 1, 'a second step while one runs does not start another pass');
  release!();
  await Promise.all([a, b]);
  loop.start();
  loop.start();
  for (let i = 0; i < 200 && passes < 3; i++) {
    release?.();
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.ok(passes >= 3, `passes ${passes}`);
  const stopping = loop.stop();
  release!();
  await stopping;
  const after = passes;
  await new Promise((r) => setTimeout(r, 30));
  release?.();
  assert.is(passes, after, 'no pass after stop');
});

test.run();
