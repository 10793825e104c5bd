// npm run bench:bus: how fast the bus codecs run. On Node: the UART stream decoder on clean
// and on noisy input (the fuzz mix of test/protocol/vesc/fuzz.test.ts), GET_VALUES and
// BMS_GET_VALUES decoding, CAN BMS frames and the CAN buffer reassembly. Then the same
// decoder loop bundled as ES5 and run by the Espruino Linux build when it is present
// (/work/espruino-build/src/bin/espruino or $ESPRUINO), as a feel for the device's load.
// Ends with one key=value line.
import { performance } from 'node:perf_hooks';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeFrame, FrameDecoder } from '../../protocol/vesc/packet';
import * as C from '../../protocol/vesc/commands';
import { ENERGY_MASK } from '../../firmware/drivers/vesc-uart';
import { decodeCanFrame, encodeBmsBroadcast } from '../../protocol/can/messages';
import { encodeCanBuffer, CanBufferRx } from '../../protocol/can/buffer';
import { Prng } from '../sim/prng';

function rate(n: number, ms: number): number {
  return (n * 1000) / ms;
}

// 1. clean stream of energy-poll replies, 64-byte chunks
const reply = C.encodeValues({ vInMv: 48200, inputCurrentMa: 5230, wattHoursUwh: 123456700, tempFetDeciC: 301 }, ENERGY_MASK);
const frame = encodeFrame(reply);
const N = 100_000;
const clean = new Uint8Array(frame.length * N);
for (let i = 0; i < N; i++) clean.set(frame, i * frame.length);
let frames = 0;
let t = performance.now();
const dec = new FrameDecoder();
for (let at = 0; at < clean.length; at += 64) dec.feed(clean, () => frames++, at, Math.min(clean.length, at + 64));
const cleanMs = performance.now() - t;
console.log(`UART decoder, clean: ${frames} frames of ${frame.length} bytes in ${cleanMs.toFixed(0)} ms = ${(rate(clean.length, cleanMs) / 1e6).toFixed(1)} MB/s, ${rate(frames, cleanMs).toFixed(0)} frames/s`);

// 2. noisy stream: half noise and corrupted frames
const rng = new Prng(0x5eed);
const rnd = () => rng.u32();
const parts: Uint8Array[] = [];
let sent = 0;
let total = 0;
while (total < 2_000_000) {
  const k = rnd() % 8;
  let part: Uint8Array;
  if (k <= 2) { part = frame; sent++; }
  else if (k <= 4) { part = new Uint8Array(1 + (rnd() % 400)).map(() => (rnd() % 16 === 0 ? 2 : rnd() & 0xff)); }
  else { part = frame.slice(); part[2 + (rnd() % reply.length)] ^= 1 + (rnd() % 255); }
  parts.push(part);
  total += part.length;
}
const noisy = Buffer.concat(parts);
let got = 0;
t = performance.now();
const dec2 = new FrameDecoder();
for (let at = 0; at < noisy.length; at += 64) dec2.feed(noisy, () => got++, at, Math.min(noisy.length, at + 64));
dec2.flush(() => got++);
const noisyMs = performance.now() - t;
console.log(`UART decoder, noisy: ${noisy.length} bytes, ${sent} valid frames, ${got} recovered in ${noisyMs.toFixed(0)} ms = ${(rate(noisy.length, noisyMs) / 1e6).toFixed(1)} MB/s`);

// 3. command decoders
const bms = C.encodeBmsValues({
  variant: 'bms', vTotUv: 50123456, vChargeUv: 0, iInUa: 1234567, iInIcUa: 0, ahCntMah: 1, whCntMwh: 2, cellsMv: Array(13).fill(3850),
  balancing: Array(13).fill(0), tempsCentiC: [2500, 2500, 2500, 2500], tempIcCentiC: 0, tempHumCentiC: 0, humCentiPct: 0, tempMaxCellCentiC: 0,
  socPermille: 800, sohPermille: 990, canId: 10, ahChgTotalMah: 1000, whChgTotalMwh: 50000, ahDisTotalMah: 900, whDisTotalMwh: 45000, pressurePa: 0,
});
const M = 200_000;
t = performance.now();
for (let i = 0; i < M; i++) if (!C.decodeValues(reply).ok) throw new Error('decode');
const valuesMs = performance.now() - t;
t = performance.now();
for (let i = 0; i < M / 4; i++) if (!C.decodeBmsValues(bms).ok) throw new Error('decode');
const bmsMs = performance.now() - t;
console.log(`decodeValues (energy mask): ${rate(M, valuesMs).toFixed(0)} /s; decodeBmsValues (13S, 105 B): ${rate(M / 4, bmsMs).toFixed(0)} /s`);

