// The live terminal view of the testnet. On a terminal it redraws one screen in place
// (ANSI: cursor home, erase each line's tail, erase below; ECMA-48 CUP/EL/ED), so a rider
// can watch SOC fall on a ride and rise at a hub. When stdout is a pipe or a CI log it
// prints plain, timestamped lines at a slower pace instead: no escape codes in logs.
//
// The view only formats a Snapshot; the orchestrator (testnet.ts) fills it from the
// simulator, the emulated devices and the ingest node. Energies are integer mWh, shown in
// Wh with three decimals so the exact figure stays readable.

export const FLOWS = ['gridToPack', 'packToGrid', 'packToMotor', 'regenToPack'] as const;
export type Flow = (typeof FLOWS)[number];
/** Short column names, in FLOWS order, as in the report schema's arrows. */
export const FLOW_LABEL: Record<Flow, string> = {
  gridToPack: 'grid>pack',
  packToGrid: 'pack>grid',
  packToMotor: 'pack>motor',
  regenToPack: 'regen>pack',
};

export type FlowTotals = Record<Flow, number>;

export function zeroFlows(): FlowTotals {
  return { gridToPack: 0, packToGrid: 0, packToMotor: 0, regenToPack: 0 };
}

export interface BikeView {
  name: string;
  /** What the bike is doing: riding, parked, charging@hub1, exporting@hub2, ... */
  state: string;
  /** Per pack, state of charge in tenths of a percent (0..1000), from the simulator. */
  packs: { id: number; socPermille: number }[];
  /** Energy by flow summed over the packs, as measured by the device (mWh). */
  flowsMwh: FlowTotals;
  reports: { made: number; sent: number; acked: number; queued: number };
  faults: number;
  /** false while the emulator has cut this bike's network. */
  online: boolean;
}

export interface HubView {
  name: string;
  /** Energy the hub drew from the grid to charge bikes, and fed back to it (mWh). */
  inMwh: number;
  outMwh: number;
  /** Bikes plugged in now. */
  plugged: string[];
}

export interface NodeView {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Accepted reports per second of wall time over the last view interval, ×10 (one decimal). */
  reportsPerS10: number;
  /** Anchoring on chain, when on: batches not yet confirmed and the age of the oldest. */
  anchor?: { confirmed: number; behind: number; lagS: number };
}

export interface Snapshot {
  /** Virtual time since the start of the run, ms. */
  simMs: number;
  /** The simulated wall clock (epoch ms) the devices get from SNTP, for the time of day. */
  simEpochMs: number;
  /** Host time since the start, ms. */
  wallMs: number;
  durationMs: number;
  bikes: BikeView[];
  hubs: HubView[];
  node: NodeView;
  /** A short status line: "riding", "draining queues", ... */
  phase: string;
  /** The market's last interval per hub, when the market runs. */
  market?: MarketView[];
}

export interface MarketView {
  hub: string;
  /** Interval start, epoch ms. */
  startMs: number;
  /** Local clearing price and the utility's, micro-units per kWh. */
  priceMicroPerKwh: number | null;
  retailMicroPerKwh: number;
  feedInMicroPerKwh: number;
  /** Wh traded locally, bought from and sold to the utility. */
  tradedWh: number;
  fromUtilityWh: number;
  toUtilityWh: number;
  /** Matched net energy per bike, Wh (> 0 buying). */
  bikes: { name: string; netWh: number }[];
}

/** 215000 micro-units -> "0.2150". */
export function price4(micro: number | null): string {
  if (micro === null) return '-';
  const neg = micro < 0;
  const a = Math.abs(micro);
  return `${neg ? '-' : ''}${Math.floor(a / 1_000_000)}.${String(Math.floor((a % 1_000_000) / 100)).padStart(4, '0')}`;
}

/** 12345 mWh -> "12.345"; negative values keep their sign. */
export function wh(mwh: number): string {
  const neg = mwh < 0;
  const a = Math.abs(Math.round(mwh));
  return `${neg ? '-' : ''}${Math.floor(a / 1000)}.${String(a % 1000).padStart(3, '0')}`;
}

function pct(permille: number): string {
  return `${Math.floor(permille / 10)}.${permille % 10}%`;
}

/** HH:MM:SS of a duration or of the UTC time of day of an epoch ms. */
export function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

