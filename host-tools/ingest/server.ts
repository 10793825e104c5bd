// HTTP API of the ingest node, versioned under /v1 (documented in openapi.yaml and README).
// node:http only: every route is small, and the body limits and error answers are ours.
//
// ROUTES below is the whole API: method, path (openapi.yaml's syntax, `{id}` = a device id)
// and the function that answers it. dispatch() finds the route, checks the method and the
// operator token, parses the device id, runs the handler and maps errors to answers.
import { toHex } from '../../protocol/bytes';
import crypto from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BodyError, TooManyReports, parseMediaType, splitReports } from './body';
import { StorageError, type Ingest } from './ingest';
import type { ReportAnswer } from './types';
import { Admission, reportsInBody } from './admission';
import type { Store } from './store';
import type { Logger } from './log';
import { Gauge, type IngestMetrics } from './metrics';
import type { OwnerHook, OwnerRequest } from './owners';
import { RateLimiter } from './limits';
import type { PriceSeries } from '../testnet/prices';
import { addRecord, divRoundHalfEven, emptyBalance, recordOfStored } from '../testnet/settlement';

export interface ServerOptions {
  ingest: Ingest;
  store: Store;
  logger: Logger;
  metrics: IngestMetrics;
  /** Largest accepted request body in bytes (413 beyond). */
  maxBodyBytes?: number;
  /** Most reports in one request (413 beyond). */
  maxReports?: number;
  /** Reports being read, verified or committed at once; further requests wait unread (admission.ts). */
  maxInFlightReports?: number;
  /** Bearer token for operator routes (revoke). Unset: operator routes answer loopback clients only. */
  adminToken?: string;
  workers: number;
  schemaVersion: number;
  /** Owner bindings at pairing (host-tools/ingest/owners.ts); absent: "owner" is refused. */
  owners?: OwnerHook;
  /** GET /v1/reports/{id}/{seq}/proof (host-tools/ingest/batches.ts); absent: 404. */
  proof?: (device: string, seq: number) => { status: number; body?: unknown; error?: string };
  /** Folder of the web app (dist/app, made by `deep build`) served under /app/; absent: 404. */
  appDir?: string;
  /** GET /v1/grid: the mini-grid this node serves (the testnet's hubs, prices, balances); absent: 404. */
  grid?: () => unknown;
  /** The interval prices the node values energy at (GET /v1/prices, /v1/devices/{id}/money); absent: none. */
  prices?: PriceSeries;
  /** GET /v1/market/intervals (host-tools/market/publish.ts, protocol/MARKET.md §6): a page of results after `afterS`, oldest first, and the next page's `after`; absent: 404. */
  market?: (q: { afterS: number; hub: string | undefined; limit: number }) => { intervals: unknown[]; next: number | null };
  /** Riders' policies (host-tools/market/policy-store.ts); `set` merges a partial policy and throws a RangeError/TypeError naming the bad field; absent: 404. */
  policies?: { get(device: string): unknown; set(device: string, partial: unknown): unknown };
  /** Bearer token a client must send to register a device; unset: anyone may register. */
  enrollToken?: string;
  /** Per client address, per minute (0: no limit). */
  limits?: Partial<RateLimits>;
}

export interface RateLimits {
  /** Requests to the registration routes (challenge and register). */
  registerPerMin: number;
  /** Rejected reports; once spent, POST /v1/reports answers 429 until the allowance refills. */
  rejectionsPerMin: number;
}

/** About 150 ms of verification on two cores: enough queued that no worker waits for work. */
export const DEFAULT_MAX_IN_FLIGHT_REPORTS = 2000;

export const DEFAULT_LIMITS: RateLimits = { registerPerMin: 60, rejectionsPerMin: 600 };

