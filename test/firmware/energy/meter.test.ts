import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createMeter, NJ_PER_MWH, UC_PER_MAH, FLOW_PACK_TO_MOTOR, SAMPLE_BAD_TIME, SAMPLE_BAD_VALUE, type MeterSample } from '../../../firmware/energy/meter';
import { createFaultLog, FAULT } from '../../../firmware/app/faults';

const FLOWS = ['gridToPackMwh', 'packToGridMwh', 'packToMotorMwh', 'regenToPackMwh'] as const;

/** BigInt oracle of the meter's rule: right Riemann sum per flow, exact nJ. */
function oracle(samples: MeterSample[], nPacks: number, holdMaxMs: number) {
  const nj = Array.from({ length: nPacks }, () => [0n, 0n, 0n, 0n]);
  const uc = Array.from({ length: nPacks }, () => 0n);
  let last = -1;
  for (const s of samples) {
    if (last < 0) { last = s.tMs; continue; }
    const dt = Math.min(s.tMs - last, holdMaxMs);
    last = s.tMs;
    s.packs.forEach((r, k) => {
      if (!r || r.ma === 0) return;
      const flow = r.ma > 0 ? (s.exportMode ? 1 : 2) : (s.chargerConnected ? 0 : 3);
      nj[k][flow] += BigInt(r.mv) * BigInt(Math.abs(r.ma)) * BigInt(dt);
      uc[k] += BigInt(-r.ma) * BigInt(dt);
    });
  }
  return { nj, uc };
}

const sampleArb = (nPacks: number) => fc.record({
  dt: fc.integer({ min: 0, max: 3000 }),
  packs: fc.array(fc.option(fc.record({ mv: fc.integer({ min: 0, max: 131071 }), ma: fc.integer({ min: -524287, max: 524287 }) }), { freq: 8 }), { minLength: nPacks, maxLength: nPacks }),
  chargerConnected: fc.boolean(),
  exportMode: fc.boolean(),
  cut: fc.boolean(),
});

test('property: window deltas sum to lifetime counters exactly, and lifetime matches the exact oracle', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.array(sampleArb(2), { maxLength: 120 }), (nPacks, raw) => {
    const meter = createMeter({ packs: [{ canId: 10 }, { canId: 11 }].slice(0, nPacks), holdMaxMs: 2000 });
    let t = 1000;
    const samples: MeterSample[] = [];
    const sums = Array.from({ length: nPacks }, () => [0, 0, 0, 0, 0]);
    for (const r of raw) {
      t += r.dt;
      const s = { tMs: t, packs: r.packs.slice(0, nPacks), chargerConnected: r.chargerConnected, exportMode: r.exportMode };
      samples.push(s);
      assert.is(meter.sample(s), 0);
      if (r.cut) {
        const w = meter.cut();
        w.packs.forEach((p, k) => { FLOWS.forEach((f, i) => { sums[k][i] += p[f]; assert.ok(p[f] >= 0); }); sums[k][4] += p.chargeMah; });
      }
    }
    const w = meter.cut();
    w.packs.forEach((p, k) => { FLOWS.forEach((f, i) => { sums[k][i] += p[f]; }); sums[k][4] += p.chargeMah; });
    const o = oracle(samples, nPacks, 2000);
    for (let k = 0; k < nPacks; k++) {
      const life = meter.lifetime(k);
      FLOWS.forEach((f, i) => {
        assert.is(sums[k][i], life[f], `pack ${k} ${f}: deltas sum to lifetime`);
        assert.is(BigInt(life[f]) * BigInt(NJ_PER_MWH) + BigInt(meter.remainderNj(k, i)), o.nj[k][i], `pack ${k} ${f}: exact`);
      });
      assert.is(sums[k][4], meter.lifetimeChargeMah(k));
      assert.is(BigInt(meter.lifetimeChargeMah(k)) * BigInt(UC_PER_MAH) + BigInt(meter.chargeRemainderUc(k)), o.uc[k]);
    }
    return true;
  }), { numRuns: 150 });
});

test('flows: discharge to motor or grid, charge from grid or regen, by the mode signals', () => {
  const m = createMeter({ packs: [{ canId: 1 }] });
  const s = (tMs: number, ma: number, chargerConnected = false, exportMode = false) => m.sample({ tMs, packs: [{ mv: 36000, ma }], chargerConnected, exportMode });
  s(0, 0);
  s(1000, 10000);           // 36 V * 10 A * 1 s = 360 J = 100 mWh to motor
  s(2000, -10000);          // regen 100 mWh
  s(3000, -10000, true);    // grid -> pack 100 mWh
  s(4000, 10000, false, true); // pack -> grid 100 mWh
  const w = m.cut();
  assert.equal({ ...w.packs[0], lifetime: undefined }, { canId: 1, gridToPackMwh: 100, packToGridMwh: 100, packToMotorMwh: 100, regenToPackMwh: 100, chargeMah: 0, lifetime: undefined, lostMs: 0 });
  assert.is(w.startMs, 0); assert.is(w.endMs, 4000);
  s(4360, 10000); // 10 A for 0.36 s = 1 mAh out
  assert.is(m.cut().packs[0].chargeMah, -1);
});

