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
import { mkdtempSync, mkdirSync, existsSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DEFAULT_BUNDLE } from '../emu/bike';
import { startIngestNode, type IngestNode } from '../ingest/node';
import { createLogger } from '../ingest/log';
import { BikeGroup, BOOT_ALLOWANCE_MS, type GroupSpec, type GroupSample, type Tuning, type BikeSample } from './group';
import { loadPrices, DAY_S, type PriceSeries } from './prices';
import { settle, type GridFlowRecord } from './settlement';
import { readLedger } from './ledger';
import { renderSummary, runOk, type RunSummary, type BikeSummary, type Tolerance } from './summary';
import { LiveView, zeroFlows, type Snapshot, type Output, type BikeView, type HubView } from './view';
import { GridTracker } from './grid';
import { finishAnchoring, riderKey, startTestnetChain, type TestnetChain } from './anchor';
import { TestnetMarket, tariffOf, DEFAULT_INTERVAL_S, type MarketBike } from './market';
import { openPolicyFile } from '../market/policy-store';
import { apportion, settleMarket } from '../market/settle';
import { canonicalJson } from '../market/hub';
import { pageIntervals } from '../market/publish';
import type { MarketView } from './view';
import type { ExpectedBalance, FabricInproc } from './fabric';

export type { Tuning } from './group';

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
  /** When the run counts as passed (exit 0); default DEFAULT_TOLERANCE (summary.ts). */
  tolerance?: Tolerance;
  /** Speed/fidelity trade-offs of the compressed day (defaults: TESTNET_TUNING). */
  tuning?: Partial<Tuning>;
  /** Worker threads running the bikes; default one per bike up to max(8, cores); 0 = all in this thread. */
  workers?: number;
  /** Anchor the ledger's batches on a local EVM chain and settle on it (host-tools/testnet/anchor.ts). */
  anchor?: boolean;
  /**
   * Keep the ingest node (and the chain) up after the summary, for a person to browse the
   * finished day in the web app: the result's `serving` closes them.
   */
  serve?: boolean;
  /**
   * The hubs' local market (default on): rides only say when a bike is at a hub, each
   * hub clears every `marketIntervalS` (default 900) and runs each plugged bike at its
   * matched power. Off: the ride scripts charge and export as they say.
   */
  market?: boolean;
  marketIntervalS?: number;
  /** Riders' policies to set through the node before the day, by bike name (as `deep policy set` does). */
  policies?: Record<string, Record<string, unknown>>;
  /** fabric-inproc: the reports also go through the DEEP chaincode in this process (./fabric.ts), instead of an EVM chain. */
  ledger?: 'evm' | 'fabric-inproc';
}

/** The compressed day: physics in 1 s steps, the device polls each bus once a step (see testnet --poll-ms). */
export const TESTNET_TUNING: Tuning = { pollMs: 1000, bmsRateHz: 1, simStepMs: 1000 };

export interface TestnetResult {
  summary: RunSummary;
  ok: boolean;
  dataDir: string;
  lines: string[];
  /** With `serve`: the node's URL, and what stops it and the chain. */
  serving?: { url: string; close(): Promise<void> };
}

/** The device's report interval, seconds (firmware default, issue 4). */
const INTERVAL_S = 60;
const WIFI = { ssid: 'deep-testnet', password: 'watt-hours-2026' };
const DRAIN_LIMIT_MS = 3 * 3600_000;
/** Batches close every few wall seconds in a compressed day, so the chain sees many. */
const ANCHOR_BATCH_MS = 5000;

/**
 * Midnight UTC, far enough in the past that the whole run ends before the ingest node's
 * real clock (it rejects reports from the future); an absolute price series sets the day.
 */
export function startOfRun(series: PriceSeries, durationS: number, nowMs = Date.now()): number {
  if (series.kind === 'absolute') return Math.floor(series.intervals[0].startS / DAY_S) * DAY_S * 1000;
  const days = Math.ceil((durationS + DRAIN_LIMIT_MS / 1000) / DAY_S) + 1;
  return (Math.floor(nowMs / 86_400_000) - days) * 86_400_000;
}

/** One group of bikes, in this thread or in a worker thread. */
interface GroupHandle {
  start(): Promise<{ name: string; id: string; version: string; fabricProof?: string }[]>;
  advanceTo(ms: number, wallMs: number): Promise<GroupSample>;
  setHubPower(powers: Record<string, number>): Promise<void>;
  close(): Promise<void>;
}

