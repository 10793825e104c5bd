import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSimBike, randomRide, type Segment } from '../../../host-tools/sim/index';
import { Pack } from '../../../host-tools/sim/pack';

function flowsOf(bike: ReturnType<typeof createSimBike>, p: number) {
  return bike.ledger().packs[p].flows;
}

test('pack OCV follows the 13S curve: 39.0 V empty, 54.6 V full, monotonic', () => {
  const pack = new Pack({ canId: 1, cells: 13, capacityMah: 10000, resistanceMohm: 100, socPermille: 0 });
  assert.is(pack.ocvUv(0), 39_000_000);
  assert.is(pack.ocvUv(pack.capacityUc), 54_600_000);
  let last = 0;
  for (let i = 0; i <= 100; i++) {
    const v = pack.ocvUv((pack.capacityUc * i) / 100);
    assert.ok(v > last, `OCV rises at ${i} %`);
    last = v;
  }
  // Stored energy of a full 13S 10 Ah pack: about 10 Ah × 47.4 V average ≈ 474 Wh
  const wh = pack.storedPj(pack.capacityUc) / 3.6e15;
  assert.ok(wh > 460 && wh < 490, `stored ${wh} Wh`);
});

test('ledger is exact: chemical = terminal out − terminal in + I²R loss, and charge moved = charge counted, to the pJ/µC', () => {
  const bike = createSimBike({ seed: 7, ride: randomRide({ seed: 7, durationS: 6 * 3600 }), bmsRateHz: 0 });
  const start = bike.internals.model.packs.map((p) => p.chargeUc);
  bike.advance(6 * 3600 * 1000);
  const l = bike.ledger();
  let moved = 0n;
  for (let p = 0; p < 2; p++) {
    const f = l.packs[p].flows;
    const out = f.packToMotor.pj + f.packToGrid.pj;
    const inn = f.gridToPack.pj + f.regenToPack.pj;
    assert.is(l.packs[p].chemicalPj, out - inn + l.packs[p].lossPj, `pack ${p} energy identity`);
    const dq = BigInt(start[p] - l.packs[p].chargeUc);
    assert.is(dq, f.packToMotor.uc + f.packToGrid.uc - f.gridToPack.uc - f.regenToPack.uc, `pack ${p} charge identity`);
    moved += f.packToMotor.pj + f.gridToPack.pj;
  }
  assert.ok(moved > 0n, 'the ride moved energy');
});

test('energy conservation against the OCV curve: ledger chemical energy = stored-energy change within 0.1 % of throughput', () => {
  const bike = createSimBike({ seed: 3, ride: randomRide({ seed: 3, durationS: 6 * 3600 }), bmsRateHz: 0 });
  const packs = bike.internals.model.packs;
  const e0 = packs.map((p) => p.storedPj());
  bike.advance(6 * 3600 * 1000);
  const l = bike.ledger();
  for (let p = 0; p < 2; p++) {
    const drop = e0[p] - packs[p].storedPj();
    const chem = Number(l.packs[p].chemicalPj);
    const f = l.packs[p].flows;
    const through = Number(f.packToMotor.pj + f.packToGrid.pj + f.gridToPack.pj + f.regenToPack.pj);
    assert.ok(through > 1e15, `pack ${p} had throughput`);
    assert.ok(Math.abs(drop - chem) <= through * 1e-3, `pack ${p}: stored change ${drop} vs ledger ${chem}`);
    // Resistive loss is real and small: 0.05 %..5 % of the throughput for these packs
    const loss = Number(l.packs[p].lossPj);
    assert.ok(loss > through * 5e-4 && loss < through * 0.05, `pack ${p} loss ${loss / through}`);
  }
});

