// A real EVM on loopback for tests, benchmarks and the testnet: Hardhat 2's network (EDR)
// with hardfork "london" and Volta's chain id 73799, served over HTTP JSON-RPC by Hardhat's
// own request handler, so clients see what `hardhat node` would answer (custom errors
// decoded from revert data, eth_* methods) and talk to it exactly as to Volta.
//
// The chain lives in this process; its HTTP front can be stopped and started again on the
// same port while the chain keeps its state (stopRpc/startRpc): a chain whose RPC endpoint
// went away for a while and came back, which is what a publisher has to survive.
//
// Hardhat is a devDependency: this module is only for local chains, never for Volta or EWC.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const CONFIG = path.join(path.dirname(fileURLToPath(import.meta.url)), 'hardhat.config.cjs');

export const LOCAL_CHAIN_ID = 73799;

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

export interface LocalChain {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly chainId: number;
  /** The in-process provider (no HTTP), for test set-up only. */
  readonly provider: Eip1193;
  /** Closes the HTTP front and drops every open connection; the chain keeps its state. */
  stopRpc(): Promise<void>;
  /** Serves the chain again on the same port. */
  startRpc(): Promise<void>;
  readonly rpcUp: boolean;
  /** Sets an account's balance (wei). */
  fund(address: string, wei: bigint): Promise<void>;
  /** Mines `blocks` empty blocks (confirmations for what came before). */
  mine(blocks?: number): Promise<void>;
  blockNumber(): Promise<number>;
  /** Stops the HTTP front for good. */
  close(): Promise<void>;
}

export interface LocalChainOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  chainId?: number;
  /** Besides mining each transaction at once, mine a block every this many ms (confirmations). */
  intervalMs?: number;
}

export async function startLocalChain(opts: LocalChainOptions = {}): Promise<LocalChain> {
  const chainId = opts.chainId ?? LOCAL_CHAIN_ID;
  const { resolveConfig } = require('hardhat/internal/core/config/config-resolution');
  const { createProvider } = require('hardhat/internal/core/providers/construction');
  const { JsonRpcHandler } = require('hardhat/internal/hardhat-network/jsonrpc/handler');
  const hh = require(CONFIG) as { networks: { hardhat: Record<string, unknown> } };
  const config = resolveConfig(CONFIG, {
    networks: {
      hardhat: {
        ...hh.networks.hardhat,
        chainId,
        mining: { auto: true, interval: opts.intervalMs ?? 0 },
        loggingEnabled: false,
      },
    },
  });
  const provider = (await createProvider(config, 'hardhat')) as Eip1193;
  const handler = new JsonRpcHandler(provider) as { handleHttp: (req: unknown, res: unknown) => Promise<void> };

  let server: Server | undefined;
  let port = opts.port ?? 0;

  async function startRpc(): Promise<void> {
    if (server) return;
    const s = createServer((req, res) => void handler.handleHttp(req, res));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  }

  async function stopRpc(): Promise<void> {
    const s = server;
    if (!s) return;
    server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      // Keep-alive connections would hold close() open and let a client keep talking.
      s.closeAllConnections();
    });
  }

  await startRpc();
  const rpc = (method: string, params: unknown[] = []) => provider.request({ method, params });
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    chainId,
    provider,
    stopRpc,
    startRpc,
    get rpcUp() {
      return server !== undefined;
    },
    async fund(address, wei) {
      await rpc('hardhat_setBalance', [address, `0x${wei.toString(16)}`]);
    },
    async mine(blocks = 1) {
      await rpc('hardhat_mine', [`0x${blocks.toString(16)}`]);
    },
    async blockNumber() {
      return Number(BigInt((await rpc('eth_blockNumber')) as string));
    },
    close: stopRpc,
  };
}
