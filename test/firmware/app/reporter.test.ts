import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EmuFlash } from '../../../host-tools/emu/flash';
import { createQueue, type Queue } from '../../../firmware/queue/queue';
import { createMeter, type Meter } from '../../../firmware/energy/meter';
import { createClock, type Clock } from '../../../firmware/app/clock';
import { createFaultLog, FAULT, type FaultLog } from '../../../firmware/app/faults';
import { createReporter, type ReporterSigner } from '../../../firmware/app/reporter';
import { createSigner } from '../../../firmware/keys/signer';
import * as ed from '../../../firmware/keys/ed25519';
import { decodeReport, CLOCK_SYNCED, CLOCK_UNSYNCED, type EnergyReport } from '../../../protocol/report';
import { decodeSign1 } from '../../../protocol/cose';
import { kidFromPublicKey } from '../../../protocol/kid';
import { verifyReportBytes, keyRegistry, checkChain, MemoryChain } from '../../../host-tools/verify/index';
import { virtualTimers } from '../_timers';

const SEED = new Uint8Array(32).map((_, i) => i + 1);

interface Rig {
  timers: ReturnType<typeof virtualTimers>;
  flash: EmuFlash;
  queue: Queue;
  meter: Meter;
  clock: Clock;
  faults: FaultLog;
  cose: Uint8Array[];
  samples: { n: number; duringSigning: number };
}

/** A bike: two packs sampled every 100 ms; riding discharges, then regen, then charging. */
function rig(opts: { flash?: EmuFlash; signer?: ReporterSigner; queueOpts?: { segBytes?: number; maxSegments?: number }; intervalMs?: number; timers?: ReturnType<typeof virtualTimers> } = {}) {
  const timers = opts.timers ?? virtualTimers();
  const flash = opts.flash ?? new EmuFlash({ size: 65536, pageSize: 4096 });
  const faults = createFaultLog({ now: timers.now });
  const queue = createQueue({ flash, faults, ...(opts.queueOpts ?? {}) });
  queue.recover();
  const meter = createMeter({ packs: [{ canId: 21 }, { canId: 20 }], faults });
  const clock = createClock({ now: timers.now, faults });
  const cose: Uint8Array[] = [];
  const signer = opts.signer ?? createSigner(SEED, ed);
  const reporter = createReporter({ meter, queue, signer, clock, timers, faults, firmware: 256, intervalMs: opts.intervalMs ?? 60000, onReport: (_s, c) => cose.push(c) });
  const samples = { n: 0, duringSigning: 0 };
  const start = timers.now();
  function sample() {
    const t = timers.now();
    const phase = Math.floor((t - start) / 150000) % 3;
    const ma = phase === 0 ? 12000 + (t % 700) : phase === 1 ? -3000 : -8000;
    meter.sample({ tMs: t, packs: [{ mv: 40000 + (t % 13), ma }, { mv: 39000, ma: Math.floor(ma / 2) }], chargerConnected: phase === 2, exportMode: false });
    samples.n++;
    if (reporter.status().state === 'signing') samples.duringSigning++;
    timers.setTimeout(sample, 100);
  }
  return { timers, flash, queue, meter, clock, faults, cose, samples, reporter, sample };
}

/** What a ledger node does with the stream: verify each report and its place in the chain. */
function ledger(cose: Uint8Array[], pub: Uint8Array, chain = new MemoryChain()) {
  const reg = keyRegistry([pub], kidFromPublicKey);
  const out: EnergyReport[] = [];
  for (const c of cose) {
    const v = verifyReportBytes(c, reg);
    assert.ok(v.ok, `verify: ${JSON.stringify(v)}`);
    if (!v.ok) continue;
    const verdict = checkChain(v, chain);
    assert.ok(verdict.ok && verdict.status === 'accept', `chain at seq ${v.report.seq}: ${JSON.stringify(verdict)}`);
    chain.apply(v);
    out.push(v.report);
  }
  return { reports: out, chain };
}

