// `deep build` through main(argv): it takes a minute on a small machine, so it says on
// stderr what it is building, bundle by bundle with sizes, unless --quiet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statSync } from 'node:fs';
import path from 'node:path';
import { deep } from './_run';
import { appJsSize, build, ROOT, APP_JS_GZIP_LIMIT } from '../../../host-tools/build/build';

const size = (f: string) => statSync(path.join(ROOT, f)).size;
const BUNDLES = [
  ['firmware/main.ts', 'dist/firmware.es5.js'],
  ['test/engine/device-entry.ts', 'dist/engine-check.js'],
  ['firmware/keys/bench-sign.ts', 'dist/bench-sign.js'],
  ['firmware/keys/ed25519-module.ts', 'dist/ed25519-module.js'],
  ['host-tools/ledger/fabric/src/index.ts', 'host-tools/ledger/fabric/dist/index.cjs'],
  ['host-tools/app/src/main.ts', 'dist/app/app.js'],
];

test('deep build reports each bundle on stderr as it starts and ends, with its size', async () => {
  const r = await deep(['build']);
  assert.is(r.code, 0, r.err);
  const lines = r.err.trim().split('\n');
  // Start and end of each bundle in turn, then the minified firmware, then the app's size.
  assert.is(lines.length, BUNDLES.length * 2 + 3, r.err);
  BUNDLES.forEach(([input, output], i) => {
    const step = `deep build: [${i + 1}/${BUNDLES.length}] `;
    assert.is(lines[2 * i], `${step}${input} -> ${output} ...`);
    assert.is(lines[2 * i + 1].replace(/\d+\.\d s$/, 'T s'), `${step}${output} ${size(output)} bytes, T s`);
  });
  assert.is(lines[lines.length - 3], 'deep build: minify dist/firmware.es5.js -> dist/firmware.js ...');
  assert.is(lines[lines.length - 2].replace(/\d+\.\d s$/, 'T s'), `deep build: minify dist/firmware.js ${size('dist/firmware.js')} bytes, T s`);
  const app = appJsSize();
  assert.is(lines[lines.length - 1], `deep build: app dist/app: JavaScript ${app.jsBytes} bytes, ${app.jsGzipBytes} bytes gzipped (limit ${APP_JS_GZIP_LIMIT})`);
  // The budget: all the app's JavaScript under 150 KB gzipped.
  assert.ok(app.jsGzipBytes > 1000 && app.jsGzipBytes <= APP_JS_GZIP_LIMIT, String(app.jsGzipBytes));
  assert.match(r.out, new RegExp(`\\ndist/app  JavaScript ${app.jsBytes} bytes, ${app.jsGzipBytes} bytes gzipped\\n`));
  // stdout is unchanged: the sizes and the summary line scripts read.
  assert.match(r.out, new RegExp(`^dist/firmware\\.js  ${size('dist/firmware.js')} bytes\\n`));
  assert.match(r.out, new RegExp(`\\nboard=esp32-devkitc firmware_bytes=${size('dist/firmware.js')}\\n$`));

  const q = await deep(['build', '--quiet']);
  assert.is(q.code, 0, q.err);
  assert.is(q.err, '');
  assert.is(q.out, r.out);
});

test('an unknown bundle name is an error naming the known ones', async () => {
  try {
    await build({ bundles: ['firmware', 'nope'] });
    assert.unreachable('built an unknown bundle');
  } catch (e) {
    assert.match((e as Error).message, /unknown bundle nope \(known: firmware, engine, bench-sign, ed25519-module, fabric-chaincode, app\)/);
  }
});

test.run();
