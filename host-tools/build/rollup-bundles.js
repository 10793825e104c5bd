// Builds the bundles of rollup.config.js (DEEP_BOARD, DEEP_BUNDLES as there) with rollup's
// JS API, one after the other in this one process, and prints a JSON line on stdout as each
// starts and ends, so host-tools/build/build.ts can say what is being built (a build takes
// a minute on a small machine). Warnings are dropped as `rollup --silent` drops them;
// errors go to stderr with exit 1.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import { loadConfigFile } from 'rollup/loadConfigFile';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const say = (event) => process.stdout.write(JSON.stringify(event) + '\n');

try {
  const { options } = await loadConfigFile(path.join(ROOT, 'rollup.config.js'), {});
  for (const [index, o] of options.entries()) {
    const step = { index, total: options.length, input: String(o.input), outputs: o.output.map((x) => x.file) };
    say({ event: 'start', ...step });
    const t0 = Date.now();
    const bundle = await rollup(o);
    try {
      for (const out of o.output) await bundle.write(out);
    } finally {
      await bundle.close();
    }
    say({ event: 'done', ...step, ms: Date.now() - t0 });
  }
} catch (e) {
  process.stderr.write(`${e.message}${e.frame ? '\n' + e.frame : ''}\n`);
  process.exitCode = 1;
}
