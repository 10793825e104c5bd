// `deep vesc decode HEX`: decodes one VESC UART message, a whole frame
// (02 len payload crc 03, or the long 03 form) or a bare payload, and prints it as JSON with
// the unit of every number. Makers paste bytes from a logic analyser or a serial log.
import { UsageError, parseArgs } from '../args';
import { EXIT, type Command } from '../command';
import { FrameDecoder } from '../../../protocol/vesc/packet';
import { crc16 } from '../../../protocol/vesc/crc16';
import { COMM, FAULT_NAMES } from '../../../protocol/vesc/enums';
import * as C from '../../../protocol/vesc/commands';
import type { Decoded } from '../../../protocol/vesc/wire';
import { fromHex, toHex } from '../../../protocol/bytes';

/** Unit of a field, from its name's suffix (protocol/SPEC.md "Bus messages"). */
const SUFFIX_UNITS: Array<[RegExp, string]> = [
  [/DeciC$/, '0.1 °C'], [/CentiC$/, '0.01 °C'], [/CentiPct$/, '0.01 %'], [/CentiDeg$/, '0.01 °'], [/MicroDeg$/, '0.000001 °'],
  [/Uah$/, 'µAh'], [/Uwh$/, 'µWh'], [/Mah$/, 'mAh'], [/Mwh$/, 'mWh'], [/Ua$/, 'µA'], [/Uv$/, 'µV'], [/Ma$/, 'mA'], [/Mv$/, 'mV'],
  [/Permille$/, '‰'], [/Pa$/, 'Pa'], [/^erpm$/, 'rpm (electrical)'], [/^tachometer(Abs)?$/, 'steps'], [/C$/, '°C'], [/Ms$/, 'ms'],
];

export function unitsOf(fields: Record<string, unknown>): Record<string, string> {
  const units: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    const isNum = typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'number'));
    if (!isNum) continue;
    const hit = SUFFIX_UNITS.find(([re]) => re.test(k));
    if (hit) units[k] = hit[1];
  }
  return units;
}

export function parseHex(text: string, what: string): Uint8Array {
  const clean = text.replace(/^0x/i, '').replace(/[\s:,-]/g, '');
  if (clean.length === 0) throw new UsageError(`${what}: no bytes given`);
  const bad = clean.search(/[^0-9a-fA-F]/);
  if (bad >= 0) throw new UsageError(`${what}: "${clean[bad]}" at character ${bad} is not a hex digit`);
  if (clean.length % 2) throw new UsageError(`${what}: odd number of hex digits (${clean.length})`);
  return fromHex(clean, what);
}

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(COMM).map(([k, v]) => [v, k]));

/** Decoded fields as JSON data: byte strings as hex. */
export function toJsonable(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(toJsonable);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonable(x)]));
  return v;
}

export interface Described {
  ok: boolean;
  message: Record<string, unknown>;
  error?: string;
}

/** Decodes a UART payload by its command byte, in the direction its length implies. */
export function describePayload(p: Uint8Array): Described {
  if (p.length === 0) return { ok: false, message: {}, error: 'empty payload' };
  const id = p[0];
  const head: Record<string, unknown> = { command: NAMES[id] ?? 'UNKNOWN', id };
  const done = <T>(direction: string, d: Decoded<T>): Described => {
    if (!d.ok) return { ok: false, message: { ...head, direction }, error: `${d.error.code}: ${d.error.message}` };
    const fields = toJsonable(d.value) as Record<string, unknown>;
    delete fields.command;
    return { ok: true, message: { ...head, direction, fields, units: unitsOf(fields) } };
  };
  const bare = (name: string) => done('request', C.decodeBareRequest(p, id, name));
  switch (id) {
    case COMM.FW_VERSION: return p.length === 1 ? bare('FW_VERSION') : done('reply', C.decodeFwVersion(p));
    case COMM.GET_VALUES:
    case COMM.GET_VALUES_SELECTIVE: {
      if (p.length === 1 || (id === COMM.GET_VALUES_SELECTIVE && p.length === 5)) {
        const r = done('request', C.decodeGetValuesRequest(p));
        if (r.ok) (r.message.fields as Record<string, unknown>).maskHex = '0x' + (r.message.fields as { mask: number }).mask.toString(16);
        return r;
      }
      const r = done('reply', C.decodeValues(p));
      const f = r.message.fields as Record<string, unknown> | undefined;
      if (f && typeof f.fault === 'number') f.faultName = FAULT_NAMES[f.fault as number] ?? 'UNKNOWN';
      return r;
    }
    case COMM.BMS_GET_VALUES: return p.length === 1 ? bare('BMS_GET_VALUES') : done('reply', C.decodeBmsValues(p));
    case COMM.PING_CAN: return p.length === 1 ? bare('PING_CAN') : done('reply', C.decodePingCanReply(p));
    case COMM.ALIVE: return done('request', C.decodeAlive(p));
    case COMM.FORWARD_CAN: {
      const d = C.decodeForwardCan(p);
      if (!d.ok) return done('request', d);
      const inner = describePayload(d.value.inner);
      return { ok: inner.ok, message: { ...head, direction: 'request', canId: d.value.canId, inner: inner.message }, error: inner.error };
    }
    default:
      return { ok: false, message: { ...head, bytes: toHex(p) }, error: `command ${id} (${NAMES[id] ?? 'unknown'}) is not decoded by deep` };
  }
}

