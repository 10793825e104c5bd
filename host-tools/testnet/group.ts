// A group of testnet bikes: each the firmware bundle in an emulated board against its own
// simulated bike, on its own virtual clock and emulated radio, whose requests go for real
// to the ingest node on loopback. testnet.ts runs groups in worker threads (both cores)
// or in-process. One clock per bike, not per group: a shared clock would step each bike
// at the others' events too, shifting when its polls land, so results would depend on
// how bikes are grouped. This way a bike depends only on its seed and the node's answers.
import { VirtualClock } from '../emu/clock';
import { EmuNetwork, type EmuHttpRequest, type EmuHttpResponse } from '../emu/network';
import { createEmulatedBike, type EmulatedBike } from '../emu/bike';
import { createSimBike, randomRide } from '../sim/index';
import { Prng } from '../sim/prng';
import { splitReports, parseMediaType } from '../ingest/body';
import { openSign1 } from '../verify';
import { decodeReport } from '../../protocol/report';
import { toHex } from '../../protocol/bytes';
import { consoleLink, DeviceConsole } from './device-link';
import { pairDevice, httpPairingNode, deviceInfo, signPairingProof, DEVICE_EXPR } from '../pairing/pair';
import { privateKeyToAccount } from 'viem/accounts';
import { bindDeviceTypedData } from '../ledger/evm/contract';
import { zeroFlows, FLOWS, type FlowTotals } from './view';

export interface Tuning {
  /** The device's bus polling period, ms (firmware setting pollMs, default 100). */
  pollMs: number;
  /** BMS CAN broadcast rate of the simulated packs, Hz. */
  bmsRateHz: number;
  /** Physics step of the simulator, ms. */
  simStepMs: number;
}

/** Signs a bike's ownership with its rider's EVM key. */
async function riderSigner(key: string): Promise<NonNullable<Parameters<typeof pairDevice>[0]['owner']>> {
  // Static imports: this module also runs in worker threads, where tsx compiles to CommonJS
  // and a dynamic import() of a TypeScript path is not resolved.
  const account = privateKeyToAccount(key as `0x${string}`);
  return async (ctx) => ({
    address: account.address,
    signature: await account.signTypedData(bindDeviceTypedData(ctx.chainId, ctx.contract as `0x${string}`, ctx.kid, ctx.publicKey, ctx.challenge)),
  });
}

export interface GroupSpec {
  bikes: { name: string; seed: number }[];
  hubs: string[];
  durationS: number;
  startWallMs: number;
  /** Firmware source text. */
  bundle: string;
  nodeUrl: string;
  wifi: { ssid: string; password: string };
  tuning: Tuning;
  /** Each rider's EVM key (hex) by bike name: paired with an owner, as deep pair --owner-key-file does. */
  riderKeys?: Record<string, string>;
  /** The hubs' market sets what plugged bikes charge or sell (rides only say when they are at a hub); default off. */
  market?: boolean;
  /** Pairing challenges of an in-process Fabric chaincode by bike name: each bike also signs a proof over its own. */
  fabricChallenges?: Record<string, string>;
}

export interface BikeSample {
  name: string;
  id: string;
  running: boolean;
  activity: string;
  hub: string | undefined;
  packs: { id: number; socPermille: number }[];
  /** Reports made (the device's next seq), sent, acknowledged, refused, still queued. */
  made: number;
  sent: number;
  acked: number;
  rejected: number;
  queued: number;
  faults: number;
  online: boolean;
  /** Energy by flow of this bike's reports the node accepted, mWh. */
  acceptedMwh: FlowTotals;
  /** The simulator's true energy per pack (BMS CAN id) and flow, mWh. */
  truth: Record<number, FlowTotals>;
  /** Grid energy through the hub the bike is plugged at, since the previous sample, mWh. */
  hubInMwh: number;
  hubOutMwh: number;
  /** Plugged at a hub: when the rider leaves (ms from now), the hub's power setting (W). */
  plug?: { leavesInMs: number; powerW: number };
  /** Stored energy and capacity at the packs' present voltage, Wh (SimState). */
  energyWh: number;
  capacityWh: number;
}

export interface GroupSample {
  nowMs: number;
  wallMs: number;
  bikes: BikeSample[];
  node: { accepted: number; duplicates: number; rejected: number };
}

/** Virtual time every bike gets to boot, make its key and pair before the day is counted. */
export const BOOT_ALLOWANCE_MS = 120_000;

/**
 * Each bike loses its network once a day, for a seeded 4..8 % of the day starting between
 * 30 % and 60 % of it (about one to two hours of a 24 h day): its reports queue in flash
 * and reach the ledger after, which the summary then checks like all the others.
 */
export function outageOf(seed: number, durationMs: number): { fromMs: number; toMs: number } {
  // Salted ("OUTG"): the ride and the simulator draw from new Prng(seed) itself.
  const r = new Prng((seed ^ 0x4f555447) >>> 0);
  const a = r.next(), b = r.next();
  const fromMs = Math.round(durationMs * (0.3 + 0.3 * a));
  return { fromMs, toMs: fromMs + Math.round(durationMs * (0.04 + 0.04 * b)) };
}

