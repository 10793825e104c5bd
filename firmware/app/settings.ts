// Device settings that the rider sets once over the console (WiFi, endpoint) and that
// must survive power cuts: kept in flash as two alternating files "cfg0"/"cfg1", each
//   [u32 LE generation][u16 LE length][JSON text][u32 LE CRC-32 of everything before]
// and a save writes the file NOT holding the newest generation, so a power cut during a
// save leaves the previous settings intact (a torn file fails its CRC and is ignored).
// JSON is fine here: settings are never signed or hashed (firmware/README.md: Espruino's
// JSON differs from Node's only in formatting, not in parsing).
//
// Public API
//   loadSettings(flash) -> Settings (defaults where nothing valid is stored)
//   saveSettings(flash, s) -> boolean
//   DEFAULT_SETTINGS
import type { FlashStore } from '../hal/flash';
import { crc32 } from '../util/crc32';
import { bytesToLatin1, latin1ToBytes, readU16LE, readU32LE, writeU16LE, writeU32LE } from '../../protocol/bytes';

export interface Settings {
  /** WiFi network name; "" = radio off. */
  ssid: string;
  /** WiFi password (never printed by any command). */
  password: string;
  /** Ingest endpoint base URL, e.g. "http://192.168.4.1:8080" ("" = none yet). */
  endpoint: string;
  /** Report interval in seconds (minimum; it stretches when signing is slower). */
  intervalS: number;
  /** Bus poll period in ms (VESC and BMS samples for the meter). */
  pollMs: number;
  /** Device id the ledger node registered at pairing ("" = not paired). */
  pairedId: string;
}

export var DEFAULT_SETTINGS: Settings = { ssid: '', password: '', endpoint: '', intervalS: 60, pollMs: 100, pairedId: '' };

var NAMES = ['cfg0', 'cfg1'];

function readOne(flash: FlashStore, name: string): { gen: number; s: Settings } | undefined {
  var b = flash.read(name);
  if (!b || b.length < 10) return undefined;
  var len = readU16LE(b, 4);
  if (6 + len + 4 !== b.length) return undefined;
  if (crc32(b.subarray(0, 6 + len)) !== readU32LE(b, 6 + len)) return undefined;
  var obj: Settings;
  try {
    obj = JSON.parse(bytesToLatin1(b, 6, 6 + len)) as Settings;
  } catch (e) {
    return undefined;
  }
  return { gen: readU32LE(b, 0), s: normalize(obj) };
}

/** Stored values where they have the right type, defaults elsewhere. */
function normalize(o: Settings): Settings {
  var d = DEFAULT_SETTINGS;
  var out: Settings = { ssid: d.ssid, password: d.password, endpoint: d.endpoint, intervalS: d.intervalS, pollMs: d.pollMs, pairedId: d.pairedId };
  if (o && typeof o.ssid === 'string') out.ssid = o.ssid;
  if (o && typeof o.password === 'string') out.password = o.password;
  if (o && typeof o.endpoint === 'string') out.endpoint = o.endpoint;
  if (o && typeof o.pairedId === 'string') out.pairedId = o.pairedId;
  if (o && typeof o.intervalS === 'number' && o.intervalS >= 5 && o.intervalS <= 3600) out.intervalS = Math.floor(o.intervalS);
  if (o && typeof o.pollMs === 'number' && o.pollMs >= 20 && o.pollMs <= 2000) out.pollMs = Math.floor(o.pollMs);
  return out;
}

var lastGen = 0;
var lastName = '';

export function loadSettings(flash: FlashStore): Settings {
  var best: { gen: number; s: Settings } | undefined;
  var bestName = '';
  for (var i = 0; i < NAMES.length; i++) {
    var r = readOne(flash, NAMES[i]);
    if (r && (!best || r.gen > best.gen)) { best = r; bestName = NAMES[i]; }
  }
  lastGen = best ? best.gen : 0;
  lastName = bestName;
  return best ? best.s : normalize(DEFAULT_SETTINGS);
}

export function saveSettings(flash: FlashStore, s: Settings): boolean {
  var n = normalize(s);
  var text = latin1ToBytes(JSON.stringify({ ssid: n.ssid, password: n.password, endpoint: n.endpoint, intervalS: n.intervalS, pollMs: n.pollMs, pairedId: n.pairedId }));
  if (text.length > 60000) throw new Error('saveSettings: settings too large');
  var b = new Uint8Array(6 + text.length + 4);
  var gen = lastGen + 1;
  writeU32LE(b, 0, gen);
  writeU16LE(b, 4, text.length);
  b.set(text, 6);
  writeU32LE(b, 6 + text.length, crc32(b.subarray(0, 6 + text.length)));
  var name = lastName === NAMES[0] ? NAMES[1] : NAMES[0];
  if (!flash.write(name, b)) return false;
  lastGen = gen;
  lastName = name;
  return true;
}
