// #/operator: the node's health, reports accepted and rejected per reason over time (the
// node's counters sampled while the page is open), devices with last seen, gaps and ingest
// lag, batching and anchoring lag. Behind the admin token: the device list is an operator
// route, and the page shows nothing until it answers.
import { ApiError, getJson, getText } from './api';
import { card, errorBox, h, kv, put } from './dom';
import { byLabel, metric, parseMetrics, type Sample } from './metrics';
import { lines } from './chart';
import { when } from './flows';
import type { DeviceView } from './bike';

const TOKEN_KEY = 'deep.adminToken';
/** How often the page samples the node. */
const POLL_MS = 2000;
/** Samples kept for the chart: 30 minutes at POLL_MS. */
const KEEP = 900;

type OperatorDevice = DeviceView & { lastWindowEnd: number | null; lastAcceptedAt: string | null };

interface Health {
  status: string;
  schemaVersion: number;
  workers: number;
  queueDepth: number;
}

const REASON_COLORS = ['#c92a2a', '#e67700', '#5f3dc4', '#0b7285', '#862e9c', '#5c940d', '#a61e4d', '#364fc7'];

function seconds(s: number): string {
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export function operatorPage(root: HTMLElement): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let dispose: (() => void) | undefined;
  let stopped = false;
  const history: { t: number; accepted: number; rejected: Record<string, number> }[] = [];

  function auth(): RequestInit {
    const t = sessionStorage.getItem(TOKEN_KEY);
    return t ? { headers: { authorization: `Bearer ${t}` } } : {};
  }

  function askToken(why?: string): void {
    const input = h('input', { name: 'token', type: 'password', autocomplete: 'current-password', required: true });
    put(root, h('h1', null, 'Operator'), h('div', { class: 'cards' }, card('Admin token',
      why ? h('div', { class: 'error', role: 'alert', 'data-failure': 'token' }, why) : null,
      h('p', { class: 'muted' }, 'The token the node was started with (deep ingest --admin-token-env). Kept in this tab only.'),
      h('form', { class: 'stack', onsubmit: (e: Event) => { e.preventDefault(); sessionStorage.setItem(TOKEN_KEY, input.value); start(); } },
        h('label', null, 'Token', input), h('button', { type: 'submit' }, 'Open')))));
  }

  const health = h('div');
  const counts = h('div');
  const chartBox = h('div', { class: 'chart' });
  const devices = h('div');
  const lag = h('div');

  function layout(): void {
    put(root, h('h1', null, 'Operator'), h('div', { class: 'cards' },
      h('section', { class: 'card', id: 'health' }, h('h2', null, 'Node health'), health),
      h('section', { class: 'card', id: 'lag' }, h('h2', null, 'Ingest and anchoring lag'), lag),
      h('section', { class: 'card wide', id: 'counts' }, h('h2', null, 'Reports accepted and rejected'), counts,
        h('h2', null, `Per ${POLL_MS / 1000} s since this page opened`), chartBox),
      h('section', { class: 'card wide', id: 'devices' }, h('h2', null, 'Devices'), devices),
      h('p', null, h('button', { class: 'secondary', onclick: () => { sessionStorage.removeItem(TOKEN_KEY); stop(); askToken(); } }, 'Forget the token'))));
  }

  function drawChart(): void {
    dispose?.();
    dispose = undefined;
    // Two intervals at least: one point gives uPlot no time range to draw.
    if (history.length < 3) {
      put(chartBox, h('p', { class: 'muted' }, 'Collecting…'));
      return;
    }
    chartBox.replaceChildren();
    const xs = history.slice(1).map((p) => p.t);
    const reasons = [...new Set(history.flatMap((p) => Object.keys(p.rejected)))].sort();
    const delta = (f: (p: (typeof history)[number]) => number) => history.slice(1).map((p, i) => Math.max(0, f(p) - f(history[i])));
    dispose = lines(chartBox, xs, [
      { label: 'accepted', color: '#2b8a3e', values: delta((p) => p.accepted) },
      ...reasons.map((r, i) => ({ label: `rejected: ${r}`, color: REASON_COLORS[i % REASON_COLORS.length], values: delta((p) => p.rejected[r] ?? 0) })),
    ], 'reports', { steps: true, height: 200 });
  }

  async function poll(): Promise<void> {
    const [hl, text, list] = await Promise.all([
      getJson<Health>('/healthz'),
      getText('/metrics'),
      getJson<{ devices: OperatorDevice[] }>('/v1/devices', auth()),
    ]);
    if (stopped) return;
    const m: Sample[] = parseMetrics(text);
    const rejected = byLabel(m, 'deep_ingest_reports_rejected_total', 'reason');
    const accepted = metric(m, 'deep_ingest_reports_accepted_total') ?? 0;
    history.push({ t: Date.now() / 1000, accepted, rejected });
    if (history.length > KEEP) history.shift();

    put(health, kv([
      ['status', 'Status', h('span', { class: hl.status === 'ok' ? 'ok' : 'bad' }, hl.status)],
      ['devices', 'Devices (not revoked)', String(metric(m, 'deep_ingest_devices') ?? list.devices.filter((d) => !d.revokedAt).length)],
      ['openGaps', 'Devices with an open gap', String(metric(m, 'deep_ingest_open_gaps') ?? 0)],
      ['queueDepth', 'Reports being verified', String(hl.queueDepth)],
      ['workers', 'Verify workers', String(hl.workers)],
      ['schema', 'Database schema', String(hl.schemaVersion)],
    ]));
    const reasons = Object.keys(rejected).sort();
    const total = reasons.reduce((a, r) => a + rejected[r], 0);
    put(counts, h('div', { class: 'scroll' }, h('table', { 'data-table': 'counts' },
      h('thead', null, h('tr', null, h('th', null, 'Reports'), h('th', null, 'Total'))),
      h('tbody', null,
        h('tr', { 'data-count': 'accepted' }, h('td', null, 'accepted'), h('td', null, String(accepted))),
        h('tr', { 'data-count': 'duplicate' }, h('td', null, 'duplicate (resent, answered as success)'), h('td', null, String(metric(m, 'deep_ingest_reports_duplicate_total') ?? 0))),
        h('tr', { 'data-count': 'pending' }, h('td', null, 'held pending (behind a gap)'), h('td', null, String(metric(m, 'deep_ingest_reports_pending_total') ?? 0))),
        h('tr', { 'data-count': 'rejected' }, h('td', null, 'rejected'), h('td', null, String(total))),
        reasons.map((r) => h('tr', { 'data-reason': r }, h('td', null, `  rejected: ${r}`), h('td', null, String(rejected[r]))))))));

    const unbatched = metric(m, 'deep_ingest_unbatched_reports');
    const behind = metric(m, 'deep_anchor_batches_behind');
    const now = Date.now() / 1000;
    put(lag, kv([
      ['queue', 'Verify queue', `${hl.queueDepth} reports`],
      ['unbatched', 'Accepted, not in a batch yet', unbatched === undefined ? 'this node keeps no batches' : `${unbatched} reports`],
      ['lastBatch', 'Last batch closed', String(metric(m, 'deep_ingest_last_batch') ?? '–')],
      ['anchor', 'Anchoring', behind === undefined ? 'this node anchors on no chain'
        : `${behind} batches behind, oldest ${seconds(metric(m, 'deep_anchor_lag_seconds') ?? 0)}; last confirmed batch ${metric(m, 'deep_anchor_last_confirmed_batch') ?? 0}${metric(m, 'deep_anchor_up') === 0 ? ' (publisher stopped: see the node\'s log)' : ''}`],
      ['anchorErrors', 'Chain RPC errors', String(metric(m, 'deep_anchor_rpc_errors_total') ?? '–')],
    ]));

    const rows = list.devices.slice().sort((a, b) => (b.lastSeenAt ?? '').localeCompare(a.lastSeenAt ?? ''));
    put(devices, rows.length ? h('div', { class: 'scroll' }, h('table', { 'data-table': 'devices' },
      h('thead', null, h('tr', null, h('th', null, 'Device'), h('th', null, 'Last seen'), h('th', null, 'Reports'), h('th', null, 'Open gap'), h('th', null, 'Ingest lag'), h('th', null, 'State'))),
      h('tbody', null, rows.map((d) => {
        const lagS = d.lastWindowEnd !== null && d.lastWindowEnd > 1e9 && d.lastAcceptedAt ? Date.parse(d.lastAcceptedAt) / 1000 - d.lastWindowEnd : undefined;
        return h('tr', { 'data-device': d.id },
          h('td', null, h('a', { href: `#/bike/${d.id}` }, h('code', null, d.id))),
          h('td', { 'data-k': 'lastSeen' }, when(d.lastSeenAt)),
          h('td', { 'data-k': 'reports' }, String(d.head ? d.head.seq + 1 : 0)),
          h('td', { 'data-k': 'gap', class: d.gap ? 'bad' : '' }, d.gap ? `seq ${d.gap.from}–${d.gap.to}, ${d.gap.pending} waiting, open ${seconds(now - Date.parse(d.gap.since) / 1000)}` : '–'),
          h('td', { 'data-k': 'lag' }, lagS === undefined ? '–' : seconds(lagS)),
          h('td', { 'data-k': 'state' }, d.revokedAt ? h('span', { class: 'bad' }, `revoked ${when(d.revokedAt)}`) : d.fork ? h('span', { class: 'bad' }, `fork at ${d.fork.firstSeq}`) : 'ok'));
      })))) : h('p', { class: 'muted' }, 'No devices registered yet.'));
    drawChart();
  }

  function loop(): void {
    poll().then(() => {
      if (!stopped) timer = setTimeout(loop, POLL_MS);
    }, (e: unknown) => {
      if (stopped) return;
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        stop();
        const had = sessionStorage.getItem(TOKEN_KEY) !== null;
        sessionStorage.removeItem(TOKEN_KEY);
        askToken(had ? `The node refused this token: ${e.message}` : undefined);
        return;
      }
      put(health, errorBox(e instanceof Error ? e.message : String(e)));
      timer = setTimeout(loop, POLL_MS);
    });
  }

  function start(): void {
    stopped = false;
    history.length = 0;
    layout();
    loop();
  }

  function stop(): void {
    stopped = true;
    if (timer) clearTimeout(timer);
    dispose?.();
    dispose = undefined;
  }

  start();
  return stop;
}
