import { formatHelp, type OptionSpec } from './args';

/** Stable exit codes of the `deep` CLI (documented in README; scripts may rely on them). */
export const EXIT = {
  OK: 0,
  /** The command ran and found a problem (a report that fails to verify, a failed check). */
  FAILED: 1,
  /** Bad command line. */
  USAGE: 2,
  /** A file, port, device or server could not be used. */
  IO: 3,
} as const;

export interface Command {
  name: string;
  /** One line, shown by `deep --help`. */
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Returns the exit code. Throws UsageError for a bad command line. */
  run(argv: string[]): Promise<number>;
}

export function commandHelp(c: Command): string {
  return formatHelp(c.usage, c.summary, c.options);
}
