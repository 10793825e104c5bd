// `deep ingest` as a separate process, for where the node must live outside the caller: the
// crash test kills it with SIGKILL, bench:ingest measures it without sharing the caller's
// event loop. It listens on a free port (--port 0) and prints its base URL as the first
// line of stdout (host-tools/cli/commands/ingest.ts); that line is the signal it is up.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEEP = path.join(ROOT, 'host-tools/bin/deep.js');

export interface IngestChildOptions {
  /** SQLite file of the ledger. */
  db: string;
  /** --workers; the node's default when absent. */
  workers?: number;
  /** Node flags placed before the script, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** 'inherit' passes the node's stderr through; 'capture' (default) keeps it for the
   *  error when the node exits before it listens. */
  stderr?: 'inherit' | 'capture';
  /** More `deep ingest` options. */
  args?: string[];
}

/** Starts the node; resolves once it listens, rejects if it exits first. */
export function spawnIngestNode(opts: IngestChildOptions): Promise<{ child: ChildProcess; url: string }> {
  if (typeof opts.db !== 'string' || opts.db === '') throw new TypeError(`"db" expected a file path, got ${String(opts.db)}`);
  if (opts.workers !== undefined && (!Number.isInteger(opts.workers) || opts.workers < 1)) {
    throw new RangeError(`"workers" expected integer >= 1, got ${opts.workers}`);
  }
  const capture = opts.stderr !== 'inherit';
  const args = [...(opts.nodeArgs ?? []), DEEP, 'ingest', '--db', opts.db, '--port', '0', '--log-level', 'warn'];
  if (opts.workers !== undefined) args.push('--workers', String(opts.workers));
  args.push(...(opts.args ?? []));
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', capture ? 'pipe' : 'inherit'] });
  let err = '';
  // Read to the end even after the node is up, so a full pipe never stalls it.
  if (capture) child.stderr!.on('data', (c) => (err += c));
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c;
      // Its URL line; node flags such as --trace-gc may print before it.
      const m = /^(http:\/\/\S+)\n/m.exec(out);
      if (!m) return;
      resolve({ child, url: m[1] });
      // Up: what it prints next is drained (a full pipe would stall it), not kept.
      child.stdout!.off('data', onData);
      child.stdout!.resume();
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`deep ingest exited with ${code}${capture ? `: ${err}` : ''}`)));
  });
}
