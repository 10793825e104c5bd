// A small, strict option parser: unknown options are errors, not silently ignored, so a
// typo in `deep flash --prot /dev/ttyUSB0` stops instead of flashing the wrong thing.

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
  const options: Record<string, string | boolean | undefined> = {};
  for (const [name, s] of Object.entries(spec)) options[name] = s.default;
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (s.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`option --${name} takes no value`);
      options[name] = true;
    } else {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`option --${name} needs a value`);
      options[name] = value;
    }
  }
  return { options, positionals };
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
