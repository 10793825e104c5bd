// World-state access for the DEEP chaincode: composite keys, JSON records, and an overlay
// of this transaction's writes. Fabric has no read-your-writes (getState returns committed
// state only), and one SubmitReports moves a device's head many times: every read goes
// through the overlay first so that report n+1 sees the head report n just wrote.
import type { Context } from 'fabric-contract-api';

/** Object types of the composite keys (each key: \u0000type\u0000attr\u0000...). */
export const KEY = {
  config: 'deep.config',
  challenge: 'deep.challenge',
  device: 'deep.device',
  report: 'deep.report',
  fork: 'deep.fork',
  flow: 'deep.flow',
  owner: 'deep.owner',
  entry: 'deep.entry',
  prices: 'deep.prices',
  price: 'deep.price',
  batches: 'deep.batches',
  batch: 'deep.batch',
  anchored: 'deep.anchored',
  market: 'deep.market',
  marketInterval: 'deep.marketInterval',
  marketSlot: 'deep.marketSlot',
} as const;

/**
 * Integers in keys are zero-padded to 16 digits so that the byte order of the keys is the
 * numeric order (seq < 2^40, epoch seconds and batch ids far below 10^16).
 */
export const pad = (n: number): string => String(n).padStart(16, '0');

export class TxState {
  private readonly overlay = new Map<string, string | null>();

  constructor(readonly ctx: Context) {}

  key(type: string, attrs: (string | number)[]): string {
    return this.ctx.stub.createCompositeKey(type, attrs.map((a) => (typeof a === 'number' ? pad(a) : a)));
  }

  async getText(key: string): Promise<string | undefined> {
    if (this.overlay.has(key)) return this.overlay.get(key) ?? undefined;
    const b = await this.ctx.stub.getState(key);
    return b && b.length ? Buffer.from(b).toString('utf8') : undefined;
  }

  async get<T>(type: string, attrs: (string | number)[]): Promise<T | undefined> {
    const t = await this.getText(this.key(type, attrs));
    return t === undefined ? undefined : (JSON.parse(t) as T);
  }

  async put(type: string, attrs: (string | number)[], value: unknown): Promise<void> {
    const key = this.key(type, attrs);
    const text = JSON.stringify(value);
    this.overlay.set(key, text);
    await this.ctx.stub.putState(key, Buffer.from(text, 'utf8'));
  }

  async del(type: string, attrs: (string | number)[]): Promise<void> {
    const key = this.key(type, attrs);
    this.overlay.set(key, null);
    await this.ctx.stub.deleteState(key);
  }

  /**
   * Committed records under a partial key, in key order (the ledger's order, never a
   * map's). Only for types this transaction does not write: the overlay is not merged.
   */
  async list<T>(type: string, attrs: (string | number)[]): Promise<{ attrs: string[]; value: T }[]> {
    const out: { attrs: string[]; value: T }[] = [];
    const it = await this.ctx.stub.getStateByPartialCompositeKey(type, attrs.map((a) => (typeof a === 'number' ? pad(a) : a)));
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        out.push({ attrs: this.ctx.stub.splitCompositeKey(r.value.key).attributes, value: JSON.parse(Buffer.from(r.value.value).toString('utf8')) as T });
      }
    } finally {
      await it.close();
    }
    return out;
  }

  /** One page of list(): at most pageSize records from `bookmark`, and where the next page starts ('' at the end). */
  async page<T>(type: string, attrs: string[], pageSize: number, bookmark: string): Promise<{ values: T[]; bookmark: string }> {
    const values: T[] = [];
    const { iterator: it, metadata } = await this.ctx.stub.getStateByPartialCompositeKeyWithPagination(type, attrs, pageSize, bookmark);
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) values.push(JSON.parse(Buffer.from(r.value.value).toString('utf8')) as T);
    } finally {
      await it.close();
    }
    return { values, bookmark: metadata.bookmark };
  }

  /** The transaction's timestamp in epoch seconds: the only clock the chaincode reads. */
  nowS(): number {
    const ts = this.ctx.stub.getTxTimestamp();
    return Number(ts.seconds.toString());
  }
}
