// Price series for prosumer settlement: what one kWh bought from the grid (import) or sold
// to it (export) cost in each interval. Money never touches a float: prices are parsed
// from their decimal text straight into integer micro-units of the currency per kWh.
//
// CSV format (RFC 4180 subset: no quoting, since no field needs a comma):
//   # comment lines and blank lines are ignored; `# currency: EUR` names the currency
//   start,import,export          <- header, exactly these names; `export` is optional
//   00:00,0.2150,0.0800          <- one row per interval
// - `start` is either a time of day `HH:MM[:SS]` (a daily profile, UTC, repeated every
//   day; the first row must be 00:00) or an ISO 8601 UTC instant
//   `YYYY-MM-DDTHH:MM[:SS]Z` (an absolute series). All rows use the same kind, strictly
//   increasing. A row applies from its start to the next row's start; the last row of a
//   daily profile runs to midnight, the last row of an absolute series lasts as long as
//   the row before it (so an absolute series needs at least two rows).
// - `import`, `export`: decimal currency units per kWh, at most 6 fraction digits, an
//   optional sign (negative prices happen on real markets), |price| < 10^6. Without an
//   `export` column the export price equals the import price (net metering).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const SAMPLE_PRICES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prices-sample.csv');

export const DAY_S = 86400;

/** A CSV problem, located: `file:line:column: what`. */
export class PriceFileError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    readonly column: number,
    detail: string,
  ) {
    super(`${source}:${line}:${column}: ${detail}`);
    this.name = 'PriceFileError';
  }
}

export interface PriceInterval {
  /** Seconds since midnight UTC (daily) or since the epoch (absolute). */
  startS: number;
  /** Exclusive end, same clock as startS. */
  endS: number;
  importMicroPerKwh: number;
  exportMicroPerKwh: number;
}

export interface PriceSeries {
  kind: 'daily' | 'absolute';
  currency: string;
  /** Where it came from, for messages. */
  source: string;
  intervals: PriceInterval[];
}

const TIME_OF_DAY = /^(\d{2}):(\d{2})(?::(\d{2}))?$/;
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?Z$/;
const DECIMAL = /^([+-]?)(\d{1,6})(?:\.(\d{1,6}))?$/;

/** Parses `0.2150` into 215000 micro-units, from the text (never through a float). */
export function parseMicro(text: string): number | undefined {
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const micro = Number(m[2]) * 1_000_000 + Number((m[3] ?? '').padEnd(6, '0'));
  return m[1] === '-' ? -micro : micro;
}

/** Formats integer micro-units as a decimal with 6 fraction digits: -1500 -> "-0.001500". */
export function formatMicro(micro: number | bigint): string {
  const v = BigInt(micro);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const int = abs / 1_000_000n;
  const frac = (abs % 1_000_000n).toString().padStart(6, '0');
  return `${neg ? '-' : ''}${int}.${frac}`;
}

function parseStart(text: string): { kind: 'daily' | 'absolute'; s: number } | string {
  let m = TIME_OF_DAY.exec(text);
  if (m) {
    const h = Number(m[1]), min = Number(m[2]), sec = Number(m[3] ?? '0');
    if (h > 23 || min > 59 || sec > 59) return `time of day out of range: "${text}"`;
    return { kind: 'daily', s: h * 3600 + min * 60 + sec };
  }
  m = INSTANT.exec(text);
  if (m) {
    const [y, mo, d, h, min] = [1, 2, 3, 4, 5].map((i) => Number(m![i]));
    const sec = Number(m[6] ?? '0');
    const ms = Date.UTC(y, mo - 1, d, h, min, sec);
    const back = new Date(ms);
    // Date.UTC rolls 2026-02-30 over to March; a calendar that does not exist is an error.
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || min > 59 || sec > 59) {
      return `no such UTC instant: "${text}"`;
    }
    return { kind: 'absolute', s: ms / 1000 };
  }
  return `expected a time of day HH:MM[:SS] or a UTC instant YYYY-MM-DDTHH:MM[:SS]Z, got "${text}"`;
}

