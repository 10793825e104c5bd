// `npm run bench:sign`: the device Ed25519 signer (firmware/keys, issue 7) measured on its
// own bundle, dist/bench-sign.js, under every engine found here:
//   node   Node (V8), the JS fallbacks (JS SHA-512, JS dot product);
//   duk    Debian's Duktape, an interpreter, same fallbacks;
//   espruino  Espruino's Linux build ($ESPRUINO, or /work/espruino-build/src/bin/espruino
//          when present; optional), where the bundle hands over E.convolve, the native
//          SHA-512 and the table as a native string, as firmware/hal does on the device.
// Each run signs a fixed 150-byte message ten times; the signature printed by every engine
// is checked against node:crypto. Espruino also reports vars_used (process.memory().usage,
// the peak sampled between the steps of one stepped signature: code, table and state, here
// all in RAM since the file runs inline).
// Ends with one line: sign_ms_node=... sign_ms_duk=... sign_ms_espruino=... vars_espruino=... signatures_ok=...
import { spawnSync } from 'node:child_process';
import { createPrivateKey, sign } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, build } from '../build/build';

interface Run { engine: string; median?: number; times?: string; vars?: string; signature?: string; error?: string }

function runEngine(engine: string, cmd: string, file: string): Run {
  const r = spawnSync(cmd, [file], { cwd: path.join(ROOT, 'dist'), encoding: 'utf8', timeout: 900_000, input: '' });
  if (r.error || (r.status !== 0 && !/sign_ms_median=/.test(r.stdout || ''))) {
    return { engine, error: r.error ? r.error.message : `exit ${r.status}: ${(r.stderr || r.stdout || '').slice(0, 300)}` };
  }
  const out = r.stdout;
  const med = /sign_ms_median=(\d+(?:\.\d+)?)/.exec(out);
  return {
    engine,
    median: med ? Number(med[1]) : undefined,
    times: (/sign_ms_times=([\d.,]+)/.exec(out) || [])[1],
    vars: (/vars_used=(\S+)/.exec(out) || [])[1],
    signature: (/signature=([0-9a-f]{128})/.exec(out) || [])[1],
    error: med ? undefined : `no sign_ms_median line in: ${out.slice(-300)}`,
  };
}

function expectedSignature(): string {
  // The fixed inputs of firmware/keys/bench-sign.ts.
  const seed = Buffer.alloc(32), msg = Buffer.alloc(150);
  for (let i = 0; i < 32; i++) seed[i] = (i * 7 + 1) & 255;
  for (let i = 0; i < 150; i++) msg[i] = (i * 31 + 11) & 255;
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  return sign(null, msg, key).toString('hex');
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

const quiet = process.argv.includes('--no-build');
if (!quiet) await build({ bundles: ['bench-sign', 'ed25519-module'] });
const file = path.join(ROOT, 'dist/bench-sign.js');
if (!existsSync(file)) throw new Error('dist/bench-sign.js missing: run npm run build');
process.stdout.write(`dist/bench-sign.js ${statSync(file).size} bytes; dist/ed25519-module.js ${existsSync(path.join(ROOT, 'dist/ed25519-module.js')) ? statSync(path.join(ROOT, 'dist/ed25519-module.js')).size : 'n/a'} bytes\n`);

const want = expectedSignature();
const runs: Run[] = [runEngine('node', process.execPath, file)];
if (has('duk')) runs.push(runEngine('duk', 'duk', file));
else process.stdout.write('  duk: not installed (apt-get install duktape)\n');
const esp = process.env.ESPRUINO || '/work/espruino-build/src/bin/espruino';
if (existsSync(esp)) runs.push(runEngine('espruino', esp, file));
else process.stdout.write(`  espruino: not found at ${esp} (set ESPRUINO to run it)\n`);

let ok = 0;
for (const r of runs) {
  if (r.error) { process.stdout.write(`  ${r.engine}: FAILED ${r.error}\n`); continue; }
  const good = r.signature === want;
  if (good) ok++;
  process.stdout.write(`  ${r.engine}: median ${r.median} ms per signature (runs ${r.times} ms), vars ${r.vars}, signature ${good ? 'matches node:crypto' : 'WRONG'}\n`);
}
const get = (e: string) => runs.find((r) => r.engine === e);
const fig = (v: number | string | undefined) => (v === undefined ? 'n/a' : String(v));
process.stdout.write(
  `sign_ms_node=${fig(get('node')?.median)} sign_ms_duk=${fig(get('duk')?.median)} sign_ms_espruino=${fig(get('espruino')?.median)} ` +
  `vars_espruino=${fig(get('espruino')?.vars)} signatures_ok=${ok}/${runs.length}\n`,
);
if (ok !== runs.length) process.exitCode = 1;
