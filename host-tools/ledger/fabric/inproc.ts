// An in-memory Fabric peer for one chaincode, with no Docker and no peer binary: the
// chaincode runs through fabric-shim's own ChaincodeFromContract (the dispatcher, argument
// marshalling and ClientIdentity a real peer's chaincode container runs), on a stub that
// keeps the world state in memory. What a peer does around the chaincode is modelled as
// far as the chaincode can tell:
//   - composite keys come from fabric-shim's ChaincodeStub.createCompositeKey (the same
//     layout a peer stores);
//   - getState reads committed state only: a transaction does not see its own writes
//     (Fabric has no read-your-writes), so the chaincode must keep its own overlay;
//   - range and partial-composite-key queries iterate committed keys in byte order;
//   - one chaincode event per transaction (setEvent again replaces it, as on a peer);
//   - endorse() runs a transaction without committing and returns its read and write set;
//     submit() endorses and then commits, refusing it (MVCC_READ_CONFLICT) when a key it
//     read changed since, and refusing a transaction id seen before (DUPLICATE_TXID).
// Nothing here is a peer: no gossip, no endorsement policy, no private data, no history DB.
import './quiet';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { FabricIdentity } from './identity';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-var-requires
const shim = require('fabric-shim') as { ChaincodeStub: { prototype: { createCompositeKey(t: string, a: string[]): string; splitCompositeKey(k: string): { objectType: string; attributes: string[] } } } };
const ChaincodeFromContract = require('fabric-shim/lib/contract-spi/chaincodefromcontract.js') as new (
  contracts: unknown[],
  serializers: unknown,
  metadata: unknown,
  title: string,
  version: string,
) => { invokeFunctionality(stub: unknown): Promise<{ status: number; message?: string; payload?: Uint8Array }>; metadata: unknown };
const { JSONSerializer } = require('fabric-contract-api') as { JSONSerializer: unknown };

const OK = 200;

export interface ChaincodeEvent {
  name: string;
  payload: Uint8Array;
}

export interface Endorsement {
  txId: string;
  /** 200 on success; 500 with `message` when the chaincode threw. */
  status: number;
  message: string;
  payload: Uint8Array;
  /** Keys read, with the version (committing tx number) seen, sorted by key. */
  reads: [string, number][];
  /** Keys written (null: deleted), last write per key, sorted by key as in a peer's rwset. */
  writes: [string, Uint8Array | null][];
  event: ChaincodeEvent | null;
  timestampS: number;
}

export interface CommittedTx extends Endorsement {
  /** Position in the ledger, from 1. */
  number: number;
}

export class FabricTxError extends Error {
  constructor(
    readonly code: 'ENDORSEMENT_FAILED' | 'MVCC_READ_CONFLICT' | 'DUPLICATE_TXID',
    message: string,
    readonly txId: string,
  ) {
    super(message);
    this.name = 'FabricTxError';
  }
}

export interface InvokeOptions {
  /** Transaction timestamp, epoch seconds (the only clock the chaincode may read). */
  timestampS: number;
  /** Transaction id; by default derived from a counter (as the client's nonce would be random). */
  txId?: string;
}

const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

class MemoryStub {
  readonly reads = new Map<string, number>();
  readonly writes = new Map<string, Uint8Array | null>();
  event: ChaincodeEvent | null = null;
  private readonly bufferArgs: Buffer[];

  constructor(
    private readonly ledger: MemoryLedger,
    private readonly txId: string,
    private readonly channel: string,
    private readonly creator: FabricIdentity,
    fn: string,
    args: string[],
    private readonly timestampS: number,
  ) {
    this.bufferArgs = [fn, ...args].map((a) => Buffer.from(a, 'utf8'));
  }

  getBufferArgs() { return this.bufferArgs; }
  getArgs() { return this.bufferArgs.map((b) => b.toString('utf8')); }
  getStringArgs() { return this.getArgs(); }
  getFunctionAndParameters() { const [fcn, ...params] = this.getArgs(); return { fcn, params }; }
  getTxID() { return this.txId; }
  getChannelID() { return this.channel; }
  getCreator() { return { mspid: this.creator.mspId, idBytes: new Uint8Array(Buffer.from(this.creator.certificate, 'utf8')) }; }
  getTransient() { return new Map(); }
  getTxTimestamp() {
    const s = this.timestampS;
    return { seconds: { low: s | 0, high: Math.floor(s / 2 ** 32), unsigned: true, toNumber: () => s, toString: () => String(s) }, nanos: 0 };
  }
  getDateTimestamp() { return new Date(this.timestampS * 1000); }

