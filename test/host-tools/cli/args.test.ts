import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs, intOption, httpUrlOption, formatHelp, UsageError } from '../../../host-tools/cli/args';

const spec = {
  count: { type: 'string' as const, description: 'how many', default: '3' },
  quiet: { type: 'boolean' as const, description: 'less output' },
};

test('parses values, flags, = form and positionals', () => {
  const p = parseArgs(['file.cbor', '--count', '7', '--quiet', '--', '--not-an-option'], spec);
  assert.equal(p.options, { count: '7', quiet: true });
  assert.equal(p.positionals, ['file.cbor', '--not-an-option']);
  assert.is(parseArgs(['--count=9'], spec).options.count, '9');
  assert.is(parseArgs([], spec).options.count, '3');
  assert.is(parseArgs([], spec).options.quiet, undefined);
  // A value may start with a dash (intOption then says what is wrong with it).
  assert.is(parseArgs(['--count', '-5'], spec).options.count, '-5');
  assert.is(parseArgs(['--count=-5'], spec).options.count, '-5');
  assert.equal(parseArgs(['-'], spec).positionals, ['-']);
});

test('rejects unknown options, missing values and values on flags, naming the option', () => {
  const usage = (argv: string[], re: RegExp) =>
    assert.throws(() => parseArgs(argv, spec), (e: Error) => e instanceof UsageError && re.test(e.message));
  usage(['--cuont', '1'], /^unknown option --cuont$/);
  usage(['--count'], /^option --count needs a value$/);
  usage(['--quiet=yes'], /^option --quiet takes no value$/);
  // Short options are options too (not positionals), and none is defined.
  usage(['-q'], /^unknown option -q$/);
  // Names of Object.prototype are not options.
  usage(['--toString'], /^unknown option --toString$/);
});

test('intOption checks integer form and bounds', () => {
  assert.is(intOption(parseArgs(['--count', '12'], spec), 'count', 0, 100), 12);
  assert.is(intOption(parseArgs([], { n: { type: 'string', description: '' } }), 'n', 0, 100), undefined);
  assert.throws(() => intOption(parseArgs(['--count', '1.5'], spec), 'count', 0, 100), /--count expected an integer in \[0, 100\], got "1.5"/);
  assert.throws(() => intOption(parseArgs(['--count', '101'], spec), 'count', 0, 100), /got "101"/);
  assert.throws(() => intOption(parseArgs(['--count', '-5'], spec), 'count', 0, 100), /got "-5"/);
});

test('httpUrlOption takes http(s) URLs only, without trailing slashes', () => {
  const urlSpec = { endpoint: { type: 'string' as const, description: '' } };
  const url = (argv: string[]) => httpUrlOption(parseArgs(argv, urlSpec), 'endpoint');
  assert.is(url([]), undefined);
  assert.is(url(['--endpoint', 'http://ledger.example:8080/']), 'http://ledger.example:8080');
  assert.is(url(['--endpoint', 'https://ledger.example/deep//']), 'https://ledger.example/deep');
  for (const bad of ['notaurl', 'ftp://x', '']) {
    assert.throws(() => url(['--endpoint', bad]), (e: Error) => e instanceof UsageError && e.message === `--endpoint expected an http:// or https:// URL, got ${JSON.stringify(bad)}`);
  }
});

test('help lists every option with its default', () => {
  const h = formatHelp('deep x [--count N]', 'does x', spec);
  assert.match(h, /^usage: deep x \[--count N\]\n\ndoes x\n\noptions:\n/);
  assert.match(h, /\n  --count VALUE  how many \(default: 3\)\n/);
  assert.match(h, /\n  --quiet        less output$/);
});

test.run();
