// The rider's page in a real browser (Debian's chromium): a node fed with two `deep report`
// rides; the figures on screen are the API's figures; no console errors; screenshots at
// phone and desktop size.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'puppeteer-core';
import { loadPrices } from '../../../host-tools/testnet/prices';
import { recordOfStored, settle } from '../../../host-tools/testnet/settlement';
import { api, browserMissing, type El, DESKTOP, fedNode, launch, newPage, PHONE, screenshot, type FedNode } from './_browser';

const missing = browserMissing();
if (missing) {
  console.log(`SKIP web app browser tests (bike): ${missing}`);
} else {
  let fed: FedNode;
  let chrome: Awaited<ReturnType<typeof launch>>;

  test.before(async () => {
    fed = await fedNode([{ seed: 'a1'.repeat(32), count: 45 }, { seed: 'b2'.repeat(32), count: 12 }], { prices: loadPrices() });
    chrome = await launch();
  });
  test.after(async () => {
    await chrome?.close();
    await fed?.close();
  });

  type Totals = Record<string, Record<string, { total: number }>>;
  const FLOWS = ['grid_to_pack', 'pack_to_grid', 'pack_to_motor', 'regen_to_pack'];

  /** The page's table `name`, as {flow: {pack: mWh}}, with the text shown beside the data. */
  async function table(page: Page, name: string): Promise<Record<string, Record<string, { mwh: number; text: string }>>> {
    return page.$$eval(`table[data-table="${name}"] tbody tr`, (rows) => Object.fromEntries(rows.map((tr) => [
      (tr as unknown as El).dataset.flow!,
      Object.fromEntries([...(tr as unknown as El).querySelectorAll('td[data-pack]')].map((td) => [(td as unknown as El).dataset.pack!, { mwh: Number((td as unknown as El).dataset.mwh), text: td.textContent! }])),
    ])));
  }

  const wh = (mwh: number) => (mwh / 1000).toFixed(3);

  function expectTable(shown: Awaited<ReturnType<typeof table>>, t: Totals): void {
    const packs = Object.keys(t);
    assert.ok(packs.length === 2, JSON.stringify(t));
    for (const f of FLOWS) {
      let sum = 0;
      for (const p of packs) {
        const v = t[p][f]?.total ?? 0;
        sum += v;
        assert.is(shown[f][p].mwh, v, `${f} pack ${p}`);
        assert.is(shown[f][p].text, wh(v), `${f} pack ${p} text`);
      }
      assert.is(shown[f].all.mwh, sum);
      assert.is(shown[f].all.text, wh(sum));
    }
  }

  for (const [size, vp] of [['phone', PHONE], ['desktop', DESKTOP]] as const) {
    test(`my bike (${size}): status, day energy per pack and flow, unsynced apart, reports, as the API says`, async () => {
      const id = fed.devices[0];
      const { page, errors } = await newPage(chrome.browser, vp);
      await page.goto(`${fed.url}/app/#/bike/${id}`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('table[data-table="period"]');
      await page.waitForSelector('#energy .uplot');

      const d = await api<{ head: { seq: number }; lastSeenAt: string }>(`${fed.url}/v1/devices/${id}`);
      const status = await page.$$eval('#status dd', (dds) => Object.fromEntries(dds.map((dd) => [(dd as unknown as El).dataset.k!, dd.textContent!])));
      assert.is(status.head, String(d.head.seq + 1));
      assert.is(status.lastSeen, d.lastSeenAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'));
      assert.match(status.chain, /complete/);

      // The day shown is the UTC day of the latest synced report.
      const rows = await api<{ reports: { seq: number; windowStart: number }[] }>(`${fed.url}/v1/devices/${id}/reports?after=${d.head.seq - 20}&limit=20`);
      const last = rows.reports[rows.reports.length - 1].windowStart;
      const day = last - (last % 86400);
      const e = await api<{ totals: Totals; unsynced: Totals }>(`${fed.url}/v1/devices/${id}/energy?from=${day}&to=${day + 86400}&bucket=3600`);
      expectTable(await table(page, 'period'), e.totals);
      expectTable(await table(page, 'unsynced'), e.unsynced);
      assert.ok(Object.values(e.unsynced).some((p) => p.pack_to_motor.total > 0), 'the ride has unsynced energy to show apart');

      // Money for the day: the page shows the node's figures, and the node's figures are the
      // testnet's settlement of these reports at the sample prices.
      const money = await api<{ currency: string; importMwh: number; exportMwh: number; unpricedImportMwh: number; costMicro: string; revenueMicro: string; balanceMicro: string }>(`${fed.url}/v1/devices/${id}/money?from=${day}&to=${day + 86400}`);
      const all = await api<{ reports: { seq: number; windowStart: number | null; windowEnd: number | null; flows: { flow: string; amount: number }[] }[] }>(`${fed.url}/v1/devices/${id}/reports?limit=1000`);
      const [settled] = settle(loadPrices(), all.reports.filter((r) => r.windowStart === null || (r.windowStart >= day && r.windowStart < day + 86400)).map((r) => recordOfStored(id, r)));
      assert.is(money.balanceMicro, String(settled.balanceMicro));
      assert.is(money.importMwh, settled.importMwh);
      assert.is(money.unpricedImportMwh, settled.unpricedImportMwh);
      assert.ok(money.importMwh > 0 && money.exportMwh > 0, JSON.stringify(money));
      const mv = await page.$$eval('#money dd', (dds) => Object.fromEntries(dds.map((dd) => [(dd as unknown as El).dataset.k!, (dd as unknown as El).textContent!])));
      const m6 = (v: string) => { const neg = v.startsWith('-'); const d = (neg ? v.slice(1) : v).padStart(7, '0'); return `${neg ? '-' : ''}${d.slice(0, -6)}.${d.slice(-6)}`; };
      assert.is(mv.bought, `${wh(money.importMwh)} Wh for ${m6(money.costMicro)} ${money.currency}`);
      assert.is(mv.sold, `${wh(money.exportMwh)} Wh for ${m6(money.revenueMicro)} ${money.currency}`);
      assert.is(mv.balance, `${m6(money.balanceMicro)} ${money.currency}`);

      // The latest 20 reports, newest first.
      const seqs = await page.$$eval('table[data-table="reports"] tbody tr', (trs) => trs.map((tr) => Number((tr as unknown as El).dataset.seq)));
      assert.equal(seqs, rows.reports.map((r) => r.seq).reverse());

      // A report's proof: its batch, as GET /v1/reports/{id}/{seq}/proof says.
      const seq = seqs[3];
      let proof: { batch: number } | undefined;
      for (let i = 0; i < 50 && !proof; i++) {
        const r = await fetch(`${fed.url}/v1/reports/${id}/${seq}/proof`);
        if (r.ok) proof = (await r.json()) as { batch: number };
        else await new Promise((ok) => setTimeout(ok, 100));
      }
      assert.ok(proof, 'the report was batched');
      await page.click(`td[data-proof="${seq}"] button`);
      await page.waitForSelector(`td[data-proof="${seq}"] [data-batch]`);
      const batch = await page.$eval(`td[data-proof="${seq}"] [data-batch]`, (el) => Number((el as unknown as El).dataset.batch));
      assert.is(batch, proof!.batch);
      assert.match(await page.$eval(`td[data-proof="${seq}"]`, (el) => el.textContent!), /anchoring pending/);

      // The week: daily buckets, same totals table shape.
      await page.click('button[data-view="week"]');
      await page.waitForFunction(`document.querySelector('#energy h2')?.textContent.startsWith('Energy in the week')`);
      const w = await api<{ totals: Totals }>(`${fed.url}/v1/devices/${id}/energy?from=${day - 6 * 86400}&to=${day + 86400}&bucket=86400`);
      expectTable(await table(page, 'period'), w.totals);
      await page.click('button[data-view="day"]');
      await page.waitForFunction(`document.querySelector('#energy h2')?.textContent.startsWith('Energy on')`);
      await page.waitForSelector('#energy .uplot');

      await screenshot(page, `bike-${size}`);
      assert.equal(errors, []);
      await page.close();
    });
  }

  test('a node without prices: the page says it values no energy', async () => {
    const bare = await fedNode([{ seed: 'f6'.repeat(32), count: 3 }]);
    const { page, errors } = await newPage(chrome.browser, PHONE);
    try {
      await page.goto(`${bare.url}/app/#/bike/${bare.devices[0]}`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('[data-money="none"]');
      assert.equal(errors, []);
    } finally {
      await page.close();
      await bare.close();
    }
  });

  test('an unknown bike: the node\'s 404 on the page, no console error from the app', async () => {
    const { page, errors } = await newPage(chrome.browser, PHONE);
    await page.goto(`${fed.url}/app/#/bike/00000000000000aa`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('.error');
    assert.match(await page.$eval('.error', (el) => el.textContent!), /HTTP 404: no device 00000000000000aa/);
    // The browser itself logs the failed fetch's 404; nothing else.
    assert.equal(errors.filter((e) => !/status of 404/.test(e)), []);
    await page.close();
  });

  test.run();
}
