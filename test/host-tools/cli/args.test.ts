import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs, intOption, UsageError } from '../../../host-tools/cli/args';

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
});

test('rejects unknown options, missing values and values on flags', () => {
  assert.throws(() => parseArgs(['--cuont', '1'], spec), (e: Error) => e instanceof UsageError && /--cuont/.test(e.message));
  assert.throws(() => parseArgs(['--count'], spec), /needs a value/);
  assert.throws(() => parseArgs(['--quiet=yes'], spec), /takes no value/);
});

test('intOption checks integer form and bounds', () => {
  assert.is(intOption(parseArgs(['--count', '12'], spec), 'count', 0, 100), 12);
  assert.throws(() => intOption(parseArgs(['--count', '1.5'], spec), 'count', 0, 100), /--count expected an integer in \[0, 100\], got "1.5"/);
  assert.throws(() => intOption(parseArgs(['--count', '101'], spec), 'count', 0, 100), /got "101"/);
});

test.run();
