// Pairing from the browser, end to end: the page's Web Serial port is a bridge
// (page.exposeFunction) to an emulated bike running the real firmware bundle
// (host-tools/emu), so the page pairs a real firmware console and the node registers the
// key. Then each failure the page names: no port chosen, wrong firmware, node unreachable,
// proof refused; and a browser without Web Serial shows the `npx deep pair` command.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'puppeteer-core';
import { browserMissing, launch, newPage, PHONE, DESKTOP, screenshot, type El } from './_browser';
import { board, firmware, type Board } from '../cli/_emu';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { createLogger } from '../../../host-tools/ingest/log';

const AP = { ssid: 'hub-wifi', password: 'correct horse' };

/**
 * Gives the page a `navigator.serial` whose one port is `b`'s console (or no port, when the
 * person closes the chooser). Bytes go both ways as Latin-1 text, in order.
 */
async function serialBridge(page: Page, b: Board | undefined): Promise<void> {
  if (b) {
    const con = b.bike.device.console;
    await page.exposeFunction('__deepSerialWrite', (text: string) => { con.input(text); });
    const off = con.onOutput((t) => { page.evaluate(`__deepSerialFeed(${JSON.stringify(t)})`).catch(() => {}); });
    page.once('close', off);
  }
  // A string, not a function: tsx compiles the tests with helpers (__name) that the page lacks.
  await page.evaluateOnNewDocument(`(() => {
    const hasPort = ${b !== undefined};
    let feed = null;
    globalThis.__deepSerialFeed = (s) => { if (feed) feed(s); };
    const bytes = (s) => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
    // As a real SerialPort: new streams at each open(), none once closed.
    const port = {
      readable: null,
      writable: null,
      async open() {
        port.readable = new ReadableStream({ start(c) { feed = (s) => c.enqueue(bytes(s)); }, cancel() { feed = null; } });
        port.writable = new WritableStream({ write(chunk) { return globalThis.__deepSerialWrite(String.fromCharCode(...chunk)); } });
      },
      async close() { port.readable = null; port.writable = null; feed = null; },
    };
    Object.defineProperty(navigator, 'serial', {
      value: {
        async requestPort() {
          if (!hasPort) throw new DOMException('No port selected by the user.', 'NotFoundError');
          return port;
        },
      },
    });
  })()`);
}

async function fill(page: Page, opts: { password?: string } = {}): Promise<void> {
  await page.waitForSelector('input[name=ssid]');
  await page.type('input[name=ssid]', AP.ssid);
  await page.type('input[name=password]', opts.password ?? AP.password);
}

async function failure(page: Page): Promise<{ kind: string; text: string }> {
  await page.waitForSelector('[data-failure]', { timeout: 30000 });
  return page.$eval('[data-failure]', (el) => ({ kind: (el as unknown as El).dataset.failure!, text: (el as unknown as El).textContent! }));
}

/** Console errors other than the browser's own line for a refused or failed request. */
const appErrors = (errors: string[]) => errors.filter((e) => !/Failed to load resource|request failed/.test(e));

