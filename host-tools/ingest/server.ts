// HTTP API of the ingest node, versioned under /v1 (documented in openapi.yaml and README).
// node:http only: every route is small, and the body limits and error answers are ours.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BodyError, TooManyReports, parseMediaType, splitReports } from './body';
import { StorageError, type Ingest } from './ingest';
import type { Store } from './store';
import type { Logger } from './log';
import type { IngestMetrics } from './metrics';
import type { OwnerHook, OwnerRequest } from './owners';

export interface ServerOptions {
  ingest: Ingest;
  store: Store;
  logger: Logger;
  metrics: IngestMetrics;
  /** Largest accepted request body in bytes (413 beyond). */
  maxBodyBytes?: number;
  /** Most reports in one request (413 beyond). */
  maxReports?: number;
  /** Bearer token for operator routes (revoke). Unset: operator routes answer loopback clients only. */
  adminToken?: string;
  workers: number;
  schemaVersion: number;
  /** Owner bindings at pairing (host-tools/ingest/owners.ts); absent: "owner" is refused. */
  owners?: OwnerHook;
  /** GET /v1/reports/{device}/{seq}/proof (host-tools/ingest/batches.ts); absent: 404. */
  proof?: (device: string, seq: number) => { status: number; body?: unknown; error?: string };
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) {
    return Promise.reject(new HttpError(413, `body of ${declared} bytes exceeds the limit of ${max} bytes`));
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > max) {
        failed = true;
        reject(new HttpError(413, `body exceeds the limit of ${max} bytes`));
        return;
      }
      parts.push(c);
    });
    req.on('end', () => {
      if (failed) return;
      const b = Buffer.concat(parts);
      resolve(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
    });
  });
}

