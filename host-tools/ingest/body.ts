// Splits a POST /v1/reports body into the exact byte spans of its reports, without
// re-encoding anything: the verifier must check the bytes received (RFC 9052 §4.4 signs
// the encoded payload, and the chain hashes the complete COSE bytes).
//
// This is framing only, by well-formedness (RFC 8949 §3 and Appendix C). Strictness
// (shortest forms, key order...) is the verifier's job per report, so one non-canonical
// report is rejected on its own instead of failing its whole batch.

export class BodyError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'BodyError';
  }
}

/** Media types accepted by POST /v1/reports (parameters such as cose-type are ignored). */
export const REPORT_MEDIA_TYPES = ['application/cose', 'application/cbor', 'application/cbor-seq'] as const;
export type ReportMediaType = (typeof REPORT_MEDIA_TYPES)[number];

export function parseMediaType(header: string | undefined): ReportMediaType | undefined {
  if (!header) return undefined;
  const t = header.split(';')[0].trim().toLowerCase();
  return (REPORT_MEDIA_TYPES as readonly string[]).includes(t) ? (t as ReportMediaType) : undefined;
}

const MAX_DEPTH = 16;

// The item head readHead() read last: module state rather than an object per item (a body
// of 100 reports has over a thousand items). Read it into locals at once: skipItem recurses.
let major = 0;
let arg = 0;
let next = 0;

function readHead(b: Uint8Array, p: number): void {
  if (p >= b.length) throw new BodyError(`truncated: expected a data item at byte ${p}`, p);
  const ib = b[p];
  major = ib >> 5;
  const ai = ib & 31;
  if (ai < 24) {
    arg = ai;
    next = p + 1;
    return;
  }
  if (ai === 31) {
    throw new BodyError(`indefinite-length item (initial byte 0x${ib.toString(16)}) at byte ${p}: reports use definite lengths only (RFC 8949 §4.2.1)`, p);
  }
  if (ai > 27) throw new BodyError(`reserved additional information ${ai} at byte ${p}`, p);
  const n = 1 << (ai - 24);
  if (p + 1 + n > b.length) throw new BodyError(`truncated: the argument of the item at byte ${p} needs ${n} byte(s)`, p);
  let a = 0;
  for (let i = 0; i < n; i++) a = a * 256 + b[p + 1 + i];
  if (a > Number.MAX_SAFE_INTEGER) throw new BodyError(`length beyond 2^53-1 at byte ${p}`, p);
  arg = a;
  next = p + 1 + n;
}

/** Offset just after the well-formed data item starting at `p`. */
export function skipItem(b: Uint8Array, p: number, depth = 0): number {
  if (depth > MAX_DEPTH) throw new BodyError(`nesting deeper than ${MAX_DEPTH} at byte ${p}`, p);
  readHead(b, p);
  const m = major;
  const a = arg;
  const n = next;
  switch (m) {
    case 0:
    case 1:
    case 7:
      return n;
    case 2:
    case 3:
      if (n + a > b.length) {
        throw new BodyError(`truncated: string at byte ${p} declares ${a} byte(s), ${b.length - n} left`, p);
      }
      return n + a;
    case 6:
      return skipItem(b, n, depth + 1);
    default: {
      // An element takes at least one byte: a count beyond the bytes left is truncation.
      const items = m === 4 ? a : 2 * a;
      if (items > b.length - n) throw new BodyError(`truncated: ${m === 4 ? 'array' : 'map'} at byte ${p} declares ${a} item(s)`, p);
      let q = n;
      for (let i = 0; i < items; i++) q = skipItem(b, q, depth + 1);
      return q;
    }
  }
}

export interface ReportSpan {
  bytes: Uint8Array;
  /** Offset of the report in the request body, for error messages. */
  offset: number;
}

/**
 * application/cose: the body is one COSE_Sign1.
 * application/cbor: one CBOR array whose elements are COSE_Sign1 items (tag 18 or bare),
 *   or byte strings wrapping one.
 * application/cbor-seq: a CBOR sequence (RFC 8742) of COSE_Sign1 items, which is what
 *   `deep report --out FILE` writes.
 */
export function splitReports(body: Uint8Array, type: ReportMediaType, maxReports: number): ReportSpan[] {
  if (body.length === 0) throw new BodyError('empty body: expected CBOR', 0);
  const out: ReportSpan[] = [];
  const add = (start: number, end: number) => {
    if (out.length >= maxReports) throw new TooManyReports(maxReports);
    readHead(body, start);
    // A byte-string element wraps one report: its content is the report.
    if (major === 2) out.push({ bytes: body.subarray(next, end), offset: next });
    else out.push({ bytes: body.subarray(start, end), offset: start });
  };
  if (type === 'application/cose') {
    const end = skipItem(body, 0);
    if (end !== body.length) throw new BodyError(`${body.length - end} trailing byte(s) after the COSE_Sign1 at byte ${end}`, end);
    out.push({ bytes: body, offset: 0 });
    return out;
  }
  if (type === 'application/cbor-seq') {
    let p = 0;
    while (p < body.length) {
      const end = skipItem(body, p);
      add(p, end);
      p = end;
    }
    return out;
  }
  readHead(body, 0);
  if (major !== 4) throw new BodyError(`expected a CBOR array of COSE_Sign1 at byte 0, got major type ${major}`, 0);
  const count = arg;
  if (count > maxReports) throw new TooManyReports(maxReports);
  let p = next;
  for (let i = 0; i < count; i++) {
    const end = skipItem(body, p);
    add(p, end);
    p = end;
  }
  if (p !== body.length) throw new BodyError(`${body.length - p} trailing byte(s) after the array at byte ${p}`, p);
  return out;
}

export class TooManyReports extends Error {
  constructor(readonly max: number) {
    super(`more than ${max} reports in one request`);
    this.name = 'TooManyReports';
  }
}