const missing = browserMissing();
if (missing) {
  console.log(`SKIP web app browser tests (pair): ${missing}`);
} else {
  let dir = '';
  let node: IngestNode;
  let chrome: Awaited<ReturnType<typeof launch>>;

  test.before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'deep-app-pair-'));
    node = await startIngestNode({ db: path.join(dir, 'n.db'), port: 0, workers: 1, logger: createLogger({ level: 'error' }) });
    chrome = await launch();
  });
  test.after(async () => {
    await chrome?.close();
    await node?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('pairs the emulated bike (real firmware) over the page\'s Web Serial port; the node registers its key', async () => {
    const b = await board({ bundle: firmware(), accessPoints: [AP], seed: 21 });
    const { page, errors } = await newPage(chrome.browser, PHONE);
    try {
      await serialBridge(page, b);
      await page.goto(`${node.url}/app/#/pair`, { waitUntil: 'networkidle0' });
      await fill(page);
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-paired], [data-failure]', { timeout: 60000 });
      const id = await page.$eval('[data-paired]', (el) => (el as unknown as El).dataset.paired!);
      const info = b.bike.eval<{ id: string; publicKey: string; ssid: string; endpoint: string; paired: boolean }>('deep.info()');
      assert.is(id, info.id);
      assert.is(info.paired, true);
      assert.is(info.ssid, AP.ssid);
      assert.is(info.endpoint, node.url);
      const d = (await (await fetch(`${node.url}/v1/devices/${id}`)).json()) as { publicKey: string };
      assert.is(d.publicKey, info.publicKey);
      const done = await page.$$eval('ol.steps li', (lis) => lis.map((li) => (li as unknown as { className: string }).className));
      assert.equal(done, ['done', 'done', 'done', 'done', 'done', 'done']);
      await screenshot(page, 'pair-phone');
      // Once more: already paired, nothing changed.
      await page.click('button[type=submit]');
      await page.waitForFunction(`document.querySelector('[data-paired]')?.textContent.startsWith('Already paired')`, { timeout: 30000 });
      assert.equal(appErrors(errors), []);
      assert.equal(errors, []);
    } finally {
      await page.close();
      await b.close();
    }
  });

  test('no port chosen: said so, with the command line as the other way', async () => {
    const { page, errors } = await newPage(chrome.browser, DESKTOP);
    try {
      await serialBridge(page, undefined);
      await page.goto(`${node.url}/app/#/pair`, { waitUntil: 'networkidle0' });
      await fill(page);
      await page.click('button[type=submit]');
      const f = await failure(page);
      assert.is(f.kind, 'no-port');
      assert.match(f.text, /^No port chosen: USB serial: no port chosen \(No port selected by the user\.\)/);
      assert.match(await page.$eval('pre[data-cli]', (el) => (el as unknown as El).textContent!), /^npx deep pair --port \/dev\/ttyUSB0 --wifi "YOUR WIFI" --endpoint http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(errors, []);
    } finally {
      await page.close();
    }
  });

  test('wrong firmware: a board with Espruino but not DEEP', async () => {
    const bare = await board({ seed: 22 });
    const { page, errors } = await newPage(chrome.browser, DESKTOP);
    try {
      await serialBridge(page, bare);
      await page.goto(`${node.url}/app/#/pair`, { waitUntil: 'networkidle0' });
      await fill(page);
      await page.click('button[type=submit]');
      const f = await failure(page);
      assert.is(f.kind, 'wrong-firmware');
      assert.match(f.text, /Espruino answers, but not the DEEP firmware: the device does not answer deep\.info\(\).*is the DEEP firmware on it\? \(deep flash\)/);
      assert.equal(errors, []);
    } finally {
      await page.close();
      await bare.close();
    }
  });

  test('node unreachable: the node that served the page went away', async () => {
    const b = await board({ bundle: firmware(), accessPoints: [AP], seed: 23 });
    const gone = await startIngestNode({ db: path.join(dir, 'gone.db'), port: 0, workers: 1, logger: createLogger({ level: 'error' }) });
    const { page, errors } = await newPage(chrome.browser, DESKTOP);
    try {
      await serialBridge(page, b);
      await page.goto(`${gone.url}/app/#/pair`, { waitUntil: 'networkidle0' });
      await fill(page);
      await gone.close();
      await page.click('button[type=submit]');
      const f = await failure(page);
      assert.is(f.kind, 'node-unreachable');
      assert.match(f.text, new RegExp(`^Node unreachable: ingest node ${gone.url.replace(/[.:/]/g, '\\$&')} unreachable`));
      assert.is(b.bike.eval<{ paired: boolean }>('deep.info()').paired, false);
      assert.equal(appErrors(errors), []);
    } finally {
      await page.close();
      await b.close();
    }
  });

  test('proof refused: the node refuses the registration (its challenge expired while the bike signed)', async () => {
    const b = await board({ bundle: firmware(), accessPoints: [AP], seed: 24 });
    const strict = await startIngestNode({ db: path.join(dir, 'strict.db'), port: 0, workers: 1, logger: createLogger({ level: 'error' }), challengeTtlMs: 1 });
    const { page, errors } = await newPage(chrome.browser, DESKTOP);
    try {
      await serialBridge(page, b);
      await page.goto(`${strict.url}/app/#/pair`, { waitUntil: 'networkidle0' });
      await fill(page);
      await page.click('button[type=submit]');
      const f = await failure(page);
      assert.is(f.kind, 'proof-refused');
      assert.match(f.text, /^Proof refused by the node: registration refused by http:\/\/127\.0\.0\.1:\d+ \(HTTP 400\): challenge expired/);
      assert.is(b.bike.eval<{ paired: boolean }>('deep.info()').paired, false);
      await screenshot(page, 'pair-refused-desktop');
      assert.equal(appErrors(errors), []);
    } finally {
      await page.close();
      await b.close();
      await strict.close();
    }
  });

  test('a browser without Web Serial shows the npx deep pair command', async () => {
    const { page, errors } = await newPage(chrome.browser, PHONE);
    try {
      await page.evaluateOnNewDocument('delete Navigator.prototype.serial');
      await page.goto(`${node.url}/app/#/pair`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('[data-failure="no-web-serial"]');
      assert.match(await page.$eval('pre[data-cli]', (el) => (el as unknown as El).textContent!), new RegExp(`^npx deep pair --port /dev/ttyUSB0 --wifi "YOUR WIFI" --endpoint ${node.url.replace(/[.:/]/g, '\\$&')}$`));
      assert.is(await page.$('input[name=ssid]'), null);
      assert.equal(errors, []);
    } finally {
      await page.close();
    }
  });

  test.run();
}
