// Board files (boards/NAME.json) checked against boards/schema.json before anything uses
// them: the build, the emulator and `deep flash`. No JSON-schema package is installed, so
// this is a small validator for the subset of draft 2020-12 the schema uses (type,
// required, additionalProperties: false, properties, pattern, enum, const, oneOf, $ref to
// #/$defs, items, minItems, maxItems, minimum, maximum, minLength). Errors name the path.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Board } from '../../firmware/hal/espruino/board';

export const BOARDS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../boards');

type Schema = Record<string, unknown>;

function typeOk(v: unknown, t: string): boolean {
  switch (t) {
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array': return Array.isArray(v);
    case 'string': return typeof v === 'string';
    case 'integer': return Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'boolean': return typeof v === 'boolean';
    case 'null': return v === null;
    default: throw new Error(`schema: unsupported type "${t}"`);
  }
}

/** Every violation of `schema` by `value`, as "path: message". Empty when valid. */
export function validate(value: unknown, schema: Schema, root: Schema = schema, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const m = /^#\/\$defs\/(.+)$/.exec(schema.$ref);
    const defs = root.$defs as Record<string, Schema> | undefined;
    if (!m || !defs?.[m[1]]) throw new Error(`schema: unresolvable $ref ${schema.$ref}`);
    return validate(value, defs[m[1]], root, at);
  }
  const errs: string[] = [];
  if (schema.oneOf) {
    const branches = (schema.oneOf as Schema[]).map((s) => validate(value, s, root, at));
    const ok = branches.filter((b) => b.length === 0).length;
    if (ok !== 1) {
      if (ok === 0) errs.push(`${at}: matches none of the allowed forms (${branches.map((b) => b[0]).join(' | ')})`);
      else errs.push(`${at}: matches more than one allowed form`);
    }
  }
  if (typeof schema.type === 'string' && !typeOk(value, schema.type)) {
    errs.push(`${at}: expected ${schema.type}, got ${JSON.stringify(value)}`);
    return errs;
  }
  if ('const' in schema && value !== schema.const) errs.push(`${at}: expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errs.push(`${at}: expected one of ${JSON.stringify(schema.enum)}, got ${JSON.stringify(value)}`);
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) errs.push(`${at}: "${value}" does not match ${schema.pattern}`);
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) errs.push(`${at}: shorter than ${schema.minLength}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errs.push(`${at}: ${value} < minimum ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errs.push(`${at}: ${value} > maximum ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) errs.push(`${at}: fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) errs.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items) value.forEach((x, i) => errs.push(...validate(x, schema.items as Schema, root, `${at}[${i}]`)));
  }
  if (typeOk(value, 'object')) {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in obj)) errs.push(`${at}: missing "${r}"`);
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errs.push(...validate(v, props[k], root, `${at}.${k}`));
      else if (schema.additionalProperties === false && (schema.properties || schema.type === 'object')) errs.push(`${at}: unknown field "${k}"`);
    }
  }
  return errs;
}

export function loadSchema(dir = BOARDS_DIR): Schema {
  return JSON.parse(readFileSync(path.join(dir, 'schema.json'), 'utf8')) as Schema;
}

/** Checks a parsed board; throws one Error listing every problem. */
export function checkBoard(board: unknown, name: string, schema = loadSchema()): Board {
  const errs = validate(board, schema);
  const b = board as Board;
  if (errs.length === 0) {
    if (b.name !== name) errs.push(`$.name: "${b.name}" differs from the file name "${name}"`);
    if (b.can.via === 'mcp2515') {
      const used = [b.vesc.tx, b.vesc.rx, b.can.sck, b.can.miso, b.can.mosi, b.can.cs, b.can.int, b.led, b.button].filter((p): p is string => !!p);
      const dup = used.find((p, i) => used.indexOf(p) !== i);
      if (dup) errs.push(`$: pin ${dup} is used twice`);
    }
    const mods = b.espruino.modules;
    const dupMod = mods.find((m, i) => mods.indexOf(m) !== i);
    if (dupMod) errs.push(`$.espruino.modules: "${dupMod}" is listed twice`);
    const ids = b.bms?.ids;
    if (ids && ids[0] === ids[1]) errs.push(`$.bms.ids: both BMS on CAN id ${ids[0]}`);
  }
  if (errs.length) throw new Error(`board "${name}" is invalid:\n  ${errs.join('\n  ')}`);
  return b;
}

export function loadBoard(name: string, dir = BOARDS_DIR): Board {
  const file = path.join(dir, `${name}.json`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`board "${name}": cannot read ${file}: ${(err as Error).message}`);
  }
  return checkBoard(json, name, loadSchema(dir));
}

export function listBoards(dir = BOARDS_DIR): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'schema.json').map((f) => f.slice(0, -5)).sort();
}
