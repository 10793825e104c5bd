// A pool of worker threads for signature verification, so both cores verify while the
// main thread parses HTTP and commits. Workers are TypeScript loaded through tsx: Node 20
// does not apply `execArgv: ['--import', 'tsx']` module hooks to a worker's entry module,
// so each worker starts from a small CommonJS bootstrap that registers tsx's CJS loader and
// then requires the entry file (works under `tsx`, `node --import tsx` and `uvu -r tsx`).
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';

export interface PoolOptions {
  /** Entry module of the worker (a .ts file URL). */
  entry: URL;
  size?: number;
  /** Sent to every worker first, including replacements of crashed ones. */
  init?: () => unknown;
  onError?: (err: Error) => void;
}

interface Job {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  inflight: Map<number, Job>;
}

export interface Pool {
  readonly size: number;
  /** Sends `msg` to the least busy worker and resolves with its answer. */
  run<T>(msg: Record<string, unknown>): Promise<T>;
  /** Sends `msg` to every worker (state updates); ordered before any later run(). */
  broadcast(msg: Record<string, unknown>): void;
  /** Jobs sent and not answered. */
  inflight(): number;
  close(): Promise<void>;
}

export function createPool(opts: PoolOptions): Pool {
  const size = Math.max(1, opts.size ?? availableParallelism());
  const tsxCjs = createRequire(import.meta.url).resolve('tsx/cjs/api');
  const boot = `require(${JSON.stringify(tsxCjs)}).register(); require(${JSON.stringify(fileURLToPath(opts.entry))});`;
  const slots: Slot[] = [];
  let nextId = 1;
  let closed = false;

  function spawn(i: number): void {
    const worker = new Worker(boot, { eval: true });
    const slot: Slot = { worker, inflight: new Map() };
    slots[i] = slot;
    if (opts.init) worker.postMessage({ type: 'init', state: opts.init() });
    worker.on('message', (m: { id: number; error?: string; result?: unknown }) => {
      const job = slot.inflight.get(m.id);
      if (!job) return;
      slot.inflight.delete(m.id);
      if (m.error !== undefined) job.reject(new Error(m.error));
      else job.resolve(m.result);
    });
    const fail = (err: Error) => {
      if (slots[i] !== slot) return;
      for (const job of slot.inflight.values()) job.reject(err);
      slot.inflight.clear();
      if (closed) return;
      opts.onError?.(err);
      // A crashed worker is replaced, so one poisonous input cannot take verification down.
      spawn(i);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`verify worker exited with code ${code}`)));
  }
  for (let i = 0; i < size; i++) spawn(i);

  return {
    size,
    run<T>(msg: Record<string, unknown>): Promise<T> {
      if (closed) return Promise.reject(new Error('pool closed'));
      let best = slots[0];
      for (const s of slots) if (s.inflight.size < best.inflight.size) best = s;
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        best.inflight.set(id, { resolve: resolve as (v: unknown) => void, reject });
        best.worker.postMessage({ ...msg, id });
      });
    },
    broadcast(msg) {
      for (const s of slots) s.worker.postMessage(msg);
    },
    inflight: () => slots.reduce((n, s) => n + s.inflight.size, 0),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