interface Run {
  name: string;
  outage: { fromMs: number; toMs: number };
  /** Outage edges applied: 0 none, 1 cut, 2 restored. */
  edgesDone: number;
  clock: VirtualClock;
  network: EmuNetwork;
  bike: EmulatedBike;
  con: DeviceConsole;
  id: string;
  acceptedMwh: FlowTotals;
  sent: number;
  acked: number;
  rejected: number;
  made: number;
  lastSum: FlowTotals;
}

function truthOf(b: EmulatedBike): Record<number, FlowTotals> {
  const out: Record<number, FlowTotals> = {};
  for (const p of b.sim.ledger().packs) {
    const t = zeroFlows();
    for (const f of FLOWS) t[f] = p.flows[f].mwh;
    out[p.canId] = t;
  }
  return out;
}

export class BikeGroup {
  private readonly runs: Run[] = [];
  private readonly byId: Record<string, Run> = {};
  private readonly node = { accepted: 0, duplicates: 0, rejected: 0 };
  private t0 = 0;

  constructor(private readonly spec: GroupSpec) {}

  // Every device request goes to the node for real; its answers are counted per device.
  private async proxy(req: EmuHttpRequest): Promise<EmuHttpResponse> {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.from(req.body),
      signal: AbortSignal.timeout(30000),
    });
    const body = new Uint8Array(await res.arrayBuffer());
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => { headers[k] = v; });
    if (new URL(req.url).pathname === '/v1/reports' && res.status === 200) this.count(req, body);
    return { status: res.status, headers, body };
  }

  private count(req: EmuHttpRequest, body: Uint8Array): void {
    let answers: { status: string; device?: string }[];
    try {
      answers = (JSON.parse(Buffer.from(body).toString('utf8')) as { results: typeof answers }).results;
    } catch {
      return;
    }
    const ct = Object.entries(req.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
    const type = parseMediaType(ct);
    let spans: { bytes: Uint8Array }[] = [];
    try {
      spans = type ? splitReports(req.body, type, 10000) : [];
    } catch { /* the node said 200, so this does not happen; counts stay as answered */ }
    answers.forEach((a, i) => {
      let rep;
      const span = spans[i];
      if (span) {
        const s = openSign1(span.bytes);
        if (s.ok) {
          try {
            rep = decodeReport(s.sign1.payload);
          } catch { /* undecodable: the node's answer already says rejected */ }
        }
      }
      const kid = a.device ?? (rep ? toHex(rep.kid) : undefined);
      if (a.status === 'accepted') this.node.accepted++;
      else if (a.status === 'duplicate') this.node.duplicates++;
      else this.node.rejected++;
      const r = kid ? this.byId[kid] : undefined;
      if (!r) return;
      r.sent++;
      if (rep) r.made = Math.max(r.made, rep.seq + 1);
      if (a.status === 'rejected') {
        r.rejected++;
        return;
      }
      r.acked++;
      if (a.status === 'accepted' && rep) for (const p of rep.packs) for (const f of FLOWS) r.acceptedMwh[f] += p[`${f}Mwh` as const];
    });
  }

  /** Boots every bike (first boot makes its key) and pairs it through its console. */
  async start(): Promise<{ name: string; id: string; version: string; fabricProof?: string }[]> {
    const { spec } = this;
    for (const b of spec.bikes) {
      const clock = new VirtualClock({ startWallMs: spec.startWallMs });
      const network = new EmuNetwork({ clock, accessPoints: [spec.wifi], handler: (req) => this.proxy(req) });
      const sim = createSimBike({
        seed: b.seed, ride: randomRide({ seed: b.seed, durationS: spec.durationS, hubs: spec.hubs, plugs: spec.market ? 'market' : 'scripted' }),
        bmsBroadcast: 'energy', bmsRateHz: spec.tuning.bmsRateHz, stepMs: spec.tuning.simStepMs,
      });
      const bike = createEmulatedBike({ clock, network, sim, seed: b.seed, name: b.name, bundle: spec.bundle });
      bike.powerOn();
      const con = new DeviceConsole(consoleLink(bike.device.console, `${b.name}:console`));
      this.runs.push({ name: b.name, outage: outageOf(b.seed, spec.durationS * 1000), edgesDone: 0, clock, network, bike, con, id: '', acceptedMwh: zeroFlows(), sent: 0, acked: 0, rejected: 0, made: 0, lastSum: zeroFlows() });
    }
    const out = [];
    for (const r of this.runs) {
      const info = await this.waitInfo(r);
      const wired = r.bike.board.name;
      if (info.board !== undefined && info.board !== wired) {
        throw new Error(`the firmware bundle was built for board ${info.board}, but the testnet wires bikes as ${wired}: rebuild it (deep build --board ${wired}, or run without --skip-build)`);
      }
      if (spec.tuning.pollMs !== 100) {
        // The bus poll period is read at boot: set it, then restart the interpreter with
        // load() (not a power cut: the bike is parked and nothing goes unmeasured).
        await r.con.eval(`deep.settings({pollMs: ${spec.tuning.pollMs}})`);
        await r.con.send('load()');
        await r.clock.advance(1000);
        await this.waitInfo(r);
      }
      const riderKey = spec.riderKeys?.[r.name];
      const res = await pairDevice({
        console: r.con, node: httpPairingNode(spec.nodeUrl), ssid: spec.wifi.ssid, endpoint: spec.nodeUrl, force: false,
        password: async () => spec.wifi.password, wait: (ms) => r.clock.advance(ms), signTimeoutMs: 120_000,
        owner: riderKey ? await riderSigner(riderKey) : undefined,
      });
      r.id = res.status === 'paired' ? res.id : res.info.id;
      this.byId[r.id] = r;
      const fabricChallenge = spec.fabricChallenges?.[r.name];
      const fabricProof = fabricChallenge ? await signPairingProof(r.con, fabricChallenge, (ms) => r.clock.advance(ms), 120_000) : undefined;
      out.push({ name: r.name, id: r.id, version: info.version, ...(fabricProof ? { fabricProof } : {}) });
    }
    // Every bike's day is counted from the same virtual instant, whatever its boot took
    // and whichever group it is in (its ride started with its clock, parked at night).
    this.t0 = BOOT_ALLOWANCE_MS;
    for (const r of this.runs) {
      if (r.clock.now() > this.t0) throw new Error(`${r.name} took ${r.clock.now()} virtual ms to boot and pair, more than the ${BOOT_ALLOWANCE_MS} allowed`);
      await r.clock.advance(this.t0 - r.clock.now());
    }
    return out;
  }

  private async waitInfo(r: Run) {
    for (let tries = 0; ; tries++) {
      try {
        return await deviceInfo(r.con, 2000);
      } catch (e) {
        if (tries >= 30) throw new Error(`${r.name} does not answer deep.info() after boot: ${(e as Error).message}\n${r.bike.device.output.slice(-2000)}`);
        await r.clock.advance(1000);
      }
    }
  }

  /** Runs virtual time to `ms` after the start of the day; returns every bike's state. */
  async advanceTo(ms: number, wallMs: number): Promise<GroupSample> {
    const target = this.t0 + ms;
    for (const r of this.runs) {
      // Network cut and restored exactly at the outage's edges, whatever the chunking.
      for (const [edgeMs, up] of [[r.outage.fromMs, false], [r.outage.toMs, true]] as const) {
        const at = this.t0 + edgeMs;
        if (at <= target && r.edgesDone < (up ? 2 : 1)) {
          if (at > r.clock.now()) await r.clock.advance(at - r.clock.now());
          r.network.setUp(up);
          r.edgesDone = up ? 2 : 1;
        }
      }
      if (target > r.clock.now()) await r.clock.advance(target - r.clock.now());
    }
    return this.sample(wallMs);
  }

  private sample(wallMs: number): GroupSample {
    const bikes = this.runs.map((r): BikeSample => {
      const st = r.bike.sim.state();
      let status: { queued?: number; online?: boolean; faults?: unknown; reporter?: { nextSeq?: number } } = {};
      if (r.bike.device.running) {
        try {
          status = r.bike.eval(DEVICE_EXPR.status) ?? {};
        } catch { /* a device between boots answers nothing */ }
      }
      const nextSeq = status.reporter?.nextSeq;
      if (typeof nextSeq === 'number') r.made = Math.max(r.made, nextSeq);
      const truth = truthOf(r.bike);
      const sum = zeroFlows();
      for (const t of Object.values(truth)) for (const f of FLOWS) sum[f] += t[f];
      const hubIn = st.hub ? sum.gridToPack - r.lastSum.gridToPack : 0;
      const hubOut = st.hub ? sum.packToGrid - r.lastSum.packToGrid : 0;
      r.lastSum = sum;
      return {
        name: r.name, id: r.id, running: r.bike.device.running, activity: st.activity, hub: st.hub,
        packs: st.packs.map((p) => ({ id: p.canId, socPermille: Math.round(p.soc * 1000) })),
        made: r.made, sent: r.sent, acked: r.acked, rejected: r.rejected,
        queued: typeof status.queued === 'number' ? status.queued : 0,
        faults: typeof status.faults === 'number' ? status.faults : 0,
        online: r.network.up && status.online !== false,
        acceptedMwh: { ...r.acceptedMwh }, truth, hubInMwh: hubIn, hubOutMwh: hubOut,
        ...(st.leavesInMs !== undefined ? { plug: { leavesInMs: st.leavesInMs, powerW: st.hubPowerW } } : {}),
        energyWh: st.energyWh, capacityWh: st.capacityWh,
      };
    });
    return { nowMs: Math.min(...this.runs.map((r) => r.clock.now())) - this.t0, wallMs, bikes, node: { ...this.node } };
  }

  /** The hub's power setting for plugged bikes, W by bike name (bikes of other groups ignored). */
  setHubPower(powers: Record<string, number>): void {
    for (const r of this.runs) if (powers[r.name] !== undefined) r.bike.sim.setHubPowerW(powers[r.name]);
  }

  close(): void {
    for (const r of this.runs) r.bike.detach();
  }
}
