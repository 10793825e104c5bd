// Reading a file of reports for `deep verify` and `deep inspect`: bounded, so a device
// (/dev/zero) or a huge file is refused with a message instead of filling the memory.
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';

/**
 * The largest file read: 256 MiB holds over a million reports of about 200 bytes, more
 * than `deep report --count` (at most 1,000,000) writes.
 */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;

function limitText(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB (${n} bytes)` : `${n} bytes`;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The bytes of `file`, a regular file or a pipe (`<(command)`), at most `maxBytes`.
 * Throws an Error naming the file and what is wrong (the CLI exits 3).
 */
export function readInputFile(file: string, maxBytes: number = MAX_INPUT_BYTES): Uint8Array {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a folder, not a file of reports' : (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() && !st.isFIFO()) throw new Error(`${file} is ${kindOf(st)}, not a file of reports`);
    if (st.isFile() && st.size > maxBytes) throw new Error(`${file} is ${st.size} bytes, over the ${limitText(maxBytes)} limit`);
    // In chunks up to the limit: a pipe has no size to check first, and a file can grow.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw new Error(`${file} holds more than the ${limitText(maxBytes)} limit`);
    }
    return new Uint8Array(Buffer.concat(chunks, total));
  } finally {
    closeSync(fd);
  }
}