  private checkKey(key: string): void {
    if (typeof key !== 'string' || key === '') throw new Error('key must not be an empty string');
  }

  async getState(key: string): Promise<Uint8Array> {
    this.checkKey(key);
    const v = this.ledger.read(key);
    this.reads.set(key, v.version);
    return v.value ? Buffer.from(v.value) : Buffer.alloc(0);
  }

  async putState(key: string, value: Uint8Array): Promise<void> {
    this.checkKey(key);
    if (!(value instanceof Uint8Array)) throw new Error(`putState ${JSON.stringify(key)}: value must be bytes`);
    this.writes.set(key, new Uint8Array(value));
  }

  async deleteState(key: string): Promise<void> {
    this.checkKey(key);
    this.writes.set(key, null);
  }

  createCompositeKey(objectType: string, attributes: string[]): string {
    return shim.ChaincodeStub.prototype.createCompositeKey.call(this, objectType, attributes);
  }

  splitCompositeKey(key: string) {
    return shim.ChaincodeStub.prototype.splitCompositeKey.call(this, key);
  }

  /** Committed keys in [start, end), byte order; the read versions are recorded (phantom reads are not checked). */
  private range(start: string, end: string) {
    const rows = this.ledger.keysBetween(start, end);
    for (const [k, v] of rows) this.reads.set(k, v.version);
    let i = 0;
    const it = {
      async next() {
        if (i >= rows.length) return { done: true as const, value: undefined };
        const [key, v] = rows[i++];
        return { done: false as const, value: { key, value: Buffer.from(v.value!), namespace: 'deep' } };
      },
      async close() {},
      [Symbol.asyncIterator]() { return it; },
    };
    return it;
  }

  async getStateByRange(start: string, end: string) {
    return this.range(start, end === '' ? '\u{10ffff}' : end);
  }

  async getStateByPartialCompositeKey(objectType: string, attributes: string[]) {
    const prefix = this.createCompositeKey(objectType, attributes);
    return this.range(prefix, prefix + '\u{10ffff}');
  }

  /**
   * A page of a partial-key query: at most pageSize keys from `bookmark` (the first key
   * of the page, '' for the start); metadata.bookmark is where the next page starts.
   */
  async getStateByPartialCompositeKeyWithPagination(objectType: string, attributes: string[], pageSize: number, bookmark = '') {
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new Error(`pageSize must be a positive integer, got ${pageSize}`);
    const prefix = this.createCompositeKey(objectType, attributes);
    const from = bookmark && cmp(bookmark, prefix) > 0 ? bookmark : prefix;
    const rows = this.ledger.keysBetween(from, prefix + '\u{10ffff}');
    const next = rows[pageSize]?.[0] ?? '';
    const page = this.range(from, next || prefix + '\u{10ffff}');
    return { iterator: page, metadata: { fetchedRecordsCount: Math.min(pageSize, rows.length), bookmark: next } };
  }

  setEvent(name: string, payload: Uint8Array): void {
    if (typeof name !== 'string' || name === '') throw new Error('event name must be a non-empty string');
    this.event = { name, payload: new Uint8Array(payload) };
  }
}

export interface LedgerOptions {
  /** Contract classes, the default one first (as a chaincode module's `contracts`). */
  contracts: unknown[];
  channel?: string;
  title?: string;
  version?: string;
}

/** World state of one channel with one chaincode, and the transactions committed to it. */
export class MemoryLedger {
  private readonly state = new Map<string, { value: Uint8Array; version: number }>();
  private readonly txIds = new Set<string>();
  readonly committed: CommittedTx[] = [];
  readonly channel: string;
  private readonly chaincode: InstanceType<typeof ChaincodeFromContract>;
  private counter = 0;

  constructor(opts: LedgerOptions) {
    this.channel = opts.channel ?? 'deep';
    // ChaincodeFromContract appends its system contract to the array it is given.
    this.chaincode = new ChaincodeFromContract(opts.contracts.slice(), { transaction: 'jsonSerializer', serializers: { jsonSerializer: JSONSerializer } }, {}, opts.title ?? 'deep-chaincode', opts.version ?? '0.1.0');
  }

