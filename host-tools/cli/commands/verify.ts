// `deep verify FILE --pubkey HEX`: checks every report of a CBOR sequence with the ledger
// verifier (host-tools/verify): one line per problem, then a JSON summary; exit 1 if any
// report fails.
// `deep verify FILE --anchored --rpc URL [--contract ADDR] [--node URL | --proof FILE]`: the
// same checks, then each report's inclusion proof against the root anchored on chain,
// through nothing but the JSON-RPC endpoint (host-tools/ledger/check.ts); one line per
// report: `anchored batch=… block=… confirmations=…` or the reason it is not.
import { readFileSync } from 'node:fs';
import { parseArgs, UsageError } from '../args';
import { EXIT, type Command } from '../command';
import { readInputFile } from '../input-file';
import { decodeFirst } from '../../../protocol/cbor';
import { fromHex, toHex } from '../../../protocol/bytes';
import { kidFromPublicKey } from '../../../protocol/kid';
import { checkChain, keyRegistry, MemoryChain, MIN_EPOCH_S, verifyReportBytes, type RejectReason } from '../../verify';
import { CHAIN_OPTIONS, addressOption, chainChoice } from '../chain-options';
import { decodeSign1 } from '../../../protocol/cose';
import type { ProofJson } from '../../ledger/check';

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
  // Without a well-formed item the boundary of the next report is unknown: splitItems
  // stops there, and the rest counts as one malformed report.
  const split = splitItems(bytes);
  if (split.error) {
    problems.push(split.error);
    const last = split.items[split.items.length - 1];
    s.undecodableBytes = bytes.length - (last ? last.offset + last.bytes.length : 0);
    s.rejected++;
    s.byReason.malformed = (s.byReason.malformed ?? 0) + 1;
  }
  for (const { offset: off, bytes: item } of split.items) {
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
  }
  return s;
}

/** Splits a CBOR sequence into items; a malformed tail is returned as an error. */
function splitItems(bytes: Uint8Array): { items: { offset: number; bytes: Uint8Array }[]; error?: string } {
  const items: { offset: number; bytes: Uint8Array }[] = [];
  let off = 0;
  while (off < bytes.length) {
    let end: number;
    try {
      end = decodeFirst(bytes, off).end;
    } catch (e) {
      return { items, error: `offset ${off}: malformed: ${(e as Error).message}; the remaining ${bytes.length - off} bytes cannot be split into reports` };
    }
    items.push({ offset: off, bytes: bytes.subarray(off, end) });
    off = end;
  }
  return { items };
}

function readProofFile(file: string): Map<string, ProofJson> {
  const text = readFileSync(file, 'utf8').trim();
  let list: ProofJson[];
  try {
    const j = JSON.parse(text) as ProofJson | ProofJson[];
    list = Array.isArray(j) ? j : [j];
  } catch {
    list = text.split('\n').filter((l) => l.trim()).map((l, i) => {
      try {
        return JSON.parse(l) as ProofJson;
      } catch (e) {
        throw new Error(`${file}:${i + 1}: not a JSON proof: ${(e as Error).message}`);
      }
    });
  }
  return new Map(list.map((p) => [`${p.device}/${p.seq}`, p]));
}