function inProcessGroup(spec: GroupSpec): GroupHandle {
  const g = new BikeGroup(spec);
  return { start: () => g.start(), advanceTo: (ms, w) => g.advanceTo(ms, w), setHubPower: async (p) => g.setHubPower(p), close: async () => g.close() };
}

function workerGroup(spec: GroupSpec): GroupHandle {
  // TypeScript in a worker: a CommonJS bootstrap registers tsx, then loads the entry (as
  // host-tools/ingest/pool.ts does; Node 20 does not apply --import hooks to workers).
  const tsxCjs = createRequire(import.meta.url).resolve('tsx/cjs/api');
  const entry = fileURLToPath(new URL('./worker.ts', import.meta.url));
  const w = new Worker(`require(${JSON.stringify(tsxCjs)}).register(); require(${JSON.stringify(entry)});`, { eval: true });
  let pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;
  let dead: Error | undefined;
  w.on('message', (m: { ok: boolean; value?: unknown; error?: string }) => {
    const p = pending;
    pending = undefined;
    if (!p) return;
    if (m.ok) p.resolve(m.value);
    else p.reject(new Error(`testnet worker: ${m.error}`));
  });
  const die = (e: Error) => {
    dead = e;
    pending?.reject(e);
    pending = undefined;
  };
  w.on('error', die);
  w.on('exit', (code) => { if (code !== 0) die(new Error(`testnet worker exited with code ${code}`)); });
  const call = <T>(msg: Record<string, unknown>): Promise<T> => new Promise<T>((resolve, reject) => {
    if (dead) return reject(dead);
    pending = { resolve: resolve as (v: unknown) => void, reject };
    w.postMessage(msg);
  });
  return {
    start: () => call({ type: 'start', spec }),
    advanceTo: (ms, wallMs) => call<GroupSample>({ type: 'advance', ms, wallMs }),
    setHubPower: (powers) => call<void>({ type: 'power', powers }),
    async close() {
      if (!dead) await call({ type: 'close' }).catch(() => undefined);
      await w.terminate();
    },
  };
}

