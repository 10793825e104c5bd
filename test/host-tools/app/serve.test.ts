// The ingest node serves the web app under /app/ (issue 13): the page, its bundle and
// styles with their content types, nothing outside dist/app, and a clear 404 when the app
// was not built.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startIngestNode, type IngestNode } from '../../../host-tools/ingest/node';
import { createLogger } from '../../../host-tools/ingest/log';

let dir = '';
let node: IngestNode;

test.before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'deep-serve-'));
  const app = path.join(dir, 'app');
  (await import('node:fs')).mkdirSync(app);
  writeFileSync(path.join(app, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(path.join(app, 'app.js'), 'console.log(1)');
  writeFileSync(path.join(app, 'app.css'), 'body{}');
  writeFileSync(path.join(dir, 'secret.js'), 'nope');
  node = await startIngestNode({ db: path.join(dir, 'n.db'), port: 0, workers: 1, logger: createLogger({ level: 'error' }), appDir: app });
});

test.after(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

test('/ redirects to /app/, which is index.html', async () => {
  const r = await fetch(node.url + '/', { redirect: 'manual' });
  assert.is(r.status, 302);
  assert.is(r.headers.get('location'), '/app/');
  const page = await fetch(node.url + '/app/');
  assert.is(page.status, 200);
  assert.is(page.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.is(await page.text(), '<!doctype html><title>t</title>');
});

test('the bundle and the styles come with their content types', async () => {
  for (const [f, type, body] of [['app.js', 'text/javascript; charset=utf-8', 'console.log(1)'], ['app.css', 'text/css; charset=utf-8', 'body{}']]) {
    const r = await fetch(`${node.url}/app/${f}`);
    assert.is(r.status, 200, f);
    assert.is(r.headers.get('content-type'), type);
    assert.is(r.headers.get('x-content-type-options'), 'nosniff');
    assert.is(await r.text(), body);
  }
});

test('nothing outside the app folder, no unknown types, no dot files', async () => {
  // Sent as typed (fetch would normalise the dot segments away).
  const { request } = await import('node:http');
  const raw = (p: string) => new Promise<number>((resolve, reject) => {
    request(node.url + '/', { path: p }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject).end();
  });
  for (const p of ['/app/../secret.js', '/app/%2e%2e%2fsecret.js', '/app/.hidden.js', '/app/sub/app.js', '/app/..%2f..%2fsecret.js']) {
    assert.is(await raw(p), 404, p);
  }
  const missing = await fetch(`${node.url}/app/nope.js`);
  assert.is(missing.status, 404);
  assert.match(((await missing.json()) as { error: string }).error, /no app file nope\.js/);
  const odd = await fetch(`${node.url}/app/ledger.db`);
  assert.is(odd.status, 404);
});

test('an app that is not built: 404 saying to run deep build', async () => {
  const other = await startIngestNode({ db: path.join(dir, 'o.db'), port: 0, workers: 1, logger: createLogger({ level: 'error' }), appDir: path.join(dir, 'none') });
  try {
    const r = await fetch(other.url + '/app/');
    assert.is(r.status, 404);
    assert.match(((await r.json()) as { error: string }).error, /not built.*npx deep build/);
  } finally {
    await other.close();
  }
});

test.run();
