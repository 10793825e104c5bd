// require(name) as Espruino resolves it: a module already loaded, else one built into the
// board's build (process.env.MODULES), else a Storage file of that name evaluated as a
// module (exports/module.exports), else `Module "NAME" not found`. A module the build has
// but the emulator does not imitate is an error that says so, never a silent stand-in.
import vm from 'node:vm';

export interface RequireOptions {
  alive(): void;
  /** The build's name (process.env.BOARD), for errors. */
  build: string;
  /** The modules built into the board's Espruino build. */
  builtIn: readonly string[];
  /** The emulated modules, by name; only those the build has are reachable. */
  emulated: Record<string, unknown>;
  /** A Storage file as a string, or undefined. */
  readStorage(name: string): string | undefined;
  /** The device realm (modules from Storage are evaluated in it). */
  ctx: vm.Context;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'Array';
  const t = typeof v;
  return t === 'object' ? 'Object' : t.charAt(0).toUpperCase() + t.slice(1);
}

export function makeRequire(o: RequireOptions): (name: string) => unknown {
  const loaded: Record<string, unknown> = {};
  return function requireModule(name: string): unknown {
    o.alive();
    if (typeof name !== 'string') throw new TypeError(`Expecting module name as a string, got ${typeName(name)}`);
    if (Object.prototype.hasOwnProperty.call(loaded, name)) return loaded[name];
    if (o.builtIn.includes(name)) {
      if (!Object.prototype.hasOwnProperty.call(o.emulated, name)) {
        throw new Error(`require("${name}"): the ${o.build} build has this module but the emulator does not imitate it (host-tools/emu/modules)`);
      }
      loaded[name] = o.emulated[name];
      return loaded[name];
    }
    const src = o.readStorage(name);
    if (src === undefined) throw new Error(`Module ${JSON.stringify(name)} not found`);
    const fn = vm.runInContext(`(function(exports, module){${src}\n})`, o.ctx, { filename: name }) as (e: unknown, m: unknown) => void;
    const module = { exports: {} as unknown };
    fn(module.exports, module);
    loaded[name] = module.exports;
    return module.exports;
  };
}
