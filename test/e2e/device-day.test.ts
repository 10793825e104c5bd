// The firmware bundle (dist/firmware.js, built by `npm test` before the tests run) rides a
// simulated day in the emulator against the bike simulator and a real ingest node on
// loopback: ride with regen, charge at a hub, export to the grid, the WiFi gone for more
// than two hours, two power cuts (one inside a flash write), a VESC reboot. Then every
// report must be in the ledger exactly once, verify on its own (host-tools/verify), chain
// without a gap, and add up per pack and per flow to the simulator's true energy.
//
// The day is compressed to 4.4 h of virtual time (the night parked is left out: it moves
// no energy and only costs run time), sampled at 1 Hz with a 1 s simulator step so that
// the run stays well under a minute on a shared 2-core machine.
//
// Tolerance, stated in mWh: the BMS broadcasts once per second and the meter takes the
// newest reading each second (firmware/app/bus.ts), so a reading can stand for up to one
// sample period of the neighbouring simulator step. Inside a flow this shifts energy
// between adjacent seconds and cancels; at each start and end of a flow it does not: the
// bound is one second of the power at that edge, summed over the flow's edges. The test
// computes that bound from the simulator's own power at every edge (edgeBoundMwh) and adds
// 2 mWh for the integer rounding of the reports (the meter carries remainders, so rounding
// is < 1 mWh per pack and flow over the whole run).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VirtualClock } from '../../host-tools/emu/clock';
import { EmuNetwork } from '../../host-tools/emu/network';
import { createEmulatedBike, DEFAULT_BUNDLE } from '../../host-tools/emu/bike';
import { createSimBike, FLOWS, type Segment } from '../../host-tools/sim/index';
import { startIngestNode } from '../../host-tools/ingest/node';
import { keyRegistry, verifyReportBytes, sha256Host } from '../../host-tools/verify/report';
import type { EnergyReport } from '../../protocol/report';

const RIDE: Segment[] = [
  { kind: 'park', durationS: 600 },
  { kind: 'ride', durationS: 900, speedKmh: 22, slopePct: 2, assist: 0.7 },
  { kind: 'brake', durationS: 10 },
  { kind: 'ride', durationS: 600, speedKmh: 28, slopePct: -6, assist: 0.2 },
  { kind: 'brake', durationS: 12 },
  { kind: 'charge', durationS: 2400, hub: 'hub-1', currentMa: 4000 },
  { kind: 'export', durationS: 1200, hub: 'hub-1', powerW: 300, floorSocPct: 40 },
  { kind: 'plugged', durationS: 300, hub: 'hub-1' },
  { kind: 'ride', durationS: 900, speedKmh: 25, slopePct: 3, assist: 0.8 }, // WiFi goes
  { kind: 'brake', durationS: 8 },
  { kind: 'park', durationS: 1800 }, // power cut inside a flash write
  { kind: 'ride', durationS: 1200, speedKmh: 20, slopePct: 0, assist: 0.6 }, // VESC reboot
  { kind: 'brake', durationS: 10 },
  { kind: 'park', durationS: 1800 }, // hard power cut, 60 s
  { kind: 'ride', durationS: 600, speedKmh: 18, slopePct: -2, assist: 0.5 },
  { kind: 'brake', durationS: 10 },
  { kind: 'charge', durationS: 1800, hub: 'hub-2', currentMa: 4000 }, // WiFi back during it
  { kind: 'export', durationS: 900, hub: 'hub-2', powerW: 250, floorSocPct: 40 },
  { kind: 'park', durationS: 900 },
];

function segStartS(i: number): number {
  let t = 0;
  for (let k = 0; k < i; k++) t += RIDE[k].durationS;
  return t;
}

const quiet = { info() {}, warn() {}, error() {}, debug() {}, child() { return quiet; } };

