import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeFrame, FrameDecoder } from '../../../protocol/vesc/packet';
import { encodeFwVersionRequest, decodeFwVersion } from '../../../protocol/vesc/commands';

// dynamic import: one module graph with main.ts's lazily loaded commands (so UsageError is one class)
async function main(argv: string[]): Promise<number> {
  const m = await import('../../../host-tools/cli/main');
  return m.main(argv);
}

async function capture(fn: () => Promise<number>, onOut?: (text: string) => void): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => {
    out += String(s);
    onOut?.(out);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => ((err += String(s)), true)) as typeof process.stderr.write;
  try {
    return { code: await fn(), out, err };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

test('deep sim --tcp 0: prints where to connect, answers a client, a line per simulated minute, ends at --duration', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'deep-sim-'));
  const ride = path.join(dir, 'ride.json');
  writeFileSync(ride, JSON.stringify([{ kind: 'ride', durationS: 600, speedKmh: 20 }]));
  let replied: Promise<boolean> | undefined;
  const r = await capture(
    () => main(['sim', '--tcp', '0', '--ride', ride, '--speedup', '150', '--duration', '180', '--seed', '3']),
    (out) => {
      const m = /tcp:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (!m || replied) return;
      replied = new Promise((resolve) => {
        const s = net.connect(Number(m[1]), '127.0.0.1');
        const dec = new FrameDecoder();
        s.on('data', (d) => dec.feed(new Uint8Array(d), (p) => { resolve(decodeFwVersion(p.slice()).ok); s.destroy(); }));
        s.on('connect', () => s.write(encodeFrame(encodeFwVersionRequest())));
        s.on('error', () => resolve(false));
      });
    },
  );
  rmSync(dir, { recursive: true });
  assert.is(r.code, 0, r.err);
  assert.ok(replied && (await replied), 'a TCP client got its FW_VERSION');
  assert.match(r.out, /VESC UART \(115200 baud, VESC packets\) on tcp:\/\/127\.0\.0\.1:\d+/);
  assert.match(r.out, /^00:01:00 ride/m);
  assert.match(r.out, /^00:02:00 ride/m);
  assert.match(r.out, /^00:03:00 ride/m);
  assert.not.match(r.out, /^00:0\d:0[1-9]/m, 'lines fall exactly on the minute');
  assert.match(r.out, /bms10 \d+\.\d% [\d.]+V/);
});

test('deep sim: command-line errors exit 2 with a reason, an unreadable ride file 3', async () => {
  let r = await capture(() => main(['sim']));
  assert.is(r.code, 2);
  assert.match(r.err, /exactly one of --tcp PORT or --pty/);
  r = await capture(() => main(['sim', '--tcp', '0', '--pty']));
  assert.is(r.code, 2);
  r = await capture(() => main(['sim', '--tcp', '0', '--ride', '/nonexistent/ride.json']));
  assert.is(r.code, 3, 'a file that cannot be read is an IO error');
  assert.match(r.err, /--ride \/nonexistent\/ride\.json/);
  r = await capture(() => main(['sim', '--tcp', '70000']));
  assert.is(r.code, 2);
  assert.match(r.err, /--tcp expected an integer/);
});

test.run();
