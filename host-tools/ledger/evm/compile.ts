// Compiles host-tools/ledger/evm/DeepLedger.sol with the solc npm package (soljson, offline)
// for evmVersion "london", and caches the artifact in dist/evm/ keyed by a hash of the
// source, the compiler version and the settings, so it is compiled once per change: loading
// soljson takes ~1.5 s and a compile a few seconds more. Nothing generated is committed.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Abi, Hex } from 'viem';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
export const LEDGER_SOURCE = path.join(HERE, 'DeepLedger.sol');
export const CONTRACT_NAME = 'DeepLedger';
export const ARTIFACT_DIR = path.join(ROOT, 'dist', 'evm');

/** Energy Web Chain and Volta stop at London: newer opcodes would make the deploy fail. */
export const EVM_VERSION = 'london';

const SETTINGS = {
  evmVersion: EVM_VERSION,
  viaIR: true,
  optimizer: { enabled: true, runs: 20000 },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

export interface LedgerArtifact {
  contractName: string;
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
  solcVersion: string;
  evmVersion: string;
  /** SHA-256 of source + compiler version + settings: the cache key. */
  key: string;
}

const require = createRequire(import.meta.url);

function solcVersion(): string {
  // The package's version names the compiler in it (soljson is pinned by the package).
  return (require('solc/package.json') as { version: string }).version;
}

function cacheKey(source: string, version: string): string {
  return createHash('sha256').update(JSON.stringify({ source, version, SETTINGS })).digest('hex');
}

/** Compiles the source now (no cache). Throws with solc's messages when it does not compile. */
export function compileLedger(source = readFileSync(LEDGER_SOURCE, 'utf8')): LedgerArtifact {
  const solc = require('solc') as { compile(input: string): string; version(): string };
  const input = { language: 'Solidity', sources: { 'DeepLedger.sol': { content: source } }, settings: SETTINGS };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts?: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(`DeepLedger.sol does not compile (solc ${solc.version()}):\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  const c = out.contracts?.['DeepLedger.sol']?.[CONTRACT_NAME];
  if (!c) throw new Error(`solc produced no contract ${CONTRACT_NAME}`);
  const version = solcVersion();
  return {
    contractName: CONTRACT_NAME,
    abi: c.abi,
    bytecode: `0x${c.evm.bytecode.object}`,
    deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
    solcVersion: version,
    evmVersion: EVM_VERSION,
    key: cacheKey(source, version),
  };
}

/** The compiled contract, from dist/evm/ when it matches the source, else compiled and cached. */
export function loadLedgerArtifact(dir = ARTIFACT_DIR): LedgerArtifact {
  const source = readFileSync(LEDGER_SOURCE, 'utf8');
  const key = cacheKey(source, solcVersion());
  const file = path.join(dir, `${CONTRACT_NAME}.json`);
  if (existsSync(file)) {
    try {
      const cached = JSON.parse(readFileSync(file, 'utf8')) as LedgerArtifact;
      if (cached.key === key) return cached;
    } catch {
      // A torn or foreign file: compile again and overwrite it.
    }
  }
  const artifact = compileLedger(source);
  mkdirSync(dir, { recursive: true });
  // Write then rename, so a parallel reader never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(artifact));
  renameSync(tmp, file);
  return artifact;
}