export async function runTestnet(o: TestnetOptions): Promise<TestnetResult> {
  const wallStart = performance.now();
  const wall = () => performance.now() - wallStart;
  const series = loadPrices(o.prices);
  const bundle = readFileSync(o.bundle ?? DEFAULT_BUNDLE, 'latin1');
  const tuning: Tuning = { ...TESTNET_TUNING, ...o.tuning };

  const dataDir = o.dataDir ?? mkdtempSync(path.join(tmpdir(), 'deep-testnet-'));
  mkdirSync(dataDir, { recursive: true });
  const db = path.join(dataDir, 'ledger.sqlite');
  if (existsSync(db)) throw new Error(`${db} already holds a ledger; give --data a fresh folder (the same seed makes the same device keys)`);
  const logStream = createWriteStream(path.join(dataDir, 'ingest.log'));
  const runStartMs = startOfRun(series, o.durationS);
  let tc: TestnetChain | undefined;
  let fabric: FabricInproc | undefined;
  // Loaded only for --ledger fabric-inproc.
  let fabricModule: typeof import('./fabric') | undefined;
  const nowS = () => Math.floor(Date.now() / 1000);
  if (o.ledger === 'fabric-inproc') {
    fabricModule = await import('./fabric');
    const fromS = runStartMs / 1000 - DAY_S;
    const marketIntervalS = (o.market ?? true) ? o.marketIntervalS ?? DEFAULT_INTERVAL_S : undefined;
    fabric = await fabricModule.FabricInproc.start(series, fromS, fromS + o.durationS + DRAIN_LIMIT_MS / 1000 + 3 * DAY_S, nowS, marketIntervalS);
    o.log(`Fabric chaincode in process (contract API, in-memory world state), ${marketIntervalS ? `the market on (${marketIntervalS} s intervals), its results` : 'prices'} posted by the grid operator`);
  } else if (o.anchor) {
    // Prices from the day before the run to a day after the drain limit: every synced window.
    const fromS = runStartMs / 1000 - DAY_S;
    tc = await startTestnetChain({
      seed: o.seed, series, fromS, toS: fromS + o.durationS + DRAIN_LIMIT_MS / 1000 + 3 * DAY_S,
      ...((o.market ?? true) ? { marketIntervalS: o.marketIntervalS ?? DEFAULT_INTERVAL_S } : {}),
    });
    o.log(`EVM chain ${tc.chain.url} (London, chain id ${tc.chain.chainId}), contract ${tc.contract}`);
  }
  const marketOn = o.market ?? true;
  const grid = new GridTracker(series, runStartMs / 1000, o.durationS * 1000, marketOn);
  const policies = openPolicyFile(`${db}.policies.json`);
  const market = marketOn ? new TestnetMarket(series, Array.from({ length: o.hubs }, (_, i) => `hub-${i + 1}`), async (id) => policies.get(id).policy, o.marketIntervalS ?? DEFAULT_INTERVAL_S) : undefined;
  if (market) grid.settleMarket({ results: () => market.results, tariffAt: (k) => tariffOf(series, k, market.intervalS), intervalS: market.intervalS });
  let node: IngestNode;
  try {
    node = await startIngestNode({
      db, port: o.port, host: '127.0.0.1', logger: createLogger({ sink: logStream }), policies, grid: () => grid.state, prices: series,
      ...(market ? { market: (q: { afterS: number; hub: string | undefined; limit: number }) => pageIntervals(market.results, q) } : {}),
      ...(tc ? { anchor: tc.anchor, batch: { intervalMs: ANCHOR_BATCH_MS, maxReports: 1000 } } : {}),
    });
  } catch (err) {
    await tc?.close();
    throw err;
  }
  o.log(`ingest node ${node.url}, ledger ${db}`);
  o.log(`app ${node.url}/app/#/grid (the mini-grid, live; each bike's page from there)`);

  const hubs = Array.from({ length: o.hubs }, (_, i) => `hub-${i + 1}`);
  const bikes = Array.from({ length: o.bikes }, (_, i) => ({ name: `bike${i + 1}`, seed: (o.seed * 1009 + i * 7919 + 1) >>> 0 }));
  // One worker per bike up to 8 (the OS balances three bikes over two cores better than
  // two unequal groups would: groups advance in lock-step, so the slowest sets the pace).
  const nWorkers = Math.min(o.bikes, o.workers ?? Math.max(8, availableParallelism()));
  const groups: GroupHandle[] = [];
  const riderKeys = tc ? Object.fromEntries(bikes.map((b) => [b.name, riderKey(o.seed, b.name)])) : undefined;
  const fabricChallenges = fabric ? Object.fromEntries(await Promise.all(bikes.map(async (b) => [b.name, await fabric!.challenge()] as const))) : undefined;
  const base = { hubs, durationS: o.durationS, startWallMs: runStartMs, bundle, nodeUrl: node.url, wifi: WIFI, tuning, riderKeys, market: marketOn, fabricChallenges };
  const fabricOwners: Record<string, string> = {};
  let result: TestnetResult | undefined;
  if (nWorkers === 0) groups.push(inProcessGroup({ ...base, bikes }));
  else for (let w = 0; w < nWorkers; w++) groups.push(workerGroup({ ...base, bikes: bikes.filter((_, i) => i % nWorkers === w) }));

  try {
    // 1. Boot and pair (in parallel across groups).
    const idOf: Record<string, string> = {};
    for (const started of await Promise.all(groups.map((g) => g.start()))) {
      for (const b of started) {
        o.log(`${b.name}: firmware ${b.version}, paired as ${b.id}`);
        grid.addBike(b.name, b.id);
        idOf[b.name] = b.id;
        if (fabric) {
          if (!b.fabricProof) throw new Error(`${b.name} gave no pairing proof for the chaincode`);
          const kid = await fabric.register(b.fabricProof, `rider-of-${b.name}`);
          if (kid !== b.id) throw new Error(`the chaincode registered ${kid} for ${b.name}, the node ${b.id}`);
          fabricOwners[kid] = `rider-of-${b.name}`;
        }
      }
    }
    // Riders' own policies go through the node's API, as `deep policy set` sends them.
    for (const [name, p] of Object.entries(o.policies ?? {})) {
      if (!idOf[name]) throw new Error(`policy for ${name}: no such bike (have ${Object.keys(idOf).join(', ')})`);
      const res = await fetch(`${node.url}/v1/devices/${idOf[name]}/policy`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(p) });
      if (res.status !== 200) throw new Error(`policy for ${name}: ${res.status} ${await res.text()}`);
    }

    // 2. The day, in lock-step chunks across groups; 3. the drain.
    const view = new LiveView(o.out);
    const durationMs = o.durationS * 1000;
    const hubView: Record<string, HubView> = {};
    for (const h of hubs) hubView[h] = { name: h, inMwh: 0, outMwh: 0, plugged: [] };
    let rate = { wall: 0, accepted: 0, per10: 0 };
    let latest: BikeSample[] = [];
    let node3 = { accepted: 0, duplicates: 0, rejected: 0 };
    let simMs = 0;

    const step = async (toMs: number): Promise<void> => {
      const samples = await Promise.all(groups.map((g) => g.advanceTo(toMs, wall())));
      latest = samples.flatMap((s) => s.bikes).sort((a, b) => bikes.findIndex((x) => x.name === a.name) - bikes.findIndex((x) => x.name === b.name));
      node3 = samples.reduce((acc, s) => ({ accepted: acc.accepted + s.node.accepted, duplicates: acc.duplicates + s.node.duplicates, rejected: acc.rejected + s.node.rejected }), { accepted: 0, duplicates: 0, rejected: 0 });
      simMs = toMs;
      for (const h of Object.values(hubView)) h.plugged = [];
      for (const b of latest) {
        if (b.hub && hubView[b.hub]) {
          hubView[b.hub].inMwh += b.hubInMwh;
          hubView[b.hub].outMwh += b.hubOutMwh;
          hubView[b.hub].plugged.push(b.name);
        }
      }
      if (wall() - rate.wall >= 1000) {
        rate = { wall: wall(), accepted: node3.accepted, per10: Math.round(((node3.accepted - rate.accepted) * 10000) / (wall() - rate.wall)) };
      }
    };
    // The market: boundaries on the epoch clock, every intervalS.
    const epochMsOf = (ms: number) => base.startWallMs + BOOT_ALLOWANCE_MS + ms;
    const intervalMs = (o.marketIntervalS ?? DEFAULT_INTERVAL_S) * 1000;
    let nextBoundaryMs = market ? Math.ceil(epochMsOf(0) / intervalMs) * intervalMs - epochMsOf(0) : Infinity;
    let marketView: MarketView[] = [];
    const intervalTariff = (k: number) => {
      const t = tariffOf(series, k, intervalMs / 1000);
      if (!t) throw new Error(`the price file ${series.source} has no price for the market interval at ${new Date(k * 1000).toISOString()}`);
      return t;
    };
    // The interval the run starts in, when it starts between boundaries: never cleared, its
    // energy is imbalance; posted now so that its reports need not wait for the end.
    const firstS = Math.floor(epochMsOf(0) / intervalMs) * (intervalMs / 1000);
    // The ledger that settles at the market's results: the EVM contract or the chaincode.
    const marketLedger = tc ?? fabric;
    if (market && marketLedger && firstS * 1000 < epochMsOf(0)) await marketLedger.postMarket(firstS, intervalTariff(firstS), []);
    const marketBikes = (): MarketBike[] => latest.map((b) => ({
      name: b.name, device: b.id, hub: b.hub, leavesInMs: b.plug?.leavesInMs, energyWh: b.energyWh, capacityWh: b.capacityWh,
    }));
    const clearAt = async (): Promise<void> => {
      if (!market) return;
      const startS = epochMsOf(simMs) / 1000;
      const powers = await market.clear(startS, marketBikes());
      // Posted before any report of the interval can be anchored (MARKET.md §5.2).
      await marketLedger?.postMarket(startS, intervalTariff(startS), market.results.filter((r) => r.startS === startS));
      await Promise.all(groups.map((g) => g.setHubPower(powers)));
      const nameOf = Object.fromEntries(latest.map((b) => [b.id, b.name]));
      marketView = market.results.filter((r) => r.startS === startS).map((r) => ({
        hub: r.hub, startMs: startS * 1000, priceMicroPerKwh: r.priceMicroPerKwh, retailMicroPerKwh: r.retailMicroPerKwh, feedInMicroPerKwh: r.feedInMicroPerKwh,
        tradedWh: r.tradedWh, fromUtilityWh: r.utility.soldWh, toUtilityWh: r.utility.boughtWh,
        bikes: r.participants.filter((p) => nameOf[p.participant]).map((p) => ({ name: nameOf[p.participant], netWh: p.netWh })),
      }));
    };
    const advance = async (toMs: number): Promise<void> => {
      // Stop at each market boundary on the way: clear, set the chargers, go on.
      while (nextBoundaryMs <= toMs) {
        if (nextBoundaryMs > simMs) await step(nextBoundaryMs);
        market!.observe(marketBikes());
        if (nextBoundaryMs < durationMs) await clearAt();
        nextBoundaryMs += intervalMs;
      }
      if (toMs > simMs) await step(toMs);
      market?.observe(marketBikes());
    };
    const snapshot = (phase: string): Snapshot => ({
      simMs, simEpochMs: base.startWallMs + BOOT_ALLOWANCE_MS + simMs, wallMs: wall(), durationMs, phase,
      bikes: latest.map((b): BikeView => ({
        name: b.name,
        state: b.running ? (b.hub ? `${b.activity}@${b.hub}` : b.activity) : 'power off',
        packs: b.packs, flowsMwh: b.acceptedMwh,
        reports: { made: b.made, sent: b.sent, acked: b.acked, queued: b.queued },
        faults: b.faults, online: b.online,
      })),
      hubs: Object.values(hubView),
      node: { ...node3, reportsPerS10: rate.per10, anchor: anchorView() },
      ...(market ? { market: marketView } : {}),
    });
    const anchorView = () => {
      const st = node.publisher?.status();
      return st && { confirmed: st.lastConfirmed, behind: st.batchesBehind, lagS: st.secondsBehind };
    };

    /** The terminal view and the web app's mini-grid, from the same step. */
    const publish = async (phase: string, final = false): Promise<void> => {
      const snap = snapshot(phase);
      view.update(snap, final);
      await grid.readStore(node.store);
      grid.update({ phase, simEpochMs: snap.simEpochMs, simMs, hubs: snap.hubs.map((h) => ({ ...h, plugged: [...h.plugged] })), bikes: snap.bikes.map((b, i) => ({ ...b, id: latest[i].id })) });
    };
    const chunkMs = 30_000;
    while (simMs < durationMs) {
      await advance(Math.min(simMs + chunkMs, durationMs));
      if (o.speedup > 0) {
        const ahead = simMs / o.speedup - wall();
        if (ahead > 5) await new Promise((res) => setTimeout(res, ahead));
      }
      await publish('riding');
    }
    const drainStart = simMs;
    // After the day the hubs stop trading: every charger and inverter off.
    if (market) await Promise.all(groups.map((g) => g.setHubPower(Object.fromEntries(latest.map((b) => [b.name, 0])))));
    marketView = [];
    for (;;) {
      await step(simMs + chunkMs);
      market?.observe(marketBikes());
      await publish('draining queues');
      const empty = latest.every((b) => b.queued === 0 && b.acked + b.rejected >= b.made);
      if (simMs - drainStart >= 3 * INTERVAL_S * 1000 && empty) break;
      if (simMs - drainStart >= DRAIN_LIMIT_MS) {
        o.log(`drain limit reached with reports still queued: ${latest.map((b) => `${b.name}=${b.queued}`).join(' ')}`);
        break;
      }
    }
    await publish('done', true);

    // 4. Read the ledger back, re-verify, compare with the simulator, settle.
    const out: BikeSummary[] = [];
    let reports = 0, verified = 0;
    const allRecords: GridFlowRecord[] = [];
    for (const b of latest) {
      const l = await readLedger(node.url, b.id);
      for (const p of l.problems) o.log(`${b.name}: ${p}`);
      const packIds = [...new Set([...Object.keys(b.truth), ...Object.keys(l.packs)].map(Number))].sort((x, y) => x - y);
      reports += b.made;
      verified += l.reverified;
      allRecords.push(...l.records);
      out.push({
        name: b.name,
        deviceId: b.id,
        packs: packIds.map((id) => ({ id, ledgerMwh: l.packs[id] ?? zeroFlows(), trueMwh: b.truth[id] ?? zeroFlows() })),
        chain: { made: b.made, accepted: l.accepted, headSeq: l.device.headSeq, pending: l.device.pending, forks: l.device.forks, rejected: l.device.rejections },
        balance: undefined,
      });
    }
    const balances = settle(series, allRecords);
    for (const b of out) b.balance = balances.find((x) => x.device === b.deviceId);
    let marketSummary: RunSummary['market'];
    let chainBalances: { device: string; balanceMicro: bigint }[] = balances;
    // What the chaincode must hold: the price-series settlement, or the market's when it is on.
    let fabricExpected: ExpectedBalance[] = fabricModule ? balances.map(fabricModule.expectedAtPrices) : [];
    if (market) {
      const iv = market.intervalS;
      const measured = apportion(allRecords.filter((r) => r.synced), iv);
      for (const b of out) measured[b.deviceId] ??= {};
      const settled = settleMarket(market.results, measured, (k) => tariffOf(series, k, iv));
      // On chain, the market's settlement: every interval with measured energy must be
      // posted, those the market never cleared (before the first, after the last boundary) too.
      if (marketLedger) {
        for (const k of [...new Set(Object.values(measured).flatMap((per) => Object.keys(per).map(Number)))].sort((a, b) => a - b)) {
          await marketLedger.postMarket(k, intervalTariff(k), market.results.filter((r) => r.startS === k));
        }
        chainBalances = settled.map((s) => ({ device: s.device, balanceMicro: s.marketMicro }));
        fabricExpected = settled.map((s) => {
          // Energy without trusted time: unpriced in the chaincode, outside settleMarket.
          const b = balances.find((x) => x.device === s.device);
          const unsynced = allRecords.filter((r) => r.device === s.device && !r.synced);
          return {
            device: s.device, balanceMicro: s.marketMicro, netPico: s.marketPico, reports: b?.reports ?? 0,
            unpricedImportMwh: unsynced.reduce((n, r) => n + r.gridToPackMwh, 0), unpricedExportMwh: unsynced.reduce((n, r) => n + r.packToGridMwh, 0),
          };
        });
      }
      // The day's orders and results, as a replayable record (protocol/MARKET.md §6).
      writeFileSync(path.join(dataDir, 'market-day.json'), canonicalJson({ intervalS: iv, inputs: market.inputs }) + '\n');
      writeFileSync(path.join(dataDir, 'market-results.json'), canonicalJson(market.results) + '\n');
      const t = market.totals();
      for (const d of t.shortDetail) o.log(`rider short: ${d}`);
      marketSummary = {
        ...t, imbalanceMwh: settled.reduce((a, x) => a + x.imbalanceMwh, 0),
        riders: out.map((b) => ({ name: b.name, settlement: settled.find((x) => x.device === b.deviceId)! })),
      };
    }
    const anchor = tc ? await finishAnchoring(node, tc, chainBalances, latest.map((b) => ({ device: b.id, key: riderKey(o.seed, b.name) }))) : undefined;
    let fabricOutcome: RunSummary['fabric'];
    if (fabric) {
      const sub = await fabric.submitFromNode(node.url, latest.map((b) => b.id));
      for (const p of sub.problems) o.log(`chaincode: ${p}`);
      const mismatches = await fabric.compare(fabricExpected, fabricOwners);
      fabricOutcome = { accepted: sub.accepted, rejected: sub.rejected, deferred: sub.deferred, transactions: sub.transactions, against: market ? 'market' : 'prices', settledOk: mismatches.length === 0, mismatches };
    }
    const summary: RunSummary = {
      bikes: out, series, reports, verified, rejected: node3.rejected, simMs, wallMs: wall(),
      hubs: Object.values(hubView).map((h) => ({ name: h.name, inMwh: h.inMwh, outMwh: h.outMwh })),
      anchor, market: marketSummary,
      fabric: fabricOutcome,
    };
    const lines = renderSummary(summary);
    grid.state.result = lines[lines.length - 1];
    result = { summary, ok: runOk(summary, o.tolerance), dataDir, lines };
    if (o.serve) {
      result.serving = {
        url: node.url,
        async close() {
          await node.close();
          await tc?.close();
          logStream.end();
        },
      };
    }
    return result;
  } finally {
    await Promise.all(groups.map((g) => g.close()));
    // Served only after a complete run: a failure closes everything as before.
    if (!result?.serving) {
      await node.close();
      await tc?.close();
      logStream.end();
    }
  }
}
