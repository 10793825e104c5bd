// Entry of the `engine` bundle (dist/engine-check.js, ES5): runs the device-side code on
// fixed inputs and prints one line per case, with Duktape's print() or Node's console.log.
// test/engine/engine.test.ts runs it under both and compares with the host's computation.
// To add cases: create ./cases/NAME.ts that calls addCase(), and import it here.
import { runCases } from './registry';
import './cases/protocol';
import './cases/bus';
import './cases/bytes';

declare var print: ((s: string) => void) | undefined;
declare var console: { log(s: string): void } | undefined;

var out: (s: string) => void =
  typeof print === 'function' ? print : function (s: string) { (console as { log(s: string): void }).log(s); };
var n = runCases(out);
out('engine-check done ' + n);
