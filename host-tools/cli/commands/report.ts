// `deep report`: N chained, signed reports of a simulated dual-pack ride, written as a CBOR
// sequence (RFC 8742), for ledger integrators to test with. Every byte comes from the
// device code path: the exact meter (firmware/energy/meter), the report encoder and COSE
// signer (protocol/), and the device's Ed25519 signer (firmware/keys/ed25519).
import { writeFileSync } from 'node:fs';
import { httpUrlOption, intOption, parseArgs, UsageError } from '../args';
import { EXIT, type Command } from '../command';
import { fromHex, toHex } from '../../../protocol/bytes';
import { kidFromPublicKey } from '../../../protocol/kid';
import {
  CLOCK_SYNCED, CLOCK_UNSYNCED, firmwareVersion, prevOf, signReport, zeroPrev, REPORT_VERSION, type EnergyReport,
} from '../../../protocol/report';
import { sha256 } from '../../../protocol/sha256';
import { ed25519PublicKey, ed25519Sign } from '../../../firmware/keys/ed25519';
import { createMeter } from '../../../firmware/energy/meter';
import { makePairingProof } from '../../../protocol/pairing';
import { httpPairingNode } from '../../pairing/pair';
import { Prng } from '../../sim/prng';
import { readTokenFile } from '../token-file';

/** 2026-11-19T00:00:00Z: the simulated clock once SNTP has synced. */
export const RIDE_EPOCH_S = 1_795_046_400;
export const RIDE_WINDOW_S = 60;
/** Windows sent before the first SNTP sync (clock 0, uptime times). */
export const RIDE_UNSYNCED_WINDOWS = 2;
export const RIDE_PACKS = [10, 11];

/** Firmware version stamped in simulated reports and the test key's pairing proof. */
const RIDE_FIRMWARE = firmwareVersion(0, 1, 0);

