import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimBike, randomRide } from '../../../host-tools/sim/index';

test('a plugged bike moves what the hub sets: charge, export, nothing, and the setting ends with the plug', () => {
  const bike = createSimBike({ seed: 5, ride: [{ kind: 'plugged', durationS: 3 * 3600, hub: 'h' }, { kind: 'park', durationS: 600 }], bmsRateHz: 0, stepMs: 1000 });
  const grid = () => {
    const l = bike.ledger();
    return l.packs.reduce((t, p) => [t[0] + p.flows.gridToPack.mwh, t[1] + p.flows.packToGrid.mwh], [0, 0]);
  };
  assert.is(bike.state().leavesInMs, 3 * 3600 * 1000);
  bike.advance(900_000);
  assert.equal(grid(), [0, 0], 'unset: neither charges nor exports');
  bike.setHubPowerW(150);
  bike.advance(900_000);
  const [in1] = grid();
  // 150 W for 15 min at the pack's open-circuit voltage: 37.5 Wh, a little more through the pack's resistance.
  assert.ok(in1 > 36_000 && in1 < 40_000, `charged ${in1} mWh`);
  bike.setHubPowerW(-200);
  bike.advance(900_000);
  const [, out1] = grid();
  assert.ok(out1 > 48_000 && out1 < 52_000, `exported ${out1} mWh`);
  assert.is(bike.state().hubPowerW, -200);
  bike.advance(8_100_000 + 60_000); // the rider leaves at 3 h
  const st = bike.state();
  assert.is(st.activity, 'park');
  assert.is(st.hubPowerW, 0);
  assert.is(st.leavesInMs, undefined);
  assert.ok(st.energyWh > 0 && st.energyWh < st.capacityWh);
});

test("a market day's script only plugs in and leaves", () => {
  const kinds = new Set<string>();
  for (let s = 0; s < 10; s++) for (const seg of randomRide({ seed: s, plugs: 'market' })) kinds.add(seg.kind);
  assert.equal([...kinds].sort(), ['brake', 'park', 'plugged', 'ride']);
});

test.run();