/** Everything the handlers use, fixed when the server is created. */
interface ServerState {
  ingest: Ingest;
  store: Store;
  logger: Logger;
  metrics: IngestMetrics;
  maxBody: number;
  maxReports: number;
  admission: Admission;
  /** SHA-256 of the operator token; undefined: no token, loopback clients only. */
  adminTokenDigest: Buffer | undefined;
  workers: number;
  schemaVersion: number;
  owners: OwnerHook | undefined;
  proof: ServerOptions['proof'];
  appDir: string | undefined;
  grid: (() => unknown) | undefined;
  prices: PriceSeries | undefined;
  market: ServerOptions['market'];
  policies: ServerOptions['policies'];
  /** SHA-256 of the enrollment token; undefined: registration is open. */
  enrollTokenDigest: Buffer | undefined;
  registerLimit: RateLimiter;
  rejectLimit: RateLimiter;
}

/** One request as a handler sees it. `id` is set on the routes whose path has `{id}`. */
interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  id: string;
  /** The `{seq}` segment of the routes that have one, else -1. */
  seq: number;
  /** The `{file}` segment of the routes that have one, else ''. */
  file: string;
}

type Handler = (s: ServerState, c: Call) => number | Promise<number>;

interface Route {
  method: 'GET' | 'POST';
  /** Path as in openapi.yaml; `{id}` matches one segment, a device id; `{seq}` a report's seq. */
  path: string;
  /** Label of deep_ingest_http_requests_total. */
  name: string;
  /** Operator route: bearer token, or loopback clients when the node has no token. */
  operator?: boolean;
  handle: Handler;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

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

/** The `{id}` path segment: a device id (the kid, 16 hex digits), any case. */
function deviceIdParam(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // URIError: a % not followed by two hex digits, or bytes that are not UTF-8.
    throw new HttpError(400, `device id ${JSON.stringify(raw)} is not valid percent-encoded UTF-8 (RFC 3986 §2.1)`);
  }
  const id = decoded.toLowerCase();
  if (!DEVICE_ID.test(id)) throw new HttpError(400, `device id expected 16 hex digits (the kid), got ${JSON.stringify(raw)}`);
  return id;
}

const sha256 = (text: string): Buffer => crypto.createHash('sha256').update(text, 'utf8').digest();

/**
 * The credentials of an `Authorization: Bearer TOKEN` header (RFC 6750 §2.1). The scheme
 * is case-insensitive (RFC 7235 §2.1), the token is taken as sent.
 */
function bearerToken(header: string | undefined): string | undefined {
  const m = /^bearer +(.*)$/i.exec(header ?? '');
  return m ? m[1] : undefined;
}

/**
 * Whether the token sent is the operator's, in time independent of how much of it is
 * right: both sides are hashed to 32 bytes first, so timingSafeEqual (which needs equal
 * lengths) also hides the length of the real token.
 */
function isTokenOf(sent: string | undefined, digest: Buffer): boolean {
  // Called through the module object so that a test can observe it.
  return crypto.timingSafeEqual(sha256(sent ?? ''), digest) && sent !== undefined;
}