/** Deterministic ride figures per key seed: the simulator's Prng, seeded from SHA-256(seed). */
function rideRng(seed: Uint8Array): Prng {
  const h = sha256(seed);
  return new Prng(((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0);
}

type Phase = 'ride' | 'park' | 'charge' | 'export';
/** A 20-window day in miniature: ride, park, charge at a hub, export to the grid. */
export function phaseOf(window: number): Phase {
  const w = window % 20;
  if (w < 10) return 'ride';
  if (w < 12) return 'park';
  if (w < 18) return 'charge';
  return 'export';
}

/** The report payloads of a simulated ride (unsigned: kid/seq/prev are filled when signing). */
export function simulateRide(seed: Uint8Array, count: number): Array<Omit<EnergyReport, 'kid' | 'seq' | 'prev'>> {
  const rng = rideRng(seed);
  const rnd = (): number => rng.next();
  const meter = createMeter({ packs: RIDE_PACKS.map((canId) => ({ canId })) });
  const bootMs = 5000;
  meter.sample({ tMs: bootMs, packs: RIDE_PACKS.map(() => ({ mv: 50400, ma: 0 })), chargerConnected: false, exportMode: false });
  const out: Array<Omit<EnergyReport, 'kid' | 'seq' | 'prev'>> = [];
  for (let w = 0; w < count; w++) {
    const phase = phaseOf(w);
    let vescFaults = 0;
    for (let s = 1; s <= RIDE_WINDOW_S; s++) {
      const tMs = bootMs + (w * RIDE_WINDOW_S + s) * 1000;
      const packs = RIDE_PACKS.map((_, i) => {
        let ma = 0;
        if (phase === 'ride') ma = rnd() < 0.15 ? -Math.floor(2000 + rnd() * 6000) : Math.floor(4000 + rnd() * 16000 + i * 700);
        else if (phase === 'charge') ma = -Math.floor(3800 + rnd() * 400);
        else if (phase === 'export') ma = Math.floor(4500 + rnd() * 1000);
        return { mv: 48000 + Math.floor(rnd() * 2400) - (ma > 0 ? 600 : 0), ma };
      });
      meter.sample({ tMs, packs, chargerConnected: phase === 'charge', exportMode: phase === 'export' });
      if (rnd() < 0.002) vescFaults++;
    }
    const win = meter.cut();
    const synced = w >= RIDE_UNSYNCED_WINDOWS;
    const uptimeStartS = Math.floor(win.startMs / 1000);
    const r: Omit<EnergyReport, 'kid' | 'seq' | 'prev'> = {
      version: REPORT_VERSION,
      clock: synced ? CLOCK_SYNCED : CLOCK_UNSYNCED,
      startS: synced ? RIDE_EPOCH_S + uptimeStartS : uptimeStartS,
      durationS: Math.floor((win.endMs - win.startMs) / 1000),
      packs: win.packs.map((p) => ({
        canId: p.canId,
        gridToPackMwh: p.gridToPackMwh,
        packToGridMwh: p.packToGridMwh,
        packToMotorMwh: p.packToMotorMwh,
        regenToPackMwh: p.regenToPackMwh,
        chargeMah: p.chargeMah,
        lifetime: { ...p.lifetime },
      })),
      faults: { vesc: vescFaults, bms: 0, device: 0 },
      firmware: RIDE_FIRMWARE,
    };
    if (win.lostMs >= 1000) r.gap = { mergedWindows: 0, lostS: Math.floor(win.lostMs / 1000) };
    out.push(r);
  }
  return out;
}

export interface SignedRide {
  publicKey: Uint8Array;
  kid: Uint8Array;
  /** Complete COSE_Sign1 bytes, seq 0..count-1, each chained to the previous. */
  reports: Uint8Array[];
}

/**
 * Signs the simulated ride with the device signer, chaining seq and prev. Ed25519 is
 * deterministic (RFC 8032 §5.1.6): any correct signer for the same seed gives the same bytes,
 * so a host tool that needs many reports fast (bench:ingest) may pass node:crypto's signer
 * and `hash` and still get exactly what the device sends (test/host-tools/cli/report.test.ts).
 */
export function makeSignedRide(
  seed32: Uint8Array,
  count: number,
  fast?: { sign: (tbs: Uint8Array) => Uint8Array; hash: (b: Uint8Array) => Uint8Array },
): SignedRide {
  const publicKey = ed25519PublicKey(seed32);
  const kid = kidFromPublicKey(publicKey);
  const sign = fast?.sign ?? ((tbs: Uint8Array) => ed25519Sign(tbs, seed32, publicKey));
  const hash = fast?.hash ?? prevOf;
  const reports: Uint8Array[] = [];
  let prev = zeroPrev();
  const bodies = simulateRide(seed32, count);
  for (let seq = 0; seq < count; seq++) {
    const cose = signReport({ ...bodies[seq], kid, seq, prev }, sign);
    reports.push(cose);
    prev = hash(cose);
  }
  return { publicKey, kid, reports };
}

/**
 * Registers a test key with an ingest node the way a device pairs: the node's one-time
 * challenge, signed with the key in a pairing proof (protocol/pairing.ts), posted back.
 * Ledger integrators need it to feed `deep report` files to their node without a bike.
 */
export async function registerTestKey(endpoint: string, seed32: Uint8Array, publicKey: Uint8Array, enrollToken?: string): Promise<string> {
  const node = httpPairingNode(endpoint, enrollToken);
  const challenge = await node.challenge();
  const proof = makePairingProof(
    { challenge: fromHex(challenge, 'challenge from ' + endpoint), publicKey, firmware: RIDE_FIRMWARE },
    (tbs) => ed25519Sign(tbs, seed32, publicKey),
  );
  return node.register(challenge, Buffer.from(proof).toString('base64'));
}

const command: Command = {
  name: 'report',
  summary: 'write N chained, signed reports of a simulated ride (CBOR sequence, RFC 8742)',
  usage: 'deep report --seed HEX32 --count N --out FILE [--register URL [--enroll-token-file FILE]]',
  options: {
    seed: { type: 'string', description: 'device key seed, 64 hex digits (test keys only: it is the secret key)' },
    count: { type: 'string', description: 'number of reports', default: '20' },
    out: { type: 'string', description: 'output file (CBOR sequence of COSE_Sign1)' },
    register: {
      type: 'string',
      description: 'also register this test key with the ingest node at URL (challenge + pairing proof, as `deep pair` does for a device)',
    },
    'enroll-token-file': { type: 'string', description: 'with --register: file holding the enrollment token of a node started with --enroll-token-file' },
  },
  async run(argv) {
    const p = parseArgs(argv, this.options);
    if (p.positionals.length) throw new UsageError(`unexpected argument ${p.positionals[0]}`);
    const seedHex = p.options.seed;
    if (typeof seedHex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(seedHex)) throw new UsageError('--seed expected 64 hex digits (32 bytes)');
    const count = intOption(p, 'count', 1, 1_000_000)!;
    const out = p.options.out;
    if (typeof out !== 'string' || !out) throw new UsageError('--out FILE is required');
    // Checked before the reports are made and written, like every other option.
    const endpoint = httpUrlOption(p, 'register');
    const tokenFile = p.options['enroll-token-file'] as string | undefined;
    if (tokenFile !== undefined && endpoint === undefined) throw new UsageError('--enroll-token-file goes with --register URL');
    const enrollToken = tokenFile === undefined ? undefined : readTokenFile('enroll-token-file', tokenFile);
    const ride = makeSignedRide(fromHex(seedHex), count);
    const total = ride.reports.reduce((n, r) => n + r.length, 0);
    const all = new Uint8Array(total);
    let o = 0;
    for (const r of ride.reports) {
      all.set(r, o);
      o += r.length;
    }
    writeFileSync(out, all);
    const sizes = ride.reports.map((r) => r.length);
    process.stdout.write(
      `wrote ${count} reports (${total} bytes, ${Math.min(...sizes)}..${Math.max(...sizes)} bytes each) to ${out}\n` +
        `public key ${toHex(ride.publicKey)}\nkid ${toHex(ride.kid)}\n`,
    );
    if (endpoint !== undefined) {
      const seed32 = fromHex(seedHex);
      const id = await registerTestKey(endpoint, seed32, ride.publicKey, enrollToken);
      process.stdout.write(`registered with ${endpoint} as device ${id}\n`);
    }
    return EXIT.OK;
  },
};
export default command;
