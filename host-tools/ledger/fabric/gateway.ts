// The ingest node's connection to a Fabric network through @hyperledger/fabric-gateway
// (1.11: Node 20; 1.12 needs Node 22): a gRPC client to a peer's Gateway service, the
// node's X.509 identity and its private key (in memory only, never logged). The publisher
// sees only FabricLedgerClient, so the restart and outage logic is independent of gRPC.
import { readFileSync } from 'node:fs';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { connect, hash, signers, type Gateway } from '@hyperledger/fabric-gateway';

export interface FabricLedgerClient {
  /** A query (evaluated by one peer, never ordered); the chaincode's answer as text. */
  evaluate(fn: string, args: string[]): Promise<string>;
  /** Endorses `fn`: the signed transaction, ready to order, and its id. Nothing is sent to the orderer. */
  endorse(fn: string, args: string[]): Promise<{ txId: string; bytes: Uint8Array }>;
  /**
   * Sends a signed transaction (new, or the same bytes again) to be ordered and waits for
   * its commit status. The same bytes always carry the same transaction id, which a
   * channel commits at most once.
   */
  submit(bytes: Uint8Array): Promise<{ txId: string; successful: boolean; code: number; blockNumber: bigint }>;
  close(): void;
}

/** Where and as whom the node connects (a connection profile reduced to what the gateway needs). */
export interface FabricConnection {
  /** host:port of a peer's Gateway service. */
  endpoint: string;
  /** PEM of the TLS CA that signed the peer's certificate; absent: plaintext gRPC (tests only). */
  tlsRootCert?: string;
  /** The name in the peer's TLS certificate when it differs from the endpoint's host. */
  hostOverride?: string;
  mspId: string;
  /** PEM of the node's X.509 certificate (enrolled with deep.role=anchorer to anchor). */
  certificate: string;
  privateKey: KeyObject;
  channel: string;
  chaincode: string;
  /** Contract name inside the chaincode ("deep"); empty: the default contract. */
  contract?: string;
  /** Deadlines, ms. */
  evaluateMs?: number;
  endorseMs?: number;
  submitMs?: number;
  commitStatusMs?: number;
}

/**
 * Reads a connection file (JSON): {endpoint, tlsRootCertFile?, hostOverride?, mspId,
 * certFile, keyFile, channel, chaincode, contract?}; file names are relative to it.
 * Errors name the file and the field.
 */
export function loadFabricConnection(file: string): FabricConnection {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not a readable JSON connection file: ${(e as Error).message}`);
  }
  const dir = file.replace(/[^/]*$/, '');
  const str = (k: string, optional = false): string | undefined => {
    const v = j[k];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || v === '') throw new Error(`${file}: "${k}" expected a non-empty string`);
    return v;
  };
  const read = (k: string, optional = false): string | undefined => {
    const f = str(k, optional);
    if (f === undefined) return undefined;
    const p = f.startsWith('/') ? f : dir + f;
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new Error(`${file}: "${k}": cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  };
  const keyPem = read('keyFile')!;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    // The message names the file, never what it holds.
    throw new Error(`${file}: "keyFile" does not hold a PEM private key`);
  }
  return {
    endpoint: str('endpoint')!, tlsRootCert: read('tlsRootCertFile', true), hostOverride: str('hostOverride', true),
    mspId: str('mspId')!, certificate: read('certFile')!, privateKey, channel: str('channel')!, chaincode: str('chaincode')!,
    contract: str('contract', true),
  };
}

export function connectFabric(c: FabricConnection): FabricLedgerClient {
  const client = new grpc.Client(
    c.endpoint,
    c.tlsRootCert ? grpc.credentials.createSsl(Buffer.from(c.tlsRootCert)) : grpc.credentials.createInsecure(),
    c.hostOverride ? { 'grpc.ssl_target_name_override': c.hostOverride } : {},
  );
  const deadline = (ms: number) => () => ({ deadline: Date.now() + ms });
  const gateway: Gateway = connect({
    client,
    identity: { mspId: c.mspId, credentials: Buffer.from(c.certificate) },
    signer: signers.newPrivateKeySigner(c.privateKey),
    hash: hash.sha256,
    evaluateOptions: deadline(c.evaluateMs ?? 5_000),
    endorseOptions: deadline(c.endorseMs ?? 15_000),
    submitOptions: deadline(c.submitMs ?? 5_000),
    commitStatusOptions: deadline(c.commitStatusMs ?? 60_000),
  });
  const contract = gateway.getNetwork(c.channel).getContract(c.chaincode, c.contract || undefined);
  return {
    async evaluate(fn, args) {
      return Buffer.from(await contract.evaluateTransaction(fn, ...args)).toString('utf8');
    },
    async endorse(fn, args) {
      const tx = await contract.newProposal(fn, { arguments: args }).endorse();
      return { txId: tx.getTransactionId(), bytes: tx.getBytes() };
    },
    async submit(bytes) {
      const tx = gateway.newTransaction(bytes);
      const commit = await tx.submit();
      const st = await commit.getStatus();
      return { txId: st.transactionId, successful: st.successful, code: st.code, blockNumber: st.blockNumber };
    },
    close() {
      gateway.close();
      client.close();
    },
  };
}
