// The pairing console: what a rider (through `deep pair`) or a maker types at the USB
// serial console. One global object `deep` whose methods return plain values, so the
// Espruino CLI's executeExpression (print(JSON.stringify(expr))) reads them back; the
// host-side contract is host-tools/pairing/pair.ts. Plus `faults()`, which prints
// the fault ring (firmware/README.md, "Errors on a device without a screen").
//
//   deep.info()                 {version, fw, id, publicKey, ssid, endpoint, paired, board}
//   deep.settings({ssid, password, endpoint, intervalS?, pollMs?})  true, or throws why not
//   deep.pairingProof(hex)      starts signing the pairing proof, a COSE_Sign1 over
//                               {challenge, publicKey, firmware} (protocol/pairing.ts), and
//                               returns null; signing is stepped (one step per timer
//                               callback) so the buses and the watchdog keep running.
//   deep.pairingProof()         null while signing, then the proof in base64 (kept until
//                               the next challenge); throws when none was started
//                               (host contract: host-tools/pairing/pair.ts polls)
//   deep.paired(id)             records the id the node registered (must be ours); true
//   deep.status()               {online, queued, seq, synced, uptimeS, boots, faults}
//   faults()                    prints the ring and the counters
//
// Nothing here ever returns or prints the secret key or the WiFi password: info() and
// status() are built field by field from public values, and settings() answers a bool.
import type { FaultLog } from './faults';
import { parseHttpUrl } from '../util/url';
import type { Settings } from './settings';
import { fromHex, toHex } from '../../protocol/bytes';

export interface ConsoleDeps {
  version: string;
  fw: number;
  board: string;
  settings(): Settings;
  /** Validates, saves and applies; returns false when flash refused the write. */
  saveSettings(s: Settings): boolean;
  publicKey(): Uint8Array;
  kid(): Uint8Array;
  /** Starts a stepped pairing proof (COSE_Sign1) for a challenge. */
  pairingProof(challenge: Uint8Array): { step(): boolean; result(): Uint8Array };
  /** Runs `fn` on the next turn of the event loop. */
  defer(fn: () => void): void;
  faults: FaultLog;
  status(): Record<string, unknown>;
  print(s: string): void;
}

var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** RFC 4648 §4 base64 with padding (btoa works on binary strings, this on bytes). */
export function toBase64(b: Uint8Array): string {
  var s = '';
  for (var i = 0; i < b.length; i += 3) {
    var n = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8) | (i + 2 < b.length ? b[i + 2] : 0);
    s += B64.charAt((n >> 18) & 63) + B64.charAt((n >> 12) & 63);
    s += i + 1 < b.length ? B64.charAt((n >> 6) & 63) : '=';
    s += i + 2 < b.length ? B64.charAt(n & 63) : '=';
  }
  return s;
}

function checkEndpoint(url: string): void {
  if (url !== '' && !parseHttpUrl(url)) {
    throw new Error('deep.settings: "endpoint" expected http://host[:port][/path], got ' + JSON.stringify(url));
  }
}

export interface DeepConsole {
  info(): Record<string, unknown>;
  settings(s: Partial<Settings>): boolean;
  pairingProof(challengeHex?: string): string | null;
  paired(id: string): boolean;
  status(): Record<string, unknown>;
}

export function createConsole(d: ConsoleDeps): { deep: DeepConsole; faults: () => void } {
  var proofState = 'none';
  var proofB64 = '';
  var proofError = '';
  var proofGen = 0;
  var deep: DeepConsole = {
    info: function () {
      var s = d.settings();
      return {
        version: d.version,
        fw: d.fw,
        id: toHex(d.kid()),
        publicKey: toHex(d.publicKey()),
        ssid: s.ssid,
        endpoint: s.endpoint,
        paired: s.pairedId !== '' && s.pairedId === toHex(d.kid()),
        board: d.board,
      };
    },
    settings: function (p: Partial<Settings>) {
      if (!p || typeof p !== 'object') throw new Error('deep.settings: expected an object {ssid, password, endpoint}');
      var cur = d.settings();
      var next: Settings = { ssid: cur.ssid, password: cur.password, endpoint: cur.endpoint, intervalS: cur.intervalS, pollMs: cur.pollMs, pairedId: cur.pairedId };
      if (p.ssid !== undefined) {
        if (typeof p.ssid !== 'string' || p.ssid.length > 32) throw new Error('deep.settings: "ssid" expected a string of at most 32 bytes');
        next.ssid = p.ssid;
      }
      if (p.password !== undefined) {
        if (typeof p.password !== 'string' || (p.password.length > 0 && (p.password.length < 8 || p.password.length > 63))) {
          throw new Error('deep.settings: "password" expected 8..63 characters (or empty for an open network)');
        }
        next.password = p.password;
      }
      if (p.endpoint !== undefined) {
        checkEndpoint(p.endpoint);
        next.endpoint = p.endpoint.replace(/\/+$/, '');
      }
      if (p.intervalS !== undefined) {
        if (typeof p.intervalS !== 'number' || p.intervalS < 5 || p.intervalS > 3600) throw new Error('deep.settings: "intervalS" expected 5..3600');
        next.intervalS = Math.floor(p.intervalS);
      }
      if (p.pollMs !== undefined) {
        if (typeof p.pollMs !== 'number' || p.pollMs < 20 || p.pollMs > 2000) throw new Error('deep.settings: "pollMs" expected 20..2000');
        next.pollMs = Math.floor(p.pollMs);
      }
      if (!d.saveSettings(next)) throw new Error('deep.settings: flash refused the write (full?)');
      return true;
    },
    pairingProof: function (challengeHex?: string) {
      if (challengeHex === undefined) {
        if (proofState === 'none') throw new Error('deep.pairingProof: no proof started; call deep.pairingProof(challengeHex)');
        if (proofState === 'failed') throw new Error('deep.pairingProof: signing failed: ' + proofError);
        return proofState === 'done' ? proofB64 : null;
      }
      var c = fromHex(challengeHex, 'deep.pairingProof');
      if (c.length < 16 || c.length > 64) throw new Error('deep.pairingProof: challenge expected 16..64 bytes, got ' + c.length);
      var job = d.pairingProof(c);
      var gen = ++proofGen;
      proofState = 'signing';
      proofB64 = '';
      var run = function (): void {
        if (gen !== proofGen) return; // a newer challenge replaced this one
        try {
          if (job.step()) {
            proofB64 = toBase64(job.result());
            proofState = 'done';
            return;
          }
        } catch (e) {
          proofState = 'failed';
          proofError = String((e as Error).message || e);
          return;
        }
        d.defer(run);
      };
      d.defer(run);
      return null;
    },
    paired: function (id: string) {
      var mine = toHex(d.kid());
      if (id !== mine) throw new Error('deep.paired: id ' + JSON.stringify(id) + ' is not this device (' + mine + ')');
      var cur = d.settings();
      if (cur.pairedId === id) return true;
      var next: Settings = { ssid: cur.ssid, password: cur.password, endpoint: cur.endpoint, intervalS: cur.intervalS, pollMs: cur.pollMs, pairedId: id };
      if (!d.saveSettings(next)) throw new Error('deep.paired: flash refused the write (full?)');
      return true;
    },
    status: function () { return d.status(); },
  };
  return {
    deep: deep,
    faults: function () { d.print(d.faults.print()); },
  };
}