function requireOperator(s: ServerState, req: IncomingMessage): void {
  if (s.adminTokenDigest !== undefined) {
    if (!isTokenOf(bearerToken(req.headers.authorization), s.adminTokenDigest)) {
      throw new HttpError(401, 'operator route: missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
    }
    return;
  }
  const a = req.socket.remoteAddress ?? '';
  if (a !== '127.0.0.1' && a !== '::1' && a !== '::ffff:127.0.0.1') {
    throw new HttpError(403, 'operator route: only loopback clients may call it when the node runs without --admin-token');
  }
}

/** 429 when the client's address has spent its allowance of `limit`. */
function checkLimit(s: ServerState, req: IncomingMessage, limiter: RateLimiter, name: string, what: string): void {
  const wait = limiter.retryAfterS(req.socket.remoteAddress ?? '');
  if (!wait) return;
  s.metrics.rateLimited.inc({ limit: name });
  throw new HttpError(429, `${what} limit of ${limiter.perMin} per minute reached for this client address; retry in ${wait} s`, { 'retry-after': String(wait) });
}

function limitRegistration(s: ServerState, req: IncomingMessage): void {
  checkLimit(s, req, s.registerLimit, 'register', 'registration');
  s.registerLimit.take(req.socket.remoteAddress ?? '');
}

async function requireDevice(s: ServerState, id: string): Promise<void> {
  if (!(await s.store.getDevice(id))) throw new HttpError(404, `no device ${id}`);
}

// --- handlers, one per route ---

async function postReports(s: ServerState, { req, res }: Call): Promise<number> {
  const type = parseMediaType(req.headers['content-type']);
  if (!type) {
    throw new HttpError(415, `content type ${JSON.stringify(req.headers['content-type'] ?? '')} not supported: send application/cose (one COSE_Sign1), application/cbor (an array of them) or application/cbor-seq`, {
      accept: 'application/cose, application/cbor, application/cbor-seq',
    });
  }
  // A client whose reports keep being rejected pays before the node verifies anything more.
  checkLimit(s, req, s.rejectLimit, 'rejections', 'rejected reports');
  // The body stays unread in the connection while the node has enough to verify (admission.ts).
  const expected = Math.min(reportsInBody(Number(req.headers['content-length'])), s.maxReports);
  const wait = s.admission.enter(expected);
  if (wait) await wait;
  let submitted: Promise<ReportAnswer[]>;
  try {
    const body = await readBody(req, s.maxBody);
    let spans;
    try {
      spans = splitReports(body, type, s.maxReports);
    } catch (e) {
      if (e instanceof BodyError) throw new HttpError(400, `malformed CBOR: ${e.message}`);
      if (e instanceof TooManyReports) throw new HttpError(413, e.message);
      throw e;
    }
    // submit counts its reports in flight before it returns: only then is the place handed on.
    submitted = s.ingest.submit(spans.map((sp) => sp.bytes));
  } finally {
    s.admission.read(expected);
  }
  let answers: ReportAnswer[];
  try {
    answers = await submitted;
  } finally {
    s.admission.pump();
  }
  const summary = { accepted: 0, duplicate: 0, rejected: 0 };
  for (const a of answers) summary[a.status]++;
  s.rejectLimit.take(req.socket.remoteAddress ?? '', summary.rejected);
  send(res, 200, { ...summary, results: answers });
  return 200;
}

async function getChallenge(s: ServerState, { req, res }: Call): Promise<number> {
  limitRegistration(s, req);
  const c = await s.ingest.challenge();
  // A node that anchors names its chain and contract: the EIP-712 domain an owner signs in.
  const anchor = s.owners?.chain;
  send(res, 200, { challenge: toHex(c.challenge), expiresAt: new Date(c.expiresAt).toISOString(), ...(anchor ? { anchor } : {}) }, { 'cache-control': 'no-store' });
  return 200;
}

async function postDevice(s: ServerState, { req, res }: Call): Promise<number> {
  limitRegistration(s, req);
  if (s.enrollTokenDigest !== undefined && !isTokenOf(bearerToken(req.headers.authorization), s.enrollTokenDigest)) {
    throw new HttpError(401, 'this node registers devices only with its enrollment token: send Authorization: Bearer TOKEN', { 'www-authenticate': 'Bearer' });
  }
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
    if (!s.owners) throw new HttpError(400, '"owner": this node anchors on no chain, so it binds no owners');
    if (typeof owner !== 'object' || owner === null) throw new HttpError(400, '"owner" expected {"address": "0x…", "signature": "0x…"}');
    const why = await s.owners.check(challenge, proof, owner);
    if (why) throw new HttpError(400, `bad owner: ${why}`);
  }
  const r = await s.ingest.register(challenge, proof);
  if (!r.ok) throw new HttpError(r.status, r.error);
  if (owner !== undefined) s.owners!.record(r.device.id, Buffer.from(r.device.publicKey, 'hex'), challenge, owner);
  send(res, 201, r.device, { location: `/v1/devices/${r.device.id}` });
  return 201;
}

