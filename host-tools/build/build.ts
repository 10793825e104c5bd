// `deep build`: rollup (TypeScript -> ES5 bundles), then the Espruino CLI's own minifier
// for the firmware, so what we measure is what gets uploaded.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { longestLine, MAX_LINE, minifyForEspruino } from './minify';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = path.join(ROOT, 'dist');

/** The file next to dist/firmware.js that names the board it was built for. */
export function boardStampFile(dist: string): string {
  return path.join(dist, 'firmware.board');
}

/** The board dist/firmware.js was built for, or undefined when unknown. */
export function builtBoard(dist: string = DIST): string | undefined {
  const f = boardStampFile(dist);
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
}

export interface BuildResult {
  board: string;
  firmwareBytes: number;
  bundles: { file: string; bytes: number }[];
}

export interface BuildOptions {
  board?: string;
  /** Only these bundles (names of rollup.config.js), all by default. */
  bundles?: string[];
  quiet?: boolean;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, what: string): string {
  const r = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout + r.stderr;
}

export function build(opts: BuildOptions = {}): BuildResult {
  const board = opts.board ?? 'esp32-devkitc';
  const boardFile = path.join(ROOT, 'boards', `${board}.json`);
  if (!existsSync(boardFile)) {
    throw new Error(`board "${board}" not found: expected ${path.relative(ROOT, boardFile)}`);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, DEEP_BOARD: board, DEEP_BUNDLES: (opts.bundles ?? []).join(',') };
  if (!opts.bundles) delete env.DEEP_BUNDLES;
  run(process.execPath, [path.join(ROOT, 'node_modules/rollup/dist/bin/rollup'), '-c', '--silent'], env, 'rollup');

  const es5 = path.join(DIST, 'firmware.es5.js');
  const out = path.join(DIST, 'firmware.js');
  let firmwareBytes = 0;
  if (existsSync(es5) && (!opts.bundles || opts.bundles.includes('firmware'))) {
    // Minify with the Espruino CLI's own tools (esprima + esmangle, offline), the transform
    // its Web IDE applies, but one statement per line (./minify.ts says why).
    const text = minifyForEspruino(readFileSync(es5, 'utf8'));
    if (text.length === 0) throw new Error('the minifier produced an empty dist/firmware.js');
    const longest = longestLine(text);
    if (longest.length > MAX_LINE) throw new Error(`dist/firmware.js line ${longest.line} has ${longest.length} characters (limit ${MAX_LINE}): an error trace on the device would cost that much memory`);
    writeFileSync(out, text);
    firmwareBytes = statSync(out).size;
    // Which board this bundle was built for, so tools that reuse dist/ can tell.
    writeFileSync(boardStampFile(DIST), board + '\n');
  }
  const bundles = ['firmware.js', 'ed25519-module.js', 'engine-check.js', 'bench-sign.js']
    .map((f) => path.join(DIST, f))
    .filter((f) => existsSync(f))
    .map((f) => ({ file: path.relative(ROOT, f), bytes: statSync(f).size }));
  return { board, firmwareBytes, bundles };
}
