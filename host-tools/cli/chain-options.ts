// The command-line options that pick an EVM chain and an account, shared by `deep ingest`,
// `deep ledger` and `deep verify --anchored`: `--chain volta|ewc` (Energy Web's presets) or
// `--rpc URL` for any EVM chain (its id asked from the endpoint, or `--chain-id N`). Keys
// come from a file or an environment variable, never from the command line.
import type { OptionSpec, Parsed } from './args';
import { UsageError } from './args';
import { CHAIN_PRESETS } from '../ledger/evm/contract';

export const CHAIN_OPTIONS: Record<string, OptionSpec> = {
  chain: { type: 'string', description: 'volta (Energy Web Volta, 73799) or ewc (Energy Web Chain, 246)' },
  rpc: { type: 'string', description: 'JSON-RPC URL of the chain (overrides the preset\'s public endpoint)' },
  'chain-id': { type: 'string', description: 'chain id expected at --rpc (default: the preset\'s, or what the endpoint says)' },
};

export interface ChainChoice {
  rpcUrl: string;
  /** undefined: take what the endpoint says (eth_chainId). */
  chainId: number | undefined;
  name: string;
}

export function chainChoice(p: Parsed, required = true): ChainChoice | undefined {
  const preset = p.options.chain as string | undefined;
  const rpc = p.options.rpc as string | undefined;
  const rawId = p.options['chain-id'] as string | undefined;
  if (preset === undefined && rpc === undefined) {
    if (required) throw new UsageError('give --chain volta|ewc or --rpc URL');
    return undefined;
  }
  let chainId: number | undefined;
  if (rawId !== undefined) {
    if (!/^\d{1,15}$/.test(rawId) || Number(rawId) < 1) throw new UsageError(`--chain-id expected a positive integer, got ${JSON.stringify(rawId)}`);
    chainId = Number(rawId);
  }
  if (preset !== undefined) {
    const c = CHAIN_PRESETS[preset as keyof typeof CHAIN_PRESETS];
    if (!c) throw new UsageError(`--chain expected volta or ewc, got ${JSON.stringify(preset)}`);
    if (chainId !== undefined && chainId !== c.id) throw new UsageError(`--chain ${preset} is chain ${c.id}, --chain-id says ${chainId}`);
    return { rpcUrl: rpc ?? c.rpc, chainId: c.id, name: c.name };
  }
  if (!/^https?:\/\/\S+$/.test(rpc!)) throw new UsageError(`--rpc expected an http(s) URL, got ${JSON.stringify(rpc)}`);
  return { rpcUrl: rpc!, chainId, name: chainId ? `chain ${chainId}` : 'the chain at --rpc' };
}

/** eth_chainId of an endpoint. */
export async function endpointChainId(rpcUrl: string): Promise<number> {
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    signal: AbortSignal.timeout(15_000),
  });
  const j = (await res.json()) as { result?: string; error?: { message: string } };
  if (!j.result) throw new Error(`${rpcUrl} answered eth_chainId with ${JSON.stringify(j.error ?? j)}`);
  return Number(BigInt(j.result));
}

export function addressOption(p: Parsed, name: string): `0x${string}` | undefined {
  const v = p.options[name] as string | undefined;
  if (v === undefined) return undefined;
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) throw new UsageError(`--${name} expected an address (0x and 40 hex digits), got ${JSON.stringify(v)}`);
  return v as `0x${string}`;
}
