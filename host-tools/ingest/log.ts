// Structured logs: one JSON object per line on a writable stream (stderr by default), so an
// operator can pipe them into jq, Loki or journald without a parser. Keys are stable:
// `t` (ISO time), `level`, `msg`, then the event's own fields.
import { toHex } from '../../protocol/bytes';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface LogSink {
  write(line: string): unknown;
}

function jsonValue(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return toHex(v);
  if (v instanceof Error) return { name: v.name, message: v.message };
  return v;
}

export function createLogger(opts: { sink?: LogSink; level?: Level; base?: Record<string, unknown> } = {}): Logger {
  const sink = opts.sink ?? process.stderr;
  const min = RANK[opts.level ?? 'info'];
  const base = opts.base ?? {};
  function emit(level: Level, msg: string, fields?: Record<string, unknown>): void {
    if (RANK[level] < min) return;
    sink.write(JSON.stringify({ t: new Date().toISOString(), level, msg, ...base, ...fields }, jsonValue) + '\n');
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