test('a simulated day: every report once, verified, chained, and the energy adds up', async () => {
  if (!existsSync(DEFAULT_BUNDLE)) throw new Error(`${DEFAULT_BUNDLE} missing: run npm run build first`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'deep-day-'));
  const node = await startIngestNode({ db: path.join(dir, 'ledger.sqlite'), port: 0, workers: 1, logger: quiet as never });
  try {
    const clock = new VirtualClock();
    const network = new EmuNetwork({ clock, accessPoints: [{ ssid: 'deep-hub', password: 'watt-hours' }] });
    const sim = createSimBike({ seed: 20261125, ride: RIDE, stepMs: 1000, bmsRateHz: 1, bmsBroadcast: 'energy' });
    const bike = createEmulatedBike({
      clock, network, sim, seed: 7, flashFile: path.join(dir, 'flash.bin'),
      bundle: readFileSync(DEFAULT_BUNDLE, 'latin1'),
      settings: { ssid: 'deep-hub', password: 'watt-hours', endpoint: node.url, pollMs: 1000, intervalS: 60 },
    });

    // Power edges of each flow, from the simulator's ledger every second: the tolerance.
    const prev: number[][] = [[0, 0, 0, 0], [0, 0, 0, 0]];
    const prevRate: number[][] = [[0, 0, 0, 0], [0, 0, 0, 0]];
    const edgeBoundMwh: number[][] = [[0, 0, 0, 0], [0, 0, 0, 0]];
    let lastSampleS = 0;
    const onSecond = (): void => {
      const s = Math.floor(clock.now() / 1000);
      if (s === lastSampleS) return;
      lastSampleS = s;
      const l = sim.ledger();
      l.packs.forEach((p, i) => FLOWS.forEach((f, k) => {
        const rate = p.flows[f].mwh - prev[i][k]; // mWh in the last second = power edge size
        if ((rate > 0.5) !== (prevRate[i][k] > 0.5)) edgeBoundMwh[i][k] += Math.max(rate, prevRate[i][k]);
        prev[i][k] = p.flows[f].mwh;
        prevRate[i][k] = rate;
      }));
    };
    clock.addAfterFire(onSecond);

    const t0 = Date.now();
    bike.powerOn();
    await clock.advance(5_000);

    // Pairing, the way `deep pair` does it: challenge from the node, proof from the device.
    const ch = (await (await fetch(`${node.url}/v1/devices/challenge`)).json()) as { challenge: string };
    assert.is(bike.eval(`deep.pairingProof(${JSON.stringify(ch.challenge)})`), null, 'signing starts');
    let proof: string | null = null;
    for (let i = 0; i < 100 && proof === null; i++) {
      await clock.advance(100);
      proof = bike.eval<string | null>('deep.pairingProof()');
    }
    assert.type(proof, 'string');
    const reg = await fetch(`${node.url}/v1/devices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ challenge: ch.challenge, proof }) });
    assert.is(reg.status, 201, 'the node accepts the device-signed proof');
    const device = (await reg.json()) as { id: string; publicKey: string };
    bike.eval(`deep.paired(${JSON.stringify(device.id)})`);

    const untilS = async (s: number): Promise<void> => { await clock.advance(s * 1000 - clock.now()); };
    // WiFi gone for 2 h 10 min from the start of the third ride.
    const wifiOffS = segStartS(8);
    await untilS(wifiOffS);
    network.setUp(false);
    // Power fails while a report is being written (byte 40 of the next flash programming).
    await untilS(segStartS(10) + 120);
    bike.cutAtWrite(40, 30_000);
    await untilS(segStartS(10) + 300);
    assert.ok(bike.device.stops.some((x) => x.reason === 'power-cut'), 'the armed cut struck');
    assert.ok(bike.device.running, 'and the device came back');
    // The VESC reboots mid-ride: its counters restart from zero.
    await untilS(segStartS(11) + 600);
    sim.inject({ vescReboot: true });
    // A hard cut while parked, off for a minute.
    await untilS(segStartS(13) + 400);
    bike.powerCut(60_000);
    await untilS(wifiOffS + 7800);
    const queuedDuringOutage = bike.eval<{ queued: number }>('deep.status()').queued;
    assert.ok(queuedDuringOutage > 100, `reports piled up while offline (${queuedDuringOutage})`);
    network.setUp(true);
    await untilS(segStartS(RIDE.length));
    // Let the last window be reported and everything be delivered.
    const drained = await clock.runUntil(() => bike.eval<{ queued: number }>('deep.status()').queued === 0, 600_000, 10_000);
    assert.ok(drained, 'the queue drains once the network is back');
    const st = bike.eval<{ reporter: { nextSeq: number }; uplink: { dropped: number } }>('deep.status()');
    assert.is(st.uplink.dropped, 0, 'no report dropped as rejected');
    assert.is(bike.device.uncaught.length, 0, `no uncaught errors: ${bike.device.uncaught.map((u) => u.text).join('; ')}`);

    // The ledger: every seq exactly once, each verifying on its own, prev chaining.
    const lines = (await (await fetch(`${node.url}/v1/export`)).text()).trim().split('\n').map((l) => JSON.parse(l) as { device: string; seq: number; cose: string });
    const mine = lines.filter((l) => l.device === device.id).sort((a, b) => a.seq - b.seq);
    assert.is(mine.length, st.reporter.nextSeq, 'as many reports in the ledger as the device made');
    const registry = keyRegistry([new Uint8Array(Buffer.from(device.publicKey, 'hex'))]);
    const reports: EnergyReport[] = [];
    let prevHash: Uint8Array = new Uint8Array(32);
    mine.forEach((l, i) => {
      assert.is(l.seq, i, 'no gap, no duplicate');
      const v = verifyReportBytes(new Uint8Array(Buffer.from(l.cose, 'base64')), registry);
      if (!v.ok) throw new Error(`report ${l.seq} does not verify: ${JSON.stringify(v)}`);
      assert.equal([...v.report.prev], [...prevHash], `report ${i} chains to ${i - 1}`);
      prevHash = sha256Host(v.bytes);
      reports.push(v.report);
    });
    const info = (await (await fetch(`${node.url}/v1/devices/${device.id}`)).json()) as { gap: unknown; fork: unknown };
    assert.is(info.gap, null);
    assert.is(info.fork, null);

    // Energy: per pack and flow, the reports' sum against the simulator's truth.
    const truth = sim.ledger();
    const key = ['gridToPackMwh', 'packToGridMwh', 'packToMotorMwh', 'regenToPackMwh'] as const;
    const rows: string[] = [];
    let worst = 0;
    truth.packs.forEach((p, i) => {
      FLOWS.forEach((f, k) => {
        const sum = reports.reduce((a, r) => a + r.packs[i][key[k]], 0);
        assert.is(sum, reports[reports.length - 1].packs[i].lifetime[key[k]], 'windows add up to the lifetime counter');
        const err = sum - p.flows[f].mwh;
        const tol = edgeBoundMwh[i][k] + 2;
        worst = Math.max(worst, Math.abs(err));
        rows.push(`pack ${p.canId} ${f.padEnd(11)} device ${String(sum).padStart(7)} true ${p.flows[f].mwh.toFixed(1).padStart(9)} err ${err.toFixed(1).padStart(7)} tol ${tol.toFixed(1)}`);
        assert.ok(Math.abs(err) <= tol, `pack ${p.canId} ${f}: device ${sum} mWh, true ${p.flows[f].mwh.toFixed(1)} mWh, off by ${err.toFixed(1)} > ${tol.toFixed(1)}`);
      });
    });
    for (const f of FLOWS) assert.ok(truth.packs.some((p) => p.flows[f].mwh > 100), `the day exercised ${f}`);
    if (process.env.DEEP_VERBOSE) {
      console.log(rows.join('\n'));
      console.log(`reports=${mine.length} worst_err_mwh=${worst.toFixed(1)} real_s=${((Date.now() - t0) / 1000).toFixed(1)} flash=${JSON.stringify(bike.flash.stats)}`);
    }
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
