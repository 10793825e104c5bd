// Test entry: the Espruino HAL compiled to ES5 alone and exposed as a global, so
// test/firmware/hal/espruino.test.ts can drive it inside the emulator (the only place,
// besides a board, where its Espruino globals exist).
import { espruinoTime } from '../../../firmware/hal/espruino/time';
import { vescSerialClass } from '../../../firmware/hal/espruino/serial';
import { espruinoFlash } from '../../../firmware/hal/espruino/storage';
import { espruinoNet } from '../../../firmware/hal/espruino/net';
import { digitalIn, statusLed } from '../../../firmware/hal/espruino/spi';
import { nativeSha256, nativeSha512, randomBytes, startWatchdog, onLastWords } from '../../../firmware/hal/espruino/system';

declare var global: Record<string, unknown>;

global.halTest = {
  espruinoTime: espruinoTime,
  vescSerialClass: vescSerialClass,
  espruinoFlash: espruinoFlash,
  espruinoNet: espruinoNet,
  digitalIn: digitalIn,
  statusLed: statusLed,
  nativeSha256: nativeSha256,
  nativeSha512: nativeSha512,
  randomBytes: randomBytes,
  startWatchdog: startWatchdog,
  onLastWords: onLastWords,
};
