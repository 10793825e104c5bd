// #/grid: the mini-grid of `npm start` (deep testnet), live while it runs and after it with
// --serve: the day's price curve, each hub's energy from and to the grid, each bike, each
// rider's balance at the interval prices (GET /v1/grid), and the local market's intervals
// when the hubs run one (GET /v1/market/intervals).
import { ApiError, getJson } from './api';
import { card, errorBox, h, kv, put } from './dom';
import { FLOWS, micro, utc, wh } from './flows';
import { lines } from './chart';

interface GridState {
  phase: string;
  simEpochMs: number;
  simMs: number;
  durationMs: number;
  dayStartS: number;
  currency: string;
  market: boolean;
  prices: { startS: number; endS: number; importMicroPerKwh: number; exportMicroPerKwh: number }[];
  hubs: { name: string; inMwh: number; outMwh: number; plugged: string[] }[];
  bikes: {
    name: string; id: string; state: string; online: boolean; faults: number;
    packs: { id: number; socPermille: number }[];
    flowsMwh: Record<'gridToPack' | 'packToGrid' | 'packToMotor' | 'regenToPack', number>;
    reports: { made: number; sent: number; acked: number; queued: number };
  }[];
  balances: { device: string; name: string; importMwh: number; exportMwh: number; unpricedImportMwh: number; unpricedExportMwh: number; costMicro: string; revenueMicro: string; balanceMicro: string; reports: number; marketMicro?: string; baselineMicro?: string }[];
  result?: string;
}

const POLL_MS = 2000;
const CAMEL: Record<string, keyof GridState['bikes'][number]['flowsMwh']> = {
  grid_to_pack: 'gridToPack', pack_to_grid: 'packToGrid', pack_to_motor: 'packToMotor', regen_to_pack: 'regenToPack',
};

interface MarketInterval {
  hub: string;
  startS: number;
  durationS: number;
  priceMicroPerKwh: number | null;
  tradedWh: number;
  utility: { soldWh: number; boughtWh: number };
  participants: unknown[];
}

/** The market's latest intervals, newest first: clearing price and matched volume per hub. */
function marketTable(rows: MarketInterval[], currency: string): HTMLElement {
  if (!rows.length) return h('p', { class: 'muted' }, 'No market interval cleared yet.');
  const latest = rows.slice(-24).reverse();
  return h('div', { class: 'scroll' }, h('table', { 'data-table': 'market' },
    h('thead', null, h('tr', null, h('th', null, 'Interval (UTC)'), h('th', null, 'Hub'), h('th', null, `Clearing price (${currency}/kWh)`), h('th', null, 'Matched (Wh)'), h('th', null, 'From utility (Wh)'), h('th', null, 'To utility (Wh)'), h('th', null, 'Bidders'))),
    h('tbody', null, latest.map((r) => h('tr', { 'data-interval': `${r.hub}@${r.startS}` },
      h('td', null, utc(r.startS).slice(5, 16)),
      h('td', null, r.hub),
      h('td', { 'data-k': 'price' }, r.priceMicroPerKwh === null ? 'no match' : micro(r.priceMicroPerKwh)),
      h('td', { 'data-k': 'traded' }, String(r.tradedWh)),
      h('td', null, String(r.utility.soldWh)),
      h('td', null, String(r.utility.boughtWh)),
      h('td', null, String(r.participants.length)))))));
}

