// Shapes shared by the ingest node's main thread and its verify workers.
import type { StoredReport } from './store';
import type { EnergyReport } from '../../protocol/report';
import type { RejectReason } from '../../protocol/reasons';

/** A worker's answer for one report: signature and payload checked, chain not yet. */
export type Verdict =
  | { ok: true; facts: StoredReport; report: EnergyReport; micros: number }
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
