import { readFileSync } from 'node:fs';
import { UsageError } from './args';

/** A secret kept in a file (first line, surrounding blanks dropped), so it is not in `ps` or shell history. */
export function readTokenFile(option: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--${option} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const token = text.split('\n')[0].trim();
  if (!token) throw new UsageError(`--${option} ${file}: the file is empty`);
  return token;
}
