// The rider's pages: #/bikes (the bikes this browser has paired or looked at) and
// #/bike/ID (one bike: status, energy per flow and pack for a day and a week, the chain's
// health, the latest reports with their proofs). Public API only.
import { getJson } from './api';
import { card, errorBox, h, kv, put } from './dom';
import { FLOWS, flowColor, micro, utc, when, wh } from './flows';
import { stackedBars } from './chart';
import { explorerTx, chainName } from './chains';

export interface DeviceView {
  id: string;
  publicKey: string;
  registeredAt: string;
  revokedAt: string | null;
  head: { seq: number; hash: string } | null;
  lastSeenAt: string | null;
  fork: { count: number; firstSeq: number } | null;
  gap: { from: number; to: number; pending: number; highestPending: number; since: string } | null;
  faults: Record<string, unknown> | null;
  rejections: Record<string, number>;
}

type PackTotals = Record<string, Record<string, { unit: string; total: number; reports: number }>>;
export interface Energy {
  from: number;
  to: number;
  bucket: number;
  buckets: { start: number; packs: PackTotals }[];
  totals: PackTotals;
  unsynced: PackTotals;
}

export interface ReportRow {
  seq: number;
  hash: string;
  receivedAt: string;
  windowStart: number;
  windowEnd: number;
  flows: { pack: number; flow: string; unit: string; amount: number }[];
}

export interface Proof {
  batch: number;
  leafIndex: number;
  treeSize: number;
  root: string;
  anchor?: { state: string; chainId?: number; contract?: string; tx?: string; block?: number; confirmations?: number };
}

export interface Money {
  currency: string;
  reports: number;
  importMwh: number;
  exportMwh: number;
  unpricedImportMwh: number;
  unpricedExportMwh: number;
  costMicro: string;
  revenueMicro: string;
  balanceMicro: string;
}

const STORE_KEY = 'deep.bikes';

export function rememberBike(id: string): void {
  const ids = knownBikes().filter((x) => x !== id);
  ids.unshift(id);
  localStorage.setItem(STORE_KEY, JSON.stringify(ids.slice(0, 20)));
}

