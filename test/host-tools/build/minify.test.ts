// The firmware minifier: one statement per line, and no RegExp Espruino cannot run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { espruinoRegexProblem, longestLine, minifyForEspruino } from '../../../host-tools/build/minify';

test('one statement per line, names mangled, same behaviour', () => {
  const src = 'var out = (function () { function addTwo(firstNumber, secondNumber) { var total = firstNumber + secondNumber; return total; } var a = addTwo(1, 2); var b = addTwo(a, 3); return [a, b]; })();';
  const min = minifyForEspruino(src);
  assert.ok(min.split('\n').length >= 4, min);
  assert.not.ok(min.includes('firstNumber'));
  assert.equal(new Function(min + '; return out;')(), [3, 6]);
  assert.equal(longestLine('a\nbbb\ncc'), { line: 2, length: 3 });
});

test('RegExp literals Espruino 2v29 cannot run stop the build, naming the pattern and the line', () => {
  assert.is(espruinoRegexProblem('^[0-9a-fA-F]*$'), '');
  assert.is(espruinoRegexProblem('^https?:\\/\\/[^\\s\\/:]+(:\\d+)?$'), '');
  assert.is(espruinoRegexProblem('a\\{1,2\\}'), '');
  assert.match(espruinoRegexProblem('^(:\\d{1,5})?$'), /quantifier \{1,5\}/);
  assert.match(espruinoRegexProblem('x{3}'), /quantifier \{3\}/);
  assert.match(espruinoRegexProblem('([^/:]+)'), /unescaped "\/" inside/);
  assert.throws(() => minifyForEspruino('var ok = /^[0-9]*$/;\nvar bad = /^(:\\d{1,5})?$/;'), /line 2: \/\^\(:\\d\{1,5\}\)\?\$\/ has the quantifier \{1,5\}/);
});

test.run();
