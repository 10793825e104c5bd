import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EmuFlash, PowerCutError } from '../../../host-tools/emu/flash';
import { Prng } from '../../../host-tools/sim/prng';
import { createQueue, QUEUE_OK, QUEUE_FULL, type QueueItem } from '../../../firmware/queue/queue';
import { createFaultLog, FAULT } from '../../../firmware/app/faults';

function payloadFor(seq: number, len: number): Uint8Array {
  const p = new Uint8Array(len);
  for (let i = 0; i < len; i++) p[i] = (seq * 31 + i * 7) & 255;
  return p;
}

test('append, peek oldest first within count and byte limits, remove, last', () => {
  const flash = new EmuFlash({ size: 16384, pageSize: 4096 });
  const q = createQueue({ flash, segBytes: 300 });
  q.recover();
  assert.is(q.last(), undefined);
  for (let s = 0; s < 10; s++) assert.is(q.append(s, payloadFor(s, 50 + s)), QUEUE_OK);
  assert.is(q.pending(), 10);
  const a = q.peek(3, 10000);
  assert.equal(a.map((i) => i.seq), [0, 1, 2]);
  assert.equal(a[1].payload, payloadFor(1, 51));
  assert.equal(q.peek(100, 120).map((i) => i.seq), [0, 1], 'byte limit (at least one item always)');
  assert.equal(q.peek(100, 1).map((i) => i.seq), [0]);
  q.remove([a[0], a[2]]);
  assert.equal(q.peek(100, 100000).map((i) => i.seq), [1, 3, 4, 5, 6, 7, 8, 9]);
  assert.is(q.last()!.seq, 9);
  assert.equal(q.last()!.payload, payloadFor(9, 59));
  assert.throws(() => q.append(9, payloadFor(9, 5)), /seq/);
  assert.throws(() => q.append(10, new Uint8Array(0)), /payload/);
  // Everything removed: old segments go, the chain head stays.
  q.remove(q.peek(100, 100000));
  assert.is(q.pending(), 0);
  assert.is(q.last()!.seq, 9);
  assert.ok(q.stats().segments <= 2, `segments ${q.stats().segments}`);
  // After a reboot the state is the same.
  const q2 = createQueue({ flash, segBytes: 300 });
  q2.recover();
  assert.is(q2.pending(), 0);
  assert.is(q2.last()!.seq, 9);
  assert.is(q2.append(10, payloadFor(10, 20)), QUEUE_OK);
  assert.equal(q2.peek(10, 1000).map((i) => i.seq), [10]);
});

test('full: QUEUE_FULL with a fault, nothing written; space returns after acks', () => {
  const flash = new EmuFlash({ size: 16384, pageSize: 4096 });
  const faults = createFaultLog({ now: () => 0 });
  const q = createQueue({ flash, faults, segBytes: 200, maxSegments: 3 });
  q.recover();
  let seq = 0;
  while (q.append(seq, payloadFor(seq, 80)) === QUEUE_OK) seq++;
  assert.is(seq, 6, '2 records of 92 bytes per 200-byte segment, 3 segments');
  assert.is(faults.count(FAULT.QUEUE_FULL), 1);
  const before = flash.stats.bytesProgrammed;
  assert.is(q.append(seq, payloadFor(seq, 80)), QUEUE_FULL);
  assert.is(flash.stats.bytesProgrammed, before);
  q.remove(q.peek(2, 1e6));
  assert.is(q.append(seq, payloadFor(seq, 80)), QUEUE_OK);
});

test('storage without space: QUEUE_FULL, not an exception', () => {
  const flash = new EmuFlash({ size: 4096, pageSize: 4096 });
  flash.write('other', new Uint8Array(3500));
  const q = createQueue({ flash, segBytes: 1000 });
  q.recover();
  assert.is(q.append(0, payloadFor(0, 10)), QUEUE_FULL);
});

interface Outcome { committed: Map<number, Uint8Array>; removed: Set<number>; inflight?: number; removing: Set<number> }

/** The scripted life of a queue: appends of varying sizes, sends and acks, segment turnover. */
function script(flash: EmuFlash, out: Outcome, startSeq = 0): void {
  const q = createQueue({ flash, segBytes: 240, maxSegments: 6 });
  q.recover();
  let seq = startSeq;
  for (let round = 0; round < 15; round++) {
    for (let k = 0; k < 3; k++) {
      const p = payloadFor(seq, 20 + ((seq * 37) % 90));
      out.inflight = seq;
      const r = q.append(seq, p);
      out.inflight = undefined;
      if (r === QUEUE_OK) out.committed.set(seq, p);
      seq++;
    }
    const items: QueueItem[] = q.peek(2 + (round % 3), 1e6);
    for (const it of items) out.removing.add(it.seq);
    q.remove(items);
    for (const it of items) { out.removed.add(it.seq); out.removing.delete(it.seq); }
  }
}

