import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { request } from 'node:http';
import { Admission, REPORT_BYTES, reportsInBody } from '../../../host-tools/ingest/admission';
import { createIngestServer, listen } from '../../../host-tools/ingest/server';
import { createMetrics } from '../../../host-tools/ingest/metrics';
import { silentLogger } from '../../../host-tools/ingest/log';
import type { Ingest } from '../../../host-tools/ingest/ingest';
import type { ReportAnswer } from '../../../host-tools/ingest/types';

test('admission: in while under the bound, counting bodies being read by their size; the rest wait in order', async () => {
  let inFlight = 0;
  const a = new Admission(300, () => inFlight);
  assert.is(a.enter(100), undefined);
  assert.is(a.enter(100), undefined);
  // 200 being read < 300: one more, however large.
  assert.is(a.enter(150), undefined);
  const order: string[] = [];
  const d = a.enter(10)!.then(() => order.push('d'));
  const e = a.enter(10)!.then(() => order.push('e'));
  assert.is(a.queued, 2);
  // The first body is read and its 100 reports are in flight: still 350.
  inFlight = 100;
  a.read(100);
  await Promise.resolve();
  assert.equal(order, []);
  // The 150 body was malformed (nothing in flight from it): 100 + 100 < 300 lets d in,
  // and 210 < 300 e too.
  a.read(150);
  await Promise.all([d, e]);
  assert.equal(order, ['d', 'e']);
  assert.is(a.queued, 0);
  assert.throws(() => new Admission(0, () => 0), /maxReports/);
});

test('admission: a request that comes while others wait queues behind them, even if there is room', async () => {
  let inFlight = 5;
  const a = new Admission(5, () => inFlight);
  const first = a.enter(1);
  assert.ok(first);
  inFlight = 0;
  const second = a.enter(1);
  assert.ok(second, 'behind the first');
  a.pump();
  await first;
  await second;
  assert.is(a.queued, 0);
});

test('admission: a body counts as its length over REPORT_BYTES reports, 1 when undeclared', () => {
  assert.is(reportsInBody(22_000), Math.ceil(22_000 / REPORT_BYTES));
  assert.is(reportsInBody(1), 1);
  assert.is(reportsInBody(undefined), 1);
  assert.is(reportsInBody(Number.NaN), 1);
  assert.is(reportsInBody(0), 1);
});

/** An ingest that holds every submit until released, counting its reports as a real one does. */
function heldIngest() {
  let depth = 0;
  const held: Array<{ n: number; release: () => void }> = [];
  let maxDepth = 0;
  const ingest = {
    queueDepth: () => depth,
    submit(reports: Uint8Array[]): Promise<ReportAnswer[]> {
      depth += reports.length;
      maxDepth = Math.max(maxDepth, depth);
      return new Promise((resolve) => {
        held.push({
          n: reports.length,
          release: () => {
            depth -= reports.length;
            resolve(reports.map((_, index) => ({ index, status: 'accepted', device: 'd', seq: index, state: 'committed' }) as ReportAnswer));
          },
        });
      });
    },
  } as unknown as Ingest;
  return { ingest, held, maxDepth: () => maxDepth };
}

/** A CBOR sequence of n byte strings of REPORT_BYTES - 2 bytes: n reports of REPORT_BYTES bytes to splitReports. */
const body = (n: number) => Buffer.concat(new Array(n).fill(Buffer.from([0x58, REPORT_BYTES - 2, ...new Array(REPORT_BYTES - 2).fill(0)])));

function post(url: string, b: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/cbor-seq', 'content-length': b.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(b);
  });
}

/** A server in front of a held ingest (heldIngest) with an admission bound of `maxInFlight`. */
async function withServer(maxInFlight: number, fn: (url: string, h: ReturnType<typeof heldIngest>) => Promise<void>) {
  const h = heldIngest();
  const metrics = createMetrics({ queueDepth: () => 0, openGaps: () => 0, devices: () => 0 });
  const server = createIngestServer({ ingest: h.ingest, store: {} as never, logger: silentLogger, metrics, workers: 1, schemaVersion: 4, maxInFlightReports: maxInFlight });
  const url = await listen(server, 0, '127.0.0.1');
  try {
    await fn(url, h);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), what);
};

test('POST /v1/reports: beyond --max-in-flight a request waits unread, and is served when reports leave', async () => {
  await withServer(150, async (url, h) => {
    const answers = [0, 1, 2, 3].map(() => post(url, body(100)));
    // 100 in flight < 150 lets a second in; 200 holds the other two.
    await until(() => h.held.length === 2, 'two requests submitted');
    await new Promise((r) => setTimeout(r, 50));
    assert.is(h.held.length, 2, 'the third waits while 200 reports are in flight');
    const waiting = async () => Number(/^deep_ingest_admission_waiting (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
    assert.is(await waiting(), 2, 'the operator sees the two waiting');
    h.held[0].release();
    await until(() => h.held.length === 3, 'a third is let in once 100 left');
    h.held[1].release();
    await until(() => h.held.length === 4, 'the fourth follows');
    h.held[2].release();
    h.held[3].release();
    const done = await Promise.all(answers);
    assert.is(await waiting(), 0);
    assert.equal(done.map((d) => d.status), [200, 200, 200, 200]);
    assert.equal(done.map((d) => JSON.parse(d.text).accepted), [100, 100, 100, 100]);
    // At most the bound plus one request's reports.
    assert.ok(h.maxDepth() <= 250, `max in flight ${h.maxDepth()}`);
  });
});

test('POST /v1/reports: a client gone while its body is read frees its place', async () => {
  await withServer(1, async (url, h) => {
    // Headers and half of the promised body, then the connection closes.
    const port = Number(new URL(url).port);
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => {
        s.write(`POST /v1/reports HTTP/1.1\r\nhost: x\r\ncontent-type: application/cbor-seq\r\ncontent-length: 200\r\n\r\n`);
        s.write(body(50));
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 50);
      });
      s.on('error', reject);
    });
    // The bound is one report: were the dead read still counted, this would wait for ever.
    const next = post(url, body(3));
    await until(() => h.held.length === 1, 'the next request is let in');
    h.held[0].release();
    assert.is((await next).status, 200);
  });
});

test.run();
