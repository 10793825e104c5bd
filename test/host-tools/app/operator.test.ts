// The operator page in chromium, behind the admin token: node health, accepted and
// rejected reports per reason as /metrics counts them, every device with last seen and its
// open gap as the API says, lag; screenshots at phone and desktop size.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { api, browserMissing, DESKTOP, fedNode, launch, newPage, PHONE, screenshot, type El, type FedNode } from './_browser';

const TOKEN = 'operator-secret-token';

const missing = browserMissing();
if (missing) {
  console.log(`SKIP web app browser tests (operator): ${missing}`);
} else {
  let fed: FedNode;
  let chrome: Awaited<ReturnType<typeof launch>>;

  test.before(async () => {
    fed = await fedNode([
      { seed: 'c3'.repeat(32), count: 30 },
      { seed: 'd4'.repeat(32), count: 8, register: false },
      { seed: 'e5'.repeat(32), count: 12, skip: 4 },
    ], { adminToken: TOKEN });
    chrome = await launch();
  });
  test.after(async () => {
    await chrome?.close();
    await fed?.close();
  });

  test('without the token: the page asks for it and shows nothing of the node; a wrong token is refused', async () => {
    const { page, errors } = await newPage(chrome.browser, PHONE);
    await page.goto(`${fed.url}/app/#/operator`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('input[name=token]');
    assert.is(await page.$('#devices'), null);
    await page.type('input[name=token]', 'wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-failure="token"]');
    assert.match(await page.$eval('[data-failure="token"]', (el) => (el as unknown as El).textContent!), /refused this token: \/v1\/devices: HTTP 401: operator route: missing or wrong bearer token/);
    assert.is(await page.$('#devices'), null);
    // Only the browser's own lines for the two refused requests.
    assert.equal(errors.filter((e) => !/status of 401/.test(e)), []);
    assert.is(errors.length, 2);
    await page.close();
  });

  for (const [size, vp] of [['phone', PHONE], ['desktop', DESKTOP]] as const) {
    test(`operator (${size}): health, counts per reason, devices with gaps, as the API and /metrics say`, async () => {
      const { page, errors } = await newPage(chrome.browser, vp);
      await page.goto(`${fed.url}/app/#/operator`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('input[name=token]');
      await page.type('input[name=token]', TOKEN);
      await page.click('button[type=submit]');
      await page.waitForSelector('table[data-table="devices"]');

      const health = await api<{ queueDepth: number; workers: number }>(`${fed.url}/healthz`);
      const hv = await page.$$eval('#health dd', (dds) => Object.fromEntries(dds.map((dd) => [(dd as unknown as El).dataset.k!, (dd as unknown as El).textContent!])));
      assert.is(hv.status, 'ok');
      assert.is(hv.workers, String(health.workers));
      assert.is(hv.devices, '2');
      assert.is(hv.openGaps, '1');

      const metrics = await (await fetch(`${fed.url}/metrics`)).text();
      const count = (re: RegExp) => [...metrics.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
      const shown = await page.$$eval('table[data-table="counts"] tbody tr', (trs) => trs.map((tr) => [(tr as unknown as El).dataset.count ?? `reason:${(tr as unknown as El).dataset.reason}`, (tr as unknown as El).querySelectorAll('td')]).map(([k, tds]) => [k, [...(tds as Iterable<El>)][1].textContent]));
      const byKey = Object.fromEntries(shown);
      assert.is(byKey.accepted, String(count(/^deep_ingest_reports_accepted_total (\d+)$/gm)));
      assert.is(byKey.accepted, '30');
      assert.is(byKey.pending, String(count(/^deep_ingest_reports_pending_total (\d+)$/gm)));
      assert.is(byKey.pending, '8');
      const reasons = [...metrics.matchAll(/^deep_ingest_reports_rejected_total\{reason="([^"]+)"\} (\d+)$/gm)];
      assert.ok(reasons.length >= 1, metrics);
      for (const [, reason, n] of reasons) assert.is(byKey[`reason:${reason}`], n, reason);
      assert.is(byKey.rejected, String(reasons.reduce((a, m) => a + Number(m[2]), 0)));
      assert.is(byKey.rejected, '8');

      const list = await api<{ devices: { id: string; lastSeenAt: string; head: { seq: number } | null; gap: { from: number; to: number; pending: number } | null }[] }>(`${fed.url}/v1/devices`).catch(() => undefined);
      assert.is(list, undefined, 'the device list needs the token');
      const r = await fetch(`${fed.url}/v1/devices`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const all = ((await r.json()) as { devices: { id: string; lastSeenAt: string | null; head: { seq: number } | null; gap: { from: number; to: number; pending: number } | null }[] }).devices;
      assert.is(all.length, 2);
      const rows = await page.$$eval('table[data-table="devices"] tbody tr', (trs) => trs.map((tr) => {
        const cells = Object.fromEntries([...(tr as unknown as El).querySelectorAll('td[data-k]')].map((td) => [td.dataset.k!, td.textContent!]));
        return { id: (tr as unknown as El).dataset.device!, ...cells } as Record<string, string>;
      }));
      assert.is(rows.length, 2);
      for (const d of all) {
        const row = rows.find((x) => x.id === d.id)!;
        assert.ok(row, d.id);
        assert.is(row.reports, String(d.head ? d.head.seq + 1 : 0));
        assert.is(row.lastSeen, d.lastSeenAt ? d.lastSeenAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '–');
        if (d.gap) assert.match(row.gap, new RegExp(`^seq ${d.gap.from}–${d.gap.to}, ${d.gap.pending} waiting, open `));
        else assert.is(row.gap, '–');
      }
      assert.ok(all.some((d) => d.gap && d.gap.from === 0 && d.gap.to === 3 && d.gap.pending === 8), JSON.stringify(all));
      // The windows of a `deep report` ride are from 2026-11-19: replayed, so days of lag.
      assert.match(rows.find((x) => x.id === fed.devices[0])!.lag, /^\d+\.\d d$/);

      // The chart of counts per sample appears once the page has sampled three times.
      await page.waitForSelector('#counts .uplot', { timeout: 10000 });
      await screenshot(page, `operator-${size}`);
      assert.equal(errors.filter((e) => !/status of 401/.test(e)), []);
      await page.close();
    });
  }

  test.run();
}
