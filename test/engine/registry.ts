// The engine check's case registry: each case returns a line of text (usually hex) that
// must be identical under Duktape, under Node and in the host's own computation.
// Device-side code only (ES5, no Node APIs): this file is bundled into dist/engine-check.js.

export interface EngineCase {
  name: string;
  run: () => string;
}

var cases: EngineCase[] = [];

/** Registers a case; names must be unique (they label the output lines). */
export function addCase(name: string, run: () => string): void {
  for (var i = 0; i < cases.length; i++) {
    if (cases[i].name === name) throw new Error('engine case "' + name + '" registered twice');
  }
  cases.push({ name: name, run: run });
}

/** Runs every case in registration order; a throwing case prints "name ERROR message". */
export function runCases(out: (line: string) => void): number {
  for (var i = 0; i < cases.length; i++) {
    var line: string;
    try {
      line = cases[i].name + ' ' + cases[i].run();
    } catch (e) {
      line = cases[i].name + ' ERROR ' + (e && (e as Error).message ? (e as Error).message : String(e));
    }
    out(line);
  }
  return cases.length;
}
