// Assembles an ingest node: SQLite store, verify worker pool, pipeline, HTTP server, gap
// watch. `deep ingest` and the tests start it through startIngestNode().
import { fileURLToPath } from 'node:url';
import { verifyPairingProof } from '../verify';
import { createIngest, type PairingCheck } from './ingest';
import { createLogger, type Logger } from './log';
import { createMetrics, Gauge } from './metrics';
import { createBatcher, type Batcher, type BatchOptions } from './batches';
import type { OwnerHook } from './owners';
import type { PriceSeries } from '../testnet/prices';
import type { Publisher, PublisherOptions } from '../ledger/evm/publisher';
import type { FabricPublisher, FabricPublisherOptions } from '../ledger/fabric/publisher';
import { createPool } from './pool';
import { createIngestServer, listen, type RateLimits, type ServerOptions } from './server';
import { openPolicyFile } from '../market/policy-store';
import { openSqliteStore, type SqliteStore } from './sqlite';
import type { Store } from './store';

export interface NodeOptions {
  /**
   * SQLite file (created with its schema if absent), or a postgres:// URL (its schema is
   * created if absent; several nodes may share it). Ignored when `store` is given.
   */
  db?: string;
  store?: Store;
  port?: number;
  host?: string;
  /** Verify threads; default: one per core. */
  workers?: number;
  logger?: Logger;
  adminToken?: string;
  maxBodyBytes?: number;
  /** Reports verified, queued or committing at once before further requests wait unread (admission.ts). */
  maxInFlightReports?: number;
  /** Pipeline limits (see IngestOptions): pending window and challenge lifetime. */
  maxAhead?: number;
  maxPending?: number;
  challengeTtlMs?: number;
  /** A gap open longer than this is logged as a warning (and listed by GET /v1/gaps). */
  gapAlertMs?: number;
  /** When batches of accepted reports close (protocol/SPEC.md §6). */
  batch?: BatchOptions;
  /** Fork reports kept as evidence per device (default 16); later ones are counted only. */
  maxForkEvidence?: number;
  /** Repeated rejections are logged once per device and kind per interval (default 60 s). */
  logIntervalMs?: number;
  /** Per client address and minute: registration requests, rejected reports (0: no limit). */
  limits?: Partial<RateLimits>;
  /** Registration needs this bearer token (deep ingest --enroll-token-file). */
  enrollToken?: string;
  /** Anchor the batches on an EVM chain (host-tools/ledger/evm/publisher.ts). */
  anchor?: Omit<PublisherOptions, 'logger'>;
  /** Folder of the web app served under /app/; default: the project's dist/app (`deep build`). */
  appDir?: string;
  /** The mini-grid's state for GET /v1/grid (deep testnet); absent: 404. */
  grid?: () => unknown;
  /** Interval prices (host-tools/testnet/prices.ts) for GET /v1/prices and /v1/devices/{id}/money. */
  prices?: PriceSeries;
  /** Publishes the local market's interval results (GET /v1/market/intervals). */
  market?: ServerOptions['market'];
  /**
   * Riders' policies (GET/POST /v1/devices/{id}/policy): default, a JSON file beside the
   * database (`DB.policies.json`, host-tools/market/policy-store.ts); false: none.
   */
  policies?: ServerOptions['policies'] | false;
  /** Or anchor them with the Fabric chaincode's AnchorBatch (host-tools/ledger/fabric/publisher.ts). */
  fabric?: Omit<FabricPublisherOptions, 'logger'>;
}

/** Where `deep build` puts the web app. */
export const DEFAULT_APP_DIR = fileURLToPath(new URL('../../dist/app', import.meta.url));

export interface IngestNode {
  url: string;
  store: Store;
  /** Present when the store keeps batches (the SQLite store does). */
  batcher?: Batcher;
  /** Present when the node anchors its batches on a chain (EVM) or a Fabric channel. */
  publisher?: Publisher | FabricPublisher;
  close(): Promise<void>;
}

const pairing: PairingCheck = (proof, challenge) => {
  const r = verifyPairingProof(proof, challenge);
  if (!r.ok) return { ok: false, detail: `${r.reason}: ${r.detail}` };
  return { ok: true, deviceId: Buffer.from(r.kid).toString('hex'), publicKey: r.publicKey };
};

/** A postgres:// (or postgresql://) URL names a PostgreSQL database; anything else a SQLite file. */
export const isPostgresUrl = (db: string): boolean => /^postgres(ql)?:\/\//i.test(db);

/** Opens the store `db` names: a postgres:// URL or a SQLite file. */
export async function openStore(db: string): Promise<Store> {
  if (!isPostgresUrl(db)) return openSqliteStore(db);
  // Loaded only for PostgreSQL: the SQLite node does not need the driver.
  const { openPostgresStore } = await import('./postgres');
  return openPostgresStore(db);
}

