// `deep build`: rollup (TypeScript -> ES5 bundles, host-tools/build/rollup-bundles.js), then
// the Espruino CLI's own minifier for the firmware, so what we measure is what gets uploaded.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
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
  /** The web app's JavaScript (dist/app/*.js), when it was built: bytes and gzip -9 bytes. */
  app?: AppSize;
}

export interface AppSize {
  jsBytes: number;
  jsGzipBytes: number;
}

/** The issue's budget for the web app: all its JavaScript, gzipped. */
export const APP_JS_GZIP_LIMIT = 150 * 1024;
export const APP_DIR = path.join(DIST, 'app');

/** The app's files that are not bundled: its page and style, and uPlot's style. */
const APP_STATIC = [
  path.join(ROOT, 'host-tools/app/static/index.html'),
  path.join(ROOT, 'host-tools/app/static/app.css'),
  path.join(ROOT, 'node_modules/uplot/dist/uPlot.min.css'),
];

/** Total and gzipped size of every .js file of the app folder (what a browser downloads). */
export function appJsSize(dir: string = APP_DIR): AppSize {
  let jsBytes = 0;
  let jsGzipBytes = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
    const b = readFileSync(path.join(dir, f));
    jsBytes += b.length;
    jsGzipBytes += gzipSync(b, { level: 9 }).length;
  }
  return { jsBytes, jsGzipBytes };
}

export interface BuildOptions {
  board?: string;
  /** Only these bundles (names of rollup.config.js), all by default. */
  bundles?: string[];
  /** Progress: a line as each bundle starts and one with its size as it ends; none when absent. */
  log?: (line: string) => void;
}

/** Runs a Node script from ROOT; each stdout line goes to `onLine`. Rejects with its stderr. */
function runNode(args: string[], env: NodeJS.ProcessEnv, what: string, onLine: (line: string) => void = () => {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      let nl;
      while ((nl = stdout.indexOf('\n')) >= 0) {
        onLine(stdout.slice(0, nl));
        stdout = stdout.slice(nl + 1);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}):\n${stdout}${stderr}`))));
  });
}

interface BundleEvent {
  event: 'start' | 'done';
  index: number;
  total: number;
  input: string;
  outputs: string[];
  ms?: number;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Throws unless boards/NAME.json exists. */
export function checkBoard(board: string): void {
  const boardFile = path.join(ROOT, 'boards', `${board}.json`);
  if (!existsSync(boardFile)) {
    throw new Error(`board "${board}" not found: expected ${path.relative(ROOT, boardFile)}`);
  }
}

export async function build(opts: BuildOptions = {}): Promise<BuildResult> {
  const board = opts.board ?? 'esp32-devkitc';
  checkBoard(board);
  const log = opts.log ?? (() => {});
  const env: NodeJS.ProcessEnv = { ...process.env, DEEP_BOARD: board, DEEP_BUNDLES: (opts.bundles ?? []).join(',') };
  if (!opts.bundles) delete env.DEEP_BUNDLES;
  let builtFirmware = false;
  let builtApp = false;
  await runNode([path.join(ROOT, 'host-tools/build/rollup-bundles.js')], env, 'rollup', (line) => {
    const e = JSON.parse(line) as BundleEvent;
    const step = `[${e.index + 1}/${e.total}]`;
    if (e.event === 'start') log(`${step} ${e.input} -> ${e.outputs.join(', ')} ...`);
    else {
      const sizes = e.outputs.map((f) => `${f} ${statSync(path.join(ROOT, f)).size} bytes`).join(', ');
      log(`${step} ${sizes}, ${seconds(e.ms ?? 0)}`);
      if (e.outputs.includes('dist/firmware.es5.js')) builtFirmware = true;
      if (e.outputs.includes('dist/app/app.js')) builtApp = true;
    }
  });

  const es5 = path.join(DIST, 'firmware.es5.js');
  const out = path.join(DIST, 'firmware.js');
  let firmwareBytes = 0;
  if (builtFirmware) {
    // Minify with the Espruino CLI's own tools (esprima + esmangle, offline), the transform
    // its Web IDE applies, but one statement per line (./minify.ts says why).
    log(`minify dist/firmware.es5.js -> dist/firmware.js ...`);
    const t0 = Date.now();
    const text = minifyForEspruino(readFileSync(es5, 'utf8'));
    if (text.length === 0) throw new Error('the minifier produced an empty dist/firmware.js');
    const longest = longestLine(text);
    if (longest.length > MAX_LINE) throw new Error(`dist/firmware.js line ${longest.line} has ${longest.length} characters (limit ${MAX_LINE}): an error trace on the device would cost that much memory`);
    writeFileSync(out, text);
    firmwareBytes = statSync(out).size;
    log(`minify dist/firmware.js ${firmwareBytes} bytes, ${seconds(Date.now() - t0)}`);
    // Which board this bundle was built for, so tools that reuse dist/ can tell.
    writeFileSync(boardStampFile(DIST), board + '\n');
  }
  let app: AppSize | undefined;
  if (builtApp) {
    mkdirSync(APP_DIR, { recursive: true });
    for (const f of APP_STATIC) copyFileSync(f, path.join(APP_DIR, path.basename(f)));
    app = appJsSize();
    log(`app dist/app: JavaScript ${app.jsBytes} bytes, ${app.jsGzipBytes} bytes gzipped (limit ${APP_JS_GZIP_LIMIT})`);
    if (app.jsGzipBytes > APP_JS_GZIP_LIMIT) throw new Error(`the web app's JavaScript is ${app.jsGzipBytes} bytes gzipped, over the limit of ${APP_JS_GZIP_LIMIT} (150 KB)`);
  }
  const bundles = ['firmware.js', 'ed25519-module.js', 'engine-check.js', 'bench-sign.js']
    .map((f) => path.join(DIST, f))
    .filter((f) => existsSync(f))
    .map((f) => ({ file: path.relative(ROOT, f), bytes: statSync(f).size }));
  return { board, firmwareBytes, bundles, app };
}
