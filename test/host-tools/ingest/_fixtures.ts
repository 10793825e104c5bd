// Shared by the ingest tests: devices with real Ed25519 keys (node:crypto), chained signed
// reports made through the protocol's own encoder and COSE signer, HTTP helpers.
import { createPrivateKey, createPublicKey, sign as edSign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CborMap, encode } from '../../../protocol/cbor';
import { toHex } from '../../../protocol/bytes';
import { sign1, sign1BeginHeaders, COSE_HDR_ALG, COSE_HDR_KID } from '../../../protocol/cose';
import { kidFromPublicKey } from '../../../protocol/kid';
import { encodeReport, CLOCK_SYNCED, type EnergyReport } from '../../../protocol/report';
import { makePairingProof } from '../../../protocol/pairing';
import { sha256Host } from '../../../host-tools/verify';

export interface Device {
  seed: Uint8Array;
  publicKey: Uint8Array;
  kid: Uint8Array;
  id: string;
  sign(tbs: Uint8Array): Uint8Array;
}

export function device(seedByte: number): Device {
  const seed = new Uint8Array(32).fill(seedByte);
  // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410 §7).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32));
  const kid = kidFromPublicKey(publicKey);
  return { seed, publicKey, kid, id: toHex(kid), sign: (tbs) => new Uint8Array(edSign(null, tbs, key)) };
}

/** Window starts one day ago so plausibility's "not from the future" check passes. */
export const BASE_S = Math.floor(Date.now() / 1000) - 86400;

export interface ReportOpts {
  /** Extra mWh per window on pack 1's pack->motor flow (breaks nothing if lifetime follows). */
  motorMwh?: number;
  /** Overrides applied to the report before signing. */
  tweak?: (r: EnergyReport) => void;
}

/** Reports seq `from`..`from+count-1`, chained to `prev`, with `life` lifetime counters carried. */
export class Ride {
  prev: Uint8Array = new Uint8Array(32);
  seq = 0;
  life = [
    { gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 0, regenToPackMwh: 0 },
    { gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 0, regenToPackMwh: 0 },
  ];
  constructor(readonly dev: Device) {}

  /** The next report of the chain, signed, without advancing (see next()). */
  make(opts: ReportOpts = {}): { bytes: Uint8Array; report: EnergyReport } {
    const w = [
      { gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 1200 + (opts.motorMwh ?? 0) + (this.seq % 7), regenToPackMwh: 30 },
      { gridToPackMwh: 0, packToGridMwh: 0, packToMotorMwh: 900 + (this.seq % 5), regenToPackMwh: 20 },
    ];
    const report: EnergyReport = {
      version: 1,
      kid: this.dev.kid,
      seq: this.seq,
      prev: this.prev,
      clock: CLOCK_SYNCED,
      startS: BASE_S + this.seq * 60,
      durationS: 60,
      packs: [0, 1].map((i) => ({
        canId: 10 + i,
        ...w[i],
        chargeMah: -(w[i].packToMotorMwh >> 5),
        lifetime: {
          gridToPackMwh: this.life[i].gridToPackMwh + w[i].gridToPackMwh,
          packToGridMwh: this.life[i].packToGridMwh + w[i].packToGridMwh,
          packToMotorMwh: this.life[i].packToMotorMwh + w[i].packToMotorMwh,
          regenToPackMwh: this.life[i].regenToPackMwh + w[i].regenToPackMwh,
        },
      })),
      faults: { vesc: 0, bms: this.seq % 3 === 0 ? 1 : 0, device: 0 },
      firmware: 256,
    };
    opts.tweak?.(report);
    return { bytes: sign1(encodeReport(report), this.dev.kid, this.dev.sign), report };
  }

  /** Signs the next report and advances the chain to it. */
  next(opts: ReportOpts = {}): Uint8Array {
    const { bytes, report } = this.make(opts);
    this.prev = sha256Host(bytes);
    this.seq++;
    this.life = report.packs.map((p) => ({ ...p.lifetime }));
    return bytes;
  }

  take(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < n; i++) out.push(this.next());
    return out;
  }
}

/** A COSE_Sign1 with an arbitrary protected alg (the profile allows only -19 and -8). */
export function signWithAlg(dev: Device, payload: Uint8Array, alg: number): Uint8Array {
  const d = sign1BeginHeaders(new CborMap([[COSE_HDR_ALG, alg]]), new CborMap([[COSE_HDR_KID, dev.kid]]), payload);
  return d.finish(dev.sign(d.toBeSigned));
}

/** CBOR array header (RFC 8949 §3.1, major type 4) followed by the items' bytes. */
export function cborArray(items: Uint8Array[]): Uint8Array {
  const n = items.length;
  const head = n < 24 ? [0x80 + n] : n < 256 ? [0x98, n] : [0x99, n >> 8, n & 255];
  return new Uint8Array(Buffer.concat([Buffer.from(head), ...items]));
}

export function cborSeq(items: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(items));
}

export { encode };

export interface Answer {
  index: number;
  status: 'accepted' | 'duplicate' | 'rejected';
  state?: 'committed' | 'pending';
  reason?: string;
  detail?: string;
  device?: string;
  seq?: number;
}

export async function postReports(url: string, body: Uint8Array, type = 'application/cbor'): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}/v1/reports`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: res.status, json: await res.json() };
}

export async function postOne(url: string, bytes: Uint8Array): Promise<Answer> {
  const r = await postReports(url, bytes, 'application/cose');
  if (r.status !== 200) throw new Error(`POST /v1/reports answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json.results[0];
}

export async function getJson(url: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url);
  return { status: res.status, json: await res.json() };
}

export async function register(url: string, dev: Device, tamper?: (c: Uint8Array) => Uint8Array): Promise<{ status: number; json: any }> {
  const c = (await getJson(`${url}/v1/devices/challenge`)).json.challenge as string;
  const challenge = new Uint8Array(Buffer.from(c, 'hex'));
  const proof = makePairingProof({ challenge: tamper ? tamper(challenge) : challenge, publicKey: dev.publicKey, firmware: 256 }, dev.sign);
  const res = await fetch(`${url}/v1/devices`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ challenge: c, proof: Buffer.from(proof).toString('base64') }),
  });
  return { status: res.status, json: await res.json() };
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'deep-ingest-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Polls `probe` until it returns a value (not undefined/null/false) or the deadline passes.
 * For things that happen on a timer in the node: a fixed sleep is too short on a loaded
 * machine and too long on an idle one.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