function intParam(u: URL, name: string, def: number, min: number, max: number): number {
  const raw = u.searchParams.get(name);
  if (raw === null || raw === '') return def;
  if (!/^-?\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new HttpError(400, `query parameter "${name}" expected an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/** Epoch seconds from an integer or an ISO 8601 date-time. */
function timeParam(u: URL, name: string, def: number): number {
  const raw = u.searchParams.get(name);
  if (raw === null || raw === '') return def;
  if (/^\d+$/.test(raw)) return Number(raw);
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new HttpError(400, `query parameter "${name}" expected epoch seconds or an ISO 8601 date-time, got ${JSON.stringify(raw)}`);
  return Math.floor(ms / 1000);
}

const BUCKET_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function bucketParam(u: URL): number {
  const raw = u.searchParams.get('bucket') ?? '1h';
  const m = /^(\d+)([smhd]?)$/.exec(raw);
  const s = m ? Number(m[1]) * BUCKET_UNITS[m[2] || 's'] : 0;
  if (!m || s < 1 || s > 366 * 86400) throw new HttpError(400, `query parameter "bucket" expected a duration like 900, 15m, 1h or 1d (at most 366d), got ${JSON.stringify(raw)}`);
  return s;
}

const DEVICE_ID = /^[0-9a-f]{16}$/;

export function createIngestServer(opts: ServerOptions): Server {
  const { ingest, store, logger, metrics } = opts;
  const maxBody = opts.maxBodyBytes ?? 1 << 20;
  const maxReports = opts.maxReports ?? 10_000;

  function deviceId(raw: string): string {
    const id = decodeURIComponent(raw).toLowerCase();
    if (!DEVICE_ID.test(id)) throw new HttpError(400, `device id expected 16 hex digits (the kid), got ${JSON.stringify(raw)}`);
    return id;
  }

  function requireOperator(req: IncomingMessage): void {
    if (opts.adminToken !== undefined) {
      if (req.headers.authorization !== `Bearer ${opts.adminToken}`) throw new HttpError(401, 'operator route: missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
      return;
    }
    const a = req.socket.remoteAddress ?? '';
    if (a !== '127.0.0.1' && a !== '::1' && a !== '::ffff:127.0.0.1') {
      throw new HttpError(403, 'operator route: only loopback clients may call it when the node runs without --admin-token');
    }
  }

  async function postReports(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const type = parseMediaType(req.headers['content-type']);
    if (!type) {
      throw new HttpError(415, `content type ${JSON.stringify(req.headers['content-type'] ?? '')} not supported: send application/cose (one COSE_Sign1), application/cbor (an array of them) or application/cbor-seq`, {
        accept: 'application/cose, application/cbor, application/cbor-seq',
      });
    }
    const body = await readBody(req, maxBody);
    let spans;
    try {
      spans = splitReports(body, type, maxReports);
    } catch (e) {
      if (e instanceof BodyError) throw new HttpError(400, `malformed CBOR: ${e.message}`);
      if (e instanceof TooManyReports) throw new HttpError(413, e.message);
      throw e;
    }
    const answers = await ingest.submit(spans.map((s) => s.bytes));
    const summary = { accepted: 0, duplicate: 0, rejected: 0 };
    for (const a of answers) summary[a.status]++;
    send(res, 200, { ...summary, results: answers });
    return 200;
  }

  async function postDevice(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const ct = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (ct !== 'application/json') throw new HttpError(415, 'send application/json: {"challenge": HEX, "proof": BASE64}', { accept: 'application/json' });
    const body = await readBody(req, 16 << 10);
    let j: { challenge?: unknown; proof?: unknown };
    try {
      j = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch (e) {
      throw new HttpError(400, `malformed JSON: ${(e as Error).message}`);
    }
    if (typeof j?.challenge !== 'string' || !/^([0-9a-f]{2})+$/i.test(j.challenge)) throw new HttpError(400, '"challenge" expected the hex string from GET /v1/devices/challenge');
    if (typeof j.proof !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(j.proof)) throw new HttpError(400, '"proof" expected base64 of the pairing proof (COSE_Sign1)');
    const challenge = Buffer.from(j.challenge, 'hex');
    const proof = new Uint8Array(Buffer.from(j.proof, 'base64'));
    const owner = (j as { owner?: OwnerRequest }).owner;
    if (owner !== undefined) {
      if (!opts.owners) throw new HttpError(400, '"owner": this node anchors on no chain, so it binds no owners');
      if (typeof owner !== 'object' || owner === null) throw new HttpError(400, '"owner" expected {"address": "0x…", "signature": "0x…"}');
      const why = await opts.owners.check(challenge, proof, owner);
      if (why) throw new HttpError(400, `bad owner: ${why}`);
    }
    const r = ingest.register(challenge, proof);
    if (!r.ok) throw new HttpError(r.status, r.error);
    if (owner !== undefined) opts.owners!.record(r.device.id, Buffer.from(r.device.publicKey, 'hex'), challenge, owner);
    send(res, 201, r.device, { location: `/v1/devices/${r.device.id}` });
    return 201;
  }

  function getReports(id: string, u: URL, res: ServerResponse): number {
    if (!store.getDevice(id)) throw new HttpError(404, `no device ${id}`);
    const after = intParam(u, 'after', -1, -1, Number.MAX_SAFE_INTEGER);
    const limit = intParam(u, 'limit', 100, 1, 1000);
    const rows = store.listAccepted(id, after, limit);
    send(res, 200, {
      device: id,
      reports: rows.map((r) => ({
        seq: r.seq,
        hash: hex(r.hash),
        prev: hex(r.prev),
        receivedAt: new Date(r.receivedAt).toISOString(),
        acceptedAt: new Date(r.acceptedAt).toISOString(),
        windowStart: r.windowStart,
        windowEnd: r.windowEnd,
        flows: r.flows,
        cose: b64(r.bytes),
      })),
      next: rows.length === limit ? `/v1/devices/${id}/reports?after=${rows[rows.length - 1].seq}&limit=${limit}` : null,
    });
    return 200;
  }

  function getEnergy(id: string, u: URL, res: ServerResponse): number {
    if (!store.getDevice(id)) throw new HttpError(404, `no device ${id}`);
    const to = timeParam(u, 'to', Math.floor(Date.now() / 1000) + 1);
    const from = timeParam(u, 'from', 0);
    if (from >= to) throw new HttpError(400, `"from" (${from}) must be before "to" (${to})`);
    const bucket = bucketParam(u);
    type Packs = Record<string, Record<string, { unit: string; total: number; reports: number }>>;
    const buckets = new Map<number, Packs>();
    const unsynced: Packs = {};
    const totals: Packs = {};
    const add = (into: Packs, pack: number, flow: string, unit: string, total: number, reports: number) => {
      const p = (into[pack] ??= {});
      const f = (p[flow] ??= { unit, total: 0, reports: 0 });
      f.total += total;
      f.reports += reports;
    };
    for (const row of store.energy(id, from, to, bucket)) {
      if (row.bucket === null) {
        add(unsynced, row.pack, row.flow, row.unit, row.total, row.reports);
        continue;
      }
      if (!buckets.has(row.bucket)) buckets.set(row.bucket, {});
      add(buckets.get(row.bucket)!, row.pack, row.flow, row.unit, row.total, row.reports);
      add(totals, row.pack, row.flow, row.unit, row.total, row.reports);
    }
    send(res, 200, {
      device: id,
      from,
      to,
      bucket,
      buckets: [...buckets].map(([start, packs]) => ({ start, packs })),
      totals,
      unsynced,
    });
    return 200;
  }

  async function getExport(u: URL, res: ServerResponse): Promise<number> {
    let after = intParam(u, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    // Pages keep memory flat however large the ledger is; `drain` keeps a slow reader from
    // making us buffer the whole table.
    for (;;) {
      const rows = store.exportAccepted(after, 1000);
      if (!rows.length) break;
      for (const r of rows) {
        const line = JSON.stringify({
          cursor: r.rowId,
          device: r.deviceId,
          seq: r.seq,
          hash: hex(r.hash),
          receivedAt: new Date(r.receivedAt).toISOString(),
          acceptedAt: new Date(r.acceptedAt).toISOString(),
          cose: b64(r.bytes),
        });
        if (!res.write(line + '\n')) {
          // Wait for the reader, or stop if it went away (no drain would ever come).
          const gone = await new Promise<boolean>((ok) => {
            const onDrain = () => { res.off('close', onClose); ok(false); };
            const onClose = () => { res.off('drain', onDrain); ok(true); };
            res.once('drain', onDrain);
            res.once('close', onClose);
          });
          if (gone) return 200;
        }
      }
      after = rows[rows.length - 1].rowId;
    }
    res.end();
    return 200;
  }

  async function route(req: IncomingMessage, res: ServerResponse, u: URL, ctx: { route: string }): Promise<{ route: string; status: number }> {
    const p = u.pathname;
    const m = req.method ?? 'GET';
    const only = (method: string) => {
      if (m !== method) throw new HttpError(405, `${m} not allowed on ${p}`, { allow: method });
    };
    if (p === '/v1/reports') {
      ctx.route = 'reports';
      only('POST');
      return { route: 'reports', status: await postReports(req, res) };
    }
    if (p === '/v1/devices/challenge') {
      ctx.route = 'challenge';
      only('GET');
      const c = ingest.challenge();
      // A node that anchors names its chain and contract: the EIP-712 domain an owner signs in.
      const anchor = opts.owners?.chain;
      send(res, 200, { challenge: hex(c.challenge), expiresAt: new Date(c.expiresAt).toISOString(), ...(anchor ? { anchor } : {}) }, { 'cache-control': 'no-store' });
      return { route: 'challenge', status: 200 };
    }
    if (p === '/v1/devices') {
      ctx.route = 'register';
      only('POST');
      return { route: 'register', status: await postDevice(req, res) };
    }
    if (p === '/v1/gaps') {
      ctx.route = 'gaps';
      only('GET');
      send(res, 200, { gaps: ingest.openGaps().map((d) => ({ device: d.id, ...d.gap })) });
      return { route: 'gaps', status: 200 };
    }
    let dm = /^\/v1\/devices\/([^/]+)$/.exec(p);
    if (dm) {
      ctx.route = 'device';
      only('GET');
      const d = ingest.device(deviceId(dm[1]));
      if (!d) throw new HttpError(404, `no device ${dm[1]}`);
      send(res, 200, d);
      return { route: 'device', status: 200 };
    }
    if ((dm = /^\/v1\/devices\/([^/]+)\/revoke$/.exec(p))) {
      ctx.route = 'revoke';
      only('POST');
      requireOperator(req);
      const d = ingest.revoke(deviceId(dm[1]));
      if (!d) throw new HttpError(404, `no device ${dm[1]}`);
      send(res, 200, d);
      return { route: 'revoke', status: 200 };
    }
    if ((dm = /^\/v1\/devices\/([^/]+)\/reports$/.exec(p))) {
      ctx.route = 'device_reports';
      only('GET');
      return { route: 'device_reports', status: getReports(deviceId(dm[1]), u, res) };
    }
    if ((dm = /^\/v1\/reports\/([^/]+)\/(\d{1,15})\/proof$/.exec(p))) {
      ctx.route = 'proof';
      only('GET');
      const a = opts.proof?.(deviceId(dm[1]), Number(dm[2])) ?? { status: 404, error: 'this node keeps no batches' };
      if (a.status !== 200) throw new HttpError(a.status, a.error ?? 'no proof');
      send(res, 200, a.body);
      return { route: 'proof', status: 200 };
    }
    if ((dm = /^\/v1\/devices\/([^/]+)\/energy$/.exec(p))) {
      ctx.route = 'energy';
      only('GET');
      return { route: 'energy', status: getEnergy(deviceId(dm[1]), u, res) };
    }
    if (p === '/v1/export') {
      ctx.route = 'export';
      only('GET');
      return { route: 'export', status: await getExport(u, res) };
    }
    if (p === '/healthz') {
      ctx.route = 'healthz';
      only('GET');
      send(res, 200, { status: 'ok', schemaVersion: opts.schemaVersion, workers: opts.workers, queueDepth: ingest.queueDepth() });
      return { route: 'healthz', status: 200 };
    }
    if (p === '/metrics') {
      ctx.route = 'metrics';
      only('GET');
      const text = metrics.render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return { route: 'metrics', status: 200 };
    }
    throw new HttpError(404, `no route ${m} ${p}`);
  }

  return createServer((req, res) => {
    const t0 = process.hrtime.bigint();
    const u = new URL(req.url ?? '/', 'http://node');
    const ctx = { route: 'unknown' };
    route(req, res, u, ctx)
      .then(
        (r) => r,
        (err: unknown) => {
          let status = 500;
          let message = 'internal error';
          let headers: Record<string, string> = {};
          if (err instanceof HttpError) {
            status = err.status;
            message = err.message;
            headers = err.headers;
          } else if (err instanceof StorageError) {
            status = 503;
            message = err.message;
            headers = { 'retry-after': '5' };
          } else {
            logger.error('request failed', { err: err as Error, path: u.pathname });
          }
          if (!res.headersSent) send(res, status, { error: message }, headers);
          else res.destroy();
          return { route: ctx.route, status };
        },
      )
      .then(({ route, status }) => {
        metrics.httpRequests.inc({ route, status: String(status) });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        logger.debug('http', { method: req.method, path: u.pathname, status, ms: Math.round(ms * 1000) / 1000 });
      });
  });
}

/** Listens and resolves with the base URL (port 0 picks a free port). */
export function listen(server: Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve(`http://${h}:${a.port}`);
    });
  });
}
