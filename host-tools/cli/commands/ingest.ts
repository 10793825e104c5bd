import { parseArgs, intOption, UsageError } from '../args';
import { DEFAULT_LIMITS, DEFAULT_MAX_IN_FLIGHT_REPORTS } from '../../ingest/server';
import { readTokenFile } from '../token-file';
import { EXIT, type Command } from '../command';
import { createLogger, type Level } from '../../ingest/log';
import { startIngestNode } from '../../ingest/node';
import { CHAIN_OPTIONS, addressOption, chainChoice, endpointChainId } from '../chain-options';

async function anchorOptions(p: ReturnType<typeof parseArgs>) {
  const contract = addressOption(p, 'contract');
  const keyFile = p.options['anchor-key-file'] as string | undefined;
  const keyEnv = p.options['anchor-key-env'] as string | undefined;
  const choice = chainChoice(p, contract !== undefined);
  if (!contract) {
    if (choice || keyFile !== undefined || keyEnv !== undefined) throw new UsageError('anchoring options need --contract ADDR');
    return undefined;
  }
  if ((keyFile === undefined) === (keyEnv === undefined)) throw new UsageError('anchoring needs exactly one of --anchor-key-file FILE or --anchor-key-env NAME');
  let chainId = choice!.chainId;
  if (chainId === undefined) {
    try {
      chainId = await endpointChainId(choice!.rpcUrl);
    } catch (err) {
      throw new UsageError(`cannot ask ${choice!.rpcUrl} for its chain id (${(err as Error).message}); give --chain-id N`);
    }
  }
  const { loadAnchorKey } = await import('../../ledger/evm/publisher');
  const account = loadAnchorKey({ file: keyFile, env: keyEnv });
  return { rpcUrl: choice!.rpcUrl, chainId, contract, account, confirmations: intOption(p, 'confirmations', 0, 10_000) ?? 3 };
}