async function verifyAnchored(p: ReturnType<typeof parseArgs>, file: string, bytes: Uint8Array): Promise<number> {
  const choice = chainChoice(p)!;
  const contract = addressOption(p, 'contract');
  const node = (p.options.node as string | undefined)?.replace(/\/+$/, '');
  const proofFile = p.options.proof as string | undefined;
  if (!node && !proofFile) throw new UsageError('--anchored needs the proofs: --node URL (the ingest node) or --proof FILE');
  const proofs = proofFile ? readProofFile(proofFile) : undefined;
  const { loadLedgerArtifact } = await import('../../ledger/evm/compile');
  const { chainReader, checkAnchored } = await import('../../ledger/check');
  const chain = chainReader(choice.rpcUrl, loadLedgerArtifact().abi);
  const pubOpt = p.options.pubkey as string | undefined;
  const keys = new Map<string, Uint8Array | undefined>();
  if (pubOpt !== undefined) keys.set(toHex(kidFromPublicKey(fromHex(pubOpt))), fromHex(pubOpt));
  const chains = new Map<string, MemoryChain>();
  const { items, error } = splitItems(bytes);
  let anchored = 0;
  let failed = 0;
  const out = (line: string) => process.stdout.write(line + '\n');
  for (const [n, item] of items.entries()) {
    const label = `report #${n} (offset ${item.offset})`;
    let kidBytes: Uint8Array | undefined;
    try {
      kidBytes = decodeSign1(item.bytes).kid;
    } catch (e) {
      failed++;
      out(`${label}: malformed: ${(e as Error).message}`);
      continue;
    }
    if (!kidBytes) {
      failed++;
      out(`${label}: malformed: no kid header`);
      continue;
    }
    const kid = toHex(kidBytes);
    let proof: ProofJson | undefined;
    // Seq from the payload, once the signature is known good.
    if (!keys.has(kid)) {
      let key: Uint8Array | undefined;
      const c = contract ?? undefined;
      if (c) key = await chain.publicKey(c, kid).catch(() => undefined);
      if (!key && node) {
        const res = await fetch(`${node}/v1/devices/${kid}`, { signal: AbortSignal.timeout(15_000) }).catch(() => undefined);
        if (res?.ok) key = fromHex(String(((await res.json()) as { publicKey: string }).publicKey));
      }
      keys.set(kid, key);
    }
    const key = keys.get(kid);
    if (!key) {
      failed++;
      out(`${label}: no public key for device ${kid} (give --pubkey, or --contract of a chain where the device has an owner, or --node)`);
      continue;
    }
    const v = verifyReportBytes(item.bytes, keyRegistry([key], kidFromPublicKey));
    const mem = chains.get(kid) ?? new MemoryChain();
    chains.set(kid, mem);
    const verdict = v.ok ? checkChain(v, mem) : v;
    if (!v.ok || !verdict.ok) {
      failed++;
      const bad = !verdict.ok ? verdict : (v as { reason: string; detail: string });
      out(`${label}: ${bad.reason}: ${bad.detail}`);
      continue;
    }
    mem.apply(v);
    const seq = v.report.seq;
    if (proofs) proof = proofs.get(`${kid}/${seq}`);
    else {
      const res = await fetch(`${node}/v1/reports/${kid}/${seq}/proof`, { signal: AbortSignal.timeout(15_000) }).catch((e: Error) => e);
      if (res instanceof Error) {
        failed++;
        out(`${label} seq ${seq}: cannot fetch the proof from ${node}: ${res.message}`);
        continue;
      }
      const j = (await res.json()) as ProofJson & { error?: string };
      if (!res.ok) {
        failed++;
        out(`${label} seq ${seq}: no proof: ${j.error ?? res.status}`);
        continue;
      }
      proof = j;
    }
    if (!proof) {
      failed++;
      out(`${label} seq ${seq}: no proof for device ${kid} seq ${seq} in ${proofFile}`);
      continue;
    }
    let r;
    try {
      r = await checkAnchored(item.bytes, proof, chain, contract);
    } catch (e) {
      failed++;
      out(`${label} seq ${seq}: cannot read the chain at ${choice.rpcUrl}: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    if (r.ok) {
      anchored++;
      out(`${label} seq ${seq}: anchored batch=${r.batch} block=${r.block} confirmations=${r.confirmations}`);
    } else {
      failed++;
      out(`${label} seq ${seq}: not anchored: ${r.reason}`);
    }
  }
  if (error) {
    failed++;
    out(error);
  }
  out(JSON.stringify({ file, reports: items.length, anchored, failed }));
  return failed === 0 && anchored > 0 ? EXIT.OK : EXIT.FAILED;
}

const command: Command = {
  name: 'verify',
  summary: 'verify every report of a file (signature, schema, chain, plausibility; --anchored: inclusion on chain)',
  usage: 'deep verify FILE --pubkey HEX\n       deep verify FILE --anchored (--rpc URL | --chain volta|ewc) [--contract ADDR] (--node URL | --proof FILE) [--pubkey HEX]',
  options: {
    pubkey: { type: 'string', description: "the device's Ed25519 public key, 64 hex digits" },
    now: { type: 'string', description: `reject synced windows ending after this epoch second (+300 s), ${MIN_EPOCH_S}..${MAX_NOW_S}` },
    anchored: { type: 'boolean', description: 'also check each report against the root anchored on chain' },
    ...CHAIN_OPTIONS,
    contract: { type: 'string', description: 'the anchor contract (default: the one the proof names)' },
    node: { type: 'string', description: 'ingest node URL to fetch the proofs (and a missing public key) from' },
    proof: { type: 'string', description: 'proofs as saved from GET /v1/reports/{device}/{seq}/proof: one JSON object, an array, or one per line' },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length !== 1) throw new UsageError('expected exactly one FILE');
    const pub = p.options.pubkey;
    if (pub !== undefined && (typeof pub !== 'string' || !/^[0-9a-fA-F]{64}$/.test(pub))) throw new UsageError('--pubkey expected 64 hex digits (32 bytes)');
    const file = p.positionals[0];
    if (p.options.anchored) {
      return verifyAnchored(p, file, readInputFile(file));
    }
    if (typeof pub !== 'string') throw new UsageError('--pubkey expected 64 hex digits (32 bytes)');
    let nowS: number | undefined;
    if (p.options.now !== undefined) {
      const raw = String(p.options.now);
      nowS = Number(raw);
      if (!/^\d+$/.test(raw) || nowS < MIN_EPOCH_S || nowS > MAX_NOW_S) {
        throw new UsageError(`--now expected epoch seconds from ${MIN_EPOCH_S} (2024-01-01) to ${MAX_NOW_S} (2100-01-01), got ${JSON.stringify(raw)}`);
      }
    }
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
