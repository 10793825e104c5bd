// `deep ledger deploy`: puts the DeepLedger contract on a chain (Volta, EWC, any EVM with
// London); `deep ledger prices`: the grid operator posts a price series to it; `deep ledger
// transfer`: a bike's owner hands it to another account (signed by the current owner).
// Keys come from a file or an environment variable (never the command line, never printed).
import { parseArgs, intOption, UsageError } from '../args';
import { EXIT, type Command } from '../command';
import { CHAIN_OPTIONS, addressOption, chainChoice, endpointChainId } from '../chain-options';

const KEY_OPTIONS = {
  'key-file': { type: 'string' as const, description: 'file holding the private key (64 hex digits); chmod 600' },
  'key-env': { type: 'string' as const, description: 'environment variable holding the private key' },
};

/** The current owner signs ChangeOwner(kid, to, nonce) and sends it (paying its gas). */
async function transfer(
  p: ReturnType<typeof parseArgs>,
  contract: `0x${string}`,
  chain: import('viem').Chain,
  rpcUrl: string,
  account: import('viem/accounts').PrivateKeyAccount,
  confirmations: number,
): Promise<number> {
  const device = p.options.device as string | undefined;
  if (!device || !/^[0-9a-fA-F]{16}$/.test(device)) throw new UsageError('transfer: --device expected the device id (16 hex digits)');
  const to = addressOption(p, 'to');
  if (!to) throw new UsageError('transfer: --to ADDR is required');
  const { loadLedgerArtifact } = await import('../../ledger/evm/compile');
  const { changeOwnerTypedData, publicClientFor, revertReason } = await import('../../ledger/evm/contract');
  const { createWalletClient, http } = await import('viem');
  const { abi } = loadLedgerArtifact();
  const client = publicClientFor(rpcUrl, chain, 60_000);
  const kid = `0x${device.toLowerCase()}` as `0x${string}`;
  const [owner, changes] = (await client.readContract({ address: contract, abi, functionName: 'owners', args: [kid] } as never)) as [string, bigint];
  if (/^0x0{40}$/.test(owner)) {
    process.stderr.write(`deep ledger: device ${device} has no owner on ${contract}\n`);
    return EXIT.FAILED;
  }
  if (owner.toLowerCase() !== account.address.toLowerCase()) {
    process.stderr.write(`deep ledger: device ${device} is owned by ${owner}; the key given is ${account.address}'s\n`);
    return EXIT.FAILED;
  }
  const signature = await account.signTypedData(changeOwnerTypedData(chain.id, contract, new Uint8Array(Buffer.from(device, 'hex')), to, changes));
  const wallet = createWalletClient({ account, chain, transport: http(rpcUrl) });
  let hash;
  try {
    const { request } = await client.simulateContract({ account, address: contract, abi, functionName: 'changeOwner', args: [kid, to, signature] } as never);
    hash = await wallet.writeContract(request as never);
  } catch (err) {
    const r = revertReason(err, abi);
    if (!r) throw err;
    process.stderr.write(`deep ledger: the contract refuses the transfer: ${r.text}\n`);
    return EXIT.FAILED;
  }
  const receipt = await client.waitForTransactionReceipt({ hash, confirmations: Math.max(1, confirmations) });
  if (receipt.status !== 'success') throw new Error(`changeOwner transaction ${hash} failed`);
  process.stdout.write(`device ${device.toLowerCase()} now owned by ${to} tx=${hash} block=${receipt.blockNumber}\n`);
  return EXIT.OK;
}