test('rounding never creates or loses energy: 3.6e9 tiny samples of 1 nJ make exactly 1 mWh', () => {
  // 1 mV * 1 mA * 1 ms = 1 nJ; run the remainder across many cuts.
  const m = createMeter({ packs: [{ canId: 1 }], holdMaxMs: 65535 });
  let t = 0;
  m.sample({ tMs: t, packs: [{ mv: 1, ma: 1 }], chargerConnected: false, exportMode: false });
  // 60000 nJ per sample: 60000 samples = 3.6e9 nJ = 1 mWh exactly; cut every 7 samples.
  let sum = 0;
  for (let i = 1; i <= 60000; i++) {
    t += 60000;
    m.sample({ tMs: t, packs: [{ mv: 1, ma: 1 }], chargerConnected: false, exportMode: false });
    if (i % 7 === 0) sum += m.cut().packs[0].packToMotorMwh;
  }
  sum += m.cut().packs[0].packToMotorMwh;
  assert.is(sum, 1);
  assert.is(m.remainderNj(0, FLOW_PACK_TO_MOTOR), 0);
});

test('range: 10 years at 100 V and 100 A neither overflows nor loses a nJ', () => {
  // 10 years of 65.535 s steps at 100 V, 100 A is 4.8 million samples: run the first
  // 100,000 of them, then restore the lifetime counter to the 10-year value minus that
  // much and run them again, checking exactness against BigInt at both ends.
  const steps = 100000;
  const dt = 65535;
  const perStepNj = 100000n * 100000n * BigInt(dt);
  const tenYearsMs = 10n * 365n * 86400000n + 2n * 86400000n; // + leap days
  const tenYearSteps = tenYearsMs / BigInt(dt);
  const run = (m: ReturnType<typeof createMeter>) => {
    let t = 0;
    m.sample({ tMs: t, packs: [{ mv: 100000, ma: 100000 }], chargerConnected: false, exportMode: false });
    for (let i = 0; i < steps; i++) { t += dt; m.sample({ tMs: t, packs: [{ mv: 100000, ma: 100000 }], chargerConnected: false, exportMode: false }); }
  };
  const m1 = createMeter({ packs: [{ canId: 1 }], holdMaxMs: dt });
  run(m1);
  const exact1 = perStepNj * BigInt(steps);
  assert.is(BigInt(m1.lifetime(0).packToMotorMwh) * BigInt(NJ_PER_MWH) + BigInt(m1.remainderNj(0, FLOW_PACK_TO_MOTOR)), exact1);
  // Seed with the first (tenYearSteps - steps) steps, whole mWh, remainder carried 0.
  const seedNj = perStepNj * (tenYearSteps - BigInt(steps));
  const seedMwh = seedNj / BigInt(NJ_PER_MWH);
  const m2 = createMeter({ packs: [{ canId: 1 }], holdMaxMs: dt });
  m2.restore([{ gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: Number(seedMwh), regenToPackMwh: 0 }]);
  run(m2);
  const total = BigInt(m2.lifetime(0).packToMotorMwh) * BigInt(NJ_PER_MWH) + BigInt(m2.remainderNj(0, FLOW_PACK_TO_MOTOR));
  assert.is(total, seedMwh * BigInt(NJ_PER_MWH) + exact1);
  assert.ok(m2.lifetime(0).packToMotorMwh > 8.7e11 && m2.lifetime(0).packToMotorMwh < 2 ** 53);
  const w = m2.cut();
  assert.is(w.packs[0].packToMotorMwh, m2.lifetime(0).packToMotorMwh - Number(seedMwh));
});

test('bad samples are rejected with a fault and integrate nothing; long gaps are capped and counted as lost', () => {
  const faults = createFaultLog({ now: () => 0 });
  const m = createMeter({ packs: [{ canId: 1 }, { canId: 2 }], holdMaxMs: 1000, faults });
  const ok = { mv: 40000, ma: 1000 };
  m.sample({ tMs: 100, packs: [ok, ok], chargerConnected: false, exportMode: false });
  assert.is(m.sample({ tMs: 50, packs: [ok, ok], chargerConnected: false, exportMode: false }), SAMPLE_BAD_TIME);
  assert.is(m.sample({ tMs: 200, packs: [{ mv: 200000, ma: 1 }, ok], chargerConnected: false, exportMode: false }), SAMPLE_BAD_VALUE);
  assert.is(m.sample({ tMs: 200, packs: [{ mv: 1, ma: 0.5 }, ok], chargerConnected: false, exportMode: false }), SAMPLE_BAD_VALUE);
  assert.is(faults.count(FAULT.SAMPLE_REJECTED), 3);
  assert.throws(() => m.sample({ tMs: 300, packs: [ok], chargerConnected: false, exportMode: false }), /2 pack readings/);
  // 5 s gap: 1 s integrated, 4 s lost; pack 2 silent (null) for the next 500 ms.
  m.sample({ tMs: 5100, packs: [ok, ok], chargerConnected: false, exportMode: false });
  m.sample({ tMs: 5600, packs: [ok, null], chargerConnected: false, exportMode: false });
  assert.is(faults.count(FAULT.SAMPLE_GAP), 1);
  const w = m.cut();
  assert.is(w.packs[0].lostMs, 4000);
  assert.is(w.packs[1].lostMs, 4500);
  assert.is(w.lostMs, 4500);
  // 40 V * 1 A * 1.5 s = 60 J = 16.67 mWh -> 16, remainder carried
  assert.is(w.packs[0].packToMotorMwh, 16);
  assert.is(m.remainderNj(0, FLOW_PACK_TO_MOTOR), 60000000000 - 16 * NJ_PER_MWH);
  assert.is(w.packs[1].packToMotorMwh, 11); // 1.0 s = 40 J = 11.1 mWh
});

