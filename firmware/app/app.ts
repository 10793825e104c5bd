// The application: wires the HAL to the drivers, the meter, the reporter, the queue and
// the uplink, and exposes the pairing console. Provisional while the parts land.
import type { Hal } from '../hal/espruino/index';
import { createFaultLog, FAULT } from './faults';
import { loadSettings, saveSettings, Settings } from './settings';
import { createConsole } from './console';

export function startApp(hal: Hal, version: string): void {
  var faults = createFaultLog({ now: hal.time.now });
  var settings = loadSettings(hal.flash);
  var wd = hal.startWatchdog(30);
  hal.time.setTimeout(function kick() { wd.kick(); hal.time.setTimeout(kick, 5000); }, 5000);
  hal.onLastWords(function (kind, detail) { faults.raise(FAULT.UNCAUGHT, kind + ': ' + detail); }, 1000);
  var con = createConsole({
    version: version,
    fw: 256,
    board: hal.board.name,
    settings: function () { return settings; },
    saveSettings: function (s: Settings) {
      if (!saveSettings(hal.flash, s)) return false;
      var netChanged = s.ssid !== settings.ssid || s.password !== settings.password;
      settings = s;
      if (netChanged) hal.net.configure(s.ssid, s.password);
      return true;
    },
    publicKey: function () { return new Uint8Array(32); },
    kid: function () { return new Uint8Array(8); },
    pairingProof: function () { throw new Error('not yet'); },
    faults: faults,
    status: function () {
      return { online: hal.net.online(), synced: hal.time.synced(), uptimeS: Math.floor(hal.time.now() / 1000), memory: hal.memory() };
    },
    print: hal.print,
  });
  hal.exposeConsole('deep', con.deep);
  hal.exposeConsole('faults', con.faults);
  if (settings.ssid) hal.net.configure(settings.ssid, settings.password);
  var serial = new hal.VescSerial({ baud: hal.board.vesc.baud, onReadable: function (n: number) { hal.print('vesc bytes ' + n); } });
  serial.write(new Uint8Array([2, 1, 0, 0, 0, 3]));
  hal.print('DEEP firmware ' + version + ' on ' + hal.board.name + ' (Espruino ' + hal.interpreter + ')');
}
