// `deep can decode ID HEX`: decodes one VESC CAN frame (29-bit id in hex, data in hex;
// candump's ID#DATA form works too) and prints it as JSON with units. A PROCESS_SHORT_BUFFER
// also shows the UART command it carries.
import { UsageError, parseArgs } from '../args';
import { EXIT, type Command } from '../command';
import { decodeCanFrame } from '../../../protocol/can/messages';
import { splitId } from '../../../protocol/can/id';
import { describePayload, parseHex, toJsonable, unitsOf } from './vesc';
import { toHex } from '../../../protocol/bytes';

const command: Command = {
  name: 'can',
  summary: 'decode a VESC CAN frame (hex id and data) to JSON with units',
  usage: 'deep can decode ID HEX   (ID in hex like candump, e.g. 260A 42480000424C0000, or 260A#42480000424C0000)',
  options: {},
  async run(argv) {
    const p = parseArgs(argv, this.options);
    const [verb, ...rest] = p.positionals;
    if (verb !== 'decode') throw new UsageError(verb ? `unknown subcommand "${verb}"` : 'missing subcommand "decode"');
    let idText: string | undefined;
    let dataText: string;
    if (rest.length === 1 && rest[0].includes('#')) [idText, dataText] = rest[0].split('#', 2);
    else {
      idText = rest[0];
      dataText = rest.slice(1).join('');
    }
    if (!idText) throw new UsageError('missing ID');
    const clean = idText.replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{1,8}$/.test(clean)) throw new UsageError(`ID: "${idText}" is not a hex CAN id`);
    const id = parseInt(clean, 16);
    if (id > 0x1fffffff) throw new UsageError(`ID: 0x${clean} is more than 29 bits`);
    const data = dataText === '' ? new Uint8Array(0) : parseHex(dataText, 'HEX');
    const s = splitId(id);
    const head = { id: '0x' + id.toString(16), packetId: s.packetId, controllerId: s.controllerId, dlc: data.length };
    const d = decodeCanFrame(id, data);
    if (!d.ok) {
      process.stdout.write(JSON.stringify({ ...head, data: toHex(data) }, null, 2) + '\n');
      process.stderr.write(`deep can: ${d.error.code}: ${d.error.message}\n`);
      return EXIT.FAILED;
    }
    const { type, controllerId: _c, ...rest2 } = d.value as unknown as Record<string, unknown>;
    const fields = toJsonable(rest2) as Record<string, unknown>;
    const out: Record<string, unknown> = { ...head, type, fields, units: unitsOf(fields) };
    if (type === 'PROCESS_SHORT_BUFFER') {
      const inner = describePayload((d.value as { payload: Uint8Array }).payload);
      out.inner = inner.message;
      if (!inner.ok) out.innerError = inner.error;
    }
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return EXIT.OK;
  },
};
export default command;
