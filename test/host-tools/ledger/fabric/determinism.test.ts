// Every endorser must compute the same write set for a transaction: the chaincode reads no
// clock but the transaction timestamp, draws no random numbers, writes no floating point
// and iterates state only in key order. Each transaction of a full day's flow (registration,
// prices, reports with grid energy, a batch) is endorsed twice with the process clock and
// Math.random moved between the two, then once more on a second ledger built in another
// order; the read sets, write sets, events and answers must be byte for byte the same.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { newLedger, registerDevice, NOW_S, GRID, ANCHORER, RIDER } from './_ledger';
import { Ride, device, BASE_S } from '../../ingest/_fixtures';
import type { Endorsement, MemoryLedger } from '../../../../host-tools/ledger/fabric/inproc';
import type { FabricIdentity } from '../../../../host-tools/ledger/fabric/identity';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../host-tools/ledger/fabric/src');

const same = (a: Endorsement, b: Endorsement, what: string) => {
  assert.is(a.status, 200, `${what}: ${a.message}`);
  assert.equal(a.reads, b.reads, `${what}: read sets differ`);
  assert.equal(a.writes.map(([k, v]) => [k, v && Buffer.from(v).toString('hex')]), b.writes.map(([k, v]) => [k, v && Buffer.from(v).toString('hex')]), `${what}: write sets differ`);
  assert.equal(a.event && Buffer.from(a.event.payload).toString('hex'), b.event && Buffer.from(b.event.payload).toString('hex'), `${what}: events differ`);
  assert.is(Buffer.from(a.payload).toString('hex'), Buffer.from(b.payload).toString('hex'), `${what}: answers differ`);
};

/** Endorses twice with the process clock and Math.random moved in between; commits the first. */
async function twice(ledger: MemoryLedger, who: FabricIdentity, fn: string, args: string[], txId: string): Promise<Endorsement> {
  const realNow = Date.now;
  const realRandom = Math.random;
  try {
    Date.now = () => realNow() + 86_400_000 * 400;
    Math.random = () => 0.999;
    const a = await ledger.endorse(who, fn, args, { timestampS: NOW_S, txId });
    Date.now = () => 0;
    Math.random = () => 0;
    const b = await ledger.endorse(who, fn, args, { timestampS: NOW_S, txId });
    same(a, b, fn);
    ledger.commit(a);
    return a;
  } finally {
    Date.now = realNow;
    Math.random = realRandom;
  }
}

function numbersIn(v: unknown, out: number[] = []): number[] {
  if (typeof v === 'number') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => numbersIn(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => numbersIn(x, out));
  return out;
}

test('the same transactions endorsed twice (clock and randomness moved) and on another ledger give the same write sets', async () => {
  const devs = [device(21), device(22), device(23)];
  const rides = devs.map((d) => new Ride(d));
  const prices = JSON.stringify([0, 1, 2, 3].map((h) => ({ startS: BASE_S - (BASE_S % 3600) + h * 3600, importMicro: 215000 + h * 1001, exportMicro: 80000 - h * 333 })));
  const pricesEnd = String(BASE_S - (BASE_S % 3600) + 4 * 3600);
  const grid = (r: Ride) => r.next({ tweak: (x) => { x.packs[0].gridToPackMwh += 700 + r.seq; x.packs[0].lifetime.gridToPackMwh += 700 + r.seq; x.packs[1].packToGridMwh += 333; x.packs[1].lifetime.packToGridMwh += 333; } });
  const batches: string[][] = [];
  for (let k = 0; k < 3; k++) batches.push(rides.flatMap((r) => [grid(r), r.next(), grid(r)]).map((b) => Buffer.from(b).toString('base64')));

  const ledger = await newLedger();
  const writes: Endorsement[] = [];
  await twice(ledger, GRID, 'PostPrices', [prices, pricesEnd], 'tx-prices');
  for (const [i, d] of devs.entries()) await registerDevice(ledger, d, `rider-${i % 2}`);
  for (const [k, b] of batches.entries()) {
    // one transaction per batch, all devices' reports interleaved
    const seq = Buffer.concat(b.map((x) => Buffer.from(x, 'base64'))).toString('base64');
    writes.push(await twice(ledger, RIDER, 'SubmitReports', [seq], `tx-reports-${k}`));
  }
  const ranges = JSON.stringify(devs.map((d) => d.id).sort().map((id) => ({ device: id, firstSeq: 0, lastSeq: 8 })));
  writes.push(await twice(ledger, ANCHORER, 'AnchorBatch', ['1', 'ab'.repeat(32), '27', ranges], 'tx-anchor'));

  // every number written is an integer (money is written as decimal strings of BigInts)
  for (const e of writes) {
    for (const [k, v] of e.writes) {
      for (const n of numbersIn(JSON.parse(Buffer.from(v!).toString()))) assert.ok(Number.isSafeInteger(n), `${JSON.stringify(k)} holds ${n}`);
    }
  }
  assert.ok(writes[0].writes.some(([k]) => k.includes('deep.entry')), 'reports with grid energy were settled');

  // Another ledger, devices registered in the opposite order, prices posted after them:
  // the same reports give the same writes.
  const other = await newLedger();
  for (const [i, d] of [...devs.entries()].reverse()) await registerDevice(other, d, `rider-${i % 2}`);
  await other.submit(GRID, 'PostPrices', [prices, pricesEnd], { timestampS: NOW_S });
  for (const [k, b] of batches.entries()) {
    const seq = Buffer.concat(b.map((x) => Buffer.from(x, 'base64'))).toString('base64');
    const e = await other.endorse(RIDER, 'SubmitReports', [seq], { timestampS: NOW_S, txId: `tx-reports-${k}` });
    assert.equal(e.writes.map(([key, v]) => [key, Buffer.from(v!).toString('hex')]), writes[k].writes.map(([key, v]) => [key, Buffer.from(v!).toString('hex')]), `batch ${k} on the other ledger`);
    other.commit(e);
  }
  assert.equal(JSON.parse(await other.evaluate(RIDER, 'GetBalance', ['rider-0'], { timestampS: NOW_S })), JSON.parse(await ledger.evaluate(RIDER, 'GetBalance', ['rider-0'], { timestampS: NOW_S })));
});

test('the chaincode source reads no clock, no randomness, parses no floats, iterates no object or map unsorted', () => {
  for (const f of readdirSync(SRC).filter((x) => x.endsWith('.ts'))) {
    const text = readFileSync(path.join(SRC, f), 'utf8').replace(/\/\/.*$/gm, '');
    for (const bad of [/Date\.now/, /new Date\b/, /Math\.random/, /randomBytes|randomUUID|getRandomValues/, /performance\.now|process\.hrtime/, /parseFloat|toFixed/, /getDateTimestamp/, /Object\.(keys|values|entries)\([^)]*\)(?!\.sort\(\))/, /\.(entries|keys|values)\(\)/]) {
      assert.not.match(text, bad, `${f} uses ${bad}`);
    }
  }
});

test.run();
