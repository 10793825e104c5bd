// What the web app's mini-grid page shows while `deep testnet` runs (GET /v1/grid): the
// day's price curve, each hub's energy from and to the grid, each bike, and each rider's
// balance. The balances are settled with the summary's own code (settlement.ts, addRecord)
// on the reports the node has accepted so far, read from its store as they arrive, so the
// page's last figures are the summary's.
import { addRecord, divRoundHalfEven, emptyBalance, recordOfStored, type Balance } from './settlement';
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

  /** Settles the reports the node accepted since the last call. */
  async readStore(store: Store): Promise<void> {
    for (const [device, e] of this.balances) {
      for (;;) {
        const rows = await store.listAccepted(device, e.lastSeq, 1000);
        for (const r of rows) {
          addRecord(this.series, e.b, recordOfStored(device, r));
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
    this.state.balances = [...this.balances.values()].map(({ name, b }) => ({
      device: b.device, name,
      importMwh: b.importMwh, exportMwh: b.exportMwh, unpricedImportMwh: b.unpricedImportMwh, unpricedExportMwh: b.unpricedExportMwh,
      costMicro: String(divRoundHalfEven(b.costPico, 1_000_000n)),
      revenueMicro: String(divRoundHalfEven(b.revenuePico, 1_000_000n)),
      balanceMicro: String(b.balanceMicro),
      reports: b.reports,
    }));
  }
}
