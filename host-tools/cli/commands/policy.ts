// `deep policy show|set`: a rider's market policy for a paired bike, kept by the ingest node
// (protocol/MARKET.md §2.2). Until riders have their own identity on the node, the node's
// operator token authorises it (--admin-token-env; a node without a token answers loopback).
import { UsageError, parseArgs, httpUrlOption, type Parsed } from '../args';
import { EXIT, type Command } from '../command';
import { parseMicro, formatMicro } from '../../testnet/prices';

const PERCENT = /^(\d{1,3})(?:\.(\d))?%?$/;

/** "60" or "60%" or "60.5" -> permille (600, 605). */
function permille(p: Parsed, name: string): number | undefined {
  const raw = p.options[name];
  if (raw === undefined) return undefined;
  const m = PERCENT.exec(String(raw));
  const v = m ? Number(m[1]) * 10 + Number(m[2] ?? '0') : NaN;
  if (!(v >= 0 && v <= 1000)) throw new UsageError(`--${name} expected a charge in percent, 0..100 with at most one decimal (e.g. 60 or 62.5), got ${JSON.stringify(raw)}`);
  return v;
}

/** A price in currency per kWh ("0.25") -> micro-units, or null for "default". */
function price(p: Parsed, name: string): number | null | undefined {
  const raw = p.options[name];
  if (raw === undefined) return undefined;
  if (raw === 'default') return null;
  const v = parseMicro(String(raw));
  if (v === undefined) throw new UsageError(`--${name} expected a price per kWh such as 0.25 (at most 6 decimals) or "default", got ${JSON.stringify(raw)}`);
  return v;
}

function describe(a: { device: string; set: boolean; policy: Record<string, unknown> }): string[] {
  const p = a.policy as { reservePermille: number; targetPermille: number; departure: string | null; minSellMicroPerKwh: number | null; maxBuyMicroPerKwh: number | null };
  const pct = (v: number) => `${Math.floor(v / 10)}${v % 10 ? `.${v % 10}` : ''} %`;
  return [
    `device ${a.device}: ${a.set ? 'policy set by the rider' : 'defaults (the rider set nothing)'}`,
    `  reserve    ${pct(p.reservePermille)} (never sells below)`,
    `  target     ${pct(p.targetPermille)} when leaving`,
    `  departure  ${p.departure ?? 'announced at the plug'}`,
    `  min sell   ${p.minSellMicroPerKwh === null ? "default: 3/4 of the day's best feed-in price" : `${formatMicro(p.minSellMicroPerKwh)} per kWh`}`,
    `  max buy    ${p.maxBuyMicroPerKwh === null ? 'default: the retail price of the interval' : `${formatMicro(p.maxBuyMicroPerKwh)} per kWh`}`,
  ];
}

const command: Command = {
  name: 'policy',
  summary: "show or set a rider's market policy for a paired bike, kept by the ingest node",
  usage: 'deep policy show --node URL --device ID [--admin-token-env NAME] [--json]\n       deep policy set --node URL --device ID [--reserve PCT] [--target PCT] [--departure HH:MM|none] [--min-sell PRICE|default] [--max-buy PRICE|default] [--admin-token-env NAME] [--json]',
  options: {
    node: { type: 'string', description: 'the ingest node, e.g. http://127.0.0.1:8080' },
    device: { type: 'string', description: 'the device id (16 hex digits, as deep pair printed it)' },
    reserve: { type: 'string', description: 'never sell below this charge, percent' },
    target: { type: 'string', description: 'charge to have when leaving, percent' },
    departure: { type: 'string', description: 'usual departure HH:MM (UTC) when none is announced at the plug, or none' },
    'min-sell': { type: 'string', description: 'least price to sell at, currency per kWh, or default' },
    'max-buy': { type: 'string', description: 'most to pay, currency per kWh, or default' },
    'admin-token-env': { type: 'string', description: "environment variable holding the node's operator token" },
    json: { type: 'boolean', description: 'print the policy as JSON' },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    const [verb, extra] = p.positionals;
    if (verb !== 'show' && verb !== 'set') throw new UsageError(`expected "show" or "set", got ${JSON.stringify(verb ?? '')}`);
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    const node = httpUrlOption(p, 'node');
    if (!node) throw new UsageError('--node URL is required');
    const device = p.options.device;
    if (typeof device !== 'string' || !/^[0-9a-f]{16}$/.test(device)) throw new UsageError(`--device expected 16 lower-case hex digits, got ${JSON.stringify(device ?? '')}`);
    const headers: Record<string, string> = {};
    const envName = p.options['admin-token-env'] as string | undefined;
    if (envName !== undefined) {
      const token = process.env[envName];
      if (!token) throw new UsageError(`--admin-token-env ${envName}: the variable is not set or empty`);
      headers.authorization = `Bearer ${token}`;
    }
    const change: Record<string, unknown> = {};
    const fields: [string, unknown][] = [
      ['reservePermille', permille(p, 'reserve')], ['targetPermille', permille(p, 'target')],
      ['minSellMicroPerKwh', price(p, 'min-sell')], ['maxBuyMicroPerKwh', price(p, 'max-buy')],
    ];
    const dep = p.options.departure;
    if (dep !== undefined) {
      if (dep !== 'none' && !/^([01]\d|2[0-3]):[0-5]\d$/.test(String(dep))) throw new UsageError(`--departure expected HH:MM (UTC) or none, got ${JSON.stringify(dep)}`);
      fields.push(['departure', dep === 'none' ? null : dep]);
    }
    for (const [k, v] of fields) if (v !== undefined) change[k] = v;
    if (verb === 'show' && Object.keys(change).length) throw new UsageError('show takes no policy fields; use set');
    if (verb === 'set' && !Object.keys(change).length) throw new UsageError('set needs at least one of --reserve, --target, --departure, --min-sell, --max-buy');
    const url = `${node}/v1/devices/${device}/policy`;
    let res: Response;
    try {
      res = verb === 'show'
        ? await fetch(url, { headers, signal: AbortSignal.timeout(15000) })
        : await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(change), signal: AbortSignal.timeout(15000) });
    } catch (e) {
      process.stderr.write(`deep policy: cannot reach ${node}: ${(e as Error).message}\n`);
      return EXIT.IO;
    }
    const text = await res.text();
    if (res.status !== 200) {
      let msg = text.trim();
      try { msg = (JSON.parse(text) as { error?: string }).error ?? msg; } catch { /* not JSON: shown as it is */ }
      process.stderr.write(`deep policy ${verb}: the node answered ${res.status}: ${msg}\n`);
      return res.status === 400 ? EXIT.USAGE : EXIT.IO;
    }
    const answer = JSON.parse(text) as { device: string; set: boolean; policy: Record<string, unknown> };
    process.stdout.write(p.options.json ? JSON.stringify(answer) + '\n' : describe(answer).join('\n') + '\n');
    return EXIT.OK;
  },
};

export default command;
