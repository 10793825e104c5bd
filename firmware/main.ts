// Device entry point (replaced by the application in firmware/app once it lands).
declare const console: { log(...args: unknown[]): void };
export var FIRMWARE_VERSION = '0.1.0';
console.log('DEEP firmware ' + FIRMWARE_VERSION);
