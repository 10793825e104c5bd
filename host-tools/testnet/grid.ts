// What the web app's mini-grid page shows while `deep testnet` runs (GET /v1/grid): the
// day's price curve, each hub's energy from and to the grid, each bike, and each rider's
// balance. The balances are settled with the summary's own code (settlement.ts, addRecord)
// on the reports the node has accepted so far, read from its store as they arrive, so the
// page's last figures are the summary's. With the hubs' market on, each rider is also
// settled as the summary settles the market (host-tools/market/settle.ts: measured energy at
// the cleared price, the imbalance at the utility's) on the results cleared so far.
import { addRecord, divRoundHalfEven, emptyBalance, recordOfStored, type Balance } from './settlement';
import { apportion, settleMarket, type IntervalEnergy, type TariffAt } from '../market/settle';
import type { IntervalResult } from '../market/hub';
import { DAY_S, type PriceSeries } from './prices';
import type { Store } from '../ingest/store';
import type { BikeView, HubView } from './view';

export interface GridPrice {
  /** Epoch seconds, [startS, endS). */
  startS: number;
  endS: number;
  importMicroPerKwh: number;
  exportMicroPerKwh: number;
}

export interface GridBalance {
  device: string;
  name: string;
  importMwh: number;
  exportMwh: number;
  unpricedImportMwh: number;
  unpricedExportMwh: number;
  /** Micro-units of the currency, as decimal strings (exact integers). */
  costMicro: string;
  revenueMicro: string;
  balanceMicro: string;
  reports: number;
  /** With the market: the market settlement and the utility-only baseline, micro-units. */
  marketMicro?: string;
  baselineMicro?: string;
}

export interface GridState {
  phase: string;
  /** The simulated clock now (epoch ms) and the run's progress. */
  simEpochMs: number;
  simMs: number;
  durationMs: number;
  /** Midnight UTC of the simulated day, epoch s. */
  dayStartS: number;
  currency: string;
  /** Whether the hubs run the local market (its intervals: GET /v1/market/intervals). */
  market: boolean;
  prices: GridPrice[];
  hubs: HubView[];
  bikes: (BikeView & { id: string })[];
  balances: GridBalance[];
  /** The summary's last line once the run is over. */
  result?: string;
}

/** The price intervals of the day starting at `dayStartS` (a daily profile laid on that day). */
export function dayPrices(series: PriceSeries, dayStartS: number): GridPrice[] {
  const end = dayStartS + DAY_S;
  const abs = series.kind === 'daily'
    ? series.intervals.map((i) => ({ ...i, startS: i.startS + dayStartS, endS: i.endS + dayStartS }))
    : series.intervals.filter((i) => i.endS > dayStartS && i.startS < end);
  return abs.map((i) => ({ startS: i.startS, endS: i.endS, importMicroPerKwh: i.importMicroPerKwh, exportMicroPerKwh: i.exportMicroPerKwh }));
}

export class GridTracker {
  readonly state: GridState;
  private readonly balances = new Map<string, { name: string; b: Balance; lastSeq: number }>();
  private market: { results: () => readonly IntervalResult[]; tariffAt: TariffAt; intervalS: number } | undefined;
  /** Synced grid energy per device and market interval, as the summary apportions it. */
  private readonly measured: Record<string, Record<number, IntervalEnergy>> = {};

  constructor(private readonly series: PriceSeries, dayStartS: number, durationMs: number, market: boolean) {
    this.state = {
      phase: 'starting', simEpochMs: dayStartS * 1000, simMs: 0, durationMs, dayStartS, market,
      currency: series.currency, prices: dayPrices(series, dayStartS), hubs: [], bikes: [], balances: [],
    };
  }

  /** Names a bike's device, so its balance is listed from the start. */
  addBike(name: string, device: string): void {
    if (!this.balances.has(device)) this.balances.set(device, { name, b: emptyBalance(device), lastSeq: -1 });
    this.refreshBalances();
  }

  /** Settles the riders in the hubs' market too (its results so far, read at each refresh). */
  settleMarket(m: { results: () => readonly IntervalResult[]; tariffAt: TariffAt; intervalS: number }): void {
    this.market = m;
  }

  /** Settles the reports the node accepted since the last call. */
  async readStore(store: Store): Promise<void> {
    for (const [device, e] of this.balances) {
      for (;;) {
        const rows = await store.listAccepted(device, e.lastSeq, 1000);
        for (const r of rows) {
          const rec = recordOfStored(device, r);
          addRecord(this.series, e.b, rec);
          if (this.market && rec.synced) {
            const per = (this.measured[device] ??= {});
            for (const [k, x] of Object.entries(apportion([rec], this.market.intervalS)[device] ?? {})) {
              const acc = (per[Number(k)] ??= { inMwh: 0, outMwh: 0 });
              acc.inMwh += x.inMwh;
              acc.outMwh += x.outMwh;
            }
          }
          e.lastSeq = r.seq;
        }
        if (rows.length < 1000) break;
      }
    }
    this.refreshBalances();
  }

  update(v: { phase: string; simEpochMs: number; simMs: number; hubs: HubView[]; bikes: (BikeView & { id: string })[] }): void {
    Object.assign(this.state, v);
  }

  private refreshBalances(): void {
    let settled: Map<string, { marketMicro: bigint; baselineMicro: bigint }> | undefined;
    if (this.market) {
      const measured: Record<string, Record<number, IntervalEnergy>> = {};
      for (const device of this.balances.keys()) measured[device] = this.measured[device] ?? {};
      settled = new Map(settleMarket(this.market.results(), measured, this.market.tariffAt).map((x) => [x.device, x]));
    }
    this.state.balances = [...this.balances.values()].map(({ name, b }) => ({
      device: b.device, name,
      importMwh: b.importMwh, exportMwh: b.exportMwh, unpricedImportMwh: b.unpricedImportMwh, unpricedExportMwh: b.unpricedExportMwh,
      costMicro: String(divRoundHalfEven(b.costPico, 1_000_000n)),
      revenueMicro: String(divRoundHalfEven(b.revenuePico, 1_000_000n)),
      balanceMicro: String(b.balanceMicro),
      reports: b.reports,
      ...(settled && {
        marketMicro: String(settled.get(b.device)?.marketMicro ?? 0n),
        baselineMicro: String(settled.get(b.device)?.baselineMicro ?? 0n),
      }),
    }));
  }
}