test('cross-check: mismatch beyond tolerance raises a fault and never changes the reading; reboots re-anchor', () => {
  const faults = createFaultLog({ now: () => 0 });
  const m = createMeter({ packs: [{ canId: 1 }], faults, xcheck: { absTolMwh: 100, relTolPermille: 50, minSpanMwh: 1000 } });
  let t = 0;
  const ride = (ms: number, ma: number) => { t += ms; m.sample({ tMs: t, packs: [{ mv: 36000, ma }], chargerConnected: false, exportMode: false }); };
  ride(0, 0);
  m.observeVesc(500000, 0); // VESC counters start somewhere
  for (let i = 0; i < 20; i++) ride(1000, 10000); // 2000 mWh to motor
  m.observeVesc(502000, 0); // agrees
  assert.is(faults.count(FAULT.XCHECK_VESC), 0);
  for (let i = 0; i < 20; i++) ride(1000, 10000);
  m.observeVesc(502000 + 3000, 0); // VESC says 3000, meter 2000: beyond 100 + 5 %
  assert.is(faults.count(FAULT.XCHECK_VESC), 1);
  assert.is(m.lifetime(0).packToMotorMwh, 4000, 'the reading is the meter, not the VESC');
  // VESC reboot: its counter restarts near zero. No mismatch, no jump, a reset fault.
  for (let i = 0; i < 10; i++) ride(1000, 10000);
  m.observeVesc(12, 0);
  assert.is(faults.count(FAULT.VESC_COUNTER_RESET), 1);
  assert.is(faults.count(FAULT.XCHECK_VESC), 1);
  for (let i = 0; i < 20; i++) ride(1000, 10000);
  m.observeVesc(12 + 2000, 0);
  assert.is(faults.count(FAULT.XCHECK_VESC), 1);
  assert.is(m.lifetime(0).packToMotorMwh, 7000);
  // BMS: discharge total tracks motor + grid; a BMS reboot is handled the same way.
  m.observeBms(0, 0, 100);
  for (let i = 0; i < 20; i++) ride(1000, 10000);
  m.observeBms(0, 0, 2100);
  m.observeBms(0, 0, 5);
  assert.is(faults.count(FAULT.XCHECK_BMS), 0);
  assert.is(faults.count(FAULT.BMS_COUNTER_RESET), 1);
});

test('restore after reboot continues lifetime counters; windows restart from there', () => {
  const m = createMeter({ packs: [{ canId: 3 }, { canId: 4 }] });
  m.restore([
    { gridToPackMwh: 5, packToGridMwh: 6, packToMotorMwh: 7, regenToPackMwh: 8 },
    { gridToPackMwh: 1, packToGridMwh: 2, packToMotorMwh: 3, regenToPackMwh: 4 },
  ], [-10, 20]);
  m.sample({ tMs: 0, packs: [{ mv: 36000, ma: 10000 }, null], chargerConnected: false, exportMode: false });
  m.sample({ tMs: 1000, packs: [{ mv: 36000, ma: 10000 }, null], chargerConnected: false, exportMode: false });
  const w = m.cut();
  assert.is(w.packs[0].packToMotorMwh, 100);
  assert.is(w.packs[0].lifetime.packToMotorMwh, 107);
  assert.is(w.packs[1].lifetime.regenToPackMwh, 4);
  assert.is(m.lifetimeChargeMah(0), -10 - 3);
  assert.throws(() => m.restore([{ gridToPackMwh: -1, packToGridMwh: 0, packToMotorMwh: 0, regenToPackMwh: 0 }, { gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 0, regenToPackMwh: 0 }]), /flow 0/);
  assert.throws(() => createMeter({ packs: [{ canId: 1 }, { canId: 1 }] }), /two packs/);
  assert.throws(() => createMeter({ packs: [{ canId: 1 }], holdMaxMs: 70000 }), /holdMaxMs/);
});

test.run();