/** A whole frame if the bytes are exactly one valid frame, else undefined. */
function asFrame(b: Uint8Array): { payload: Uint8Array; frame: Record<string, unknown> } | undefined {
  if (b[0] !== 2 && b[0] !== 3) return undefined;
  const dec = new FrameDecoder(65535);
  const got: Uint8Array[] = [];
  dec.feed(b, (p) => got.push(p.slice()));
  if (got.length !== 1 || dec.pending() !== 0 || dec.stats.garbage + dec.stats.badCrc + dec.stats.badEnd + dec.stats.badLength > 0) return undefined;
  const crc = crc16(got[0]);
  return { payload: got[0], frame: { kind: b[0] === 2 ? 'short' : 'long', payloadLength: got[0].length, crc: '0x' + crc.toString(16).padStart(4, '0') } };
}

/** Why bytes that start like a frame are not one, for the error message. */
function frameTrouble(b: Uint8Array): string | undefined {
  if (b[0] !== 2 && b[0] !== 3) return undefined;
  const hdr = b[0];
  if (b.length < hdr + 3) return undefined;
  const len = hdr === 2 ? b[1] : (b[1] << 8) | b[2];
  if (b.length !== hdr + len + 3) return undefined;
  if (b[b.length - 1] !== 3) return `end byte is 0x${b[b.length - 1].toString(16)}, expected 0x03`;
  const crc = crc16(b, hdr, hdr + len);
  const got = (b[hdr + len] << 8) | b[hdr + len + 1];
  if (crc !== got) return `CRC 0x${got.toString(16).padStart(4, '0')} in the frame, 0x${crc.toString(16).padStart(4, '0')} computed over the ${len}-byte payload`;
  return undefined;
}

const command: Command = {
  name: 'vesc',
  summary: 'decode a VESC UART frame or payload (hex) to JSON with units',
  usage: 'deep vesc decode HEX   (a whole frame 02 len ... 03, or a bare payload; spaces allowed)',
  options: {},
  async run(argv) {
    const p = parseArgs(argv, this.options);
    const [verb, ...rest] = p.positionals;
    if (verb !== 'decode') throw new UsageError(verb ? `unknown subcommand "${verb}"` : 'missing subcommand "decode"');
    if (rest.length === 0) throw new UsageError('missing HEX');
    const bytes = parseHex(rest.join(''), 'HEX');
    const trouble = frameTrouble(bytes);
    if (trouble) {
      process.stderr.write(`deep vesc: not a valid frame: ${trouble}\n`);
      return EXIT.FAILED;
    }
    const f = asFrame(bytes);
    const d = describePayload(f ? f.payload : bytes);
    const out = f ? { frame: f.frame, ...d.message } : d.message;
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    if (!d.ok) {
      process.stderr.write(`deep vesc: ${d.error}\n`);
      return EXIT.FAILED;
    }
    return EXIT.OK;
  },
};
export default command;
