// Crash test: the node runs as a child process (`deep ingest`), is killed with SIGKILL in
// the middle of a load, and restarted on the same SQLite file. Every report acknowledged
// before the kill must be there, byte for byte, and verify; the chain then continues.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { verifyReportBytes, keyRegistry, kidFromPublicKey } from '../../../host-tools/verify';
import { spawnIngestNode } from '../../../host-tools/ingest/child';
import { Ride, device, register, postReports, getJson, cborArray, tempDir } from './_fixtures';

function startChild(db: string): Promise<{ child: ChildProcess; url: string }> {
  return spawnIngestNode({ db, workers: 2 });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

test('SIGKILL during a load loses no acknowledged report', async () => {
  const tmp = tempDir();
  const db = path.join(tmp.dir, 'ledger.db');
  const devices = [51, 52, 53, 54].map(device);
  const chains = devices.map((d) => new Ride(d).take(400));
  let { child, url } = await startChild(db);
  try {
    for (const d of devices) assert.is((await register(url, d)).status, 201);
    // A device with a gap: seq 2 is held pending across the crash, promoted after it.
    const gappy = device(59);
    const gapChain = new Ride(gappy).take(3);
    assert.is((await register(url, gappy)).status, 201);
    assert.equal((await postReports(url, cborArray([gapChain[0], gapChain[2]]))).json.results.map((a: any) => a.state), ['committed', 'pending']);
    const acked = devices.map(() => new Set<number>());
    let total = 0;
    let inflight = 0;
    let stop = false;
    const killAt = 500;
    const loops = devices.map(async (_d, k) => {
      for (let seq = 0; seq < 400 && !stop; seq += 20) {
        let r;
        inflight++;
        try {
          r = await postReports(url, cborArray(chains[k].slice(seq, seq + 20)));
        } catch (e) {
          // Only the exchange itself may fail, and only once the node was killed: then
          // the answer never arrived and nothing of it counts as acknowledged.
          if (!stop) throw e;
          return;
        } finally {
          inflight--;
        }
        // An answer that did arrive is checked in full, before or after the kill.
        assert.is(r.status, 200, JSON.stringify(r.json));
        for (const a of r.json.results) {
          assert.ok(a.status === 'accepted' || a.status === 'duplicate', JSON.stringify(a));
          acked[k].add(a.seq);
          total++;
        }
        if (total >= killAt && !stop) {
          stop = true;
          // Requests of the other devices are in flight right now.
          assert.ok(inflight > 0);
          child.kill('SIGKILL');
        }
      }
    });
    await Promise.all(loops);
    await killed(child);
    assert.is(child.signalCode, 'SIGKILL');
    assert.ok(total >= killAt, `only ${total} reports acknowledged before the kill`);

    ({ child, url } = await startChild(db));
    for (let k = 0; k < devices.length; k++) {
      const reg = keyRegistry([devices[k].publicKey], kidFromPublicKey);
      const stored = new Map<number, Uint8Array>();
      let next: string | null = `/v1/devices/${devices[k].id}/reports?limit=1000`;
      while (next) {
        const page: any = (await getJson(url + next)).json;
        for (const r of page.reports) stored.set(r.seq, new Uint8Array(Buffer.from(r.cose, 'base64')));
        next = page.next;
      }
      for (const seq of acked[k]) {
        const bytes = stored.get(seq);
        assert.ok(bytes, `device ${k}: acknowledged seq ${seq} lost`);
        assert.equal(bytes, chains[k][seq]);
        assert.ok(verifyReportBytes(bytes!, reg).ok);
      }
      // The chain is contiguous and continues where it stopped.
      const head = (await getJson(`${url}/v1/devices/${devices[k].id}`)).json.head.seq;
      assert.is(stored.size, head + 1);
      const rest = chains[k].slice(head + 1, head + 21);
      if (rest.length) {
        const r = await postReports(url, cborArray(rest));
        assert.is(r.json.accepted, rest.length);
      }
    }
    const before = (await getJson(`${url}/v1/devices/${gappy.id}`)).json;
    assert.equal([before.head.seq, before.gap.from, before.gap.pending], [0, 1, 1]);
    const filled = await postReports(url, cborArray([gapChain[1]]));
    assert.is(filled.json.results[0].state, 'committed');
    const after = (await getJson(`${url}/v1/devices/${gappy.id}`)).json;
    assert.equal([after.head.seq, after.gap], [2, null]);
  } finally {
    child.kill('SIGKILL');
    await killed(child);
    tmp.cleanup();
  }
});

test.run();
