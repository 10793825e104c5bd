// require("Flash"): raw flash pages are not emulated (the flash model is file-based, see
// ../flash.ts); programs use Storage.

export function makeFlashModule() {
  return {
    getFree: (): unknown[] => [],
    read: (): never => { throw new Error('Flash: raw access is not emulated; use Storage'); },
  };
}
