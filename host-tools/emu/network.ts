// The emulated radio environment: access points a device can join, whether the network
// is up (a test cuts it for hours), and where HTTP requests go: real HTTP over loopback to
// a local ingest node, or an injected handler. Shared by every device of a testnet.
//
// HTTP takes no virtual time: the request runs for real, the clock waits for it before the
// next timer (see clock.ts), and the reply is delivered to the device as a 0 ms timer.
import http from 'node:http';
import type { VirtualClock } from './clock';

export interface AccessPoint {
  ssid: string;
  password: string;
}

export interface EmuHttpRequest {
  method: string;
  /** Full URL the device asked for. */
  url: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface EmuHttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
}

export type EmuHttpHandler = (req: EmuHttpRequest) => Promise<EmuHttpResponse> | EmuHttpResponse;

export interface EmuNetworkOptions {
  clock: VirtualClock;
  accessPoints?: AccessPoint[];
  /** Requests go here instead of real HTTP when given. */
  handler?: EmuHttpHandler;
  /** Virtual ms a WiFi association takes (default 1500). */
  associateMs?: number;
}

export interface NetworkListener {
  onNetworkChange(up: boolean): void;
}

export class EmuNetwork {
  readonly clock: VirtualClock;
  accessPoints: AccessPoint[];
  handler?: EmuHttpHandler;
  readonly associateMs: number;
  private isUp = true;
  private readonly listeners = new Set<NetworkListener>();
  private readonly pending = new Set<Promise<void>>();
  /** Figures for tests and the testnet view. */
  stats = { requests: 0, failedRequests: 0, bytesUp: 0, bytesDown: 0 };

  constructor(o: EmuNetworkOptions) {
    this.clock = o.clock;
    this.accessPoints = o.accessPoints ?? [{ ssid: 'deep-hub', password: 'watt-hours' }];
    this.handler = o.handler;
    this.associateMs = o.associateMs ?? 1500;
    this.clock.addSettleHook(() => (this.pending.size ? Promise.all([...this.pending]).then(() => undefined) : undefined));
  }

  get up(): boolean { return this.isUp; }

  /** Cuts (false) or restores (true) the network for every device. */
  setUp(up: boolean): void {
    if (up === this.isUp) return;
    this.isUp = up;
    for (const l of [...this.listeners]) l.onNetworkChange(up);
  }

  subscribe(l: NetworkListener): void { this.listeners.add(l); }
  unsubscribe(l: NetworkListener): void { this.listeners.delete(l); }

  /** Why joining `ssid` with `password` fails now, or undefined when it succeeds. */
  joinError(ssid: string, password: string): string | undefined {
    if (!this.isUp) return 'no_ap_found';
    const ap = this.accessPoints.find((a) => a.ssid === ssid);
    if (!ap) return 'no_ap_found';
    if (ap.password !== password) return 'wrong_password';
    return undefined;
  }

  /** Runs one request for real; resolves with the response or rejects with a network error. */
  request(req: EmuHttpRequest): Promise<EmuHttpResponse> {
    this.stats.requests++;
    this.stats.bytesUp += req.body.length;
    const p = this.handler ? Promise.resolve().then(() => this.handler!(req)) : realHttp(req);
    const tracked = p.then(
      (res) => {
        this.stats.bytesDown += typeof res.body === 'string' ? res.body.length : res.body?.length ?? 0;
        return res;
      },
      (err) => {
        this.stats.failedRequests++;
        throw err;
      },
    );
    const done = tracked.then(() => undefined, () => undefined);
    this.pending.add(done);
    void done.then(() => this.pending.delete(done));
    return tracked;
  }
}

function realHttp(req: EmuHttpRequest): Promise<EmuHttpResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(req.url);
    const r = http.request(
      {
        host: u.hostname,
        port: u.port || 80,
        path: u.pathname + u.search,
        method: req.method,
        headers: { ...req.headers, 'content-length': String(req.body.length) },
        timeout: 10000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
          resolve({ status: res.statusCode ?? 0, headers, body: new Uint8Array(Buffer.concat(chunks)) });
        });
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end(Buffer.from(req.body));
  });
}