async function getDevices(s: ServerState, { res }: Call): Promise<number> {
  const devices = [];
  for (const rec of await s.store.listDevices()) {
    const d = (await s.ingest.device(rec.id))!;
    const last = d.head ? (await s.store.listAccepted(rec.id, d.head.seq - 1, 1))[0] : undefined;
    devices.push({ ...d, lastWindowEnd: last?.windowEnd ?? null, lastAcceptedAt: last ? new Date(last.acceptedAt).toISOString() : null });
  }
  send(res, 200, { devices });
  return 200;
}

async function getGaps(s: ServerState, { res }: Call): Promise<number> {
  send(res, 200, { gaps: (await s.ingest.openGaps()).map((d) => ({ device: d.id, ...d.gap })) });
  return 200;
}

async function getDevice(s: ServerState, { res, id }: Call): Promise<number> {
  const d = await s.ingest.device(id);
  if (!d) throw new HttpError(404, `no device ${id}`);
  send(res, 200, d);
  return 200;
}

async function postRevoke(s: ServerState, { res, id }: Call): Promise<number> {
  const d = await s.ingest.revoke(id);
  if (!d) throw new HttpError(404, `no device ${id}`);
  send(res, 200, d);
  return 200;
}

async function getDeviceReports(s: ServerState, { res, url, id }: Call): Promise<number> {
  await requireDevice(s, id);
  const after = intParam(url, 'after', -1, -1, Number.MAX_SAFE_INTEGER);
  const limit = intParam(url, 'limit', 100, 1, 1000);
  const rows = await s.store.listAccepted(id, after, limit);
  send(res, 200, {
    device: id,
    reports: rows.map((r) => ({
      seq: r.seq,
      hash: toHex(r.hash),
      prev: toHex(r.prev),
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

type PackTotals = Record<string, Record<string, { unit: string; total: number; reports: number }>>;

function addTotal(into: PackTotals, pack: number, flow: string, unit: string, total: number, reports: number): void {
  const p = (into[pack] ??= {});
  const f = (p[flow] ??= { unit, total: 0, reports: 0 });
  f.total += total;
  f.reports += reports;
}

async function getEnergy(s: ServerState, { res, url, id }: Call): Promise<number> {
  await requireDevice(s, id);
  const to = timeParam(url, 'to', Math.floor(Date.now() / 1000) + 1);
  const from = timeParam(url, 'from', 0);
  if (from >= to) throw new HttpError(400, `"from" (${from}) must be before "to" (${to})`);
  const bucket = bucketParam(url);
  const buckets = new Map<number, PackTotals>();
  const unsynced: PackTotals = {};
  const totals: PackTotals = {};
  for (const row of await s.store.energy(id, from, to, bucket)) {
    if (row.bucket === null) {
      addTotal(unsynced, row.pack, row.flow, row.unit, row.total, row.reports);
      continue;
    }
    if (!buckets.has(row.bucket)) buckets.set(row.bucket, {});
    addTotal(buckets.get(row.bucket)!, row.pack, row.flow, row.unit, row.total, row.reports);
    addTotal(totals, row.pack, row.flow, row.unit, row.total, row.reports);
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

async function getExport(s: ServerState, { res, url }: Call): Promise<number> {
  let after = intParam(url, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  // Pages keep memory flat however large the ledger is; `drain` keeps a slow reader from
  // making us buffer the whole table.
  for (;;) {
    const rows = await s.store.exportAccepted(after, 1000);
    if (!rows.length) break;
    for (const r of rows) {
      const line = JSON.stringify({
        cursor: r.rowId,
        device: r.deviceId,
        seq: r.seq,
        hash: toHex(r.hash),
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

function getProof(s: ServerState, { res, id, seq }: Call): number {
  const a = s.proof?.(id, seq) ?? { status: 404, error: 'this node keeps no batches' };
  if (a.status !== 200) throw new HttpError(a.status, a.error ?? 'no proof');
  send(res, 200, a.body);
  return 200;
}

function getGrid(s: ServerState, { res }: Call): number {
  if (!s.grid) throw new HttpError(404, 'this node serves no mini-grid (deep testnet serves one)');
  send(res, 200, s.grid(), { 'cache-control': 'no-store' });
  return 200;
}

function getPrices(s: ServerState, { res }: Call): number {
  const p = s.prices;
  send(res, 200, { prices: p ? { currency: p.currency, kind: p.kind, intervals: p.intervals } : null });
  return 200;
}

/**
 * A device's energy bought and sold at the interval prices, settled as the testnet's
 * summary settles (host-tools/testnet/settlement.ts): synced reports whose window starts
 * in [from, to), and every report made before the clock synced, unpriced.
 */
async function getMoney(s: ServerState, { res, url, id }: Call): Promise<number> {
  await requireDevice(s, id);
  if (!s.prices) throw new HttpError(404, 'this node has no price table (deep ingest --prices FILE)');
  const to = timeParam(url, 'to', Math.floor(Date.now() / 1000) + 1);
  const from = timeParam(url, 'from', 0);
  if (from >= to) throw new HttpError(400, `"from" (${from}) must be before "to" (${to})`);
  const b = emptyBalance(id);
  for (let after = -1; ;) {
    const rows = await s.store.listAccepted(id, after, 1000);
    for (const r of rows) {
      if (r.windowStart !== null && (r.windowStart < from || r.windowStart >= to)) continue;
      addRecord(s.prices, b, recordOfStored(id, r));
    }
    if (rows.length < 1000) break;
    after = rows[rows.length - 1].seq;
  }
  send(res, 200, {
    device: id, from, to, currency: s.prices.currency, reports: b.reports,
    importMwh: b.importMwh, exportMwh: b.exportMwh, unpricedImportMwh: b.unpricedImportMwh, unpricedExportMwh: b.unpricedExportMwh,
    costMicro: String(divRoundHalfEven(b.costPico, 1_000_000n)), revenueMicro: String(divRoundHalfEven(b.revenuePico, 1_000_000n)), balanceMicro: String(b.balanceMicro),
  });
  return 200;
}

function getMarketIntervals(s: ServerState, { res, url }: Call): number {
  if (!s.market) throw new HttpError(404, 'this node runs no market');
  const afterS = intParam(url, 'after', -1, -1, Number.MAX_SAFE_INTEGER);
  const limit = intParam(url, 'limit', 500, 1, 5000);
  const hub = url.searchParams.get('hub') ?? undefined;
  const page = s.market({ afterS, hub, limit });
  send(res, 200, { intervals: page.intervals, next: page.next });
  return 200;
}

async function getPolicy(s: ServerState, { res, id }: Call): Promise<number> {
  if (!s.policies) throw new HttpError(404, 'this node keeps no policies');
  await requireDevice(s, id);
  send(res, 200, s.policies.get(id));
  return 200;
}

async function postPolicy(s: ServerState, { req, res, id }: Call): Promise<number> {
  if (!s.policies) throw new HttpError(404, 'this node keeps no policies');
  await requireDevice(s, id);
  const ct = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (ct !== 'application/json') throw new HttpError(415, 'send application/json: the policy fields to change', { accept: 'application/json' });
  const body = await readBody(req, 4 << 10);
  let j: unknown;
  try {
    j = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `malformed JSON: ${(e as Error).message}`);
  }
  let out: unknown;
  try {
    out = s.policies.set(id, j);
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError || (e as Error).name === 'PolicyError') throw new HttpError(400, (e as Error).message);
    throw e;
  }
  send(res, 200, out);
  return 200;
}

function getHealth(s: ServerState, { res }: Call): number {
  send(res, 200, { status: 'ok', schemaVersion: s.schemaVersion, workers: s.workers, queueDepth: s.ingest.queueDepth() });
  return 200;
}

async function getMetrics(s: ServerState, { res }: Call): Promise<number> {
  const text = await s.metrics.render();
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return 200;
}

// The web app's files: a flat folder, names without a leading dot (the route's pattern), so
// no request can reach outside it. Small files, read at each request: a rebuilt app is
// served at once.
const APP_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

async function getAppFile(s: ServerState, { res, file }: Call): Promise<number> {
  const name = file || 'index.html';
  const type = APP_TYPES[path.extname(name)];
  if (!s.appDir) throw new HttpError(404, 'this node serves no web app');
  if (!type) throw new HttpError(404, `no app file ${name}`);
  let body: Buffer;
  try {
    body = await readFile(path.join(s.appDir, name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    throw new HttpError(404, name === 'index.html' ? `the web app is not built (${s.appDir}/index.html missing): run \`npx deep build\`` : `no app file ${name}`);
  }
  // The page itself is always fetched again (it names the current bundle); the rest may be cached briefly.
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': name === 'index.html' ? 'no-cache' : 'max-age=60', 'x-content-type-options': 'nosniff' });
  res.end(body);
  return 200;
}

function getRoot(_s: ServerState, { res }: Call): number {
  res.writeHead(302, { location: '/app/', 'content-length': 0 });
  res.end();
  return 302;
}

// --- routing ---

/** The API. On a path two routes match, the first listed wins (challenge before {id}). */
const ROUTES: Route[] = [
  { method: 'POST', path: '/v1/reports', name: 'reports', handle: postReports },
  { method: 'GET', path: '/v1/devices/challenge', name: 'challenge', handle: getChallenge },
  { method: 'POST', path: '/v1/devices', name: 'register', handle: postDevice },
  { method: 'GET', path: '/v1/devices', name: 'devices', operator: true, handle: getDevices },
  { method: 'GET', path: '/v1/gaps', name: 'gaps', handle: getGaps },
  { method: 'GET', path: '/v1/devices/{id}', name: 'device', handle: getDevice },
  { method: 'POST', path: '/v1/devices/{id}/revoke', name: 'revoke', operator: true, handle: postRevoke },
  { method: 'GET', path: '/v1/devices/{id}/reports', name: 'device_reports', handle: getDeviceReports },
  { method: 'GET', path: '/v1/devices/{id}/energy', name: 'energy', handle: getEnergy },
  { method: 'GET', path: '/v1/devices/{id}/money', name: 'money', handle: getMoney },
  { method: 'GET', path: '/v1/prices', name: 'prices', handle: getPrices },
  { method: 'GET', path: '/v1/reports/{id}/{seq}/proof', name: 'proof', handle: getProof },
  { method: 'GET', path: '/v1/export', name: 'export', handle: getExport },
  { method: 'GET', path: '/v1/grid', name: 'grid', handle: getGrid },
  { method: 'GET', path: '/v1/market/intervals', name: 'market_intervals', handle: getMarketIntervals },
  { method: 'GET', path: '/v1/devices/{id}/policy', name: 'policy', operator: true, handle: getPolicy },
  { method: 'POST', path: '/v1/devices/{id}/policy', name: 'policy_set', operator: true, handle: postPolicy },
  { method: 'GET', path: '/healthz', name: 'healthz', handle: getHealth },
  { method: 'GET', path: '/metrics', name: 'metrics', handle: getMetrics },
  { method: 'GET', path: '/', name: 'root', handle: getRoot },
  { method: 'GET', path: '/app/', name: 'app', handle: getAppFile },
  { method: 'GET', path: '/app/{file}', name: 'app', handle: getAppFile },
];

/** A route's path as a regex over the raw (still percent-encoded) pathname. */
function pathRegex(path: string): RegExp {
  return new RegExp(`^${path.replace('{id}', '(?<id>[^/]+)').replace('{seq}', '(?<seq>\\d{1,15})').replace('{file}', '(?<file>[A-Za-z0-9_-][A-Za-z0-9._-]*)')}$`);
}

const MATCHERS = ROUTES.map((route) => ({ route, re: pathRegex(route.path) }));

/** Method and path of every route, for the test that compares them with openapi.yaml. */
export const ROUTE_TABLE: readonly { method: string; path: string }[] = ROUTES.map((r) => ({ method: r.method, path: r.path }));

/** The route that serves `path` (404 if none), and the raw `{id}` segment if it has one. */
function findPath(method: string, path: string): { routes: Route[]; rawId: string | undefined; seq: number; file: string } {
  for (const { route, re } of MATCHERS) {
    const m = re.exec(path);
    const g = m?.groups ?? {};
    if (m) return { routes: ROUTES.filter((r) => r.path === route.path), rawId: g.id, seq: g.seq === undefined ? -1 : Number(g.seq), file: g.file ?? '' };
  }
  throw new HttpError(404, `no route ${method} ${path}`);
}

/** The request target as a URL; node:http passes targets WHATWG URL refuses (`//[`). */
function requestUrl(target: string): URL {
  try {
    return new URL(target, 'http://node');
  } catch {
    throw new HttpError(400, `request target ${JSON.stringify(target)} is not a valid URL path`);
  }
}

/** Answers one request; `label` gets the route name and path for the metrics and the log. */
async function dispatch(s: ServerState, req: IncomingMessage, res: ServerResponse, label: { route: string; path: string }): Promise<number> {
  const url = requestUrl(req.url ?? '/');
  label.path = url.pathname;
  const method = req.method ?? 'GET';
  const { routes, rawId, seq, file } = findPath(method, url.pathname);
  label.route = routes[0].name;
  const route = routes.find((r) => r.method === method);
  if (!route) throw new HttpError(405, `${method} not allowed on ${url.pathname}`, { allow: routes.map((r) => r.method).join(', ') });
  label.route = route.name;
  if (route.operator) requireOperator(s, req);
  const id = rawId === undefined ? '' : deviceIdParam(rawId);
  return route.handle(s, { req, res, url, id, seq, file });
}

/** Status and body of a failed request; unexpected errors are logged and answer 500. */
function errorAnswer(s: ServerState, err: unknown, path: string): { status: number; message: string; headers: Record<string, string> } {
  if (err instanceof HttpError) return { status: err.status, message: err.message, headers: err.headers };
  if (err instanceof StorageError) return { status: 503, message: err.message, headers: { 'retry-after': '5' } };
  s.logger.error('request failed', { err: err as Error, path });
  return { status: 500, message: 'internal error', headers: {} };
}

export function createIngestServer(opts: ServerOptions): Server {
  const s: ServerState = {
    ingest: opts.ingest,
    store: opts.store,
    logger: opts.logger,
    metrics: opts.metrics,
    maxBody: opts.maxBodyBytes ?? 1 << 20,
    maxReports: opts.maxReports ?? 10_000,
    admission: new Admission(opts.maxInFlightReports ?? DEFAULT_MAX_IN_FLIGHT_REPORTS, () => opts.ingest.queueDepth()),
    adminTokenDigest: opts.adminToken === undefined ? undefined : sha256(opts.adminToken),
    workers: opts.workers,
    schemaVersion: opts.schemaVersion,
    owners: opts.owners,
    proof: opts.proof,
    appDir: opts.appDir,
    grid: opts.grid,
    prices: opts.prices,
    market: opts.market,
    policies: opts.policies,
    enrollTokenDigest: opts.enrollToken === undefined ? undefined : sha256(opts.enrollToken),
    registerLimit: new RateLimiter(opts.limits?.registerPerMin ?? DEFAULT_LIMITS.registerPerMin),
    rejectLimit: new RateLimiter(opts.limits?.rejectionsPerMin ?? DEFAULT_LIMITS.rejectionsPerMin),
  };
  s.metrics.add(new Gauge('deep_ingest_admission_waiting', 'Report requests waiting with their body unread for room under --max-in-flight.', () => s.admission.queued));
  return createServer((req, res) => {
    const t0 = process.hrtime.bigint();
    const label = { route: 'unknown', path: req.url ?? '/' };
    dispatch(s, req, res, label)
      .catch((err: unknown) => {
        const e = errorAnswer(s, err, label.path);
        if (!res.headersSent) send(res, e.status, { error: e.message }, e.headers);
        else res.destroy();
        return e.status;
      })
      .then((status) => {
        s.metrics.httpRequests.inc({ route: label.route, status: String(status) });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        s.logger.debug('http', { method: req.method, path: label.path, status, ms: Math.round(ms * 1000) / 1000 });
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
