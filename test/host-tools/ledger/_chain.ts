// Shared by the ledger tests: a local London EVM (Hardhat's network over HTTP on loopback),
// funded accounts with fixed keys, the compiled contract deployed, a send() that returns
// the receipt or the contract's revert reason, and `deep report` rides signed fast.
import { createHash, createPrivateKey, sign as edSign } from 'node:crypto';
import { createWalletClient, http, type Address, type Hex, type PublicClient, type Transport, type Chain } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { startLocalChain, type LocalChain } from '../../../host-tools/ledger/evm/local-chain';
import { loadLedgerArtifact, type LedgerArtifact } from '../../../host-tools/ledger/evm/compile';
import { chainFor, deployLedger, publicClientFor, revertReason } from '../../../host-tools/ledger/evm/contract';
import { simulateRide } from '../../../host-tools/cli/commands/report';
import { kidFromPublicKey } from '../../../protocol/kid';
import { prevOf, signReport, zeroPrev } from '../../../protocol/report';
import { ed25519PublicKey } from '../../../firmware/keys/ed25519';

export const keyOf = (label: string): Hex => `0x${createHash('sha256').update(`deep test account ${label}`).digest('hex')}`;

export interface TestChain {
  chain: LocalChain;
  viemChain: Chain;
  client: PublicClient<Transport, Chain | undefined>;
  artifact: LedgerArtifact;
  accounts: Record<'admin' | 'anchorer' | 'grid' | 'rider' | 'rider2' | 'stranger', PrivateKeyAccount>;
}

export async function testChain(opts: { intervalMs?: number } = {}): Promise<TestChain> {
  const artifact = loadLedgerArtifact();
  const chain = await startLocalChain({ intervalMs: opts.intervalMs });
  const accounts = {
    admin: privateKeyToAccount(keyOf('admin')),
    anchorer: privateKeyToAccount(keyOf('anchorer')),
    grid: privateKeyToAccount(keyOf('grid')),
    rider: privateKeyToAccount(keyOf('rider')),
    rider2: privateKeyToAccount(keyOf('rider2')),
    stranger: privateKeyToAccount(keyOf('stranger')),
  };
  for (const a of Object.values(accounts)) await chain.fund(a.address, 10n ** 21n);
  const viemChain = chainFor(chain.chainId, chain.url, 'local london');
  return { chain, viemChain, client: publicClientFor(chain.url, viemChain), artifact, accounts };
}

export async function deploy(t: TestChain): Promise<Address> {
  const r = await deployLedger({
    rpcUrl: t.chain.url, chain: t.viemChain, account: t.accounts.admin, gridOperator: t.accounts.grid.address,
    anchorers: [t.accounts.anchorer.address], artifact: t.artifact,
  });
  return r.address;
}

export type SendResult = { ok: true; gasUsed: bigint; blockNumber: bigint; hash: Hex } | { ok: false; reason: string; name: string };

/** Simulates, then sends and waits: the receipt, or the contract's revert reason. */
export async function send(t: TestChain, account: PrivateKeyAccount, address: Address, functionName: string, args: unknown[]): Promise<SendResult> {
  const wallet = createWalletClient({ account, chain: t.viemChain, transport: http(t.chain.url, { retryCount: 0 }) });
  try {
    const { request } = await t.client.simulateContract({ account, address, abi: t.artifact.abi, functionName, args } as never);
    const hash = await wallet.writeContract(request as never);
    const receipt = await t.client.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') return { ok: false, reason: `status ${receipt.status}`, name: 'failed' };
    return { ok: true, gasUsed: receipt.gasUsed, blockNumber: receipt.blockNumber, hash };
  } catch (err) {
    const r = revertReason(err, t.artifact.abi);
    if (!r) throw err;
    return { ok: false, reason: r.text, name: r.name };
  }
}

export async function read<T>(t: TestChain, address: Address, functionName: string, args: unknown[] = []): Promise<T> {
  return (await t.client.readContract({ address, abi: t.artifact.abi, functionName, args } as never)) as T;
}

/**
 * A `deep report` ride (the same simulated figures and report encoder) signed with
 * node:crypto instead of the device's JS signer: a thousand reports in milliseconds.
 */
export function fastRide(seedLabel: string, count: number): { publicKey: Uint8Array; kid: Uint8Array; reports: Uint8Array[] } {
  const seed = createHash('sha256').update(seedLabel).digest();
  const publicKey = ed25519PublicKey(new Uint8Array(seed));
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const kid = kidFromPublicKey(publicKey);
  const reports: Uint8Array[] = [];
  let prev = zeroPrev();
  simulateRide(new Uint8Array(seed), count).forEach((body, seq) => {
    const cose = signReport({ ...body, kid, seq, prev }, (tbs) => new Uint8Array(edSign(null, tbs, key)));
    reports.push(cose);
    prev = prevOf(cose);
  });
  return { publicKey, kid, reports };
}
