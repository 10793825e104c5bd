// Typed rejection results of the verifier. The reason strings are the protocol's
// (protocol/reasons.ts, protocol/SPEC.md §5): the ingest node returns them over HTTP and
// counts them in /metrics.
import { REJECT, type RejectReason } from '../../protocol/reasons';

export { REJECT, type RejectReason };

export const REJECT_REASONS: readonly RejectReason[] = Object.values(REJECT);

export interface Rejection {
  ok: false;
  reason: RejectReason;
  /** Human-readable: what was wrong, naming the field. */
  detail: string;
  /** Dotted payload field, when the problem is in one (e.g. "packs[1].packToMotorMwh"). */
  field?: string;
  /** Set when the signature verified under a registered key and the rejection is about
   *  what was signed: only then is the rejection the key holder's doing. */
  signed?: true;
}

export function reject(reason: RejectReason, detail: string, field?: string): Rejection {
  return field === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, field };
}
