// The smart-testnet mini-grid: several e-bikes, each the real firmware bundle
// (dist/firmware.js) in the Espruino emulator (host-tools/emu) against its own simulated
// VESC and dual BMS (host-tools/sim), riding a seeded day between charging hubs where they
// charge or sell energy back, and a ledger ingest node (host-tools/ingest) with its SQLite
// file. Everything runs on one virtual clock, so a day takes minutes and the same seed
// gives the same rides, the same reports and the same totals.
//
// Run:   bikes boot, generate their keys, and are paired through their console exactly as
//        `deep pair` pairs a real bike (settings, challenge, proof, registration);
//        then the day runs, paced to `speedup` when the machine is fast enough.
// Drain: the rides end parked; time runs on until every device has closed its last report
//        window and emptied its queue (or a limit passes).
// Check: the ledger is read back over HTTP, every report re-verified, totals compared per
//        bike, pack and flow with the simulator's exact ledger, chains checked, riders settled.
import { mkdtempSync, mkdirSync, existsSync, readFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { VirtualClock } from '../emu/clock';
import { EmuNetwork, type EmuHttpRequest, type EmuHttpResponse } from '../emu/network';
import { createEmulatedBike, DEFAULT_BUNDLE, type EmulatedBike } from '../emu/bike';
import { createSimBike, randomRide } from '../sim/index';
import { startIngestNode, type IngestNode } from '../ingest/node';
import { createLogger } from '../ingest/log';
import { splitReports, parseMediaType } from '../ingest/body';
import { openSign1 } from '../verify';
import { decodeReport } from '../../protocol/report';
import { toHex } from '../../protocol/cbor';
import { consoleLink, DeviceConsole } from './device-link';
import { pairDevice, httpPairingNode, deviceInfo, DEVICE_EXPR } from './device-api';
import { loadPrices, DAY_S, type PriceSeries } from './prices';
import { settle } from './settlement';
import { readLedger } from './ledger';
import { renderSummary, runOk, type RunSummary, type BikeSummary } from './summary';
import { LiveView, zeroFlows, FLOWS, type Snapshot, type Output, type FlowTotals, type BikeView, type HubView } from './view';

export interface TestnetOptions {
  bikes: number;
  hubs: number;
  seed: number;
  /** Simulated length of the day (the rides), seconds. */
  durationS: number;
  /** Simulated seconds per wall second; 0 = as fast as the machine goes. */
  speedup: number;
  /** Ingest node port on 127.0.0.1; 0 = a free one. */
  port: number;
  /** Folder for the SQLite ledger and logs; default a new temporary folder. */
  dataDir?: string;
  /** Price CSV; default the bundled sample. */
  prices?: string;
  /** Firmware source; default dist/firmware.js. */
  bundle?: string;
  /** Live view and summary go here (stdout). */
  out: Output;
  /** Progress lines (stderr). */
  log: (line: string) => void;
  /** Largest |ledger - truth| accepted as a pass, mWh. */
  toleranceMwh?: number;
}

export interface TestnetResult {
  summary: RunSummary;
  ok: boolean;
  dataDir: string;
  lines: string[];
}

/** The device's report interval, seconds (firmware default, issue 4). */
const INTERVAL_S = 60;
const WIFI = { ssid: 'deep-testnet', password: 'watt-hours-2026' };
const DRAIN_LIMIT_MS = 3 * 3600_000;

/**
 * Midnight UTC, far enough in the past that the whole run ends before the ingest node's
 * real clock (it rejects reports from the future); an absolute price series sets the day.
 */
export function startOfRun(series: PriceSeries, durationS: number, nowMs = Date.now()): number {
  if (series.kind === 'absolute') return Math.floor(series.intervals[0].startS / DAY_S) * DAY_S * 1000;
  const days = Math.ceil((durationS + DRAIN_LIMIT_MS / 1000) / DAY_S) + 1;
  return (Math.floor(nowMs / 86_400_000) - days) * 86_400_000;
}

interface BikeRun {
  name: string;
  bike: EmulatedBike;
  con: DeviceConsole;
  id: string;
  /** Energy by flow from this bike's reports that the node accepted (display). */
  acceptedMwh: FlowTotals;
  sent: number;
  acked: number;
  rejected: number;
  /** Highest seq the device has put on the wire + 1. */
  made: number;
  lastTruth: FlowTotals;
}

function truthTotals(b: EmulatedBike): { perPack: Record<number, FlowTotals>; sum: FlowTotals } {
  const perPack: Record<number, FlowTotals> = {};
  const sum = zeroFlows();
  for (const p of b.sim.ledger().packs) {
    const t = zeroFlows();
    for (const f of FLOWS) {
      t[f] = p.flows[f].mwh;
      sum[f] += t[f];
    }
    perPack[p.canId] = t;
  }
  return { perPack, sum };
}

export async function runTestnet(o: TestnetOptions): Promise<TestnetResult> {
  const wallStart = performance.now();
  const series = loadPrices(o.prices);
  const bundle = readFileSync(o.bundle ?? DEFAULT_BUNDLE, 'latin1');

  const dataDir = o.dataDir ?? mkdtempSync(path.join(tmpdir(), 'deep-testnet-'));
  mkdirSync(dataDir, { recursive: true });
  const db = path.join(dataDir, 'ledger.sqlite');
  if (existsSync(db)) throw new Error(`${db} already holds a ledger; give --data a fresh folder (the same seed makes the same device keys)`);
  const logStream = createWriteStream(path.join(dataDir, 'ingest.log'));
  const node: IngestNode = await startIngestNode({ db, port: o.port, host: '127.0.0.1', logger: createLogger({ sink: logStream }) });
  o.log(`ingest node ${node.url}, ledger ${db}`);

  const clock = new VirtualClock({ startWallMs: startOfRun(series, o.durationS) });
  const hubs = Array.from({ length: o.hubs }, (_, i) => `hub-${i + 1}`);
  const hubView: Record<string, HubView> = {};
  for (const h of hubs) hubView[h] = { name: h, inMwh: 0, outMwh: 0, plugged: [] };
  const nodeView = { accepted: 0, duplicates: 0, rejected: 0, reportsPerS10: 0 };
  const byId: Record<string, BikeRun> = {};

  // Every device request goes to the node for real (loopback HTTP); on the way back the
  // answers are counted per device for the live view.
  async function proxy(req: EmuHttpRequest): Promise<EmuHttpResponse> {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.from(req.body),
      signal: AbortSignal.timeout(30000),
    });
    const body = new Uint8Array(await res.arrayBuffer());
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => { headers[k] = v; });
    if (new URL(req.url).pathname === '/v1/reports' && res.status === 200) countAnswers(req, body);
    return { status: res.status, headers, body };
  }

  function countAnswers(req: EmuHttpRequest, body: Uint8Array): void {
    let answers: { status: string; device?: string; seq?: number }[];
    try {
      answers = (JSON.parse(Buffer.from(body).toString('utf8')) as { results: typeof answers }).results;
    } catch {
      return;
    }
    const type = parseMediaType(req.headers['content-type'] ?? req.headers['Content-Type']);
    const spans = type ? splitReports(req.body, type, 10000) : [];
    answers.forEach((a, i) => {
      const span = spans[i];
      let kid: string | undefined = a.device;
      let rep;
      if (span) {
        const s = openSign1(span.bytes);
        if (s.ok) {
          try {
            rep = decodeReport(s.sign1.payload);
            kid ??= toHex(rep.kid);
          } catch { /* counted as sent below; the node said why it refused */ }
        }
      }
      const b = kid ? byId[kid] : undefined;
      if (a.status === 'accepted') nodeView.accepted++;
      else if (a.status === 'duplicate') nodeView.duplicates++;
      else nodeView.rejected++;
      if (!b) return;
      b.sent++;
      if (rep) b.made = Math.max(b.made, rep.seq + 1);
      if (a.status === 'rejected') { b.rejected++; return; }
      b.acked++;
      if (a.status === 'accepted' && rep) for (const p of rep.packs) for (const f of FLOWS) b.acceptedMwh[f] += p[`${f}Mwh` as const];
    });
  }

  const network = new EmuNetwork({ clock, accessPoints: [WIFI], handler: proxy });
  const runs: BikeRun[] = [];
  try {
    // 1. Boot and pair every bike through its console, the way a rider does.
    for (let i = 0; i < o.bikes; i++) {
      const name = `bike${i + 1}`;
      const seed = (o.seed * 1009 + i * 7919 + 1) >>> 0;
      const sim = createSimBike({ seed, ride: randomRide({ seed, durationS: o.durationS, hubs }), bmsBroadcast: 'energy' });
      const bike = createEmulatedBike({ clock, network, sim, seed, name, bundle });
      bike.powerOn();
      const con = new DeviceConsole(consoleLink(bike.device.console, `${name}:console`));
      runs.push({ name, bike, con, id: '', acceptedMwh: zeroFlows(), sent: 0, acked: 0, rejected: 0, made: 0, lastTruth: zeroFlows() });
    }
    for (const r of runs) {
      // First boot makes the key: give the device virtual time until it answers.
      let info;
      for (let tries = 0; ; tries++) {
        try {
          info = await deviceInfo(r.con, 2000);
          break;
        } catch (e) {
          if (tries >= 30) throw new Error(`${r.name} does not answer deep.info() after boot: ${(e as Error).message}\n${r.bike.device.output.slice(-2000)}`);
          await clock.advance(1000);
        }
      }
      const res = await pairDevice({
        console: r.con, node: httpPairingNode(node.url), ssid: WIFI.ssid, endpoint: node.url, force: false,
        password: async () => WIFI.password, wait: (ms) => clock.advance(ms), signTimeoutMs: 120_000,
      });
      r.id = res.status === 'paired' ? res.id : res.info.id;
      byId[r.id] = r;
      o.log(`${r.name}: firmware ${info.version}, paired as ${r.id}`);
    }

    // 2. The day.
    const view = new LiveView(o.out);
    const durationMs = o.durationS * 1000;
    const t0 = clock.now();
    let lastRateWall = performance.now();
    let lastRateAccepted = 0;

    const snapshot = (phase: string): Snapshot => {
      const wallNow = performance.now();
      if (wallNow - lastRateWall >= 1000) {
        nodeView.reportsPerS10 = Math.round(((nodeView.accepted - lastRateAccepted) * 10000) / (wallNow - lastRateWall));
        lastRateWall = wallNow;
        lastRateAccepted = nodeView.accepted;
      }
      for (const h of Object.values(hubView)) h.plugged = [];
      const bikes: BikeView[] = runs.map((r) => {
        const st = r.bike.sim.state();
        if (st.hub && hubView[st.hub]) hubView[st.hub].plugged.push(r.name);
        let status: { queued?: number; online?: boolean; faults?: unknown } = {};
        if (r.bike.device.running) {
          try {
            status = r.bike.eval(DEVICE_EXPR.status) ?? {};
          } catch { /* a device between boots answers nothing */ }
        }
        const faults = typeof status.faults === 'number' ? status.faults
          : status.faults && typeof status.faults === 'object' ? Object.values(status.faults as Record<string, number>).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0) : 0;
        return {
          name: r.name,
          state: r.bike.device.running ? (st.hub ? `${st.activity}@${st.hub}` : st.activity) : 'power off',
          packs: st.packs.map((p) => ({ id: p.canId, socPermille: Math.round(p.soc * 1000) })),
          flowsMwh: r.acceptedMwh,
          reports: { made: r.made, sent: r.sent, acked: r.acked, queued: typeof status.queued === 'number' ? status.queued : 0 },
          faults,
          online: network.up && status.online !== false,
        };
      });
      return {
        simMs: clock.now() - t0, simEpochMs: clock.trueWallMs(), wallMs: wallNow - wallStart, durationMs,
        bikes, hubs: Object.values(hubView), node: { ...nodeView }, phase,
      };
    };

    // Hub meters: energy that moved to or from the grid while the bike was plugged there.
    const meterHubs = () => {
      for (const r of runs) {
        const { sum } = truthTotals(r.bike);
        const hub = r.bike.sim.state().hub;
        if (hub && hubView[hub]) {
          hubView[hub].inMwh += sum.gridToPack - r.lastTruth.gridToPack;
          hubView[hub].outMwh += sum.packToGrid - r.lastTruth.packToGrid;
        }
        r.lastTruth = sum;
      }
    };

    const stepMs = 10_000;
    while (clock.now() - t0 < durationMs) {
      await clock.advance(Math.min(stepMs, durationMs - (clock.now() - t0)));
      meterHubs();
      if (o.speedup > 0) {
        const ahead = (clock.now() - t0) / o.speedup - (performance.now() - wallStart);
        if (ahead > 5) await new Promise((res) => setTimeout(res, ahead));
      }
      view.update(snapshot('riding'));
    }

    // 3. Drain: parked bikes close their windows and empty their queues.
    const drainStart = clock.now();
    const minDrainMs = 3 * INTERVAL_S * 1000;
    for (;;) {
      await clock.advance(stepMs);
      meterHubs();
      const snap = snapshot('draining queues');
      view.update(snap);
      const empty = snap.bikes.every((b) => b.reports.queued === 0 && b.reports.acked >= b.reports.made);
      if (clock.now() - drainStart >= minDrainMs && empty) break;
      if (clock.now() - drainStart >= DRAIN_LIMIT_MS) {
        o.log(`drain limit reached with reports still queued: ${snap.bikes.map((b) => `${b.name}=${b.reports.queued}`).join(' ')}`);
        break;
      }
    }
    view.update(snapshot('done'), true);

    // 4. Read the ledger back, re-verify, compare, settle.
    const bikes: BikeSummary[] = [];
    let reports = 0, verified = 0;
    const allRecords = [];
    for (const r of runs) {
      const l = await readLedger(node.url, r.id);
      for (const p of l.problems) o.log(`${r.name}: ${p}`);
      const truth = truthTotals(r.bike).perPack;
      const packIds = [...new Set([...Object.keys(truth), ...Object.keys(l.packs)].map(Number))].sort((a, b) => a - b);
      reports += r.made;
      verified += l.reverified;
      allRecords.push(...l.records);
      bikes.push({
        name: r.name,
        deviceId: r.id,
        packs: packIds.map((id) => ({ id, ledgerMwh: l.packs[id] ?? zeroFlows(), trueMwh: truth[id] ?? zeroFlows() })),
        chain: { made: r.made, accepted: l.accepted, headSeq: l.device.headSeq, pending: l.device.pending, forks: l.device.forks, rejected: l.device.rejections },
        balance: undefined,
      });
    }
    const balances = settle(series, allRecords);
    for (const b of bikes) b.balance = balances.find((x) => x.device === b.deviceId);
    const summary: RunSummary = {
      bikes, series, reports, verified, rejected: nodeView.rejected,
      simMs: clock.now() - t0, wallMs: performance.now() - wallStart,
    };
    const lines = renderSummary(summary);
    return { summary, ok: runOk(summary, o.toleranceMwh ?? 50), dataDir, lines };
  } finally {
    for (const r of runs) r.bike.detach();
    await node.close();
    logStream.end();
  }
}