function knownBikes(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(STORE_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function bikesPage(root: HTMLElement): void {
  const input = h('input', { name: 'id', placeholder: '16 hex digits, e.g. 3340df54cb41c460', pattern: '[0-9a-fA-F]{16}', required: true, autocomplete: 'off' });
  const ids = knownBikes();
  put(root,
    h('h1', null, 'My bike'),
    h('div', { class: 'cards' },
      card('Open a bike',
        h('form', { class: 'stack', onsubmit: (e: Event) => { e.preventDefault(); location.hash = `#/bike/${input.value.trim().toLowerCase()}`; } },
          h('label', null, 'Device id (printed when you paired)', input),
          h('button', { type: 'submit' }, 'Show')),
      ),
      card('Bikes seen in this browser', ids.length ? h('ul', null, ids.map((id) => h('li', null, h('a', { href: `#/bike/${id}` }, id)))) : h('p', { class: 'muted' }, 'None yet: pair one, or open one by its id.')),
    ));
}

const DAY = 86400;

/** Sum over packs of each flow per bucket, in the order of `starts`. */
function perFlow(e: Energy, starts: number[]): number[][] {
  const at = new Map(e.buckets.map((b) => [b.start, b.packs]));
  return FLOWS.map((f) => starts.map((s) => {
    const packs = at.get(s);
    if (!packs) return 0;
    let t = 0;
    for (const p of Object.values(packs)) t += p[f.key]?.total ?? 0;
    return t;
  }));
}

function packTable(t: PackTotals, what: string): HTMLElement {
  const packs = Object.keys(t).sort((a, b) => Number(a) - Number(b));
  if (!packs.length) return h('p', { class: 'muted' }, `No ${what}.`);
  const sum = (f: string) => packs.reduce((a, p) => a + (t[p][f]?.total ?? 0), 0);
  return h('div', { class: 'scroll' }, h('table', { 'data-table': what },
    h('thead', null, h('tr', null, h('th', null, 'Wh'), packs.map((p) => h('th', null, `Pack ${p}`)), h('th', null, 'Both'))),
    h('tbody', null, FLOWS.map((f) => h('tr', { 'data-flow': f.key },
      h('td', null, h('span', { class: 'swatch', style: `background:var(${f.css})` }), f.label),
      packs.map((p) => h('td', { 'data-pack': p, 'data-mwh': t[p][f.key]?.total ?? 0 }, wh(t[p][f.key]?.total ?? 0))),
      h('td', { 'data-pack': 'all', 'data-mwh': sum(f.key) }, wh(sum(f.key)))))),
  ));
}

function legend(): HTMLElement {
  return h('div', { class: 'legend' }, FLOWS.map((f) => h('span', null, h('span', { class: 'swatch', style: `background:var(${f.css})` }), f.label)));
}

export function bikePage(root: HTMLElement, rawId: string): () => void {
  const id = rawId.toLowerCase();
  let disposers: (() => void)[] = [];
  let stopped = false;
  let view: 'day' | 'week' = 'day';
  /** Start (UTC midnight) of the day shown; set from the latest report at first load. */
  let day = 0;
  const status = h('div');
  const energy = h('div');
  const money = h('div');
  const reports = h('div');
  /** Whether the node has interval prices (GET /v1/prices), asked once. */
  let priced: boolean | undefined;
  put(root, h('h1', null, 'Bike ', h('code', null, id)), h('div', { class: 'cards' },
    h('section', { class: 'card', id: 'status' }, h('h2', null, 'Status'), status),
    h('section', { class: 'card wide', id: 'energy' }, energy),
    h('section', { class: 'card wide', id: 'money' }, money),
    h('section', { class: 'card wide', id: 'reports' }, h('h2', null, 'Latest reports and their proofs'), reports)));

  async function drawEnergy(): Promise<void> {
    disposers.forEach((d) => d());
    disposers = [];
    const from = view === 'day' ? day : day - 6 * DAY;
    const to = day + DAY;
    const bucket = view === 'day' ? 3600 : DAY;
    const e = await getJson<Energy>(`/v1/devices/${id}/energy?from=${from}&to=${to}&bucket=${bucket}`);
    if (stopped) return;
    const starts: number[] = [];
    for (let s = from; s < to; s += bucket) starts.push(s);
    const values = perFlow(e, starts);
    const chart = h('div', { class: 'chart', role: 'img', 'aria-label': `energy per flow, ${view}` });
    const tab = (v: 'day' | 'week', label: string) => h('button', { class: v === view ? '' : 'secondary', 'data-view': v, onclick: () => { view = v; void drawEnergy().catch(show); } }, label);
    const step = (d: number) => h('button', { class: 'secondary', 'data-step': d, onclick: () => { day += d * DAY; void drawEnergy().catch(show); } }, d < 0 ? '←' : '→');
    put(energy,
      h('h2', null, `Energy ${view === 'day' ? 'on' : 'in the week to'} ${utc(day).slice(0, 10)}`),
      h('div', { class: 'tabs' }, tab('day', 'Day'), tab('week', 'Week'), step(-1), step(1)),
      legend(),
      chart,
      h('h2', null, 'Per pack and flow'),
      packTable(e.totals, 'period'),
      h('h2', null, 'Unsynced clock (not priced)'),
      h('p', { class: 'muted' }, 'Reports made before the bike’s clock was synced carry no trusted time: their energy is counted here, apart, and earns or costs nothing.'),
      packTable(e.unsynced, 'unsynced'));
    disposers.push(stackedBars(chart, starts, FLOWS.map((f, i) => ({ label: f.label, color: flowColor(f.css), values: values[i] })), 'mWh'));
    await drawMoney(from, to);
  }

  async function drawMoney(from: number, to: number): Promise<void> {
    priced ??= (await getJson<{ prices: unknown }>('/v1/prices')).prices !== null;
    if (stopped) return;
    if (!priced) {
      put(money, h('h2', null, 'Money'), h('p', { class: 'muted', 'data-money': 'none' }, 'This node has no price table, so it values no energy (an operator gives one with deep ingest --prices).'));
      return;
    }
    const m = await getJson<Money>(`/v1/devices/${id}/money?from=${from}&to=${to}`);
    if (stopped) return;
    put(money, h('h2', null, `Money at the interval prices (${m.currency})`), kv([
      ['bought', 'Bought from the grid', `${wh(m.importMwh)} Wh for ${micro(m.costMicro)} ${m.currency}`],
      ['sold', 'Sold to the grid', `${wh(m.exportMwh)} Wh for ${micro(m.revenueMicro)} ${m.currency}`],
      ['balance', 'Balance (earned − paid)', h('span', { class: m.balanceMicro.startsWith('-') ? 'bad' : 'ok' }, `${micro(m.balanceMicro)} ${m.currency}`)],
      ['unpriced', 'Unpriced (clock not synced)', `${wh(m.unpricedImportMwh)} Wh bought, ${wh(m.unpricedExportMwh)} Wh sold: not valued`],
    ]));
  }

  function show(e: unknown): void {
    put(status, errorBox((e as Error).message));
  }

  async function proofCell(seq: number, cell: HTMLElement): Promise<void> {
    put(cell, 'asking…');
    try {
      const p = await getJson<Proof>(`/v1/reports/${id}/${seq}/proof`);
      const a = p.anchor;
      const link = a?.tx ? explorerTx(a.chainId, a.tx) : undefined;
      put(cell, h('span', { 'data-batch': p.batch }, `batch ${p.batch}, leaf ${p.leafIndex}/${p.treeSize}, root `, h('code', null, p.root.slice(0, 12) + '…')),
        h('br'),
        !a || a.state === 'pending'
          ? h('span', { class: 'muted' }, 'anchoring pending')
          : h('span', { 'data-anchor': a.state }, `${a.state} on ${chainName(a.chainId)} in block ${a.block}, ${a.confirmations ?? 0} confirmations, tx `,
            link ? h('a', { href: link, target: '_blank', rel: 'noopener' }, (a.tx ?? '').slice(0, 12) + '…') : h('code', null, (a.tx ?? '').slice(0, 12) + '…')));
    } catch (e) {
      put(cell, h('span', { class: 'muted' }, (e as Error).message));
    }
  }

  async function load(): Promise<void> {
    const d = await getJson<DeviceView>(`/v1/devices/${id}`);
    rememberBike(id);
    const head = d.head?.seq ?? -1;
    const page = await getJson<{ reports: ReportRow[] }>(`/v1/devices/${id}/reports?after=${Math.max(-1, head - 20)}&limit=20`);
    if (stopped) return;
    const rows = page.reports.slice().reverse();
    const faults = d.faults ?? {};
    put(status, kv([
      ['lastSeen', 'Last seen', when(d.lastSeenAt)],
      ['head', 'Reports in the chain', d.head ? String(d.head.seq + 1) : '0'],
      ['chain', 'Chain', d.gap ? h('span', { class: 'bad' }, `gap: seq ${d.gap.from}–${d.gap.to} missing, ${d.gap.pending} waiting since ${when(d.gap.since)}`) : h('span', { class: 'ok' }, 'complete, nothing waiting')],
      ['fork', 'Forks', d.fork ? h('span', { class: 'bad' }, `${d.fork.count} from seq ${d.fork.firstSeq}`) : 'none'],
      ['faults', 'Faults (last report)', ['vesc', 'bms', 'device'].map((k) => `${k.toUpperCase()} ${String(faults[k] ?? 0)}`).join(', ')],
      ['rejections', 'Rejected reports', Object.keys(d.rejections).length ? Object.entries(d.rejections).map(([k, n]) => `${k} ${n}`).join(', ') : 'none'],
      ['registered', 'Paired', when(d.registeredAt)],
      ...(d.revokedAt ? [['revoked', 'Revoked', h('span', { class: 'bad' }, when(d.revokedAt))] as [string, string, HTMLElement]] : []),
    ]));
    put(reports, rows.length
      ? h('div', { class: 'scroll' }, h('table', { 'data-table': 'reports' },
        h('thead', null, h('tr', null, h('th', null, 'Seq'), h('th', null, 'Window (UTC)'), h('th', null, 'Out (Wh)'), h('th', null, 'Proof'))),
        h('tbody', null, rows.map((r) => {
          const cell = h('td', { 'data-proof': r.seq, class: 'wrap' }, h('button', { class: 'secondary', onclick: () => void proofCell(r.seq, cell) }, 'proof'));
          const out = r.flows.filter((f) => f.unit === 'mWh' && (f.flow === 'pack_to_motor' || f.flow === 'pack_to_grid')).reduce((a, f) => a + f.amount, 0);
          return h('tr', { 'data-seq': r.seq }, h('td', null, String(r.seq)), h('td', null, r.windowStart > 1e9 ? utc(r.windowStart).slice(5, 16) : 'clock not synced'), h('td', { 'data-mwh': out }, wh(out)), cell);
        }))))
      : h('p', { class: 'muted' }, 'No reports yet.'));
    if (!day) {
      const latest = rows.find((r) => r.windowStart > 1e9);
      const t = latest ? latest.windowStart : Math.floor(Date.now() / 1000);
      day = t - (t % DAY);
    }
    await drawEnergy();
  }

  load().catch(show);
  return () => {
    stopped = true;
    disposers.forEach((d) => d());
  };
}