const command: Command = {
  name: 'ledger',
  summary: 'deploy the DEEP anchor contract, post grid prices to it, or hand a bike to a new owner',
  usage:
    'deep ledger deploy (--chain volta|ewc | --rpc URL [--chain-id N]) (--key-file F | --key-env NAME) [--grid-operator ADDR] [--anchorer ADDR[,ADDR...]] [--confirmations N]\n' +
    '       deep ledger prices --contract ADDR (--chain volta|ewc | --rpc URL) (--key-file F | --key-env NAME) [--prices CSV] [--from YYYY-MM-DD] [--days N]\n' +
    '       deep ledger transfer --contract ADDR --device KID --to ADDR (--chain volta|ewc | --rpc URL) (--key-file F | --key-env NAME)',
  options: {
    ...CHAIN_OPTIONS,
    ...KEY_OPTIONS,
    'grid-operator': { type: 'string', description: 'deploy: the account that posts prices (default: the deploying account)' },
    anchorer: { type: 'string', description: 'deploy: the ingest node account(s) allowed to anchor, comma-separated (default: the deploying account)' },
    confirmations: { type: 'string', description: 'blocks to wait for on top of the transaction', default: '1' },
    contract: { type: 'string', description: 'prices: the contract address' },
    prices: { type: 'string', description: 'prices: price CSV (the format of deep testnet --prices; default: the sample)' },
    from: { type: 'string', description: 'prices: first UTC day of a daily profile (default: where the posted series ends, else today)' },
    days: { type: 'string', description: 'prices: days of a daily profile to post', default: '1' },
    device: { type: 'string', description: 'transfer: the device id (kid, 16 hex digits)' },
    to: { type: 'string', description: 'transfer: the new owner\'s account' },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    const [sub, ...rest] = p.positionals;
    if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
    if (sub !== 'deploy' && sub !== 'prices' && sub !== 'transfer') throw new UsageError('expected a subcommand: deploy, prices or transfer');
    const choice = chainChoice(p)!;
    const keyFile = p.options['key-file'] as string | undefined;
    const keyEnv = p.options['key-env'] as string | undefined;
    if ((keyFile === undefined) === (keyEnv === undefined)) throw new UsageError('give exactly one of --key-file FILE or --key-env NAME');
    const confirmations = intOption(p, 'confirmations', 0, 1000) ?? 1;
    const { loadAnchorKey } = await import('../../ledger/evm/publisher');
    const account = loadAnchorKey({ file: keyFile, env: keyEnv });
    const chainId = choice.chainId ?? (await endpointChainId(choice.rpcUrl));
    const { chainFor, deployLedger, publicClientFor, chainPriceSeries } = await import('../../ledger/evm/contract');
    const chain = chainFor(chainId, choice.rpcUrl, choice.name);
    if (sub === 'deploy') {
      const list = (p.options.anchorer as string | undefined)?.split(',').map((a) => a.trim()) ?? [account.address];
      for (const a of list) if (!/^0x[0-9a-fA-F]{40}$/.test(a)) throw new UsageError(`--anchorer expected addresses (0x and 40 hex digits), got ${JSON.stringify(a)}`);
      const grid = addressOption(p, 'grid-operator') ?? account.address;
      const r = await deployLedger({ rpcUrl: choice.rpcUrl, chain, account, gridOperator: grid, anchorers: list as `0x${string}`[], confirmations: Math.max(1, confirmations) });
      process.stdout.write(
        `contract=${r.address} chain=${chainId} tx=${r.txHash} block=${r.blockNumber} gas=${r.gasUsed}\n` +
          `admin=${account.address} grid_operator=${grid} anchorers=${list.join(',')}\n`,
      );
      return EXIT.OK;
    }
    const contract = addressOption(p, 'contract');
    if (!contract) throw new UsageError(`${sub}: --contract ADDR is required`);
    if (sub === 'transfer') return transfer(p, contract, chain, choice.rpcUrl, account, confirmations);
    const { loadPrices, DAY_S } = await import('../../testnet/prices');
    const series = loadPrices(p.options.prices as string | undefined);
    const { loadLedgerArtifact } = await import('../../ledger/evm/compile');
    const { createWalletClient, http } = await import('viem');
    const artifact = loadLedgerArtifact();
    const client = publicClientFor(choice.rpcUrl, chain, 60_000);
    const postedEnd = Number(await client.readContract({ address: contract, abi: artifact.abi, functionName: 'pricesEnd' } as never));
    let fromS: number;
    const from = p.options.from as string | undefined;
    if (from !== undefined) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(from) || Number.isNaN(Date.parse(`${from}T00:00:00Z`))) throw new UsageError(`--from expected a UTC day YYYY-MM-DD, got ${JSON.stringify(from)}`);
      fromS = Date.parse(`${from}T00:00:00Z`) / 1000;
    } else {
      fromS = postedEnd > 0 ? postedEnd : Math.floor(Date.now() / 1000 / DAY_S) * DAY_S;
    }
    const days = intOption(p, 'days', 1, 366) ?? 1;
    const cs = chainPriceSeries(series, fromS, fromS + days * DAY_S);
    const wallet = createWalletClient({ account, chain, transport: http(choice.rpcUrl) });
    const intervals = cs.intervals.map((iv) => ({ start: iv.start, importMicro: iv.importMicro, exportMicro: iv.exportMicro }));
    const hash = await wallet.writeContract({ address: contract, abi: artifact.abi, functionName: 'postPrices', args: [intervals, cs.end] } as never);
    const receipt = await client.waitForTransactionReceipt({ hash, confirmations: Math.max(1, confirmations) });
    if (receipt.status !== 'success') throw new Error(`postPrices transaction ${hash} failed`);
    process.stdout.write(`posted ${intervals.length} intervals ${new Date(cs.intervals[0].start * 1000).toISOString()}..${new Date(cs.end * 1000).toISOString()} tx=${hash} block=${receipt.blockNumber}\n`);
    return EXIT.OK;
  },
};
export default command;
