// Shared by the web app's browser tests: Debian's chromium driven by puppeteer-core, an
// ingest node fed with `deep report` files, screenshots under .tmp/app/ (gitignored).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { createLogger } from '../../../host-tools/ingest/log';
import { ROOT } from '../../../host-tools/build/build';
import { deep } from '../cli/_run';
import { splitReports } from '../../../host-tools/ingest/body';
import type { PriceSeries } from '../../../host-tools/testnet/prices';

/** What the tests read of an element inside page.$eval (the tests are compiled without the DOM's types). */
export interface El {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
  querySelectorAll(selector: string): Iterable<El>;
}

export const CHROMIUM = '/usr/bin/chromium';
/** Where the screenshots go: the tests' output folder, not committed. */
export const OUT_DIR = path.join(ROOT, '.tmp/app');

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`;
  if (!existsSync(path.join(ROOT, 'dist/app/index.html'))) return 'dist/app is not built (npx deep build)';
  return undefined;
}

export async function launch(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const puppeteer = (await import('puppeteer-core')).default;
  const profile = mkdtempSync(path.join(tmpdir(), 'deep-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1440, height: 900 };

/** A page that records console errors and uncaught exceptions in `errors`. */
export async function newPage(browser: Browser, viewport = DESKTOP): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  await page.setViewport(viewport);
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()} ${JSON.stringify(m.location())}`); });
  page.on('pageerror', (e) => errors.push(`page: ${(e as Error).message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  return { page, errors };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, `${name}.png`);
  await page.screenshot({ path: file as `${string}.png`, fullPage: true });
  return file;
}

export interface FedNode {
  node: IngestNode;
  url: string;
  /** Device ids of the rides, in the order of the seeds. */
  devices: string[];
  close(): Promise<void>;
}

export interface Ride {
  seed: string;
  count: number;
  /** Register the key first (default true); an unregistered ride is rejected. */
  register?: boolean;
  /** Post from this report on: the first `skip` are missing, a gap the node holds open. */
  skip?: number;
}

/**
 * An ingest node on a free port, with each seed's `deep report` ride registered and posted
 * as a CBOR sequence: exactly what an integrator would do with the files.
 */
export async function fedNode(rides: Ride[], opts: { adminToken?: string; prices?: PriceSeries } = {}): Promise<FedNode> {
  const dir = mkdtempSync(path.join(tmpdir(), 'deep-app-'));
  const node = await startIngestNode({
    db: path.join(dir, 'ledger.db'), port: 0, workers: 1, logger: createLogger({ level: 'error' }),
    adminToken: opts.adminToken, batch: { intervalMs: 200 }, prices: opts.prices,
  });
  const devices: string[] = [];
  try {
    await feed();
  } catch (e) {
    // A node left open would keep the test process alive after the failure.
    await node.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    node, url: node.url, devices,
    async close() {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };

  async function feed(): Promise<void> {
    for (const [i, r] of rides.entries()) {
      const out = path.join(dir, `ride${i}.cbor`);
      const res = await deep(['report', '--seed', r.seed, '--count', String(r.count), '--out', out, ...(r.register === false ? [] : ['--register', node.url])]);
      if (res.code !== 0) throw new Error(`deep report failed: ${res.err}`);
      devices.push(/kid ([0-9a-f]{16})/.exec(res.out)![1]);
      let body: Uint8Array = readFileSync(out);
      if (r.skip) {
        const spans = splitReports(body, 'application/cbor-seq', 100_000);
        const from = spans[r.skip].offset;
        body = body.subarray(from);
      }
      const post = await fetch(`${node.url}/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/cbor-seq' }, body });
      const j = (await post.json()) as { accepted: number };
      // Reports behind a gap are accepted too, in state "pending".
      const expected = r.register === false ? 0 : r.count - (r.skip ?? 0);
      if (j.accepted !== expected) throw new Error(`posted ${r.count} reports, ${j.accepted} accepted, expected ${expected}: ${JSON.stringify(j).slice(0, 300)}`);
    }
  }
}

export async function api<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}
