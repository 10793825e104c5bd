import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { pageIntervals } from '../../../host-tools/market/publish';
import type { IntervalResult } from '../../../host-tools/market/hub';

const r = (hub: string, startS: number) => ({ hub, startS }) as IntervalResult;

test('pages never cut between the hubs of one interval start, and reading all pages gives every result once', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 7 }), (hubs, starts, limit) => {
    const all: IntervalResult[] = [];
    for (let k = 0; k < starts; k++) for (let h = hubs; h >= 1; h--) all.push(r(`hub-${h}`, k * 900));
    const seen: string[] = [];
    let after = -1;
    for (let guard = 0; guard < 100; guard++) {
      const p = pageIntervals(all, { afterS: after, hub: undefined, limit });
      seen.push(...p.intervals.map((x) => `${x.startS}/${x.hub}`));
      if (p.next === null) break;
      assert.is(p.next, p.intervals[p.intervals.length - 1].startS);
      after = p.next;
    }
    assert.is(seen.length, all.length);
    assert.is(new Set(seen).size, all.length);
  }));
});

test('oldest first, hubs in order, filtered by hub', () => {
  const all = [r('hub-2', 900), r('hub-1', 0), r('hub-1', 900), r('hub-2', 0)];
  assert.equal(pageIntervals(all, { afterS: -1, hub: undefined, limit: 3 }).intervals.map((x) => `${x.startS}/${x.hub}`), ['0/hub-1', '0/hub-2']);
  assert.equal(pageIntervals(all, { afterS: 0, hub: 'hub-2', limit: 10 }), { intervals: [r('hub-2', 900)], next: null });
});

test.run();
