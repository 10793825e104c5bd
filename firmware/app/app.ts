// The application: wires the HAL to the drivers, the meter, the reporter, the queue and
// the uplink, then exposes the console (`deep`, `faults`).
//
// Boot order matters on a device that someone may be diagnosing: the fault ring and the
// last words first (so every later failure has a place to go), then settings, signer and
// key, clock, queue, meter, uplink, reporter and buses. The console is exposed last, once
// everything deep.status() reads exists: a boot that fails half-way leaves no `deep` object
// that throws TypeErrors, only the error on the console and in the fault ring.
import type { Hal } from '../hal/espruino/index';
import { busFaultCode, createFaultLog, deviceFaultTotal, FAULT, FaultLog } from './faults';
import { loadSettings, saveSettings, Settings } from './settings';
import { createConsole } from './console';
import { createClock } from './clock';
import { openKeystore, KEY_LOADED, KEY_CREATED } from '../keys/keystore';
import type { DeviceSigner } from '../keys/signer';
import { sha512js } from '../keys/sha512';
import { makePairingProofStepped } from '../../protocol/pairing';
import { firmwareVersion } from '../../protocol/report';
import { createQueue } from '../queue/queue';
import { createMeter } from '../energy/meter';
import { createUplink } from '../uplink/uplink';
import { startBus } from './bus';
import { createReporter } from './reporter';
import { bytesToLatin1, latin1ToBytes } from '../../protocol/bytes';

/** Last words kept in flash file "lw" across the reset that follows an uncaught error. */
var LAST_WORDS_FILE = 'lw';
var LAST_WORDS_MAX = 60;

/** The device key, or undefined with the reason printed and in the fault ring. */
function openSigner(hal: Hal, faults: FaultLog): DeviceSigner | undefined {
  // Ed25519 comes from the Storage module "ed25519" (code and table in flash). Without it
  // the device does not sign (no reporter) but keeps measuring; the key file is left alone
  // until a working signer exists.
  var ed = hal.loadEd25519();
  if (!ed.impl) {
    faults.raise(FAULT.SIGNER_MISSING, ed.error || 'no ed25519');
    hal.print('DEEP: no Ed25519 signer (' + ed.error + '); not reporting. See faults().');
    return undefined;
  }
  var ks = openKeystore({ flash: hal.flash, entropy: hal.entropy(), sha512: hal.sha512 || sha512js, ed25519: ed.impl, faults: faults });
  if (!ks.signer || (ks.status !== KEY_LOADED && ks.status !== KEY_CREATED)) {
    hal.print('DEEP: no device key (keystore status ' + ks.status + '); not reporting. See faults().');
    return undefined;
  }
  return ks.signer;
}

/** Puts the last words of the previous boot (if any) back in the ring, then arms them. */
function armLastWords(hal: Hal, faults: FaultLog): void {
  var lw = hal.flash.read(LAST_WORDS_FILE);
  if (lw) {
    faults.raise(FAULT.UNCAUGHT, 'before reset: ' + bytesToLatin1(lw, 0, LAST_WORDS_MAX));
    hal.flash.erase(LAST_WORDS_FILE);
  }
  // An error flag or uncaught exception goes to the ring; an uncaught one also to flash
  // (one small write; losing it to a cut costs only the note), as the board may reset.
  hal.onLastWords(function (kind, detail) {
    var text = (kind + ': ' + detail).substr(0, LAST_WORDS_MAX);
    faults.raise(FAULT.UNCAUGHT, text);
    if (kind !== 'uncaught') return;
    hal.flash.write(LAST_WORDS_FILE, latin1ToBytes(text));
  }, 1000);
}

