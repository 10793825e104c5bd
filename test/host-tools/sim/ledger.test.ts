import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createSimBike, type Segment } from '../../../host-tools/sim/index';
import { Ledger, pjToMwh, ucToMah } from '../../../host-tools/sim/ledger';

const segment: fc.Arbitrary<Segment> = fc.oneof(
  fc.record({ kind: fc.constant('ride' as const), durationS: fc.integer({ min: 1, max: 120 }), speedKmh: fc.integer({ min: 0, max: 45 }), slopePct: fc.integer({ min: -12, max: 12 }), assist: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('brake' as const), durationS: fc.integer({ min: 1, max: 20 }), toKmh: fc.integer({ min: 0, max: 10 }) }),
  fc.record({ kind: fc.constant('park' as const), durationS: fc.integer({ min: 1, max: 60 }) }),
  fc.record({ kind: fc.constant('charge' as const), durationS: fc.integer({ min: 1, max: 120 }), hub: fc.constantFrom('a', 'b'), currentMa: fc.integer({ min: 0, max: 20000 }) }),
  fc.record({ kind: fc.constant('export' as const), durationS: fc.integer({ min: 1, max: 120 }), hub: fc.constantFrom('a', 'b'), powerW: fc.integer({ min: 0, max: 3000 }), floorSocPct: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ kind: fc.constant('plugged' as const), durationS: fc.integer({ min: 1, max: 30 }), hub: fc.constantFrom('a', 'b') }),
);

test('property: for any ride, per pack: chemical = out − in + loss and Δcharge = out − in, exactly; hubs hold the grid flows; SOC stays in [0, 1], charging never above 4.2 V/cell', () => {
  fc.assert(
    fc.property(
      fc.array(segment, { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.constantFrom(10, 50, 100, 250),
      (ride, socA, socB, stepMs) => {
        const bike = createSimBike({ seed: 1, ride, stepMs, bmsRateHz: 0, packs: [{ socPermille: socA }, { socPermille: socB }] });
        const q0 = bike.internals.model.packs.map((p) => p.chargeUc);
        const total = ride.reduce((t, s) => t + s.durationS, 0) * 1000;
        for (let t = 0; t < total; t += 7_000) {
          bike.advance(7_000);
          for (const p of bike.internals.model.packs) {
            assert.ok(p.chargeUc >= 0 && p.chargeUc <= p.capacityUc, 'charge within the pack');
            if (p.currentMa < 0) assert.ok(p.terminalUv <= p.fullUv(), 'charger and regen never above 4.2 V/cell');
          }
        }
        const l = bike.ledger();
        let g2p = 0n;
        let p2g = 0n;
        l.packs.forEach((p, i) => {
          const f = p.flows;
          assert.is(p.chemicalPj, f.packToMotor.pj + f.packToGrid.pj - f.gridToPack.pj - f.regenToPack.pj + p.lossPj);
          assert.is(BigInt(q0[i] - p.chargeUc), f.packToMotor.uc + f.packToGrid.uc - f.gridToPack.uc - f.regenToPack.uc);
          assert.ok(p.lossPj >= 0n);
          g2p += f.gridToPack.pj;
          p2g += f.packToGrid.pj;
        });
        const hubs = Object.values(l.hubs);
        assert.is(hubs.reduce((a, h) => a + h.gridToPack.pj, 0n), g2p);
        assert.is(hubs.reduce((a, h) => a + h.packToGrid.pj, 0n), p2g);
      },
    ),
    { numRuns: 25, seed: 20261125 },
  );
});

test('Ledger.record: one step in exact units, signs and flows; conversions keep every digit', () => {
  const l = new Ledger([10, 11]);
  // 10 A out of a 50 V (OCV) pack with 100 mΩ for 100 ms: terminal 49 V
  l.record(0, false, 10_000, 50_000_000, 100, 100);
  // 4 A into pack 1 at a hub
  l.record(1, true, -4_000, 50_000_000, 100, 100, 'h');
  const s = l.snapshot(100, [0, 0], [1, 1]);
  assert.is(s.packs[0].flows.packToMotor.pj, 49_000_000n * 10_000n * 100n);
  assert.is(s.packs[0].lossPj, 10_000n * 10_000n * 100n * 100n);
  assert.is(s.packs[0].flows.packToMotor.uc, 1_000_000n);
  assert.is(s.packs[1].flows.gridToPack.pj, 50_400_000n * 4_000n * 100n);
  assert.is(s.hubs.h.gridToPack.pj, s.packs[1].flows.gridToPack.pj);
  assert.is(pjToMwh(49_000_000n * 10_000n * 100n), 49 * 10 * 0.1 / 3.6);
  // 10 years at 100 A and 100 V: 3.15e20 pJ... ×1e3, still exact as BigInt, mWh to the µWh
  const big = 100_000_000n * 100_000n * 315_360_000_000n;
  assert.is(Math.round(pjToMwh(big)), Math.round(Number(big / 3_600_000_000_000n)));
  assert.is(ucToMah(3_600_000n * 7n + 1_800_000n), 7.5);
});

test.run();
