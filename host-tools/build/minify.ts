// The firmware's minifier: the Espruino CLI's own tools (esprima, esmangle, escodegen from
// node_modules/espruino/libs/esprima, the transform its Web IDE applies: optimise, mangle
// names), with one change: the output keeps a line break between statements.
//
// Why: when Espruino reports an error it prints the source line with a caret under the
// column, padding a string to that column. In a one-line 108 KB bundle one caught exception
// cost ~8,000 of 16,383 variables and ran the device out of memory at boot (see
// firmware/README.md). With one statement per line a trace costs a line's worth.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Tools {
  esprima: { parse(code: string, o: object): unknown };
  esmangle: { optimize(ast: unknown, p: unknown, o: object): unknown; mangle(ast: unknown): unknown };
  escodegen: { generate(ast: unknown, o: object): string };
}

let tools: Tools | undefined;

/** Loads the three libraries as the Espruino CLI does (browser-style globals in a context). */
function load(): Tools {
  if (tools) return tools;
  const dir = path.join(ROOT, 'node_modules/espruino/libs/esprima');
  const ctx: Record<string, unknown> = {};
  ctx.window = ctx;
  ctx.self = ctx;
  vm.createContext(ctx);
  for (const f of ['esprima.js', 'esmangle.js', 'escodegen.js']) {
    vm.runInContext(readFileSync(path.join(dir, f), 'utf8'), ctx, { filename: f });
  }
  const t = ctx as unknown as Tools;
  if (!t.esprima || !t.esmangle || !t.escodegen) throw new Error(`espruino minifier libraries not found in ${dir}`);
  tools = t;
  return t;
}

/** The longest line a minified bundle may have (characters); checked by the build. */
export const MAX_LINE = 4000;

interface Node { type?: string; regex?: { pattern: string }; loc?: { start: { line: number } }; [k: string]: unknown }

/**
 * Why Espruino 2v29 cannot run this RegExp pattern, or '' (measured, firmware/README.md):
 * no {m,n} quantifier (a SyntaxError when the code runs), and a "/" inside a character
 * class ends the literal in its lexer.
 */
export function espruinoRegexProblem(pattern: string): string {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') { i++; continue; }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '/') return 'an unescaped "/" inside [...] (write \\/)';
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i))) return `the quantifier ${/^\{[^}]*\}/.exec(pattern.slice(i))![0]}`;
  }
  return '';
}

/** Every regex literal of the program that Espruino cannot run, with its line. */
function regexProblems(node: unknown, out: string[]): string[] {
  if (!node || typeof node !== 'object') return out;
  const n = node as Node;
  if (n.type === 'Literal' && n.regex) {
    const why = espruinoRegexProblem(n.regex.pattern);
    if (why) out.push(`line ${n.loc?.start.line ?? '?'}: /${n.regex.pattern}/ has ${why}`);
  }
  for (const k of Object.keys(n)) if (k !== 'loc') regexProblems(n[k], out);
  return out;
}

export function minifyForEspruino(code: string): string {
  const { esprima, esmangle, escodegen } = load();
  let ast = esprima.parse(code, { raw: true, loc: true });
  const bad = regexProblems(ast, []);
  if (bad.length) throw new Error(`dist/firmware.es5.js has regular expressions Espruino cannot run (firmware/README.md):\n${bad.join('\n')}`);
  ast = esmangle.optimize(ast, null, {
    destructive: true, directive: true, preserveCompletionValue: false, legacy: false, topLevelContext: false, inStrictCode: false,
  });
  ast = esmangle.mangle(ast);
  return escodegen.generate(ast, {
    format: {
      renumber: true, hexadecimal: true, escapeless: false, quotes: 'auto', semicolons: false, parentheses: false,
      // Not compact: statements and object members on lines of their own, no indentation.
      compact: false, indent: { style: '', base: 0 }, newline: '\n', space: '',
    },
  });
}

/** The longest line of `text` and its 1-based number. */
export function longestLine(text: string): { line: number; length: number } {
  let best = { line: 0, length: 0 };
  let n = 0;
  for (const l of text.split('\n')) {
    n++;
    if (l.length > best.length) best = { line: n, length: l.length };
  }
  return best;
}