  /** The contract metadata as the chaincode reports it (org.hyperledger.fabric:GetMetadata). */
  get metadata(): unknown {
    return this.chaincode.metadata;
  }

  read(key: string): { value: Uint8Array | undefined; version: number } {
    const v = this.state.get(key);
    return v ? { value: v.value, version: v.version } : { value: undefined, version: 0 };
  }

  keysBetween(start: string, end: string): [string, { value: Uint8Array; version: number }][] {
    return [...this.state.entries()].filter(([k]) => cmp(k, start) >= 0 && cmp(k, end) < 0).sort((a, b) => cmp(a[0], b[0]));
  }

  /** Every committed key and value, in key order (for comparing two ledgers). */
  dump(): [string, Uint8Array][] {
    return [...this.state.entries()].sort((a, b) => cmp(a[0], b[0])).map(([k, v]) => [k, v.value]);
  }

  private nextTxId(): string {
    return createHash('sha256').update(`${this.channel}/${++this.counter}`).digest('hex');
  }

  /** Runs `fn` as `identity` without committing: the proposal response a peer would sign. */
  async endorse(identity: FabricIdentity, fn: string, args: string[], opts: InvokeOptions): Promise<Endorsement> {
    if (!Number.isSafeInteger(opts.timestampS) || opts.timestampS < 0) throw new RangeError(`timestampS expected epoch seconds, got ${opts.timestampS}`);
    const txId = opts.txId ?? this.nextTxId();
    const stub = new MemoryStub(this, txId, this.channel, identity, fn, args, opts.timestampS);
    const res = await this.chaincode.invokeFunctionality(stub);
    return {
      txId,
      status: res.status,
      message: res.message ?? '',
      payload: new Uint8Array(res.payload ?? []),
      reads: [...stub.reads.entries()].sort((a, b) => cmp(a[0], b[0])),
      writes: [...stub.writes.entries()].sort((a, b) => cmp(a[0], b[0])),
      event: stub.event,
      timestampS: opts.timestampS,
    };
  }

  /** Commits an endorsed transaction, with a peer's validation of its reads. */
  commit(e: Endorsement): CommittedTx {
    if (e.status !== OK) throw new FabricTxError('ENDORSEMENT_FAILED', e.message, e.txId);
    if (this.txIds.has(e.txId)) throw new FabricTxError('DUPLICATE_TXID', `transaction ${e.txId} was committed before`, e.txId);
    this.txIds.add(e.txId);
    const number = this.committed.length + 1;
    const conflict = e.reads.find(([k, version]) => this.read(k).version !== version);
    if (conflict) {
      // A peer records the transaction as invalid: its id is spent, its writes are not applied.
      this.committed.push({ ...e, number, writes: [], event: null, status: 409, message: `MVCC_READ_CONFLICT on ${JSON.stringify(conflict[0])}` });
      throw new FabricTxError('MVCC_READ_CONFLICT', `key ${JSON.stringify(conflict[0])} changed since it was read`, e.txId);
    }
    for (const [k, v] of e.writes) {
      if (v === null) this.state.delete(k);
      else this.state.set(k, { value: v, version: number });
    }
    const tx: CommittedTx = { ...e, number };
    this.committed.push(tx);
    return tx;
  }

  /** Endorses and commits; throws FabricTxError when the chaincode refuses or the commit fails. */
  async submit(identity: FabricIdentity, fn: string, args: string[], opts: InvokeOptions): Promise<{ result: string; tx: CommittedTx }> {
    const e = await this.endorse(identity, fn, args, opts);
    if (e.status !== OK) throw new FabricTxError('ENDORSEMENT_FAILED', e.message, e.txId);
    const tx = this.commit(e);
    return { result: Buffer.from(e.payload).toString('utf8'), tx };
  }

  /** A query: endorse and return the result, never committed. */
  async evaluate(identity: FabricIdentity, fn: string, args: string[], opts: InvokeOptions): Promise<string> {
    const e = await this.endorse(identity, fn, args, opts);
    if (e.status !== OK) throw new FabricTxError('ENDORSEMENT_FAILED', e.message, e.txId);
    return Buffer.from(e.payload).toString('utf8');
  }
}
