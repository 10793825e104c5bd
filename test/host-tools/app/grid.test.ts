// The mini-grid page in chromium against a short `deep testnet` run (two emulated bikes on
// the real firmware, two hubs, the local chain anchoring the ledger): live while it runs, then, kept up with `serve`,
// the finished day: the hubs, bikes and prices as GET /v1/grid says, and each rider's
// balance equal to the summary's settlement. Then a bike's page from there shows its day.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { browserMissing, DESKTOP, launch, newPage, PHONE, screenshot, type El } from './_browser';
import { runTestnet, type TestnetResult } from '../../../host-tools/testnet/testnet';
import type { GridState } from '../../../host-tools/testnet/grid';

const wh = (mwh: number) => (Math.round(mwh) / 1000).toFixed(3);
const micro = (v: bigint | string) => {
  const t = String(v);
  const neg = t.startsWith('-');
  const d = (neg ? t.slice(1) : t).padStart(7, '0');
  return `${neg ? '-' : ''}${d.slice(0, -6)}.${d.slice(-6)}`;
};

const missing = browserMissing();
if (missing) {
  console.log(`SKIP web app browser tests (grid): ${missing}`);
} else {
  test('npm start\'s mini-grid, live and then served after the summary', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'deep-app-grid-'));
    const chrome = await launch();
    let result: TestnetResult | undefined;
    const logs: string[] = [];
    let appUrl: (url: string) => void = () => {};
    const announced = new Promise<string>((resolve) => { appUrl = resolve; });
    try {
      const run = runTestnet({
        bikes: 2, hubs: 2, seed: 42, durationS: 1800, speedup: 200, port: 0, workers: 0, dataDir: path.join(dir, 'data'), anchor: true,
        // Without the market the ride scripts charge and export from the first minutes, so a
        // half-hour day has hub and money figures to compare (the market is the next test).
        market: false,
        tolerance: { flowMwh: 280, flowPermille: 0, packMwh: 4 },
        out: { write: () => {}, isTTY: false },
        log: (l) => { logs.push(l); const m = /^app (http:\/\/\S+)\/app\/#\/grid/.exec(l); if (m) appUrl(m[1]); },
        serve: true,
      });
      run.catch(() => {});
      const url = await Promise.race([announced, run.then(() => { throw new Error(`no app URL logged: ${logs.join('\n')}`); })]);

      // Live: the page follows the run.
      const { page, errors } = await newPage(chrome.browser, PHONE);
      await page.goto(`${url}/app/#/grid`, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('table[data-table="bikes"] tbody tr');
      const livePhase = await page.$eval('#progress dd[data-k="phase"]', (el) => (el as unknown as El).textContent!);
      assert.ok(['starting', 'riding', 'draining queues'].includes(livePhase), livePhase);

      result = await run;
      assert.ok(result.ok, result.lines.join('\n'));
      assert.ok(result.serving, 'serve keeps the node up');
      const g = (await (await fetch(`${url}/v1/grid`)).json()) as GridState;
      assert.is(g.phase, 'done');
      assert.is(g.result, result.lines[result.lines.length - 1]);
      await page.waitForFunction(`document.querySelector('#progress dd[data-k="phase"]')?.textContent === 'done'`, { timeout: 10000 });

      // Hubs as the API says.
      const hubs = await page.$$eval('table[data-table="hubs"] tbody tr', (trs) => trs.map((tr) => [(tr as unknown as El).dataset.hub!, [...(tr as unknown as El).querySelectorAll('td[data-mwh]')].map((td) => td.textContent!)]));
      assert.equal(hubs, g.hubs.map((x) => [x.name, [wh(x.inMwh), wh(x.outMwh)]]));
      assert.equal(g.hubs.map((x) => [x.inMwh, x.outMwh]), result.summary.hubs!.map((x) => [x.inMwh, x.outMwh]));
      assert.ok(g.hubs.some((x) => x.inMwh > 0), 'some energy came from the grid');

      // Balances: the page shows the API's, and the API's are the summary's settlement.
      const rows = await page.$$eval('table[data-table="balances"] tbody tr', (trs) => trs.map((tr) => ({
        device: (tr as unknown as El).dataset.device!,
        ...Object.fromEntries([...(tr as unknown as El).querySelectorAll('td[data-k]')].map((td) => [td.dataset.k!, td.textContent!])),
      }) as Record<string, string>));
      assert.is(rows.length, 2);
      for (const b of result.summary.bikes) {
        const bal = b.balance!;
        const api = g.balances.find((x) => x.device === b.deviceId)!;
        assert.is(api.balanceMicro, String(bal.balanceMicro), b.name);
        assert.is(api.importMwh, bal.importMwh);
        assert.is(api.exportMwh, bal.exportMwh);
        const row = rows.find((r) => r.device === b.deviceId)!;
        assert.is(row.balance, micro(bal.balanceMicro));
        assert.is(row.import, wh(bal.importMwh));
        assert.is(row.export, wh(bal.exportMwh));
        assert.is(row.unpriced, wh(bal.unpricedImportMwh + bal.unpricedExportMwh));
      }
      // The prices of the day: one step per interval of the sample profile.
      assert.ok(g.prices.length >= 24, String(g.prices.length));
      assert.is(g.prices[0].startS, g.dayStartS);
      await page.waitForSelector('#prices .uplot');
      await screenshot(page, 'grid-phone');
      await page.setViewport(DESKTOP);
      await new Promise((r) => setTimeout(r, 300));
      await screenshot(page, 'grid-desktop');

      // From there, a bike's page shows its day.
      const first = result.summary.bikes[0].deviceId;
      await page.click(`table[data-table="balances"] tr[data-device="${first}"] a`);
      await page.waitForSelector('table[data-table="period"]');
      await page.waitForSelector('#energy .uplot');
      const reports = await page.$eval('#status dd[data-k="head"]', (el) => (el as unknown as El).textContent!);
      assert.is(reports, String(result.summary.bikes[0].chain.headSeq + 1));
      // A report's proof: its batch and its anchoring transaction, as the proof route says.
      const seq = await page.$eval('table[data-table="reports"] tbody tr', (tr) => Number((tr as unknown as El).dataset.seq));
      const proof = (await (await fetch(`${url}/v1/reports/${first}/${seq}/proof`)).json()) as { batch: number; anchor: { state: string; chainId: number; tx: string; block: number; confirmations: number } };
      assert.is(proof.anchor.state, 'confirmed', JSON.stringify(proof.anchor));
      await page.click(`td[data-proof="${seq}"] button`);
      await page.waitForSelector(`td[data-proof="${seq}"] [data-anchor]`);
      const shown = await page.$eval(`td[data-proof="${seq}"]`, (el) => (el as unknown as El).textContent!);
      assert.ok(shown.startsWith(`batch ${proof.batch}, `), shown);
      assert.ok(shown.includes(`confirmed on Volta in block ${proof.anchor.block}, `), shown);
      assert.match(shown, /, \d+ confirmations, tx 0x[0-9a-f]{10}…$/);
      const href = await page.$eval(`td[data-proof="${seq}"] a`, (a) => (a as unknown as { href: string }).href);
      assert.is(href, `https://volta-explorer.energyweb.org/tx/${proof.anchor.tx}`);
      await screenshot(page, 'grid-bike-desktop');
      assert.equal(errors, []);
      await page.close();
    } finally {
      await result?.serving?.close();
      await chrome.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('with the hubs\' local market: its latest intervals, as the node publishes them', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'deep-app-market-'));
    const chrome = await launch();
    let result: TestnetResult | undefined;
    try {
      result = await runTestnet({
        bikes: 2, hubs: 2, seed: 43, durationS: 1800, speedup: 0, port: 0, workers: 0, dataDir: path.join(dir, 'data'),
        tolerance: { flowMwh: 280, flowPermille: 0, packMwh: 4 }, out: { write: () => {}, isTTY: false }, log: () => {}, serve: true,
      });
      const url = result.serving!.url;
      const { page, errors } = await newPage(chrome.browser, DESKTOP);
      await page.goto(`${url}/app/#/grid`, { waitUntil: 'networkidle0' });
      // The hubs' local market: its latest intervals, newest first, as the node publishes them.
      const mk = (await (await fetch(`${url}/v1/market/intervals?limit=5000`)).json()) as { intervals: { hub: string; startS: number; priceMicroPerKwh: number | null; tradedWh: number }[]; next: number | null };
      assert.is(mk.next, null);
      assert.ok(mk.intervals.length >= 2, JSON.stringify(mk).slice(0, 200));
      await page.waitForSelector('table[data-table="market"] tbody tr');
      const shownMarket = await page.$$eval('table[data-table="market"] tbody tr', (trs) => trs.map((tr) => [(tr as unknown as El).dataset.interval!, ...[...(tr as unknown as El).querySelectorAll('td[data-k]')].map((td) => td.textContent!)]));
      assert.equal(shownMarket, mk.intervals.slice(-24).reverse().map((r) => [`${r.hub}@${r.startS}`, r.priceMicroPerKwh === null ? 'no match' : micro(String(r.priceMicroPerKwh)), String(r.tradedWh)]));

      // With the market on, each rider's balance is also shown as the summary settles it:
      // measured energy at the cleared price, the imbalance at the utility's (protocol/MARKET.md §5).
      const g = (await (await fetch(`${url}/v1/grid`)).json()) as { balances: { device: string; marketMicro?: string; baselineMicro?: string }[] };
      await page.waitForSelector('table[data-table="balances"] td[data-k="market"]');
      const shownMarketBalances = await page.$$eval('table[data-table="balances"] tbody tr', (trs) => trs.map((tr) => [(tr as unknown as El).dataset.device!, [...(tr as unknown as El).querySelectorAll('td[data-k="market"]')][0].textContent!]));
      const riders = result.summary.market!.riders;
      assert.is(riders.length, 2);
      for (const r of riders) {
        const api = g.balances.find((x) => x.device === r.settlement.device)!;
        assert.is(api.marketMicro, String(r.settlement.marketMicro), r.name);
        assert.is(api.baselineMicro, String(r.settlement.baselineMicro), r.name);
        assert.equal(shownMarketBalances.find(([d]) => d === r.settlement.device), [r.settlement.device, micro(String(r.settlement.marketMicro))]);
      }

      await screenshot(page, 'grid-market-desktop');
      assert.equal(errors, []);
      await page.close();
    } finally {
      await result?.serving?.close();
      await chrome.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.run();
}
