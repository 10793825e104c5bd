// Typed rejection reasons of the verifier (protocol/SPEC.md "Rejection reasons"). The
// strings are stable: the ingest node returns them over HTTP and counts them in /metrics.
export const REJECT = {
  /** Not a well-formed, canonical COSE_Sign1 carrying a valid EnergyReport v1. */
  MALFORMED: 'malformed',
  /** No registered key has the kid of the report. */
  UNKNOWN_KEY: 'unknown_key',
  /** alg absent or other than -19 (Ed25519) / -8 (EdDSA). */
  UNSUPPORTED_ALG: 'unsupported_alg',
  /** The signature does not verify under the registered key. */
  BAD_SIGNATURE: 'bad_signature',
  /** seq already passed and the bytes are not the ones accepted for it. */
  REPLAY: 'replay',
  /** seq beyond head + 1: earlier reports are missing (an ingest node keeps it pending). */
  GAP: 'gap',
  /** Same seq as an accepted report with other bytes, or prev not the head's hash. */
  FORK: 'fork',
  /** Physically impossible or inconsistent figures (see SPEC.md). */
  IMPLAUSIBLE: 'implausible',
} as const;

export type RejectReason = (typeof REJECT)[keyof typeof REJECT];

export const REJECT_REASONS: readonly RejectReason[] = Object.values(REJECT);

export interface Rejection {
  ok: false;
  reason: RejectReason;
  /** Human-readable: what was wrong, naming the field. */
  detail: string;
  /** Dotted payload field, when the problem is in one (e.g. "packs[1].packToMotorMwh"). */
  field?: string;
}

export function reject(reason: RejectReason, detail: string, field?: string): Rejection {
  return field === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, field };
}