/** Parses a price CSV; every error names the line and column (1-based) of the culprit. */
export function parsePrices(text: string, source = 'prices'): PriceSeries {
  const lines = text.split(/\r?\n/);
  let currency = 'EUR';
  let header: string[] | undefined;
  let headerLine = 0;
  let kind: 'daily' | 'absolute' | undefined;
  const rows: { startS: number; imp: number; exp: number; line: number }[] = [];

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i];
    const trimmed = raw.trim();
    if (trimmed === '') continue;
    if (trimmed.startsWith('#')) {
      const cm = /^#\s*currency\s*:\s*(\S*)\s*$/i.exec(trimmed);
      if (cm) {
        if (!/^[A-Z]{3}$/.test(cm[1])) {
          throw new PriceFileError(source, lineNo, raw.indexOf(cm[1]) + 1, `currency must be a 3-letter ISO 4217 code such as EUR, got "${cm[1]}"`);
        }
        currency = cm[1];
      }
      continue;
    }
    // Split keeping each field's column so errors point at it.
    const fields: { text: string; col: number }[] = [];
    let col = 1;
    for (const part of raw.split(',')) {
      const lead = part.length - part.trimStart().length;
      fields.push({ text: part.trim(), col: col + lead });
      col += part.length + 1;
    }
    if (!header) {
      const names = fields.map((f) => f.text);
      const expected = ['start', 'import', 'export'];
      if (names.length < 2 || names.length > 3) {
        throw new PriceFileError(source, lineNo, 1, `header must be "start,import" or "start,import,export", got "${trimmed}"`);
      }
      names.forEach((n, k) => {
        if (n !== expected[k]) throw new PriceFileError(source, lineNo, fields[k].col, `header column ${k + 1} must be "${expected[k]}", got "${n}"`);
      });
      header = names;
      headerLine = lineNo;
      continue;
    }
    if (fields.length !== header.length) {
      const at = fields.length > header.length ? fields[header.length].col : raw.length + 1;
      throw new PriceFileError(source, lineNo, at, `expected ${header.length} fields (${header.join(',')}), got ${fields.length}`);
    }
    const start = parseStart(fields[0].text);
    if (typeof start === 'string') throw new PriceFileError(source, lineNo, fields[0].col, start);
    if (kind === undefined) {
      kind = start.kind;
      if (kind === 'daily' && start.s !== 0) {
        throw new PriceFileError(source, lineNo, fields[0].col, `a daily profile must start at 00:00, got "${fields[0].text}"`);
      }
    } else if (start.kind !== kind) {
      throw new PriceFileError(source, lineNo, fields[0].col, `mixes a ${start.kind === 'daily' ? 'time of day' : 'UTC instant'} into a ${kind} series`);
    }
    const prev = rows[rows.length - 1];
    if (prev && start.s <= prev.startS) {
      throw new PriceFileError(source, lineNo, fields[0].col, `start must be later than the previous row's (line ${prev.line})`);
    }
    const prices: number[] = [];
    for (let k = 1; k < fields.length; k++) {
      const micro = parseMicro(fields[k].text);
      if (micro === undefined) {
        throw new PriceFileError(source, lineNo, fields[k].col, `${header[k]} price must be a decimal such as 0.2150 (at most 6 integer and 6 fraction digits), got "${fields[k].text}"`);
      }
      prices.push(micro);
    }
    rows.push({ startS: start.s, imp: prices[0], exp: prices.length > 1 ? prices[1] : prices[0], line: lineNo });
  }
  if (!header) throw new PriceFileError(source, lines.length, 1, 'no header line "start,import[,export]"');
  if (rows.length === 0) throw new PriceFileError(source, headerLine, 1, 'no price rows after the header');
  if (kind === 'absolute' && rows.length < 2) {
    throw new PriceFileError(source, rows[0].line, 1, 'an absolute series needs at least two rows (the last row lasts as long as the one before it)');
  }
  const intervals: PriceInterval[] = rows.map((r, k) => {
    let endS: number;
    if (k + 1 < rows.length) endS = rows[k + 1].startS;
    else if (kind === 'daily') endS = DAY_S;
    else endS = r.startS + (r.startS - rows[k - 1].startS);
    return { startS: r.startS, endS, importMicroPerKwh: r.imp, exportMicroPerKwh: r.exp };
  });
  return { kind: kind!, currency, source, intervals };
}

/** Reads a price CSV file, or the bundled sample when `file` is undefined. */
export function loadPrices(file?: string): PriceSeries {
  const f = file ?? SAMPLE_PRICES;
  let text: string;
  try {
    text = readFileSync(f, 'utf8');
  } catch (err) {
    throw new Error(`cannot read price file ${f}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parsePrices(text, file ?? 'prices-sample.csv');
}

/** The interval in force at epoch second `t`, or undefined if the series does not cover it. */
export function priceAt(series: PriceSeries, t: number): PriceInterval | undefined {
  const s = series.kind === 'daily' ? ((t % DAY_S) + DAY_S) % DAY_S : t;
  for (const iv of series.intervals) if (s >= iv.startS && s < iv.endS) return iv;
  return undefined;
}

/**
 * Σ price × seconds over [startS, endS) for import and export (micro-units·s/kWh), exact
 * integers; undefined if any second of the window has no price. Dividing by the window's
 * length gives the time-weighted price of energy spread evenly over the window.
 */
export function priceSeconds(series: PriceSeries, startS: number, endS: number): { importMicroS: bigint; exportMicroS: bigint } | undefined {
  let imp = 0n, exp = 0n;
  let t = startS;
  while (t < endS) {
    const iv = priceAt(series, t);
    if (!iv) return undefined;
    // End of this interval on the epoch clock.
    const ivEnd = series.kind === 'daily' ? t - (((t % DAY_S) + DAY_S) % DAY_S) + iv.endS : iv.endS;
    const until = Math.min(ivEnd, endS);
    const secs = BigInt(until - t);
    imp += BigInt(iv.importMicroPerKwh) * secs;
    exp += BigInt(iv.exportMicroPerKwh) * secs;
    t = until;
  }
  return { importMicroS: imp, exportMicroS: exp };
}
