// Verify worker: the stateless half of verification (COSE structure, algorithm, key,
// strict Ed25519 through node:crypto, payload schema, plausibility) with the verifier
// library of host-tools/verify, off the main thread. Chain rules need the ledger and run
// on the main thread inside the commit transaction (ingest.ts).
import { parentPort } from 'node:worker_threads';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { toHex } from '../../protocol/bytes';
import { decodeSign1 } from '../../protocol/cose';
import { verifyReportBytes } from '../verify';
import { Ed25519KeyRing, verifyReportFast } from '../verify/fast';
import type { WorkerMessage } from './types';
import { REJECT } from '../../protocol/reasons';
import { packVerdicts, type WorkerVerdict } from './verdicts';

// Registered keys by kid; the reference path reads the same ring as the fast one.
const keys = new Ed25519KeyRing();

/** Best effort: which device a rejected report claims to come from, for its counters. */
function claimed(bytes: Uint8Array): string | undefined {
  try {
    const kid = decodeSign1(bytes).kid;
    return kid ? toHex(kid) : undefined;
  } catch {
    return undefined;
  }
}

function verifyOne(bytes: Uint8Array, nowS: number): WorkerVerdict {
  const t0 = performance.now();
  // The fast path answers for what devices send; anything else, and every rejection, is
  // the reference verifier's (verify/fast.ts).
  const r = verifyReportFast(bytes, keys, { nowS }) ?? verifyReportBytes(bytes, keys, { nowS });
  const micros = Math.round((performance.now() - t0) * 1000);
  if (!r.ok) return { ok: false, reason: r.reason, detail: r.detail, deviceId: claimed(bytes), signed: r.signed === true, micros };
  return { ok: true, report: r.report, hash: r.hash, micros };
}

// Verification fills every core, and the main thread, which commits and answers, is then one
// thread among three on two cores: its commits and answers wait behind signature checks.
// A verify thread gives way (nice 10, Linux: setpriority on the thread id applies to that
// thread alone), so the main thread runs when it has work and the verify threads take
// the rest. Elsewhere, or when refused, the threads keep the default priority.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
} catch {
  // not Linux, or not allowed: default priority
}

const port = parentPort;
if (!port) throw new Error('host-tools/ingest/worker.ts runs as a worker thread (see pool.ts)');
port.on('message', (m: WorkerMessage) => {
  switch (m.type) {
    case 'init':
      keys.clear();
      for (const [id, pub] of m.state.keys) keys.set(id, pub);
      return;
    case 'key_add':
      keys.set(m.deviceId, m.publicKey);
      return;
    case 'key_remove':
      keys.delete(m.deviceId);
      return;
    case 'verify': {
      const nowS = Math.floor(m.receivedAt / 1000);
      const result: WorkerVerdict[] = [];
      for (const b of m.items) {
        try {
          result.push(verifyOne(b, nowS));
        } catch (e) {
          // verifyReportBytes returns its rejections; a throw is a bug in the library, and
          // the report is answered, not dropped.
          result.push({ ok: false, reason: REJECT.MALFORMED, detail: `verifier error: ${(e as Error).message}`, signed: false, micros: 0 });
        }
      }
      // Flat and moved, not cloned: verdicts.ts says why.
      const { packed, transfer } = packVerdicts(result);
      port.postMessage({ id: m.id, result: packed }, transfer);
      return;
    }
  }
});
