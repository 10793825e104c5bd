// The `deep` command line. Each subcommand lives in commands/NAME.ts and is loaded only
// when used, so `deep verify` does not pay for the simulator or the ingest node.
import { UsageError } from './args';
import { EXIT, commandHelp, type Command } from './command';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ default: Command }> }> = {
  build: { summary: 'build dist/firmware.js for a board', load: () => import('./commands/build') },
  sim: { summary: 'run a simulated e-bike (VESC + two BMS) in real time on a TCP port or a pseudo-terminal', load: () => import('./commands/sim') },
  flash: { summary: 'build and upload the firmware to a board running Espruino, saved to flash', load: () => import('./commands/flash') },
  pair: { summary: "pair a bike's device with a ledger ingest node", load: () => import('./commands/pair') },
  testnet: { summary: 'run the smart-testnet mini-grid: emulated bikes, hubs and a ledger node (npm start)', load: () => import('./commands/testnet') },
  ingest: { summary: 'run a ledger ingest node (HTTP, SQLite) for device-signed reports', load: () => import('./commands/ingest') },
  report: { summary: 'write N chained, signed reports of a simulated ride (CBOR sequence)', load: () => import('./commands/report') },
  verify: { summary: 'verify every report of a file, with a JSON summary (--anchored: against the chain)', load: () => import('./commands/verify') },
  ledger: { summary: 'deploy the DEEP anchor contract on an EVM chain, or post grid prices to it', load: () => import('./commands/ledger') },
  policy: { summary: "show or set a rider's market policy for a paired bike (kept by the ingest node)", load: () => import('./commands/policy') },
  inspect: { summary: 'print reports in CBOR diagnostic notation with units', load: () => import('./commands/inspect') },
  vesc: { summary: 'decode a VESC UART frame or payload (hex) to JSON with units', load: () => import('./commands/vesc') },
  can: { summary: 'decode a VESC CAN frame (hex id and data) to JSON with units', load: () => import('./commands/can') },
};

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'usage: deep COMMAND [options]',
    '',
    'DEEP: device-signed e-bike energy reports. Commands:',
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`),
    '',
    'deep COMMAND --help shows the options of a command.',
    'exit codes: 0 ok, 1 a check failed, 2 bad command line, 3 file/port/device/server error',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp() + '\n');
    return name ? EXIT.OK : EXIT.USAGE;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`deep: unknown command "${name}"\n\n${topHelp()}\n`);
    return EXIT.USAGE;
  }
  const command = (await entry.load()).default;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(command) + '\n');
    return EXIT.OK;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`deep ${name}: ${err.message}\n\n${commandHelp(command)}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`deep ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.IO;
  }
}
