// require("Wifi") of the ESP32 build: station connect/disconnect against the shared
// EmuNetwork's access points ('connected' after the association time, else the join error
// as on the IDF: 'no_ap_found', 'wrong_password'), 'disconnected' when the network goes
// down, and setSNTP, which sets the device wall clock from the true time once joined and
// then hourly (every 15 s while it cannot reach the server).
import type { EmuNetwork, NetworkListener } from '../network';
import { Emitter } from './emitter';
import type { DeviceLoop } from './loop';

export interface WifiOptions {
  loop: DeviceLoop;
  network: EmuNetwork | undefined;
  /** The power-on count (the DHCP lease differs per boot). */
  boot: number;
  mac: string;
  /** An SNTP answer arrived: set the device wall clock from it. */
  sntpSync(): void;
}

export type WifiStatus = 'off' | 'connecting' | 'connected' | 'no_ap_found' | 'wrong_password';

export class WifiModule extends Emitter implements NetworkListener {
  status: WifiStatus = 'off';
  ssid = '';
  password = '';
  hostname = 'espruino';
  sntp: { server: string; zone: string } | undefined;
  private sntpTimer = 0;
  private connectTimer = 0;
  private readonly loop: DeviceLoop;
  constructor(private readonly o: WifiOptions) {
    super();
    this.loop = o.loop;
    o.network?.subscribe(this);
  }
  detach(): void { this.o.network?.unsubscribe(this); }
  private ip(): string { return '192.168.4.' + (10 + (this.o.boot % 200)); }
  onNetworkChange(up: boolean): void {
    if (!up && this.status === 'connected') {
      this.status = 'off';
      this.loop.later(() => this.emit('disconnected', { reason: 'beacon_timeout', ssid: this.ssid }));
    }
  }
  connect(ssid: string, options: { password?: string } | undefined, cb?: (err: string | null) => void): void {
    this.loop.alive();
    this.ssid = String(ssid);
    this.password = options?.password ?? '';
    this.status = 'connecting';
    const net = this.o.network;
    if (this.connectTimer) this.loop.clearTimer(this.connectTimer);
    this.connectTimer = this.loop.later(() => {
      this.connectTimer = 0;
      const err = net ? net.joinError(this.ssid, this.password) : 'no_ap_found';
      if (err) {
        this.status = err as WifiStatus;
        if (cb) cb(err);
        this.emit('disconnected', { reason: err, ssid: this.ssid });
        return;
      }
      this.status = 'connected';
      if (cb) cb(null);
      this.emit('connected', { ip: this.ip() });
      this.scheduleSntp(200);
    }, net?.associateMs ?? 1500);
  }
  disconnect(cb?: () => void): void {
    this.loop.alive();
    const was = this.status === 'connected';
    this.status = 'off';
    if (this.connectTimer) { this.loop.clearTimer(this.connectTimer); this.connectTimer = 0; }
    this.loop.later(() => {
      if (cb) cb();
      if (was) this.emit('disconnected', { reason: 'assoc_leave', ssid: this.ssid });
    });
  }
  getStatus(cb?: (s: unknown) => void): unknown {
    const s = { mode: 'STA', station: this.status, ap: 'disabled', phy: '11n', powersave: 'none', savedMode: 'off' };
    if (cb) this.loop.later(() => cb(s));
    return s;
  }
  getDetails(cb?: (s: unknown) => void): unknown {
    const s = { status: this.status, ssid: this.ssid };
    if (cb) this.loop.later(() => cb(s));
    return s;
  }
  getIP(cb?: (err: unknown, ip: unknown) => void): unknown {
    const ip = { ip: this.status === 'connected' ? this.ip() : '0.0.0.0', netmask: '255.255.255.0', gw: '192.168.4.1', mac: this.o.mac };
    if (cb) this.loop.later(() => cb(null, ip));
    return ip;
  }
  setHostname(h: string): void { this.hostname = String(h); }
  stopAP(cb?: () => void): void { if (cb) this.loop.later(cb); }
  save(): void { /* the firmware keeps its own settings; nothing to do */ }
  /** ESP32 build: setSNTP(server, zone) starts the IDF SNTP client (polls hourly). */
  setSNTP(server: string, zone: string): void {
    this.sntp = { server: String(server), zone: String(zone) };
    if (this.status === 'connected') this.scheduleSntp(200);
  }
  private scheduleSntp(ms: number): void {
    if (!this.sntp) return;
    if (this.sntpTimer) this.loop.clearTimer(this.sntpTimer);
    this.sntpTimer = this.loop.later(() => {
      this.sntpTimer = 0;
      if (this.status === 'connected' && this.o.network?.up) {
        this.o.sntpSync();
        this.scheduleSntp(3600000);
      } else {
        this.scheduleSntp(15000);
      }
    }, ms);
  }
}