const command: Command = {
  name: 'ingest',
  summary: 'run a ledger ingest node: verify, store (SQLite) and serve device-signed reports over HTTP',
  usage: 'deep ingest --db FILE|postgres://URL [--port N] [--host ADDR] [--workers N] [--admin-token-env NAME] [--log-level LEVEL] [--max-body BYTES] [--max-in-flight N] [--batch-interval-ms N] [--batch-max-reports N] [--prices CSV]\n                   [--enroll-token-file FILE] [--rate-register N] [--rate-rejections N]\n                   [--contract ADDR (--chain volta|ewc | --rpc URL [--chain-id N]) (--anchor-key-file F | --anchor-key-env NAME) [--confirmations N] | --fabric FILE]',
  options: {
    db: { type: 'string', description: 'SQLite database file, or postgres://user@host/db (several nodes may share one); its schema is created if absent' },
    port: { type: 'string', description: 'TCP port (0 picks a free one)', default: '8080' },
    host: { type: 'string', description: 'address to listen on', default: '127.0.0.1' },
    workers: { type: 'string', description: 'signature verify threads (default: one per core)' },
    'admin-token-env': { type: 'string', description: 'environment variable holding the bearer token of operator routes (revoke); without it they answer loopback clients only' },
    'log-level': { type: 'string', description: 'debug, info, warn or error (JSON lines on stderr)', default: 'info' },
    'max-body': { type: 'string', description: 'largest request body in bytes', default: String(1 << 20) },
    'max-in-flight': { type: 'string', description: 'reports verified or committing at once; further requests wait unread in their connections', default: String(DEFAULT_MAX_IN_FLIGHT_REPORTS) },
    'enroll-token-file': { type: 'string', description: 'file holding the token a client must send (Authorization: Bearer) to register a device; without it anyone may register' },
    'rate-register': { type: 'string', description: 'registration requests (challenge + register) per client address per minute; 0: no limit', default: String(DEFAULT_LIMITS.registerPerMin) },
    'rate-rejections': { type: 'string', description: 'rejected reports per client address per minute before POST /v1/reports answers 429; 0: no limit', default: String(DEFAULT_LIMITS.rejectionsPerMin) },
    'batch-interval-ms': { type: 'string', description: 'longest time an accepted report waits for its batch (Merkle root), ms', default: '60000' },
    'batch-max-reports': { type: 'string', description: 'a batch closes as soon as this many accepted reports wait', default: '1000' },
    contract: { type: 'string', description: 'anchor batches on chain to this DeepLedger contract (deep ledger deploy); needs --chain or --rpc and a key' },
    ...CHAIN_OPTIONS,
    prices: { type: 'string', description: 'price CSV (start,import[,export]; see README "Prices"): riders\' money at the interval prices (GET /v1/prices, /v1/devices/{id}/money, the web app)' },
    'anchor-key-file': { type: 'string', description: 'file holding the anchoring account\'s private key (64 hex digits); chmod 600' },
    'anchor-key-env': { type: 'string', description: 'environment variable holding the anchoring account\'s private key' },
    confirmations: { type: 'string', description: 'blocks on top of an anchor before it counts', default: '3' },
    fabric: { type: 'string', description: 'anchor batches with the DEEP chaincode on a Fabric channel instead: a JSON connection file {endpoint, tlsRootCertFile, hostOverride?, mspId, certFile, keyFile, channel, chaincode} (README, "Hyperledger Fabric")' },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[0])}`);
    const db = p.options.db as string | undefined;
    if (!db) throw new UsageError('--db FILE (or --db postgres://…) is required');
    const level = p.options['log-level'] as string;
    if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new UsageError(`--log-level expected debug, info, warn or error, got ${JSON.stringify(level)}`);
    let adminToken: string | undefined;
    const envName = p.options['admin-token-env'] as string | undefined;
    if (envName !== undefined) {
      adminToken = process.env[envName];
      if (!adminToken) throw new UsageError(`--admin-token-env ${envName}: the variable is not set or empty`);
    }
    const tokenFile = p.options['enroll-token-file'] as string | undefined;
    const enrollToken = tokenFile === undefined ? undefined : readTokenFile('enroll-token-file', tokenFile);
    const anchor = await anchorOptions(p);
    const fabricFile = p.options.fabric as string | undefined;
    if (fabricFile !== undefined && anchor) throw new UsageError('--fabric and --contract: anchor on one ledger');
    let fabric: { client: import('../../ledger/fabric/gateway').FabricLedgerClient; channel: string; chaincode: string; mspId: string } | undefined;
    if (fabricFile !== undefined) {
      const { loadFabricConnection, connectFabric } = await import('../../ledger/fabric/gateway');
      let conn;
      try {
        conn = loadFabricConnection(fabricFile);
      } catch (e) {
        throw new UsageError(`--fabric: ${(e as Error).message}`);
      }
      fabric = { client: connectFabric(conn), channel: conn.channel, chaincode: conn.chaincode, mspId: conn.mspId };
    }
    let prices;
    if (p.options.prices !== undefined) {
      const { loadPrices, PriceFileError } = await import('../../testnet/prices');
      try {
        prices = loadPrices(p.options.prices as string);
      } catch (e) {
        if (e instanceof PriceFileError) throw new UsageError(`--prices: ${e.message}`);
        throw e;
      }
    }
    const node = await startIngestNode({
      prices,
      anchor,
      fabric,
      db,
      port: intOption(p, 'port', 0, 65535),
      host: p.options.host as string,
      workers: intOption(p, 'workers', 1, 64),
      maxBodyBytes: intOption(p, 'max-body', 1024, 1 << 30),
      maxInFlightReports: intOption(p, 'max-in-flight', 1, 10_000_000),
      batch: { intervalMs: intOption(p, 'batch-interval-ms', 1, 7 * 86_400_000), maxReports: intOption(p, 'batch-max-reports', 1, 1_000_000) },
      adminToken,
      enrollToken,
      limits: { registerPerMin: intOption(p, 'rate-register', 0, 1_000_000), rejectionsPerMin: intOption(p, 'rate-rejections', 0, 1_000_000_000) },
      logger: createLogger({ level: level as Level }),
    });
    process.stdout.write(`${node.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        node.close().finally(() => fabric?.client.close()).then(resolve, resolve);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    return EXIT.OK;
  },
};
export default command;
