// The rejection reasons are wire vocabulary (protocol/reasons.ts): pinned here, and every
// place that documents or uses them must agree with the one definition.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REJECT } from '../../protocol/reasons';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');
const VALUES: string[] = Object.values(REJECT);
const sorted = (xs: string[]) => [...xs].sort();

test('the vocabulary is the eight strings of protocol v1, each once', () => {
  assert.equal(sorted(VALUES), ['bad_signature', 'fork', 'gap', 'implausible', 'malformed', 'replay', 'unknown_key', 'unsupported_alg']);
  assert.is(new Set(VALUES).size, VALUES.length);
});

test('SPEC.md, openapi.yaml and the README list exactly these reasons', () => {
  const spec = read('protocol/SPEC.md');
  const table = [...spec.matchAll(/^\| `([a-z_]+)` \| /gm)].map((m) => m[1]);
  assert.equal(sorted(table), sorted(VALUES), 'protocol/SPEC.md §5 table');
  const enumLine = /RejectReason:\n\s+type: string\n\s+enum: \[([^\]]+)\]/.exec(read('host-tools/ingest/openapi.yaml'));
  assert.ok(enumLine, 'openapi.yaml has components.schemas.RejectReason');
  assert.equal(sorted(enumLine![1].split(',').map((s) => s.trim())), sorted(VALUES), 'openapi.yaml RejectReason');
  const readme = /`reason` ∈ ([a-z_, ]+) and/.exec(read('README.md'));
  assert.ok(readme, 'README lists the reasons of POST /v1/reports');
  assert.equal(sorted(readme![1].split(',').map((s) => s.trim())), sorted(VALUES), 'README');
});

test('the code that makes or reads answers spells no reason as a literal (it imports REJECT)', () => {
  const literal = new RegExp(`['"\`](${VALUES.join('|')})['"\`]`);
  const offenders: string[] = [];
  for (const dir of ['host-tools/ingest', 'host-tools/verify', 'firmware/uplink']) {
    for (const f of readdirSync(path.join(ROOT, dir)).filter((n) => n.endsWith('.ts'))) {
      read(`${dir}/${f}`).split('\n').forEach((line, i) => {
        if (/^\s*(\/\/|\*|\/\*)/.test(line)) return; // comments may name them
        // A log message may be named after the event ("fork"); it is not an answer.
        if (literal.test(line.replace(/logger\.\w+\('[^']*'/g, ''))) offenders.push(`${dir}/${f}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  assert.equal(offenders, []);
});

test.run();
