// WiFi station with reconnection, HTTP client and SNTP on Espruino (ESP32 build):
// require("Wifi").connect/on('disconnected'), require("http").request, Wifi.setSNTP.
//
// Reconnection: after a failed join or a drop, the next attempt comes after a backoff that
// doubles from 5 s to 5 min, with +-25% jitter from the hardware RNG so a hub full of bikes
// does not retry in lockstep after an outage; a successful join resets it.
// Builds without a Wifi module (Espruino's Linux build uses the host's network) are
// online from the start and need no join.
// HTTP: one request at a time is the caller's business (the uplink batches); every request
// ends in exactly one callback: (null, status, body) or (error string, 0, undefined), with
// a timeout so a half-open socket cannot hold the uplink forever.
import { parseHttpUrl } from '../../util/url';
import { esp, builtinModule, EspHttp, EspHttpResponse, EspWifi } from './api';

export interface NetCallback {
  (err: string | null, status: number, body: Uint8Array | undefined): void;
}

export interface EspruinoNet {
  /** Joins `ssid` and keeps rejoining; an empty ssid stops the radio. */
  configure(ssid: string, password: string): void;
  online(): boolean;
  /** Calls `fn(online)` on every change. */
  onChange(fn: (online: boolean) => void): void;
  request(method: string, url: string, body: Uint8Array | undefined, contentType: string, timeoutMs: number, cb: NetCallback): void;
  /** Last join error (e.g. "wrong_password"), or "" when none. */
  lastError(): string;
}

var BACKOFF_MIN_MS = 5000;
var BACKOFF_MAX_MS = 300000;

export function espruinoNet(rand32: () => number): EspruinoNet {
  var wifi = builtinModule('Wifi') as EspWifi | undefined;
  var http = esp.require('http') as EspHttp;
  var ssid = '';
  var password = '';
  var isOnline = false;
  var backoff = BACKOFF_MIN_MS;
  var timer = 0;
  var err = '';
  var listeners: ((online: boolean) => void)[] = [];

  function set(on: boolean): void {
    if (on === isOnline) return;
    isOnline = on;
    for (var i = 0; i < listeners.length; i++) listeners[i](on);
  }

  function schedule(): void {
    if (timer || !ssid) return;
    // jitter in [-25%, +25%): (rand mod 512) / 1024 - 0.25, integer ms
    var j = (((rand32() >>> 0) % 512) * backoff) / 1024 - backoff / 4;
    timer = esp.setTimeout(function () { timer = 0; join(); }, Math.floor(backoff + j));
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  }

  function join(): void {
    if (!ssid || !wifi) return;
    wifi.connect(ssid, { password: password }, function (e: string | null) {
      if (e) {
        err = String(e);
        set(false);
        schedule();
        return;
      }
      err = '';
      backoff = BACKOFF_MIN_MS;
      set(true);
      if (wifi && wifi.setSNTP) wifi.setSNTP('pool.ntp.org', 'UTC0');
    });
  }

  if (wifi) {
    wifi.on('disconnected', function (d: { reason?: string }) {
      if (d && d.reason) err = String(d.reason);
      set(false);
      schedule();
    });
  } else {
    isOnline = true;
  }

  return {
    configure: function (s: string, p: string): void {
      ssid = s;
      password = p;
      backoff = BACKOFF_MIN_MS;
      if (timer) { esp.clearTimeout(timer); timer = 0; }
      if (!wifi) return;
      if (!s) { wifi.disconnect(); set(false); return; }
      join();
    },
    online: function (): boolean { return isOnline; },
    onChange: function (fn: (online: boolean) => void): void { listeners.push(fn); },
    lastError: function (): string { return err; },
    request: function (method: string, url: string, body: Uint8Array | undefined, contentType: string, timeoutMs: number, cb: NetCallback): void {
      var u = parseHttpUrl(url);
      var done = false;
      var t = 0;
      function finish(e: string | null, status: number, b: Uint8Array | undefined): void {
        if (done) return;
        done = true;
        if (t) esp.clearTimeout(t);
        cb(e, status, b);
      }
      if (!u) { esp.setTimeout(function () { finish('bad url ' + url, 0, undefined); }, 0); return; }
      if (!isOnline) { esp.setTimeout(function () { finish('offline', 0, undefined); }, 0); return; }
      var headers: Record<string, string | number> = { 'Content-Type': contentType };
      var payload = body ? esp.E().toString(body) : '';
      if (body) headers['Content-Length'] = body.length;
      t = esp.setTimeout(function () { finish('timeout', 0, undefined); }, timeoutMs);
      // Espruino's http throws where Node would emit 'error' (the Linux build's "Unable to
      // create socket" when nothing listens): caught here so that every request still ends
      // in exactly one callback and the uplink retries.
      try {
        var req = http.request({ host: u.host, port: u.port, path: u.path, method: method, protocol: u.protocol, headers: headers }, function (res: EspHttpResponse) {
          var parts: string[] = [];
          res.on('data', function (d: string) { parts.push(d); });
          res.on('close', function () {
            finish(null, parseInt(String(res.statusCode), 10) || 0, esp.E().toUint8Array(parts.join('')));
          });
          res.on('error', function (e: unknown) { finish('response error: ' + String(e), 0, undefined); });
        });
        req.on('error', function (e: unknown) {
          finish('request error: ' + ((e && (e as Error).message) || String(e)), 0, undefined);
        });
        req.end(payload);
      } catch (e) {
        var why = 'request error: ' + ((e && (e as Error).message) || String(e));
        esp.setTimeout(function () { finish(why, 0, undefined); }, 0);
      }
    },
  };
}
