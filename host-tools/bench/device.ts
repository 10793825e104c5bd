// `npm run bench:device`: what the device costs, measured on the bundle itself.
//   1. bundle size: dist/firmware.js as built (Espruino-minified), the bytes Storage holds.
//   2. time to sign one report: dist/bench-sign.js (firmware/keys/bench-sign.ts, the
//      device's Ed25519 with the JS SHA-512, signing a 150-byte ToBeSigned, the size of a
//      report's) run under Debian's Duktape (`duk`, an interpreter like Espruino) and under
//      Node; the median of its ten signatures.
//   3. flash writes per hour of riding: the bundle in the emulator (host-tools/emu) on the
//      simulated bike riding for an hour with reports every 60 s and the ingest node
//      answering; Storage.write/erase calls counted by the flash model after a warm-up.
// Ends with one line: bundle_bytes=... sign_ms_duk=... sign_ms_node=... flash_writes_per_h=...
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, build } from '../build/build';
import { VirtualClock } from '../emu/clock';
import { EmuNetwork } from '../emu/network';
import { createEmulatedBike } from '../emu/bike';
import { createSimBike } from '../sim/index';

function signMedian(cmd: string, args: string[]): number | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000 });
  if (r.error || r.status !== 0) {
    process.stdout.write(`  ${cmd}: ${r.error ? r.error.message : `exit ${r.status}: ${r.stderr.slice(0, 200)}`}\n`);
    return undefined;
  }
  const m = /sign_ms_median=(\d+(?:\.\d+)?)/.exec(r.stdout);
  const times = /sign_ms_times=([\d.,]+)/.exec(r.stdout);
  if (times) process.stdout.write(`  ${path.basename(cmd)}: sign ms ${times[1]}\n`);
  return m ? Number(m[1]) : undefined;
}

async function flashWritesPerHour(bundle: string): Promise<{ perHour: number; bytesPerHour: number; reports: number }> {
  const clock = new VirtualClock();
  const network = new EmuNetwork({
    clock,
    // An ingest node that accepts everything: the queue then works as on a paired bike
    // (append, commit, ack per report).
    handler: (req) => {
      const body = req.body;
      // CBOR array header (major type 4): count the items for the per-report answers.
      const n = body[0] < 0x98 ? body[0] - 0x80 : body[1];
      const results = Array.from({ length: n }, (_, i) => ({ index: i, status: 'accepted' }));
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ accepted: n, duplicate: 0, rejected: 0, results }) };
    },
  });
  const ride = [{ kind: 'ride' as const, durationS: 4000, speedKmh: 22, slopePct: 1, assist: 0.7 }];
  const sim = createSimBike({ seed: 99, ride, stepMs: 1000, bmsRateHz: 1, bmsBroadcast: 'energy' });
  const bike = createEmulatedBike({ clock, network, sim, seed: 99, bundle, settings: { ssid: 'deep-hub', password: 'watt-hours', endpoint: 'http://127.0.0.1:9', pollMs: 1000, intervalS: 60 } });
  bike.powerOn();
  await clock.advance(300_000); // warm-up: key creation, settings, first segment files
  const s0 = { ...bike.flash.stats };
  const r0 = bike.eval<{ reporter: { nextSeq: number } }>('deep.status()').reporter.nextSeq;
  await clock.advance(3_600_000);
  const s1 = bike.flash.stats;
  const r1 = bike.eval<{ reporter: { nextSeq: number } }>('deep.status()').reporter.nextSeq;
  return { perHour: s1.writeCalls + s1.eraseCalls - s0.writeCalls - s0.eraseCalls, bytesPerHour: s1.bytesProgrammed - s0.bytesProgrammed, reports: r1 - r0 };
}

async function main(): Promise<void> {
  if (!process.argv.includes('--no-build')) await build();
  const fw = path.join(ROOT, 'dist/firmware.js');
  const signBundle = path.join(ROOT, 'dist/bench-sign.js');
  if (!existsSync(fw) || !existsSync(signBundle)) throw new Error('dist/firmware.js or dist/bench-sign.js missing: the build did not make them');
  const bundleBytes = statSync(fw).size;
  process.stdout.write(`bundle: dist/firmware.js ${bundleBytes} bytes (minified ES5, as stored on the device)\n`);

  process.stdout.write('signing one report (Ed25519, JS SHA-512, 150-byte ToBeSigned), median of 10:\n');
  const duk = signMedian('duk', [signBundle]);
  const nodeMs = signMedian(process.execPath, [signBundle]);

  process.stdout.write('flash: one hour of riding in the emulator (reports every 60 s, ingest accepting)...\n');
  const f = await flashWritesPerHour(readFileSync(fw, 'latin1'));
  process.stdout.write(`  ${f.perHour} Storage write/erase calls, ${f.bytesPerHour} bytes programmed, ${f.reports} reports in the hour\n`);

  process.stdout.write(`bundle_bytes=${bundleBytes} sign_ms_duk=${duk ?? 'n/a'} sign_ms_node=${nodeMs ?? 'n/a'} flash_writes_per_h=${f.perHour}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:device: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