test('power cut at every byte of every write: committed reports intact, nothing corrupt offered, queue continues', () => {
  const ref = new EmuFlash({ size: 4096, pageSize: 1024 });
  const refOut: Outcome = { committed: new Map(), removed: new Set(), removing: new Set() };
  script(ref, refOut);
  const total = ref.stats.bytesProgrammed;
  assert.ok(total > 2000, `script programs ${total} bytes`);
  assert.ok(ref.stats.compacts >= 1, 'the script goes through a compaction');
  let cutsInAppend = 0;
  for (let cut = 0; cut < total; cut++) {
    const torn = new Prng(cut);
    const flash = new EmuFlash({ size: 4096, pageSize: 1024, rng: () => torn.next() });
    const out: Outcome = { committed: new Map(), removed: new Set(), removing: new Set() };
    flash.armCut(cut);
    let threw = false;
    try { script(flash, out); } catch (e) {
      if (!(e instanceof PowerCutError)) throw e;
      threw = true;
    }
    assert.ok(threw, `cut ${cut} must strike inside the script`);
    if (out.inflight !== undefined) cutsInAppend++;
    flash.reboot();
    const faults = createFaultLog({ now: () => 0 });
    const q = createQueue({ flash, faults, segBytes: 240, maxSegments: 6 });
    q.recover();
    const offered = q.peek(1000, 1e9);
    const seen = new Set<number>();
    for (const it of offered) {
      const p = out.committed.get(it.seq) ?? (it.seq === out.inflight ? payloadFor(it.seq, 20 + ((it.seq * 37) % 90)) : undefined);
      assert.ok(p, `cut ${cut}: offered seq ${it.seq} was never appended`);
      assert.equal(it.payload, p, `cut ${cut}: seq ${it.seq} intact`);
      assert.not.ok(out.removed.has(it.seq), `cut ${cut}: removed seq ${it.seq} came back`);
      seen.add(it.seq);
    }
    for (const s of out.committed.keys()) {
      if (out.removed.has(s) || out.removing.has(s)) continue;
      assert.ok(seen.has(s), `cut ${cut}: committed seq ${s} lost`);
    }
    const maxCommitted = Math.max(-1, ...out.committed.keys());
    const last = q.last();
    if (maxCommitted >= 0) {
      assert.ok(last && (last.seq === maxCommitted || last.seq === out.inflight), `cut ${cut}: chain head ${last?.seq} vs ${maxCommitted}`);
      assert.equal(last!.payload, payloadFor(last!.seq, 20 + ((last!.seq * 37) % 90)));
    }
    // The device carries on: the next report goes in and comes out.
    const next = (last ? last.seq : -1) + 1;
    assert.is(q.append(next, payloadFor(next, 33)), QUEUE_OK, `cut ${cut}: append after recovery`);
    const again = q.peek(1000, 1e9);
    assert.is(again[again.length - 1].seq, next);
  }
  assert.ok(cutsInAppend > total / 3);
});

test('flash wear at 60 s reports: write calls and bytes per hour, page erases per day', () => {
  const flash = new EmuFlash({ size: 262144, pageSize: 4096 });
  const q = createQueue({ flash });
  q.recover();
  let seq = 0;
  const hour = () => { for (let m = 0; m < 60; m++) { assert.is(q.append(seq, payloadFor(seq, 220)), QUEUE_OK); seq++; q.remove(q.peek(10, 1e6)); } };
  hour();
  const w0 = flash.stats.writeCalls + flash.stats.eraseCalls, b0 = flash.stats.bytesProgrammed;
  hour();
  const writesPerHour = flash.stats.writeCalls + flash.stats.eraseCalls - w0;
  const bytesPerHour = flash.stats.bytesProgrammed - b0;
  assert.ok(writesPerHour >= 180 && writesPerHour <= 190, `writes/h ${writesPerHour}`);
  assert.ok(bytesPerHour < 15000, `bytes/h ${bytesPerHour}`);
  for (let h = 0; h < 22; h++) hour();
  const maxPageErases = Math.max(...flash.pageErases);
  assert.ok(maxPageErases <= 3, `page erases per page per day ${maxPageErases}`);
  // A week offline: the queue fills (QUEUE_FULL), nothing is lost, all go out later.
  const faults = createFaultLog({ now: () => 0 });
  const q2 = createQueue({ flash, faults });
  q2.recover();
  let stored = 0;
  for (let m = 0; m < 7 * 24 * 60; m++) if (q2.append(seq, payloadFor(seq, 220)) === QUEUE_OK) { seq++; stored++; }
  assert.ok(faults.count(FAULT.QUEUE_FULL) > 0);
  assert.is(q2.pending(), stored);
  let sent = 0;
  for (let it = q2.peek(50, 1e6); it.length; it = q2.peek(50, 1e6)) { sent += it.length; q2.remove(it); }
  assert.is(sent, stored);
});

test('a damaged segment header is erased; a torn record seals its segment', () => {
  const flash = new EmuFlash({ size: 16384, pageSize: 4096 });
  flash.write('dq5', new Uint8Array([0x44, 0x00, 1, 255, 5, 0, 0, 0]), 0, 300);
  const faults = createFaultLog({ now: () => 0 });
  const q = createQueue({ flash, faults, segBytes: 300 });
  q.recover();
  assert.is(faults.count(FAULT.QUEUE_SEGMENT_BAD), 1);
  assert.not.ok(flash.list().includes('dq5'));
  assert.is(q.append(0, payloadFor(0, 10)), QUEUE_OK);
  // Tear a record by hand: a length with no commit byte.
  const seg = flash.list().find((n) => n.startsWith('dq'))!;
  flash.write(seg, new Uint8Array([5, 0, 1, 0, 0, 0]), 8 + 22);
  const q2 = createQueue({ flash, faults, segBytes: 300 });
  q2.recover();
  assert.is(faults.count(FAULT.QUEUE_TORN), 1);
  assert.is(q2.append(1, payloadFor(1, 10)), QUEUE_OK);
  assert.equal(q2.peek(10, 1e6).map((i) => [i.seq, i.seg]), [[0, 6], [1, 7]], 'the next record goes to a new segment');
});

test.run();
