// Ed25519 signing for the device (RFC 8032 §5.1), with the base-point table built in
// (`#ed25519-table`: base64 generated at build time in a bundle, computed on first use on
// the host; see ./ed25519-table.d.ts).
// Host tools, tests and dist/bench-sign.js import it. The firmware bundle does not: it is
// handed the same API (firmware/keys/signer.ts takes it as a parameter), which on the device
// comes from the Storage module dist/ed25519-module.js (see ./ed25519-module.ts, loaded by
// firmware/hal/espruino/ed25519.ts), so code and table stay in flash; firmware/hal/espruino also hands over the native SHA-512 and
// E.convolve there (setSha512, setConvolve). Without them the JavaScript fallbacks run:
// same results, slower.
import { baseTableB64 } from '#ed25519-table';
import { setBaseTableProvider } from './_ed25519-core';
import { base64Decode } from './_ed25519-b64';

export { base64Decode } from './_ed25519-b64';

export {
  ed25519PublicKey, ed25519Sign, ed25519SignSteps, ed25519SelfTest, setSha512, setConvolve, setBaseTable, BASE_TABLE_BYTES,
} from './_ed25519-core';
export type { SignSteps } from './_ed25519-core';

setBaseTableProvider(function () { return base64Decode(baseTableB64()); });
