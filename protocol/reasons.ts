// Rejection reasons: wire vocabulary. An ingest node answers each rejected report with one
// of these strings (POST /v1/reports, `reason`; protocol/SPEC.md §5), the device's uplink
// acts on them (firmware/uplink), the verifier returns them and /metrics counts them.
// Defined here once, shared by device and host; the strings never change.
// Plain ES5 object (the firmware imports it): no enum, no Object.values.
export var REJECT = {
  /** Not a well-formed, canonical COSE_Sign1 carrying a valid EnergyReport v1. */
  MALFORMED: 'malformed',
  /** No registered key has the kid of the report (or its key was revoked). */
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
  /** Physically impossible or inconsistent figures (SPEC.md §5, plausibility). */
  IMPLAUSIBLE: 'implausible',
} as const;

export type RejectReason = (typeof REJECT)[keyof typeof REJECT];
