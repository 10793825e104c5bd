// The third-party check of a report against the chain (`deep verify --anchored`): with the
// report's bytes, its inclusion proof (from the node or a file) and a JSON-RPC endpoint,
// and nothing else: the leaf hash of the exact bytes, the audit path up to the proof's
// root, that root and tree size stored on chain for the batch, the contract's own
// verifyInclusion, and the confirmations on top of the anchoring block.
import type { ProofBody } from '../ingest/batches';
import type { Abi, Address, Hex } from 'viem';
import { leafHash, rootFromAuditPath } from './merkle';
import { publicClientFor } from './evm/contract';

/** GET /v1/reports/{id}/{seq}/proof as a third party reads it (host-tools/ingest/batches.ts). */
export type ProofJson = Omit<ProofBody, 'cose' | 'anchor'> & { anchor?: { state?: string; chainId?: number | null; contract?: string | null } };

export type AnchorCheck =
  | { ok: true; batch: number; block: number; confirmations: number; contract: Address }
  | { ok: false; reason: string };

const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/^0x/, ''), 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Checks the proof against the report bytes offline: returns the reason it fails, if any. */
export function checkProofOffline(bytes: Uint8Array, p: ProofJson): string | undefined {
  const leaf = leafHash(bytes);
  if (hex(leaf) !== p.leafHash.replace(/^0x/, '').toLowerCase()) return `the proof is for another leaf (leaf hash ${p.leafHash}, these bytes give ${hex(leaf)})`;
  const r = rootFromAuditPath(leaf, p.leafIndex, p.treeSize, p.auditPath.map(unhex));
  if (!r.ok) return `the audit path is malformed: ${r.detail}`;
  if (hex(r.root) !== p.root.replace(/^0x/, '').toLowerCase()) return `the audit path leads to ${hex(r.root)}, not to the proof's root ${p.root}`;
  return undefined;
}

export interface ChainReader {
  chainId(): Promise<number>;
  head(): Promise<number>;
  batch(contract: Address, id: number): Promise<{ root: string; treeSize: number; block: number }>;
  verifyInclusion(contract: Address, id: number, leaf: Uint8Array, index: number, path: string[]): Promise<boolean>;
  publicKey(contract: Address, kid: string): Promise<Uint8Array | undefined>;
}

export function chainReader(rpcUrl: string, abi: Abi): ChainReader {
  const client = publicClientFor(rpcUrl, undefined, 20_000);
  const read = <T>(address: Address, functionName: string, args: unknown[]) => client.readContract({ address, abi, functionName, args } as never) as Promise<T>;
  return {
    chainId: () => client.getChainId(),
    head: async () => Number(await client.getBlockNumber()),
    async batch(contract, id) {
      const [root, size, block] = await read<[Hex, bigint, bigint]>(contract, 'batches', [BigInt(id)]);
      return { root: root.slice(2), treeSize: Number(size), block: Number(block) };
    },
    verifyInclusion: (contract, id, leaf, index, path) => read<boolean>(contract, 'verifyInclusion', [BigInt(id), `0x${hex(leaf)}`, BigInt(index), path.map((h) => `0x${h.replace(/^0x/, '')}`)]),
    async publicKey(contract, kid) {
      const k = await read<Hex>(contract, 'publicKeys', [`0x${kid}`]);
      return /^0x0+$/.test(k) ? undefined : unhex(k);
    },
  };
}

/** The proof's batch on chain: same root and size, the contract agrees, and how deep it is. */
export async function checkAnchored(bytes: Uint8Array, p: ProofJson, chain: ChainReader, contractOpt?: Address): Promise<AnchorCheck> {
  const off = checkProofOffline(bytes, p);
  if (off) return { ok: false, reason: off };
  const contract = (contractOpt ?? p.anchor?.contract ?? undefined) as Address | undefined;
  if (!contract) return { ok: false, reason: 'no contract address: give --contract, or a proof from a node that anchors' };
  if (p.anchor?.chainId) {
    const id = await chain.chainId();
    if (id !== p.anchor.chainId) return { ok: false, reason: `the proof names chain ${p.anchor.chainId}, the RPC endpoint serves chain ${id}` };
  }
  const b = await chain.batch(contract, p.batch);
  if (b.treeSize === 0) return { ok: false, reason: `batch ${p.batch} is not anchored in ${contract} (yet)` };
  if (b.root.toLowerCase() !== p.root.replace(/^0x/, '').toLowerCase()) return { ok: false, reason: `batch ${p.batch} on chain has root ${b.root}, the proof says ${p.root}` };
  if (b.treeSize !== p.treeSize) return { ok: false, reason: `batch ${p.batch} on chain has ${b.treeSize} leaves, the proof says ${p.treeSize}` };
  if (!(await chain.verifyInclusion(contract, p.batch, leafHash(bytes), p.leafIndex, p.auditPath))) {
    return { ok: false, reason: `the contract's verifyInclusion refuses the proof for batch ${p.batch}` };
  }
  const head = await chain.head();
  return { ok: true, batch: p.batch, block: b.block, confirmations: head - b.block + 1, contract };
}
