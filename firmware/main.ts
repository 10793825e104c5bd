// Device entry point: the bundle Espruino runs at boot (.bootcde). Builds the HAL for the
// board this bundle was built for (`virtual:board`, rollup.config.js) and starts the
// application. Everything else lives in firmware/app.
import board from 'virtual:board';
import { createHal } from './hal/espruino/index';
import { startApp } from './app/app';

export var FIRMWARE_VERSION = '0.1.0';

function boot(): void {
  var hal = createHal(board);
  startApp(hal, FIRMWARE_VERSION);
}

boot();
