// `deep verify FILE --pubkey HEX`: checks every report of a CBOR sequence with the ledger
// verifier (host-tools/verify): one line per problem, then a JSON summary; exit 1 if any
// report fails.
import { parseArgs, UsageError } from '../args';
import { EXIT, type Command } from '../command';
import { readInputFile } from '../input-file';
import { decodeFirst } from '../../../protocol/cbor';
import { fromHex, toHex } from '../../../protocol/bytes';
import { kidFromPublicKey } from '../../../protocol/kid';
import { checkChain, keyRegistry, MemoryChain, MIN_EPOCH_S, verifyReportBytes, type RejectReason } from '../../verify';

/** The latest --now taken: 2100-01-01T00:00:00Z (a later clock is a typo, not a verifier's). */
const MAX_NOW_S = 4_102_444_800;

export interface VerifySummary {
  file: string;
  reports: number;
  valid: number;
  duplicates: number;
  rejected: number;
  byReason: Partial<Record<RejectReason, number>>;
  kid: string;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Sum over valid reports per pack (CAN id) and flow, mWh. */
  totalsMwh: Record<string, { gridToPack: number; packToGrid: number; packToMotor: number; regenToPack: number }>;
  /** Bytes at the end of the file that are not a complete CBOR item. */
  undecodableBytes: number;
}

/** Verifies a whole file's worth of bytes; `problems` gets one line per failure. */
export function verifyFile(file: string, bytes: Uint8Array, publicKey: Uint8Array, problems: string[], nowS?: number): VerifySummary {
  const kid = kidFromPublicKey(publicKey);
  const registry = keyRegistry([publicKey], kidFromPublicKey);
  const chain = new MemoryChain();
  const s: VerifySummary = {
    file, reports: 0, valid: 0, duplicates: 0, rejected: 0, byReason: {}, kid: toHex(kid),
    firstSeq: null, lastSeq: null, totalsMwh: {}, undecodableBytes: 0,
  };
  let off = 0;
  while (off < bytes.length) {
    let end: number;
    try {
      end = decodeFirst(bytes, off).end;
    } catch (e) {
      // Without a well-formed item the boundary of the next report is unknown: stop here.
      problems.push(`offset ${off}: malformed: ${(e as Error).message}; the remaining ${bytes.length - off} bytes cannot be split into reports`);
      s.undecodableBytes = bytes.length - off;
      s.rejected++;
      s.byReason.malformed = (s.byReason.malformed ?? 0) + 1;
      break;
    }
    const item = bytes.subarray(off, end);
    const n = s.reports++;
    const v = verifyReportBytes(item, registry, { nowS });
    const verdict = v.ok ? checkChain(v, chain) : v;
    if (verdict.ok && v.ok) {
      if (verdict.status === 'duplicate') s.duplicates++;
      else {
        chain.apply(v);
        s.valid++;
        const r = v.report;
        if (s.firstSeq === null) s.firstSeq = r.seq;
        s.lastSeq = r.seq;
        for (const p of r.packs) {
          const t = (s.totalsMwh[String(p.canId)] ??= { gridToPack: 0, packToGrid: 0, packToMotor: 0, regenToPack: 0 });
          t.gridToPack += p.gridToPackMwh;
          t.packToGrid += p.packToGridMwh;
          t.packToMotor += p.packToMotorMwh;
          t.regenToPack += p.regenToPackMwh;
        }
      }
    } else if (!verdict.ok) {
      s.rejected++;
      s.byReason[verdict.reason] = (s.byReason[verdict.reason] ?? 0) + 1;
      const seq = v.ok ? ` seq ${v.report.seq}` : '';
      problems.push(`report #${n} (offset ${off}${seq}): ${verdict.reason}: ${verdict.detail}`);
    }
    off = end;
  }
  return s;
}

const command: Command = {
  name: 'verify',
  summary: 'verify every report of a file (signature, schema, chain, plausibility)',
  usage: 'deep verify FILE --pubkey HEX',
  options: {
    pubkey: { type: 'string', description: "the device's Ed25519 public key, 64 hex digits" },
    now: { type: 'string', description: `reject synced windows ending after this epoch second (+300 s), ${MIN_EPOCH_S}..${MAX_NOW_S}` },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length !== 1) throw new UsageError('expected exactly one FILE');
    const pub = p.options.pubkey;
    if (typeof pub !== 'string' || !/^[0-9a-fA-F]{64}$/.test(pub)) throw new UsageError('--pubkey expected 64 hex digits (32 bytes)');
    let nowS: number | undefined;
    if (p.options.now !== undefined) {
      const raw = String(p.options.now);
      nowS = Number(raw);
      if (!/^\d+$/.test(raw) || nowS < MIN_EPOCH_S || nowS > MAX_NOW_S) {
        throw new UsageError(`--now expected epoch seconds from ${MIN_EPOCH_S} (2024-01-01) to ${MAX_NOW_S} (2100-01-01), got ${JSON.stringify(raw)}`);
      }
    }
    const file = p.positionals[0];
    const bytes = readInputFile(file);
    const problems: string[] = [];
    if (bytes.length === 0) problems.push(`${file} is empty: no reports`);
    const summary = verifyFile(file, bytes, fromHex(pub), problems, nowS);
    for (const line of problems) process.stdout.write(line + '\n');
    process.stdout.write(JSON.stringify(summary) + '\n');
    return summary.rejected === 0 && summary.reports > 0 ? EXIT.OK : EXIT.FAILED;
  },
};
export default command;
