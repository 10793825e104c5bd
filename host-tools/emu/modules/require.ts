// require(name): a module of the emulated build, else (as Espruino does) a Storage file of
// that name evaluated as a module (exports/module.exports) and cached, else an error.
import vm from 'node:vm';

export interface RequireOptions {
  alive(): void;
  /** The built-in modules, by name. */
  modules: Record<string, unknown>;
  /** A Storage file as a string, or undefined. */
  readStorage(name: string): string | undefined;
  /** The device realm (modules from Storage are evaluated in it). */
  ctx: vm.Context;
}

export function makeRequire(o: RequireOptions): (name: string) => unknown {
  const loaded: Record<string, unknown> = {};
  return function requireModule(name: string): unknown {
    o.alive();
    const n = String(name);
    if (n in o.modules) return o.modules[n];
    if (n in loaded) return loaded[n];
    // Espruino looks for a module in Storage when it is not built in.
    const src = o.readStorage(n);
    if (src === undefined) throw new Error(`Module ${n} not found`);
    const fn = vm.runInContext(`(function(exports, module){${src}\n})`, o.ctx, { filename: n }) as (e: unknown, m: unknown) => void;
    const module = { exports: {} as unknown };
    fn(module.exports, module);
    loaded[n] = module.exports;
    return module.exports;
  };
}
