// Device bundles: TypeScript from firmware/ and protocol/ compiled to one ES5 file each,
// which Espruino (and Debian's duk, for the engine check) run as plain source text.
// The lib is restricted to ES5 (+ Promise) so that Map, Set, Symbol, Node APIs and other
// things the interpreter lacks fail the build instead of failing on the bike.
import typescript from '@rollup/plugin-typescript';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import { tsImport } from 'tsx/esm/api';
import { existsSync, readFileSync } from 'node:fs';

const board = process.env.DEEP_BOARD || 'esp32-devkitc';

/** Resolves `virtual:board` to the JSON of the board being built (boards/NAME.json). */
function boardModule() {
  return {
    name: 'deep-board',
    resolveId(id) { return id === 'virtual:board' ? '\0virtual:board' : null; },
    load(id) {
      if (id !== '\0virtual:board') return null;
      const json = JSON.parse(readFileSync(new URL(`./boards/${board}.json`, import.meta.url), 'utf8'));
      return `export default ${JSON.stringify(json)};`;
    },
  };
}

/**
 * Resolves `#ed25519-table` (package.json "imports") to the signer's comb table as an ES5
 * module with base64 literals, generated now: the table is never committed. Computed once
 * per rollup run (about a second), however many bundles import it.
 */
let tableSource;
function ed25519TableModule() {
  return {
    name: 'deep-ed25519-table',
    resolveId(id) { return id === '#ed25519-table' ? '\0ed25519-table' : null; },
    load(id) {
      if (id !== '\0ed25519-table') return null;
      tableSource ??= tsImport('./host-tools/build/gen-ed25519-table.ts', import.meta.url).then((gen) => gen.tableModuleSource());
      return tableSource;
    },
  };
}

function deviceTs() {
  return typescript({
    tsconfig: false,
    include: ['firmware/**/*.ts', 'protocol/**/*.ts', 'test/engine/**/*.ts'],
    exclude: ['**/*.test.ts'],
    compilerOptions: {
      target: 'ES5',
      module: 'ESNext',
      moduleResolution: 'Bundler',
      lib: ['ES5', 'ES2015.Promise'],
      types: [],
      strict: true,
      noEmitHelpers: false,
      importHelpers: false,
      downlevelIteration: false,
      noEmit: false,
      declaration: false,
      sourceMap: false,
      removeComments: true,
    },
    noEmitOnError: true,
  });
}

function device(input, file) {
  return {
    input,
    output: { file, format: 'iife', strict: false, generatedCode: 'es5', indent: false },
    plugins: [boardModule(), ed25519TableModule(), deviceTs()],
  };
}

/**
 * The Fabric chaincode (host-tools/ledger/fabric): its contract with the project's own
 * verifier, chain rules, Merkle tree and settlement (host-tools/verify, protocol/, ...)
 * in one CommonJS file, so that the chaincode folder is a self-contained package for
 * `peer lifecycle chaincode package`: only fabric-contract-api and fabric-shim (its
 * package.json dependencies) and Node's own modules stay outside.
 */
function chaincode() {
  return {
    input: 'host-tools/ledger/fabric/src/index.ts',
    external: (id) => id.startsWith('node:') || id === 'fabric-contract-api' || id === 'fabric-shim',
    output: { file: 'host-tools/ledger/fabric/dist/index.cjs', format: 'cjs', exports: 'named', generatedCode: 'es2015', indent: false },
    plugins: [typescript({
      tsconfig: false,
      // The chaincode's module graph only (a wider program would type-check the firmware too).
      include: ['host-tools/ledger/fabric/src/*.ts', 'host-tools/verify/*.ts', 'host-tools/ledger/merkle.ts', 'host-tools/testnet/settlement.ts', 'host-tools/testnet/prices.ts', 'host-tools/market/settle.ts', 'protocol/*.ts'],
      compilerOptions: {
        target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022'], types: ['node'],
        strict: true, esModuleInterop: true, skipLibCheck: true, noEmit: false, declaration: false, sourceMap: false,
      },
      noEmitOnError: true,
    })],
  };
}

// The web app (host-tools/app): browser code, ES2020 with the DOM, uPlot from node_modules,
// minified. Its static files and the gzip size check are in host-tools/build/build.ts.
function app() {
  return {
    input: 'host-tools/app/src/main.ts',
    output: { file: 'dist/app/app.js', format: 'iife', sourcemap: false },
    plugins: [
      nodeResolve({ browser: true }),
      typescript({
        tsconfig: false,
        include: ['host-tools/app/src/**/*.ts', 'host-tools/pairing/**/*.ts', 'protocol/**/*.ts'],
        compilerOptions: {
          target: 'ES2020',
          module: 'ESNext',
          moduleResolution: 'Bundler',
          lib: ['ES2020', 'DOM', 'DOM.Iterable'],
          types: [],
          strict: true,
          noEmit: false,
          declaration: false,
          sourceMap: false,
        },
        noEmitOnError: true,
      }),
      terser({ format: { comments: false } }),
    ],
  };
}

// Which bundles a build makes is chosen by DEEP_BUNDLES (comma list), all by default.
const bundles = {
  firmware: () => device('firmware/main.ts', 'dist/firmware.es5.js'),
  engine: () => device('test/engine/device-entry.ts', 'dist/engine-check.js'),
  'bench-sign': () => device('firmware/keys/bench-sign.ts', 'dist/bench-sign.js'),
  'ed25519-module': () => ({ ...device('firmware/keys/ed25519-module.ts', 'dist/ed25519-module.js'), output: { file: 'dist/ed25519-module.js', format: 'cjs', exports: 'named', strict: false, generatedCode: 'es5', indent: false } }),
  'fabric-chaincode': chaincode,
  app,
};
const wanted = process.env.DEEP_BUNDLES ? process.env.DEEP_BUNDLES.split(',') : Object.keys(bundles);
const unknown = wanted.filter((name) => !Object.hasOwn(bundles, name));
if (unknown.length) throw new Error(`DEEP_BUNDLES: unknown bundle ${unknown.join(', ')} (known: ${Object.keys(bundles).join(', ')})`);
export default wanted
  .map((name) => bundles[name]())
  .filter((config) => existsSync(new URL(`./${config.input}`, import.meta.url)));
