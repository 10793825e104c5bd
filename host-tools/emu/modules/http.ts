// require("http"): request/get over the shared EmuNetwork, and url.parse. A request fails
// with "Not connected" unless the board's link is up (Wifi joined) and the network is up;
// responses arrive as one 'data' event, then 'end' and 'close'.
import type { EmuNetwork } from '../network';
import { bytesToBinaryString, toBytes } from './bytes';
import { Emitter } from './emitter';
import type { DeviceLoop } from './loop';

export interface HttpOptions {
  loop: DeviceLoop;
  network: EmuNetwork | undefined;
  /** True while the board's own link is up (its Wifi station is connected). */
  linkUp(): boolean;
}

export function urlParse(u: string): Record<string, unknown> {
  const x = new URL(String(u));
  const query = x.search ? x.search.slice(1) : null;
  return { method: 'GET', host: x.hostname, path: x.pathname + x.search, pathname: x.pathname, search: x.search || null, port: x.port ? Number(x.port) : 80, query, protocol: x.protocol };
}

export function makeHttp(o: HttpOptions) {
  const loop = o.loop;
  const http = {
    request(options: Record<string, unknown> | string, cb?: (res: unknown) => void): unknown {
      loop.alive();
      const opts = typeof options === 'string' ? urlParse(options) : options;
      const req = new Emitter() as Emitter & Record<string, unknown>;
      const chunks: Uint8Array[] = [];
      let ended = false;
      req.write = (d: unknown): boolean => { if (ended) throw new Error('http: write after end'); chunks.push(toBytes(d)); return true; };
      req.end = (d?: unknown): void => {
        if (ended) return;
        ended = true;
        if (d !== undefined) chunks.push(toBytes(d));
        send();
      };
      function send(): void {
        const network = o.network;
        if (!network || !network.up || !o.linkUp()) {
          loop.later(() => req.emit('error', new Error('Not connected')), 10);
          return;
        }
        const body = toBytes(chunks);
        const protocol = String(opts.protocol ?? 'http:');
        const host = String(opts.host ?? opts.hostname ?? '');
        const url = `${protocol}//${host}${opts.port ? ':' + opts.port : ''}${String(opts.path ?? '/')}`;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries((opts.headers as Record<string, unknown>) ?? {})) headers[k.toLowerCase()] = String(v);
        network.request({ method: String(opts.method ?? 'GET'), url, headers, body }).then(
          (r) => loop.later(() => {
            const res = new Emitter() as Emitter & Record<string, unknown>;
            res.statusCode = String(r.status);
            res.statusMessage = r.status < 400 ? 'OK' : 'Error';
            res.headers = r.headers ?? {};
            res.httpVersion = '1.1';
            if (cb) cb(res);
            const b = typeof r.body === 'string' ? r.body : bytesToBinaryString(r.body ?? new Uint8Array(0));
            if (b.length) res.emit('data', b);
            res.emit('end');
            res.emit('close');
          }),
          (err: unknown) => loop.later(() => req.emit('error', new Error(err instanceof Error ? err.message : String(err)))),
        );
      }
      return req;
    },
    get(options: Record<string, unknown> | string, cb?: (res: unknown) => void): unknown {
      const r = http.request(options, cb) as { end(): void };
      r.end();
      return r;
    },
  };
  return http;
}
