import path from 'node:path';
import { parseArgs, UsageError } from '../args';
import { EXIT, type Command } from '../command';
import { build } from '../../build/build';

const command: Command = {
  name: 'build',
  summary: 'build dist/firmware.js (ES5, minified by the Espruino CLI) for a board and the web app (dist/app), and print their sizes',
  usage: 'deep build [--board NAME] [--quiet]',
  options: {
    board: { type: 'string', description: 'board file boards/NAME.json', default: 'esp32-devkitc' },
    quiet: { type: 'boolean', description: 'no progress on stderr (each bundle as it is built, with its size)' },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
    const log = p.options.quiet ? undefined : (line: string) => process.stderr.write(`deep build: ${line}\n`);
    const result = await build({ board: p.options.board as string, log });
    for (const b of result.bundles) process.stdout.write(`${b.file}  ${b.bytes} bytes\n`);
    // The anchor contract too (solc, London), so that a node or the testnet need not compile
    // it on first use; it is cached in dist/evm and rebuilt only when its source changes.
    const { loadLedgerArtifact, ARTIFACT_DIR } = await import('../../ledger/evm/compile');
    const artifact = loadLedgerArtifact();
    process.stdout.write(`${path.relative(process.cwd(), path.join(ARTIFACT_DIR, 'DeepLedger.json'))}  contract ${(artifact.deployedBytecode.length - 2) / 2} bytes (solc ${artifact.solcVersion}, ${artifact.evmVersion})\n`);
    if (result.app) process.stdout.write(`dist/app  JavaScript ${result.app.jsBytes} bytes, ${result.app.jsGzipBytes} bytes gzipped\n`);
    process.stdout.write(`board=${result.board} firmware_bytes=${result.firmwareBytes}\n`);
    return EXIT.OK;
  },
};
export default command;