// 4. CAN
const cycle = encodeBmsBroadcast(10, {
  vTotMv: 50100, vChargeMv: 0, iInMa: 2500, iInIcMa: 2490, ahCntMah: 1000, whCntMwh: 50000, cellsMv: Array(13).fill(3800), balancing: Array(13).fill(0),
  tempsCentiC: [2000, 2100, 2200, 2300], tempHumCentiC: 0, humCentiPct: 0, tempIcCentiC: 0, vCellMinMv: 3800, vCellMaxMv: 3800, socByte: 200, sohByte: 255,
  tempCellMaxC: 23, charging: false, balancingActive: false, chargeAllowed: true, chargeOk: true, dataVersion: 0, ahChgTotalMah: 1, whChgTotalMwh: 2, ahDisTotalMah: 3, whDisTotalMwh: 4,
});
t = performance.now();
let canFrames = 0;
for (let i = 0; i < 20_000; i++) for (const f of cycle) { if (!decodeCanFrame(f.id, f.data).ok) throw new Error('can'); canFrames++; }
const canMs = performance.now() - t;
const buf = encodeCanBuffer(2, 10, bms, 1);
const rx = new CanBufferRx();
t = performance.now();
let done = 0;
for (let i = 0; i < 20_000; i++) for (const f of buf) { const r = rx.accept(f.id >> 8, f.data); if (r && r.ok) done++; }
const bufMs = performance.now() - t;
console.log(`CAN: ${rate(canFrames, canMs).toFixed(0)} BMS frames/s decoded (a cycle is ${cycle.length} frames); ${rate(done, bufMs).toFixed(0)} reassembled 105-byte buffers/s (${buf.length} frames each)`);

// 5. Espruino, if its Linux build is here: the decoder loop on 500 energy replies
let espFramesPerS = 0;
const esp = process.env.ESPRUINO ?? '/work/espruino-build/src/bin/espruino';
if (existsSync(esp)) {
  const { rollup } = await import('rollup');
  const typescript = (await import('@rollup/plugin-typescript')).default;
  const dir = mkdtempSync(path.join(tmpdir(), 'deep-bench-bus-'));
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
  const entry = path.join(root, 'protocol/vesc/packet.ts');
  const frameHex = Buffer.from(frame).toString('hex');
  const bundle = await rollup({
    input: entry,
    plugins: [typescript({ tsconfig: false, include: ['protocol/**/*.ts'], compilerOptions: { target: 'ES5', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES5', 'ES2015.Promise'], types: [], strict: true, noEmit: false, declaration: false, sourceMap: false, removeComments: true } })],
    onwarn: () => {},
  });
  const { output } = await bundle.generate({ format: 'iife', name: 'P', generatedCode: 'es5', strict: false });
  const js = output[0].code + `
var h = '${frameHex}', f = new Uint8Array(h.length / 2);
for (var i = 0; i < f.length; i++) f[i] = parseInt(h.substr(i * 2, 2), 16);
var n = 500, s = new Uint8Array(f.length * n);
for (var k = 0; k < n; k++) s.set(f, k * f.length);
var d = new P.FrameDecoder(), got = 0, t0 = Date.now();
for (var at = 0; at < s.length; at += 64) d.feed(s, function () { got++; }, at, Math.min(s.length, at + 64));
var ms = Date.now() - t0;
console.log('ESPRUINO ' + got + ' ' + ms);
`;
  const file = path.join(dir, 'bus.js');
  writeFileSync(file, js);
  const r = spawnSync(esp, [file], { encoding: 'utf8', input: '', timeout: 120_000 });
  rmSync(dir, { recursive: true, force: true });
  const m = /ESPRUINO (\d+) (\d+)/.exec(r.stdout);
  if (m) {
    espFramesPerS = rate(Number(m[1]), Math.max(1, Number(m[2])));
    console.log(`Espruino (Linux build, this PC): ${m[1]} energy replies decoded in ${m[2]} ms = ${espFramesPerS.toFixed(0)} frames/s; the 10 Hz poll uses ${(1000 * 10 / espFramesPerS).toFixed(1)} ms of CPU per second`);
  } else console.log(`Espruino run gave no figure: ${r.stdout.slice(0, 200)} ${r.stderr.slice(0, 200)}`);
} else console.log('Espruino Linux build not found: device figure skipped');

console.log(
  `uart_clean_mb_s=${(rate(clean.length, cleanMs) / 1e6).toFixed(1)} uart_noisy_mb_s=${(rate(noisy.length, noisyMs) / 1e6).toFixed(1)} noisy_frames_sent=${sent} noisy_frames_recovered=${got} ` +
    `values_decode_per_s=${rate(M, valuesMs).toFixed(0)} bms_decode_per_s=${rate(M / 4, bmsMs).toFixed(0)} can_frames_per_s=${rate(canFrames, canMs).toFixed(0)} can_buffers_per_s=${rate(done, bufMs).toFixed(0)} espruino_frames_per_s=${espFramesPerS.toFixed(0)}`,
);