test('the battery switch keeps one pack on the bus: never two currents at once, both packs used', () => {
  const bike = createSimBike({ seed: 11, ride: randomRide({ seed: 11, durationS: 4 * 3600 }), bmsRateHz: 0 });
  const used = [false, false];
  for (let t = 0; t < 4 * 3600 * 10; t++) {
    bike.advance(100);
    const [a, b] = bike.internals.model.packs;
    assert.ok(a.currentMa === 0 || b.currentMa === 0, `two packs carry current at ${t * 100} ms`);
    if (a.currentMa !== 0) used[0] = true;
    if (b.currentMa !== 0) used[1] = true;
  }
  assert.equal(used, [true, true]);
});

test('road load: 25 km/h on the flat with full assist draws ≈ 200 W (rolling + aero, 82 % drive efficiency)', () => {
  const ride: Segment[] = [{ kind: 'ride', durationS: 600, speedKmh: 25, slopePct: 0, assist: 1 }];
  const bike = createSimBike({ seed: 1, ride, bmsRateHz: 0 });
  bike.advance(120_000);
  const e0 = flowsOf(bike, 0).packToMotor.mwh + flowsOf(bike, 1).packToMotor.mwh;
  bike.advance(300_000);
  const e1 = flowsOf(bike, 0).packToMotor.mwh + flowsOf(bike, 1).packToMotor.mwh;
  const watts = ((e1 - e0) / 1000) * (3600 / 300);
  // m g Crr v + ½ ρ CdA v³ = 111·9.81·0.007·6.94 + 0.5·1.2·0.55·6.94³ ≈ 163 W at the wheel
  assert.ok(watts > 175 && watts < 230, `average ${watts} W`);
  // Uphill needs more, the motor limit caps it (750 W / 0.82 ≈ 915 W)
  const hill = createSimBike({ seed: 1, ride: [{ kind: 'ride', durationS: 600, speedKmh: 25, slopePct: 8, assist: 1 }], bmsRateHz: 0 });
  hill.advance(300_000);
  // 300 s of riding: mWh / 1000 × 3600 / 300 = average W
  const hw = (hill.ledger().packs.reduce((s, p) => s + p.flows.packToMotor.mwh, 0) / 1000) * 12;
  assert.ok(hw > 700 && hw < 930, `hill average ${hw} W`);
});

test('braking and descents regenerate into the pack on the bus; not at a hub', () => {
  const ride: Segment[] = [
    { kind: 'ride', durationS: 120, speedKmh: 25, slopePct: 0, assist: 1 },
    { kind: 'brake', durationS: 10, toKmh: 0 },
    { kind: 'ride', durationS: 300, speedKmh: 25, slopePct: -6, assist: 1 },
  ];
  const bike = createSimBike({ seed: 2, ride, bmsRateHz: 0 });
  const regenNow = () => bike.ledger().packs.reduce((s, p) => s + p.flows.regenToPack.mwh, 0);
  bike.advance(120_000);
  const beforeBrake = regenNow();
  bike.advance(10_000);
  const afterBrake = regenNow() - beforeBrake;
  // ½ m v² = ½·111·6.94² ≈ 2.67 kJ ≈ 742 mWh of kinetic energy; at most 65 % of it comes back
  assert.ok(afterBrake > 100 && afterBrake < 742 * 0.65, `brake regen ${afterBrake} mWh`);
  bike.advance(300_000);
  const l = bike.ledger();
  const regen = l.packs.reduce((s, p) => s + p.flows.regenToPack.mwh, 0);
  assert.ok(regen > beforeBrake + afterBrake + 5000, `descent regen ${regen} mWh`);
  for (const p of l.packs) assert.is(p.flows.gridToPack.pj + p.flows.packToGrid.pj, 0n);
});