export async function startIngestNode(opts: NodeOptions): Promise<IngestNode> {
  const logger = opts.logger ?? createLogger();
  const store = opts.store ?? (await openStore(requireDb(opts.db)));
  let ingestRef: { queueDepth(): number } | undefined;
  const metrics = createMetrics({
    queueDepth: () => ingestRef?.queueDepth() ?? 0,
    openGaps: () => {
      const ids = store.devicesWithPending();
      return Array.isArray(ids) ? ids.length : ids.then((x) => x.length);
    },
    devices: () => store.activeDevices(),
  });
  // A shared store's keys are read now; a worker that replaces a crashed one later starts
  // with them, and learns keys registered since when a report needs one (ingest.ts learnKeys).
  let keys = await store.activeKeys();
  const pool = createPool({
    entry: new URL('./worker.ts', import.meta.url),
    size: opts.workers,
    // Every worker (and any replacement of a crashed one) starts with the current keys.
    init: () => {
      const now = store.activeKeys();
      if (Array.isArray(now)) keys = now;
      return { keys };
    },
    onError: (err) => logger.error('verify worker failed, replaced', { err }),
  });
  const ingest = createIngest({ store, pool, pairing, logger, metrics, maxAhead: opts.maxAhead, maxPending: opts.maxPending, challengeTtlMs: opts.challengeTtlMs, maxForkEvidence: opts.maxForkEvidence, logIntervalMs: opts.logIntervalMs });
  ingestRef = ingest;
  let publisher: Publisher | FabricPublisher | undefined;
  let owners: OwnerHook | undefined;
  if (opts.anchor && opts.fabric) throw new Error('anchor on an EVM chain or on a Fabric channel, not both');
  if (opts.fabric) {
    if (!store.batches) throw new Error('anchoring needs a store that keeps batches (the SQLite store)');
    const { createFabricPublisher } = await import('../ledger/fabric/publisher');
    publisher = createFabricPublisher(store.batches, { ...opts.fabric, logger });
    for (const m of publisher.metrics) metrics.add(m);
  }
  if (opts.anchor) {
    if (!store.batches) throw new Error('anchoring needs a store that keeps batches (the SQLite store)');
    // Loaded only when anchoring: viem and the contract artifact are not needed otherwise.
    const { createPublisher } = await import('../ledger/evm/publisher');
    publisher = createPublisher(store.batches, { ...opts.anchor, logger });
    for (const m of publisher.metrics) metrics.add(m);
    const { createOwnerHook } = await import('./owners');
    owners = createOwnerHook(store.batches, { chainId: opts.anchor.chainId, contract: opts.anchor.contract }, logger);
  }
  const anchorCfg = opts.anchor
    ? { chainId: opts.anchor.chainId, contract: opts.anchor.contract as string }
    : opts.fabric && { chainId: 0, contract: `fabric:${opts.fabric.channel}/${opts.fabric.chaincode}` };
  // Only the SQLite store keeps batches, and the batcher uses it synchronously.
  const batcher = store.batches
    ? createBatcher(store as SqliteStore, { ...opts.batch, logger, anchorInfo: publisher && ((id) => publisher!.anchorInfo(id)), chain: () => anchorCfg })
    : undefined;
  if (batcher) {
    metrics.add(new Gauge('deep_ingest_unbatched_reports', 'Accepted reports not in a batch yet.', () => store.batches!.unbatched().count));
    metrics.add(new Gauge('deep_ingest_last_batch', 'Id of the last batch closed (0: none yet).', () => store.batches!.last()?.id ?? 0));
  }
  const server = createIngestServer({
    ingest, store, logger, metrics, adminToken: opts.adminToken, maxBodyBytes: opts.maxBodyBytes, maxInFlightReports: opts.maxInFlightReports, workers: pool.size, schemaVersion: store.schemaVersion,
    proof: batcher && ((device, seq) => batcher.proof(device, seq)),
    owners,
    appDir: opts.appDir ?? DEFAULT_APP_DIR,
    grid: opts.grid,
    prices: opts.prices,
    market: opts.market,
    policies: opts.policies === false ? undefined : opts.policies ?? (opts.db && !isPostgresUrl(opts.db) ? openPolicyFile(`${opts.db}.policies.json`) : undefined),
    enrollToken: opts.enrollToken,
    limits: opts.limits,
  });
  let url: string;
  try {
    url = await listen(server, opts.port ?? 8080, opts.host ?? '127.0.0.1');
  } catch (err) {
    // Port taken or address not ours: release the workers and the database, or the
    // process would stay alive on them.
    await pool.close();
    await store.close();
    throw new Error(`cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 8080}: ${(err as Error).message}`);
  }

  const gapAlertMs = opts.gapAlertMs ?? 10 * 60_000;
  const alerted = new Map<string, string>();
  const gapTimer = setInterval(async () => {
    const now = Date.now();
    let open;
    try {
      open = await ingest.openGaps();
    } catch (err) {
      // A store failure shows in the answers (503) and here; the watch itself carries on.
      logger.error('gap watch cannot read the store', { err: err as Error });
      return;
    }
    for (const d of open) {
      if (!d.gap || now - Date.parse(d.gap.since) < gapAlertMs) continue;
      const key = `${d.gap.from}-${d.gap.since}`;
      if (alerted.get(d.id) === key) continue;
      alerted.set(d.id, key);
      logger.warn('gap still open', { device: d.id, missingFrom: d.gap.from, missingTo: d.gap.to, pending: d.gap.pending, since: d.gap.since });
    }
  }, Math.min(30_000, gapAlertMs));
  gapTimer.unref();

  batcher?.start();
  publisher?.start();
  logger.info('ingest node listening', { url, schemaVersion: store.schemaVersion, workers: pool.size });
  let closing: Promise<void> | undefined;
  return {
    url,
    store,
    batcher,
    publisher,
    close() {
      closing ??= (async () => {
        clearInterval(gapTimer);
        batcher?.stop();
        await publisher?.stop();
        await new Promise<void>((r) => server.close(() => r()));
        server.closeAllConnections();
        await ingest.close();
        await pool.close();
        await store.close();
      })();
      return closing;
    },
  };
}

function requireDb(db: string | undefined): string {
  if (!db) throw new TypeError('"db" expected the path of the SQLite file or a postgres:// URL');
  return db;
}

