// Shared by the chaincode tests: an in-memory ledger running the DEEP chaincode, the roles'
// identities, and registration through IssueChallenge + a device's pairing proof.
import '../../../../host-tools/ledger/fabric/quiet';
import * as assert from 'uvu/assert';
import { FabricTxError, MemoryLedger } from '../../../../host-tools/ledger/fabric/inproc';
import { makeIdentity } from '../../../../host-tools/ledger/fabric/identity';
import { DeepContract } from '../../../../host-tools/ledger/fabric/src/contract';
import { makePairingProof } from '../../../../protocol/pairing';
import type { Device } from '../../ingest/_fixtures';

export const NOW_S = Math.floor(Date.now() / 1000);
export const GRID = makeIdentity('GridMSP', 'operator', { 'deep.role': 'grid-operator' });
export const ANCHORER = makeIdentity('HubMSP', 'ingest-node', { 'deep.role': 'anchorer' });
export const RIDER = makeIdentity('HubMSP', 'rider-app', { 'deep.role': 'client' });

export async function newLedger(contracts: unknown[] = [DeepContract]): Promise<MemoryLedger> {
  const ledger = new MemoryLedger({ contracts });
  await ledger.submit(GRID, 'InitLedger', [GRID.mspId, ANCHORER.mspId], { timestampS: NOW_S });
  return ledger;
}

export async function registerDevice(ledger: MemoryLedger, dev: Pick<Device, 'publicKey' | 'sign'>, owner: string, timestampS = NOW_S): Promise<any> {
  const { result: challenge } = await ledger.submit(RIDER, 'IssueChallenge', [], { timestampS });
  const proof = makePairingProof({ challenge: new Uint8Array(Buffer.from(challenge, 'hex')), publicKey: dev.publicKey, firmware: 256 }, dev.sign);
  const { result } = await ledger.submit(RIDER, 'RegisterDevice', [Buffer.from(proof).toString('base64'), owner], { timestampS });
  return JSON.parse(result);
}

export type Answer = { index: number; status: string; reason?: string; detail?: string; device?: string; seq?: number; state?: string };

export async function submitReports(ledger: MemoryLedger, reports: Uint8Array[] | Uint8Array, timestampS = NOW_S): Promise<{ results: Answer[]; event: { name: string; payload: any } | null }> {
  const bytes = reports instanceof Uint8Array ? reports : Buffer.concat(reports);
  const { result, tx } = await ledger.submit(RIDER, 'SubmitReports', [Buffer.from(bytes).toString('base64')], { timestampS });
  return { results: JSON.parse(result).results, event: tx.event ? { name: tx.event.name, payload: JSON.parse(Buffer.from(tx.event.payload).toString()) } : null };
}

export async function query(ledger: MemoryLedger, fn: string, args: string[]): Promise<any> {
  return JSON.parse(await ledger.evaluate(RIDER, fn, args, { timestampS: NOW_S }));
}

/** Awaits a transaction that must be refused with an error whose message matches `name`. */
export async function refused(p: Promise<unknown>, name: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, FabricTxError);
    assert.match((e as Error).message, name);
    return;
  }
  assert.unreachable(`expected ${name}`);
}
