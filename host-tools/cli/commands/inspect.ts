// `deep inspect FILE`: every item of a CBOR sequence in CBOR diagnostic notation (RFC 8949
// §8), with DEEP field names and units as /comments/. Nothing is verified here.
import { parseArgs, UsageError } from '../args';
import { EXIT, type Command } from '../command';
import { readInputFile } from '../input-file';
import { CborMap, CborTag, decode, decodeFirst, type CborValue } from '../../../protocol/cbor';
import { toHex } from '../../../protocol/bytes';
import { firmwareVersionString, RK } from '../../../protocol/report';
import { PK } from '../../../protocol/pairing';

/** CBOR diagnostic notation of a value (RFC 8949 §8). */
export function diag(v: CborValue): string {
  if (typeof v === 'number') {
    if (v !== v) return 'NaN';
    if (v === Infinity) return 'Infinity';
    if (v === -Infinity) return '-Infinity';
    if (Object.is(v, -0)) return '-0.0';
    return Number.isSafeInteger(v) ? String(v) : (Number.isInteger(v) ? v.toFixed(1) : String(v));
  }
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Uint8Array) return `h'${toHex(v)}'`;
  if (v instanceof Array) return `[${v.map(diag).join(', ')}]`;
  if (v instanceof CborMap) return `{${v.entries.map(([k, x]) => `${diag(k)}: ${diag(x)}`).join(', ')}}`;
  if (v instanceof CborTag) return `${v.tag}(${diag(v.value)})`;
  if (v === undefined) return 'undefined';
  return String(v);
}

const ALG: Record<number, string> = { [-19]: 'Ed25519', [-8]: 'EdDSA' };
const FLOWS = ['grid→pack', 'pack→grid', 'pack→motor', 'regen→pack'];

function packDiag(p: CborValue, indent: string): string {
  if (!(p instanceof Array) || p.length !== 10) return diag(p) + ' / not a v1 pack /';
  const n = p.map(diag);
  return `[${n[0]} / BMS CAN id /,\n` +
    FLOWS.map((f, i) => `${indent}  ${n[1 + i]} / ${f} mWh /,\n`).join('') +
    `${indent}  ${n[5]} / net charge mAh /,\n` +
    FLOWS.map((f, i) => `${indent}  ${n[6 + i]} / lifetime ${f} mWh /${i < 3 ? ',' : ''}\n`).join('') +
    `${indent}]`;
}

function payloadDiag(bytes: Uint8Array): string {
  let v: CborValue;
  try {
    v = decode(bytes);
  } catch (e) {
    return `h'${toHex(bytes)}' / not CBOR: ${(e as Error).message} /`;
  }
  if (!(v instanceof CborMap)) return `<< ${diag(v)} >>`;
  const pairing = v.get(PK.context) === 'deep-pair/1';
  const lines = v.entries.map(([k, x]) => {
    let note = '';
    let text = diag(x);
    if (pairing) note = ({ 1: 'context', 2: 'challenge', 3: 'public key', 4: 'firmware' } as Record<string, string>)[String(k)] ?? 'unknown key';
    else {
      switch (k) {
        case RK.version: note = 'format version'; break;
        case RK.kid: note = 'kid'; break;
        case RK.seq: note = 'seq'; break;
        case RK.prev: note = 'prev: SHA-256 of previous report'; break;
        case RK.clock: note = x === 1 ? 'clock: synced (SNTP)' : 'clock: UNSYNCED, times are uptime'; break;
        case RK.startEpochS: note = typeof x === 'number' ? `window start, epoch s = ${new Date(x * 1000).toISOString()}` : 'window start'; break;
        case RK.startUptimeS: note = 'window start, seconds since boot'; break;
        case RK.durationS: note = 'window duration s'; break;
        case RK.packs:
          note = 'packs';
          if (x instanceof Array) text = `[\n${x.map((p) => '      ' + packDiag(p, '      ')).join(',\n')}\n    ]`;
          break;
        case RK.faults: note = 'faults in window: [VESC, BMS, device]'; break;
        case RK.firmware: note = typeof x === 'number' ? `firmware ${firmwareVersionString(x)}` : 'firmware'; break;
        case RK.gap: note = 'gap: [merged windows, unmeasured s]'; break;
        default: note = 'unknown key';
      }
    }
    return `    ${diag(k)}: ${text} / ${note} /`;
  });
  return `<< {\n${lines.join(',\n')}\n  } >>`;
}

/** Diagnostic notation of one COSE_Sign1 (or of any CBOR item), annotated. */
export function inspectItem(bytes: Uint8Array): string {
  let v: CborValue;
  try {
    v = decode(bytes);
  } catch (e) {
    return `/ not deterministic CBOR: ${(e as Error).message} /`;
  }
  if (!(v instanceof CborTag) || v.tag !== 18 || !(v.value instanceof Array) || v.value.length !== 4) return diag(v);
  const [prot, unprot, payload, sig] = v.value;
  let protNote = '';
  if (prot instanceof Uint8Array && prot.length) {
    try {
      const p = decode(prot);
      const alg = p instanceof CborMap ? p.get(1) : undefined;
      protNote = ` / ${diag(p)}${typeof alg === 'number' && ALG[alg] ? ' alg ' + ALG[alg] : ''} /`;
    } catch (e) {
      protNote = ` / ${(e as Error).message} /`;
    }
  }
  return `18([\n  ${diag(prot)}${protNote},\n  ${diag(unprot)} / 4: kid /,\n  ${payload instanceof Uint8Array ? payloadDiag(payload) : diag(payload)},\n  ${diag(sig)} / signature /\n])`;
}

const command: Command = {
  name: 'inspect',
  summary: 'print each report of a file in CBOR diagnostic notation, with units',
  usage: 'deep inspect FILE',
  options: {},
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length !== 1) throw new UsageError('expected exactly one FILE');
    const file = p.positionals[0];
    const bytes = readInputFile(file);
    if (bytes.length === 0) {
      process.stderr.write(`deep inspect: ${file} is empty: no reports\n`);
      return EXIT.FAILED;
    }
    let off = 0;
    let n = 0;
    while (off < bytes.length) {
      let end: number;
      try {
        end = decodeFirst(bytes, off).end;
      } catch (e) {
        process.stdout.write(`/ item ${n} at offset ${off}: ${(e as Error).message} /\n`);
        return EXIT.FAILED;
      }
      process.stdout.write(`/ item ${n}, offset ${off}, ${end - off} bytes /\n${inspectItem(bytes.subarray(off, end))}\n\n`);
      off = end;
      n++;
    }
    return EXIT.OK;
  },
};
export default command;
