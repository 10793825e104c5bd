// Prometheus text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/):
// counters, gauges and one histogram, enough for an operator's dashboard and alerts.
// No client library: the format is small and this keeps the node dependency-free.

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (!keys.length) return '';
  // Label values escape backslash, double quote and newline (exposition format, "Text format details").
  return '{' + keys.map((k) => `${k}="${labels[k].replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',') + '}';
}

export class Counter {
  private readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (!this.values.size) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k} ${v}`);
    return lines.join('\n');
  }
}

/** A reading now, or (a store that answers later, PostgreSQL) a promise of it. */
type Reading = number | Promise<number>;

export class Gauge {
  private readonly read: () => Reading;
  constructor(readonly name: string, readonly help: string, read: () => Reading) {
    this.read = read;
  }
  render(): string | Promise<string> {
    const text = (v: number) => [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${v}`].join('\n');
    const v = this.read();
    return typeof v === 'number' ? text(v) : v.then(text);
  }
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  /** `bounds` are the upper bounds of the buckets, in the metric's unit (seconds here). */
  constructor(readonly name: string, readonly help: string, readonly bounds: number[]) {
    this.counts = new Array(bounds.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]) this.counts[i]++;
  }
  get total(): number {
    return this.count;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (let i = 0; i < this.bounds.length; i++) lines.push(`${this.name}_bucket{le="${this.bounds[i]}"} ${this.counts[i]}`);
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

export interface IngestMetrics {
  accepted: Counter;
  pending: Counter;
  duplicate: Counter;
  rejected: Counter;
  unattributed: Counter;
  rateLimited: Counter;
  httpRequests: Counter;
  commits: Counter;
  verifySeconds: Histogram;
  commitSeconds: Histogram;
  /** Adds a metric of another part of the node (batches, anchoring) to the exposition. */
  add(metric: { render(): string | Promise<string> }): void;
  render(): Promise<string>;
}

/** The node's metric set. `gauges` read live values (queue depth, open gaps) at scrape time. */
export function createMetrics(gauges: { queueDepth: () => Reading; openGaps: () => Reading; devices: () => Reading }): IngestMetrics {
  const accepted = new Counter('deep_ingest_reports_accepted_total', 'Reports accepted and committed to the chain of their device.');
  const pending = new Counter('deep_ingest_reports_pending_total', 'Reports stored durably but held pending until the gap before them fills.');
  const duplicate = new Counter('deep_ingest_reports_duplicate_total', 'Reports resent with bytes identical to a stored report (answered as success).');
  const rejected = new Counter('deep_ingest_reports_rejected_total', 'Reports rejected, by typed reason.');
  const unattributed = new Counter(
    'deep_ingest_reports_unattributed_total',
    'Rejected reports whose signature did not verify under the key of the device they name (forged, garbled, unknown key): counted here, never against that device.',
  );
  const rateLimited = new Counter('deep_ingest_rate_limited_total', 'Requests answered 429 by per-client-address limit (register, rejections).');
  const httpRequests = new Counter('deep_ingest_http_requests_total', 'HTTP requests by route and status code.');
  const commits = new Counter('deep_ingest_commits_total', 'Durable group commits (one transaction covers many reports).');
  // Ed25519 verify takes ~50-100 us on a current core; buckets span 10 us .. 100 ms.
  const verifySeconds = new Histogram('deep_ingest_verify_seconds', 'Time to decode and verify one report in a worker thread.', [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1,
  ]);
  const commitSeconds = new Histogram('deep_ingest_commit_seconds', 'Time of one durable group commit (chain rules + fsync).', [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
  ]);
  const queue = new Gauge('deep_ingest_queue_depth', 'Reports received and not yet answered (verifying or waiting for commit).', gauges.queueDepth);
  const gaps = new Gauge('deep_ingest_open_gaps', 'Devices whose chain has a gap (pending reports waiting for missing ones).', gauges.openGaps);
  const devices = new Gauge('deep_ingest_devices', 'Registered, non-revoked devices.', gauges.devices);
  const all: { render(): string | Promise<string> }[] = [accepted, pending, duplicate, rejected, unattributed, rateLimited, httpRequests, commits, verifySeconds, commitSeconds, queue, gaps, devices];
  return {
    accepted, pending, duplicate, rejected, unattributed, rateLimited, httpRequests, commits, verifySeconds, commitSeconds,
    add: (m) => void all.push(m),
    render: async () => (await Promise.all(all.map((m) => m.render()))).join('\n') + '\n',
  };
}