test('the hub charger is CC-CV: 4 A, never above 4.20 V/cell, and stops at full', () => {
  const ride: Segment[] = [{ kind: 'charge', durationS: 8 * 3600, hub: 'h', currentMa: 4000 }];
  const bike = createSimBike({ seed: 5, ride, bmsRateHz: 0, packs: [{ socPermille: 500 }, { socPermille: 300 }] });
  const packs = bike.internals.model.packs;
  let maxMa = 0;
  for (let t = 0; t < 8 * 3600; t++) {
    bike.advance(1000);
    for (const p of packs) {
      assert.ok(p.terminalUv <= p.fullUv(), `terminal ${p.terminalUv} above full`);
      maxMa = Math.max(maxMa, -p.currentMa);
    }
  }
  assert.is(maxMa, 4000);
  const s = bike.state();
  assert.equal(s.packs.map((p) => p.full), [true, true]);
  for (const p of s.packs) {
    assert.is(p.currentMa, 0);
    assert.ok(p.soc > 0.995 && p.soc <= 1, `soc ${p.soc}`);
  }
  const l = bike.ledger();
  for (const p of l.packs) {
    assert.ok(p.flows.gridToPack.mwh > 0);
    assert.is(p.flows.packToMotor.pj + p.flows.regenToPack.pj + p.flows.packToGrid.pj, 0n);
  }
  // The hub's account holds the same energy as the packs' grid flows
  assert.is(l.hubs.h.gridToPack.pj, l.packs[0].flows.gridToPack.pj + l.packs[1].flows.gridToPack.pj);
  assert.is(l.hubs.h.packToGrid.pj, 0n);
  // Charging the lower pack first: pack 1 (30 %) received more than pack 0 (50 %).
  assert.ok(l.packs[1].flows.gridToPack.mah > l.packs[0].flows.gridToPack.mah);
});

test('export to the grid stops at the floor SOC of each pack', () => {
  const ride: Segment[] = [{ kind: 'export', durationS: 10 * 3600, hub: 'h', powerW: 400, floorSocPct: 40 }];
  const bike = createSimBike({ seed: 6, ride, bmsRateHz: 0 });
  bike.advance(10 * 3600 * 1000);
  const s = bike.state();
  for (const p of s.packs) {
    assert.is(p.currentMa, 0);
    assert.ok(p.soc >= 0.4 && p.soc < 0.4005, `soc ${p.soc}`);
  }
  const l = bike.ledger();
  // 80 % → 40 % of 14 Ah plus 65 % → 40 % of 10.5 Ah at ≈ 49 V ≈ 400 Wh
  const wh = (l.packs[0].flows.packToGrid.mwh + l.packs[1].flows.packToGrid.mwh) / 1000;
  assert.ok(wh > 350 && wh < 450, `exported ${wh} Wh`);
});

test('deterministic: same seed, same ledger to the pJ; another seed differs', () => {
  const run = (seed: number) => {
    const b = createSimBike({ seed, ride: randomRide({ seed, durationS: 3 * 3600 }), bmsRateHz: 0 });
    b.advance(3 * 3600 * 1000);
    return b.ledger().packs.map((p) => [p.flows.packToMotor.pj, p.flows.regenToPack.pj, p.flows.gridToPack.pj, p.flows.packToGrid.pj, p.lossPj]);
  };
  assert.equal(run(9), run(9));
  assert.not.equal(run(9), run(10));
});

test('options are checked with labelled errors', () => {
  assert.throws(() => createSimBike({ seed: -1 }), /"seed" expected integer/);
  assert.throws(() => createSimBike({ seed: 1, stepMs: 5 }), /"stepMs"/);
  assert.throws(() => createSimBike({ seed: 1, packs: [{ canId: 10 }, { canId: 10 }] }), /same BMS CAN id 10/);
  assert.throws(() => createSimBike({ seed: 1, vescCanId: 10 }), /also a BMS id/);
  assert.throws(() => createSimBike({ seed: 1, packs: [{ cells: 30 }] }), /"cells" expected integer in \[10, 16\]/);
  const bike = createSimBike({ seed: 1, bmsRateHz: 0 });
  assert.throws(() => bike.advance(-1), /"ms"/);
});

test.run();