export function gridPage(root: HTMLElement): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposeChart: (() => void) | undefined;
  let pricesDrawn = '';
  const progress = h('div');
  const priceBox = h('div', { class: 'chart' });
  const priceNow = h('p');
  const hubs = h('div');
  const bikes = h('div');
  const balances = h('div');
  const marketBox = h('section', { class: 'card wide', id: 'market', hidden: true });
  put(root, h('h1', null, 'Mini-grid'), h('div', { class: 'cards' },
    h('section', { class: 'card', id: 'progress' }, h('h2', null, 'The day'), progress),
    h('section', { class: 'card', id: 'hubs' }, h('h2', null, 'Hubs and the grid'), hubs),
    h('section', { class: 'card wide', id: 'prices' }, h('h2', null, 'Prices of the day'), priceNow, priceBox),
    h('section', { class: 'card wide', id: 'balances' }, h('h2', null, 'Riders’ balances at the interval prices'), balances),
    h('section', { class: 'card wide', id: 'bikes' }, h('h2', null, 'Bikes'), bikes),
    marketBox));

  function drawPrices(g: GridState): void {
    const key = JSON.stringify(g.prices);
    if (key === pricesDrawn) return;
    pricesDrawn = key;
    disposeChart?.();
    priceBox.replaceChildren();
    if (!g.prices.length) {
      put(priceBox, h('p', { class: 'muted' }, 'No prices for this day.'));
      return;
    }
    // A step per interval, and the last one held to its end.
    const xs = [...g.prices.map((p) => p.startS), g.prices[g.prices.length - 1].endS];
    const at = (f: (p: GridState['prices'][number]) => number) => [...g.prices.map((p) => f(p) / 1e6), f(g.prices[g.prices.length - 1]) / 1e6];
    disposeChart = lines(priceBox, xs, [
      { label: 'import (buy)', color: '#2b8a3e', values: at((p) => p.importMicroPerKwh) },
      { label: 'export (sell)', color: '#e8590c', values: at((p) => p.exportMicroPerKwh) },
    ], `${g.currency}/kWh`, { steps: true });
  }

  function draw(g: GridState): void {
    const pct = g.durationMs ? Math.min(100, Math.round((g.simMs / g.durationMs) * 100)) : 0;
    put(progress, kv([
      ['phase', 'Phase', g.phase],
      ['clock', 'Simulated time', utc(Math.floor(g.simEpochMs / 1000))],
      ['progress', 'Ridden', `${pct} % of the day`],
      ...(g.result ? [['result', 'Result', h('code', null, g.result)] as [string, string, HTMLElement]] : []),
    ]), h('progress', { max: 100, value: pct, style: 'width:100%' }));
    drawPrices(g);
    const nowS = g.simEpochMs / 1000;
    const cur = g.prices.find((p) => p.startS <= nowS && nowS < p.endS);
    put(priceNow, cur
      ? h('span', { 'data-k': 'now' }, `Now (${utc(cur.startS).slice(11, 16)}–${utc(cur.endS).slice(11, 16)} UTC): buy ${micro(cur.importMicroPerKwh)}, sell ${micro(cur.exportMicroPerKwh)} ${g.currency}/kWh`)
      : h('span', { class: 'muted' }, 'The simulated clock is outside the day’s prices.'));

    put(hubs, h('div', { class: 'scroll' }, h('table', { 'data-table': 'hubs' },
      h('thead', null, h('tr', null, h('th', null, 'Hub'), h('th', null, 'From grid (Wh)'), h('th', null, 'To grid (Wh)'), h('th', null, 'Plugged in'))),
      h('tbody', null, g.hubs.map((x) => h('tr', { 'data-hub': x.name },
        h('td', null, x.name),
        h('td', { 'data-mwh': x.inMwh, style: 'color:var(--grid-to-pack)' }, wh(x.inMwh)),
        h('td', { 'data-mwh': x.outMwh, style: 'color:var(--pack-to-grid)' }, wh(x.outMwh)),
        h('td', null, x.plugged.join(', ') || '–')))))));

    put(balances, h('div', { class: 'scroll' }, h('table', { 'data-table': 'balances' },
      h('thead', null, h('tr', null, h('th', null, 'Rider'), h('th', null, 'Bought (Wh)'), h('th', null, 'Sold (Wh)'), h('th', null, `Paid (${g.currency})`), h('th', null, `Earned (${g.currency})`), h('th', null, `Balance (${g.currency})`), h('th', null, 'Unpriced (Wh)'),
        g.market ? [h('th', null, `Market (${g.currency})`), h('th', null, `Utility only (${g.currency})`)] : [])),
      h('tbody', null, g.balances.map((b) => h('tr', { 'data-device': b.device },
        h('td', null, h('a', { href: `#/bike/${b.device}` }, b.name)),
        h('td', { 'data-k': 'import' }, wh(b.importMwh)),
        h('td', { 'data-k': 'export' }, wh(b.exportMwh)),
        h('td', { 'data-k': 'cost' }, micro(b.costMicro)),
        h('td', { 'data-k': 'revenue' }, micro(b.revenueMicro)),
        h('td', { 'data-k': 'balance', class: b.balanceMicro.startsWith('-') ? 'bad' : 'ok' }, micro(b.balanceMicro)),
        h('td', { 'data-k': 'unpriced' }, wh(b.unpricedImportMwh + b.unpricedExportMwh)),
        b.marketMicro === undefined ? [] : [
          h('td', { 'data-k': 'market', class: b.marketMicro.startsWith('-') ? 'bad' : 'ok' }, micro(b.marketMicro)),
          h('td', { 'data-k': 'baseline' }, micro(b.baselineMicro ?? '0'))]))))),
    h('p', { class: 'muted' }, 'Reports made before a bike’s clock was synced carry no trusted time: their energy is unpriced, counted apart.'),
    g.market ? h('p', { class: 'muted' }, 'Balance: every Wh at the interval’s utility prices. Market: measured energy at the hub’s cleared price, the rest (imbalance) at the utility’s price, as the ledger settles it; utility only: bought at retail, sold at feed-in.') : []);

    put(bikes, h('div', { class: 'scroll' }, h('table', { 'data-table': 'bikes' },
      h('thead', null, h('tr', null, h('th', null, 'Bike'), h('th', null, 'Doing'), h('th', null, 'SOC'), FLOWS.map((f) => h('th', null, h('span', { class: 'swatch', style: `background:var(${f.css})` }), `${f.label} (Wh)`)), h('th', null, 'Reports made / acked / queued'))),
      h('tbody', null, g.bikes.map((b) => h('tr', { 'data-bike': b.id },
        h('td', null, h('a', { href: `#/bike/${b.id}` }, b.name)),
        h('td', null, b.online ? b.state : `${b.state} (offline)`),
        h('td', null, b.packs.map((p) => `${(p.socPermille / 10).toFixed(1)} %`).join(' / ')),
        FLOWS.map((f) => h('td', { 'data-flow': f.key }, wh(b.flowsMwh[CAMEL[f.key]]))),
        h('td', null, `${b.reports.made} / ${b.reports.acked} / ${b.reports.queued}`)))))));
  }

  async function poll(): Promise<void> {
    const g = await getJson<GridState>('/v1/grid');
    if (stopped) return;
    draw(g);
    marketBox.hidden = !g.market;
    if (!g.market) return;
    // Oldest first, a page at a time: follow `next` to the latest.
    const rows: MarketInterval[] = [];
    for (let after = -1, pages = 0; pages < 50; pages++) {
      const m = await getJson<{ intervals: MarketInterval[]; next: number | null }>(`/v1/market/intervals?after=${after}&limit=5000`);
      rows.push(...m.intervals);
      if (m.next === null) break;
      after = m.next;
    }
    if (stopped) return;
    put(marketBox, h('h2', null, 'Local market: clearing price and matched volume per interval'), marketTable(rows, g.currency));
  }

  function loop(): void {
    poll().then(() => {
      if (!stopped) timer = setTimeout(loop, POLL_MS);
    }, (e: unknown) => {
      if (stopped) return;
      const msg = e instanceof ApiError && e.status === 404 ? `${e.message}. Start the mini-grid with npm start (deep testnet), or deep testnet --serve to browse a finished day.` : (e as Error).message;
      put(progress, errorBox(msg));
      timer = setTimeout(loop, POLL_MS * 2);
    });
  }

  loop();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    disposeChart?.();
  };
}
