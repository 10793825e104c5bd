// readInputFile, what `deep verify` and `deep inspect` read their FILE with: bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readInputFile, MAX_INPUT_BYTES } from '../../../host-tools/cli/input-file';

const dir = mkdtempSync(path.join(tmpdir(), 'deep-input-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('a regular file is read whole, up to the limit', () => {
  const f = path.join(dir, 'ten');
  writeFileSync(f, Buffer.from('0123456789'));
  assert.is(Buffer.from(readInputFile(f, 10)).toString(), '0123456789');
  assert.throws(() => readInputFile(f, 9), /ten is 10 bytes, over the 9 bytes limit$/);
  writeFileSync(f, '');
  assert.is(readInputFile(f).length, 0);
});

test('a file over the default limit is refused from its size, without reading it', () => {
  const f = path.join(dir, 'huge');
  writeFileSync(f, '');
  truncateSync(f, MAX_INPUT_BYTES + 1); // sparse: takes no disk
  assert.throws(() => readInputFile(f), new RegExp(`huge is ${MAX_INPUT_BYTES + 1} bytes, over the 256 MiB \\(${MAX_INPUT_BYTES} bytes\\) limit$`));
});

test('devices and directories are refused, naming the file', () => {
  assert.throws(() => readInputFile('/dev/zero'), /^\/dev\/zero is a character device, not a file of reports$/);
  assert.throws(() => readInputFile(dir), /is a directory, not a file of reports$/);
});

function fifoWith(name: string, bytes: number): string {
  const f = path.join(dir, name);
  assert.is(spawnSync('mkfifo', [f]).status, 0, 'mkfifo failed');
  // The writer is another process: opening a pipe blocks until both ends are open.
  spawn('sh', ['-c', `head -c ${bytes} /dev/zero > '${f}'`], { stdio: 'ignore' });
  return f;
}

test('a pipe (such as <(command)) is read in chunks, and stops at the limit', () => {
  assert.is(readInputFile(fifoWith('small', 3000), 4096).length, 3000);
  assert.throws(() => readInputFile(fifoWith('big', 3_000_000), 2_000_000), /big holds more than the 2000000 bytes limit$/);
});

test.run();