test('one report per interval, chained, signed, verified and continuous on the ledger side', () => {
  const r = rig();
  r.reporter.start();
  r.sample();
  r.timers.advance(10 * 60000 + 5000);
  assert.is(r.cose.length, 10);
  const { reports } = ledger(r.cose, createSigner(SEED, ed).publicKey());
  assert.equal(reports.map((x) => x.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(reports.every((x) => x.clock === CLOCK_UNSYNCED));
  for (let i = 1; i < reports.length; i++) assert.is(reports[i].startS, reports[i - 1].startS + reports[i - 1].durationS, 'windows tile');
  assert.ok(reports.every((x) => x.durationS >= 59 && x.durationS <= 61));
  assert.equal(reports[0].packs.map((p) => p.canId), [20, 21], 'ascending CAN ids');
  // Totals: window sums equal the meter's lifetime counters, to the mWh.
  for (const [k, idx] of [[20, 1], [21, 0]] as const) {
    const life = r.meter.lifetime(idx);
    const last = reports[reports.length - 1].packs.find((p) => p.canId === k)!;
    const sum = (f: 'packToMotorMwh' | 'regenToPackMwh' | 'gridToPackMwh') => reports.reduce((a, x) => a + x.packs.find((p) => p.canId === k)![f], 0);
    assert.is(sum('packToMotorMwh'), last.lifetime.packToMotorMwh);
    assert.ok(last.lifetime.packToMotorMwh <= life.packToMotorMwh);
    assert.ok(sum('regenToPackMwh') > 0 && sum('gridToPackMwh') > 0);
  }
  assert.is(r.queue.pending(), 10);
  // After an SNTP sync the next reports carry epoch seconds.
  r.clock.sync(Date.UTC(2026, 10, 25, 12, 0, 0));
  r.timers.advance(60000);
  const next = decodeReport(decodeSign1(r.cose[10]).payload);
  assert.is(next.clock, CLOCK_SYNCED);
  assert.ok(next.startS > 1.7e9);
});

test('signing yields to the event loop: samples keep coming between steps; step times are measured', () => {
  const r = rig();
  const real = createSigner(SEED, ed);
  // Each step takes 40 ms of (virtual) time, as on the device.
  const slow: ReporterSigner = {
    kid: () => real.kid(),
    signSteps: (m) => { const s = real.signSteps(m); return { step: () => { r.timers.burn(40); return s.step(); }, signature: () => s.signature() }; },
  };
  const r2 = rig({ signer: slow, timers: r.timers });
  r2.reporter.start();
  r2.sample();
  r2.timers.advance(3 * 60000 + 30000);
  const st = r2.reporter.status();
  assert.is(st.reports, 3);
  assert.ok(st.steps > 5, `steps ${st.steps}`);
  assert.is(st.maxStepMs, 40);
  assert.is(st.lastSignMs, st.steps * 40);
  assert.ok(r2.samples.duringSigning > 0, 'the sampler ran while a report was being signed');
  ledger(r2.cose, real.publicKey());
});

test('signing slower than the interval: windows get longer, never overlap, REPORT_LATE recorded', () => {
  const timers = virtualTimers();
  const real = createSigner(SEED, ed);
  const slow: ReporterSigner = {
    kid: () => real.kid(),
    signSteps: (m) => { const s = real.signSteps(m); return { step: () => { timers.burn(1000); return s.step(); }, signature: () => s.signature() }; },
  };
  const r = rig({ signer: slow, timers, intervalMs: 10000 });
  r.reporter.start();
  r.sample();
  timers.advance(10 * 60000);
  const st = r.reporter.status();
  assert.ok(st.late > 0);
  assert.ok(r.faults.count(FAULT.REPORT_LATE) > 0);
  const { reports } = ledger(r.cose, real.publicKey());
  assert.ok(reports.length >= 5, `reports ${reports.length} ${JSON.stringify(st)}`);
  for (let i = 1; i < reports.length; i++) assert.is(reports[i].startS, reports[i - 1].startS + reports[i - 1].durationS);
  assert.ok(reports.slice(1).every((x) => x.durationS > 10), 'windows stretched past the 10 s interval');
});

test('queue full: keeps measuring, merges windows, records the gap; seq and counters stay continuous', () => {
  const r = rig({ queueOpts: { segBytes: 700, maxSegments: 2 } });
  r.reporter.start();
  r.sample();
  r.timers.advance(30 * 60000 + 1000);
  const stored = r.queue.pending();
  assert.ok(stored < 30 && stored >= 4, `stored ${stored} ${JSON.stringify(r.reporter.status())} ${JSON.stringify(r.faults.counters())}`);
  assert.ok(r.faults.count(FAULT.QUEUE_FULL) > 0);
  assert.ok(r.reporter.status().merged > 0);
  assert.ok(r.faults.count(FAULT.QUEUE_FULL) <= 4, `signatures attempted while full: ${r.faults.count(FAULT.QUEUE_FULL)}`);
  // The uplink comes back: everything goes out, then the merged report follows.
  const sent = r.queue.peek(1000, 1e9);
  r.queue.remove(sent);
  r.timers.advance(60000);
  const all = r.queue.peek(1000, 1e9);
  const { reports } = ledger([...sent.map((i) => i.payload), ...all.map((i) => i.payload)], createSigner(SEED, ed).publicKey());
  const merged = reports[reports.length - 1];
  assert.ok(merged.gap && merged.gap.mergedWindows >= 20, JSON.stringify(merged.gap));
  assert.ok(merged.durationS > 20 * 60, `${merged.durationS} ${reports.length} ${JSON.stringify(reports.map((x) => [x.seq, x.startS, x.durationS]))}`);
  for (let i = 1; i < reports.length; i++) assert.is(reports[i].startS, reports[i - 1].startS + reports[i - 1].durationS);
});

test('reboot: seq, prev and lifetime counters continue from the queue', () => {
  const flash = new EmuFlash({ size: 65536, pageSize: 4096 });
  const a = rig({ flash });
  a.reporter.start();
  a.sample();
  a.timers.advance(5 * 60000 + 500);
  a.reporter.stop();
  const before = a.cose.slice();
  assert.is(before.length, 5);
  // Power comes back: fresh RAM, same flash; the clock restarts at 0.
  const b = rig({ flash });
  b.reporter.start();
  assert.is(b.reporter.status().nextSeq, 5);
  b.sample();
  b.timers.advance(3 * 60000 + 500);
  const { reports } = ledger([...before, ...b.cose], createSigner(SEED, ed).publicKey());
  assert.equal(reports.map((x) => x.seq), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('a clock stepped back by a resync never makes windows overlap on the ledger', () => {
  const r = rig();
  r.clock.sync(Date.UTC(2026, 10, 25, 12, 0, 0));
  r.reporter.start();
  r.sample();
  r.timers.advance(2 * 60000 + 500);
  r.clock.sync(Date.UTC(2026, 10, 25, 12, 0, 0) + 2 * 60000 - 45000); // it was 45 s fast
  r.timers.advance(3 * 60000);
  const { reports } = ledger(r.cose, createSigner(SEED, ed).publicKey());
  assert.is(reports.length, 5);
  for (let i = 1; i < reports.length; i++) assert.ok(reports[i].startS >= reports[i - 1].startS + reports[i - 1].durationS);
  assert.is(reports[2].startS, reports[1].startS + reports[1].durationS);
  assert.ok(reports[2].durationS < 30, `shortened window ${reports[2].durationS}`);
});

test('misuse throws', () => {
  const r = rig();
  assert.throws(() => createReporter({ ...({} as any) }), /expected/);
  assert.throws(() => createReporter({ meter: r.meter, queue: r.queue, signer: createSigner(SEED, ed), clock: r.clock, timers: r.timers, firmware: 1, intervalMs: 10 }), /intervalMs/);
});

test.run();
