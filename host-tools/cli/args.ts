// Command-line options: node:util's parseArgs splits argv (--name VALUE, --name=VALUE, flags,
// positionals, `--`); what it lacks is here: errors worded for our users, each naming the
// option (a UsageError, exit 2), typed readers with bounds, and help text from the table.
// Unknown options are errors, not silently ignored, so a typo in
// `deep flash --prot /dev/ttyUSB0` stops instead of flashing the wrong thing.
import { parseArgs as splitArgs } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OptionSpec {
  /** 'string' takes a value, 'boolean' is a flag. */
  type: 'string' | 'boolean';
  description: string;
  default?: string | boolean;
}

export interface Parsed {
  options: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; default?: string | boolean }> = {};
  for (const [name, s] of Object.entries(spec)) options[name] = s.default === undefined ? { type: s.type } : { type: s.type, default: s.default };
  // Not strict: Node's strict mode words its errors its own way and refuses `--count -5`
  // (a value starting with '-') outright; the tokens let us check the same three rules
  // below with messages that name the option as the user typed it.
  const r = splitArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of r.tokens) {
    if (t.kind !== 'option') continue;
    if (!Object.hasOwn(spec, t.name)) throw new UsageError(`unknown option ${t.rawName}`);
    const { type } = spec[t.name];
    if (type === 'boolean' && t.value !== undefined) throw new UsageError(`option ${t.rawName} takes no value`);
    if (type === 'string' && t.value === undefined) throw new UsageError(`option ${t.rawName} needs a value`);
  }
  return { options: { ...r.values }, positionals: r.positionals };
}

/** Reads an integer option, with a labelled error naming the option and its bounds. */
export function intOption(parsed: Parsed, name: string, min: number, max: number): number | undefined {
  const raw = parsed.options[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^-?\d+$/.test(raw) || n < min || n > max) {
    throw new UsageError(`--${name} expected an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Reads an http:// or https:// URL option, without trailing slashes; undefined if absent. */
export function httpUrlOption(parsed: Parsed, name: string): string | undefined {
  const raw = parsed.options[name];
  if (raw === undefined) return undefined;
  let u: URL | undefined;
  try {
    u = new URL(String(raw));
  } catch {
    // not a URL at all: same message as a wrong scheme
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    throw new UsageError(`--${name} expected an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  }
  return u.href.replace(/\/+$/, '');
}

export function formatHelp(usage: string, summary: string, spec: Record<string, OptionSpec>): string {
  const lines = [`usage: ${usage}`, '', summary, ''];
  const rows = Object.entries(spec).map(([name, s]) => {
    const left = s.type === 'string' ? `--${name} VALUE` : `--${name}`;
    const def = s.default === undefined || s.default === false ? '' : ` (default: ${s.default})`;
    return [left, s.description + def];
  });
  if (rows.length) {
    lines.push('options:');
    const width = Math.max(...rows.map((r) => r[0].length));
    for (const [l, r] of rows) lines.push(`  ${l.padEnd(width)}  ${r}`);
  }
  return lines.join('\n');
}
