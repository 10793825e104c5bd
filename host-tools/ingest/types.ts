// Shapes shared by the ingest node's main thread and its verify workers.
import type { FlowAmount } from './store';
import type { EnergyReport } from '../../protocol/report';
import type { RejectReason } from '../../protocol/reasons';

/** What the node keeps of a verified report besides its bytes. */
export interface ReportFacts {
  /** kid, lower-case hex (the device id). */
  deviceId: string;
  seq: number;
  prev: Uint8Array;
  hash: Uint8Array;
  windowStart: number | null;
  windowEnd: number | null;
  flows: FlowAmount[];
  faults: Record<string, unknown> | null;
}

/** A worker's answer for one report: signature and payload checked, chain not yet. */
export type Verdict =
  | { ok: true; facts: ReportFacts; report: EnergyReport; micros: number }
  | {
      ok: false;
      reason: RejectReason;
      detail: string;
      /** The kid the report claims, whether or not it is the sender's. */
      deviceId?: string;
      seq?: number;
      /** The signature verified under deviceId's key: the rejection counts against that device. */
      signed: boolean;
      micros: number;
    };

/** The per-report answer of POST /v1/reports. */
export type ReportAnswer =
  | { index: number; status: 'accepted'; device: string; seq: number; state: 'committed' | 'pending' }
  | { index: number; status: 'duplicate'; device: string; seq: number; state: 'committed' | 'pending' }
  | { index: number; status: 'rejected'; reason: RejectReason; detail: string; device?: string; seq?: number };

/** Messages to the verify workers. */
export type WorkerMessage =
  | { type: 'init'; state: { keys: Array<[string, Uint8Array]> } }
  | { type: 'key_add'; deviceId: string; publicKey: Uint8Array }
  | { type: 'key_remove'; deviceId: string }
  | { type: 'verify'; id: number; items: Uint8Array[]; receivedAt: number };
