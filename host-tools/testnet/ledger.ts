// Reading the ledger back the way an outside party would: over the ingest node's public
// HTTP API, re-verifying every accepted report's raw COSE bytes with the device's
// registered public key (host-tools/verify) before counting a single mWh. The summary's
// "ledger" totals and the settlement are built from these re-verified reports only.
import { verifyReportBytes, keyRegistry, kidFromPublicKey } from '../verify';
import { CLOCK_SYNCED } from '../../protocol/report';
import { zeroFlows, FLOWS, type FlowTotals } from './view';
import type { GridFlowRecord } from './settlement';

export interface LedgerDevice {
  id: string;
  publicKey: Uint8Array;
  /** Highest contiguous seq, -1 when none. */
  headSeq: number;
  forks: number;
  pending: number;
  rejections: number;
}

export interface LedgerTotals {
  device: LedgerDevice;
  /** Reports the node listed as accepted, and how many of them re-verified here. */
  accepted: number;
  reverified: number;
  /** Per pack (BMS CAN id): energy by flow, integer mWh, from re-verified reports. */
  packs: Record<number, FlowTotals>;
  /** Grid flows per report, for settlement. */
  records: GridFlowRecord[];
  /** Problems found while re-verifying (none expected). */
  problems: string[];
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

export async function readDevice(endpoint: string, id: string): Promise<LedgerDevice> {
  const d = await getJson(`${endpoint}/v1/devices/${id}`);
  const head = d.head as { seq: number } | null;
  const fork = d.fork as { count: number } | null;
  const gap = d.gap as { pending: number } | null;
  const rej = (d.rejections ?? {}) as Record<string, number>;
  return {
    id,
    publicKey: new Uint8Array(Buffer.from(String(d.publicKey), 'hex')),
    headSeq: head ? head.seq : -1,
    forks: fork ? fork.count : 0,
    pending: gap ? gap.pending : 0,
    rejections: Object.values(rej).reduce((a, b) => a + b, 0),
  };
}

/** Every accepted report of a device, re-verified, summed per pack and flow. */
export async function readLedger(endpoint: string, id: string): Promise<LedgerTotals> {
  const device = await readDevice(endpoint, id);
  const registry = keyRegistry([device.publicKey], kidFromPublicKey);
  const out: LedgerTotals = { device, accepted: 0, reverified: 0, packs: {}, records: [], problems: [] };
  let next: string | null = `/v1/devices/${id}/reports?after=-1&limit=1000`;
  let expectSeq = 0;
  while (next) {
    const page = await getJson(endpoint + next);
    const reports = page.reports as { seq: number; cose: string }[];
    for (const r of reports) {
      out.accepted++;
      if (r.seq !== expectSeq) out.problems.push(`seq ${r.seq} listed where ${expectSeq} was expected`);
      expectSeq = r.seq + 1;
      const v = verifyReportBytes(new Uint8Array(Buffer.from(r.cose, 'base64')), registry);
      if (!v.ok) {
        out.problems.push(`seq ${r.seq} does not re-verify: ${v.reason} ${v.detail}`);
        continue;
      }
      out.reverified++;
      const rep = v.report;
      let g2p = 0, p2g = 0;
      for (const p of rep.packs) {
        const t = (out.packs[p.canId] ??= zeroFlows());
        for (const f of FLOWS) t[f] += p[`${f}Mwh` as const];
        g2p += p.gridToPackMwh;
        p2g += p.packToGridMwh;
      }
      out.records.push({
        device: id, seq: rep.seq, startS: rep.startS, endS: rep.startS + rep.durationS,
        synced: rep.clock === CLOCK_SYNCED, gridToPackMwh: g2p, packToGridMwh: p2g,
      });
    }
    next = (page.next as string | null) ?? null;
  }
  return out;
}