function table(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (right[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

/** The full screen as lines (no escape codes). */
export function renderScreen(s: Snapshot): string[] {
  const tod = clock(s.simEpochMs % 86_400_000);
  const progress = s.durationMs > 0 ? Math.min(100, Math.floor((s.simMs * 100) / s.durationMs)) : 100;
  const lines = [
    `DEEP testnet  sim ${clock(s.simMs)} (time of day ${tod} UTC, ${progress}%)  wall ${clock(s.wallMs)}  ${s.phase}`,
    '',
  ];
  const bikeRows = [['bike', 'state', 'net', 'SOC', ...FLOWS.map((f) => FLOW_LABEL[f] + ' Wh'), 'made', 'sent', 'acked', 'queued', 'faults']];
  for (const b of s.bikes) {
    bikeRows.push([
      b.name, b.state, b.online ? 'up' : 'DOWN', b.packs.map((p) => pct(p.socPermille)).join('/'),
      ...FLOWS.map((f) => wh(b.flowsMwh[f])),
      String(b.reports.made), String(b.reports.sent), String(b.reports.acked), String(b.reports.queued), String(b.faults),
    ]);
  }
  lines.push(...table(bikeRows, [false, false, false, false, true, true, true, true, true, true, true, true, true]));
  lines.push('');
  const hubRows = [['hub', 'from grid Wh', 'to grid Wh', 'plugged']];
  for (const h of s.hubs) hubRows.push([h.name, wh(h.inMwh), wh(h.outMwh), h.plugged.join(',') || '-']);
  lines.push(...table(hubRows, [false, true, true, false]));
  lines.push('');
  if (s.market?.length) {
    const mRows = [['market', 'interval', 'price', 'retail', 'feed-in', 'traded Wh', 'from utility Wh', 'to utility Wh', 'bikes (matched Wh)']];
    for (const m of s.market) {
      mRows.push([m.hub, clock(m.startMs % 86_400_000).slice(0, 5), price4(m.priceMicroPerKwh), price4(m.retailMicroPerKwh), price4(m.feedInMicroPerKwh),
        String(m.tradedWh), String(m.fromUtilityWh), String(m.toUtilityWh), m.bikes.map((b) => `${b.name} ${b.netWh > 0 ? '+' : ''}${b.netWh}`).join(', ') || '-']);
    }
    lines.push(...table(mRows, [false, false, true, true, true, true, true, true, false]));
    lines.push('');
  }
  const n = s.node;
  lines.push(`ingest node: accepted ${n.accepted}  duplicates ${n.duplicates}  rejected ${n.rejected}  ${Math.floor(n.reportsPerS10 / 10)}.${n.reportsPerS10 % 10} reports/s`);
  if (n.anchor) lines.push(`anchor: ${n.anchor.confirmed} batches confirmed, ${n.anchor.behind} behind (lag ${n.anchor.lagS} s)`);
  return lines;
}

/** One plain line for logs. */
export function renderLine(s: Snapshot): string {
  const bikes = s.bikes.map((b) =>
    `${b.name}:${b.state}${b.online ? '' : '(offline)'} soc=${b.packs.map((p) => pct(p.socPermille)).join('/')} acked=${b.reports.acked}/${b.reports.made} queued=${b.reports.queued}`,
  );
  const market = (s.market ?? []).map((m) =>
    ` market ${m.hub}@${clock(m.startMs % 86_400_000).slice(0, 5)} price=${price4(m.priceMicroPerKwh)} traded_wh=${m.tradedWh} utility_wh=+${m.fromUtilityWh}/-${m.toUtilityWh}${m.bikes.map((b) => ` ${b.name}=${b.netWh > 0 ? '+' : ''}${b.netWh}`).join('')};`).join('');
  return `[sim ${clock(s.simMs)} wall ${clock(s.wallMs)}] ${s.phase}; ${bikes.join('; ')};${market} node accepted=${s.node.accepted} rejected=${s.node.rejected}${s.node.anchor ? ` anchor_behind=${s.node.anchor.behind} lag_s=${s.node.anchor.lagS}` : ''}`;
}

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

/**
 * Draws snapshots to an output: in place on a TTY (at most every `ttyEveryMs` of wall
 * time), as plain lines elsewhere (at most every `plainEveryMs`). `final` always draws.
 */
export class LiveView {
  private lastMs = -Infinity;
  private drawn = 0;
  constructor(
    private readonly out: Output,
    private readonly opts: { ttyEveryMs?: number; plainEveryMs?: number; tty?: boolean } = {},
  ) {}

  get tty(): boolean {
    return this.opts.tty ?? this.out.isTTY === true;
  }

  update(s: Snapshot, final = false): boolean {
    const every = this.tty ? (this.opts.ttyEveryMs ?? 250) : (this.opts.plainEveryMs ?? 5000);
    if (!final && s.wallMs - this.lastMs < every) return false;
    this.lastMs = s.wallMs;
    if (this.tty) {
      // First frame clears the screen; later ones overwrite in place without flicker.
      const head = this.drawn === 0 ? '\x1b[2J\x1b[H' : '\x1b[H';
      this.out.write(head + renderScreen(s).map((l) => l + '\x1b[K').join('\n') + '\n\x1b[J');
    } else {
      this.out.write(renderLine(s) + '\n');
    }
    this.drawn++;
    return true;
  }
}