export function startApp(hal: Hal, version: string): void {
  var faults = createFaultLog({ now: hal.time.now });
  armLastWords(hal, faults);
  var settings = loadSettings(hal.flash);
  var vp = version.split('.');
  var fw = firmwareVersion(parseInt(vp[0], 10), parseInt(vp[1], 10), parseInt(vp[2], 10));
  var signer = openSigner(hal, faults);
  var clock = createClock({ now: hal.time.now, faults: faults });
  var lastJumps = -1;
  function syncClock(): void {
    var j = hal.time.jumps();
    if (hal.time.synced() && j !== lastJumps) {
      lastJumps = j;
      clock.sync(hal.time.wallMs());
    }
  }
  var wd = hal.startWatchdog(30);
  hal.time.setTimeout(function kick() { wd.kick(); syncClock(); hal.time.setTimeout(kick, 5000); }, 5000);

  var packIds = (hal.board.bms && hal.board.bms.ids) || [10, 11];
  var queue = createQueue({ flash: hal.flash, faults: faults });
  queue.recover();
  var meter = createMeter({ packs: [{ canId: packIds[0] }, { canId: packIds[1] }], faults: faults });
  var uplink = createUplink({
    queue: queue,
    net: hal.net,
    timers: hal.time,
    url: function () { return settings.endpoint ? settings.endpoint + '/v1/reports' : ''; },
    rand: function () { return (hal.rand32() >>> 0) / 4294967296; },
    faults: faults,
  });
  hal.net.onChange(function (on: boolean) {
    if (on) uplink.kick();
    else faults.raise(FAULT.WIFI_DOWN, hal.net.lastError() || 'disconnected');
  });
  if (settings.ssid) hal.net.configure(settings.ssid, settings.password);

  // Driver faults are strings (VESC_*, BMS_*, CAN_*): counted here and carried in the
  // reports' vesc/bms fault counts (not in the device count), and put in the ring so that
  // faults() shows them.
  var busFaults: { [code: string]: number } = {};
  var busFaultTotals = { vesc: 0, bms: 0 };
  var reporter = signer ? createReporter({
    meter: meter,
    queue: queue,
    signer: signer,
    clock: clock,
    timers: hal.time,
    firmware: fw,
    faults: faults,
    intervalMs: settings.intervalS * 1000,
    faultTotals: function () { return { vesc: busFaultTotals.vesc, bms: busFaultTotals.bms, device: deviceFaultTotal(faults) }; },
    onReport: function () { uplink.kick(); },
  }) : undefined;
  // The chain (seq, prev, lifetime counters) comes back from the queue before the meter's
  // first sample (reporter.ts).
  if (reporter) reporter.start();
  var bus = startBus({
    hal: hal,
    packIds: packIds,
    pollMs: settings.pollMs,
    onSample: function (smp) { meter.sample(smp); },
    onVescCounters: function (c, d) { meter.observeVesc(c, d); },
    onBmsCounters: function (i, c, d) { meter.observeBms(i, c, d); },
    onFault: function (code: string, detail: string) {
      busFaults[code] = (busFaults[code] || 0) + 1;
      faults.raise(busFaultCode(code), code + ' ' + detail);
      if (code.indexOf('VESC_') === 0) busFaultTotals.vesc++;
      else busFaultTotals.bms++;
    },
  });
  uplink.kick();

  var con = createConsole({
    version: version,
    fw: fw,
    board: hal.board.name,
    settings: function () { return settings; },
    saveSettings: function (s: Settings) {
      if (!saveSettings(hal.flash, s)) return false;
      var netChanged = s.ssid !== settings.ssid || s.password !== settings.password;
      var intervalChanged = s.intervalS !== settings.intervalS;
      settings = s;
      if (netChanged) hal.net.configure(s.ssid, s.password);
      if (intervalChanged && reporter) reporter.setIntervalMs(s.intervalS * 1000);
      return true;
    },
    publicKey: function () { return signer ? signer.publicKey() : new Uint8Array(32); },
    kid: function () { return signer ? signer.kid() : new Uint8Array(8); },
    pairingProof: function (challenge: Uint8Array) {
      if (!signer) throw new Error('deep.pairingProof: this device has no key (see faults())');
      var sg = signer;
      return makePairingProofStepped({ challenge: challenge, publicKey: sg.publicKey(), firmware: fw }, function (m: Uint8Array) { return sg.signSteps(m); });
    },
    defer: function (fn: () => void) { hal.time.setTimeout(fn, 0); },
    faults: faults,
    status: function () {
      syncClock();
      return {
        online: hal.net.online(), synced: clock.synced(), uptimeS: Math.floor(hal.time.now() / 1000),
        queued: queue.pending(), uplink: uplink.status(), reporter: reporter ? reporter.status() : 'no key', samples: bus.samples(), plugged: bus.plugged(),
        bus: bus.pollStats(),
        vesc: bus.vesc.identification ? 'fw ' + bus.vesc.identification.major + '.' + bus.vesc.identification.minor : 'unidentified',
        packs: bus.packs().map(function (p) { return { id: p.canId, mv: p.vTotMv, ma: p.iInMa, stale: p.stale }; }),
        busFaults: busFaults, faults: deviceFaultTotal(faults), memory: hal.memory(),
      };
    },
    print: hal.print,
  });
  hal.exposeConsole('deep', con.deep);
  hal.exposeConsole('faults', con.faults);
  hal.print('DEEP firmware ' + version + ' on ' + hal.board.name + ' (Espruino ' + hal.interpreter + ')');
}
