// `npm run e2e:espruino`: the maker's espruino-linux path, unattended, in Espruino's own
// interpreter (not host-tools/emu). Builds for boards/espruino-linux.json, starts a
// `deep ingest` node and `deep sim --pty`, starts the interpreter named by $ESPRUINO with a
// telnet console, then `deep flash`, `deep pair`, a shorter report interval through the
// console, a few minutes of riding with process.memory() and deep.status() sampled, and
// finally every report read back from the node and verified. Last line:
//   booted=1 reports=N acked=N verified=N peak_vars=N total_vars=N sign_ms=N max_poll_gap_ms=N faults=N errors=N
// Exit 0 when the run meets the targets (booted, >= 5 acknowledged, verified = acked,
// no console errors, >= 40% of the variables free at peak), 1 otherwise.
//
// $ESPRUINO is the interpreter binary, optionally behind a runner ("qemu-i386 /path/espruino"
// on a kernel that cannot run 32-bit programs). Not part of `npm test`: CI has no Espruino.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, symlinkSync, unlinkSync, lstatSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build, ROOT } from '../build/build';
import { spawnIngestNode } from '../ingest/child';
import { openLink, DeviceConsole } from '../testnet/device-link';
import { readLedger } from '../testnet/ledger';

const DEEP = path.join(ROOT, 'host-tools/bin/deep.js');
const BOARD = 'espruino-linux';
/** Where boards/espruino-linux.json expects the VESC UART. */
const VESC_LINK = '/tmp/deep-sim-vesc';
/** Espruino's Linux build always serves telnet here (targets/linux, --telnet). */
const TELNET_PORT = 2323;
const CONSOLE = `tcp://127.0.0.1:${TELNET_PORT}`;
/** What the interpreter prints when something went wrong (jsinteractive/jsutils). */
const CONSOLE_ERROR = /Uncaught |OUT OF MEMORY|New interpreter error|Not implemented|INTERNAL ERROR|ASSERT\(|LOW_MEMORY/;

const HOW_TO = `e2e:espruino needs ESPRUINO=/path/to/espruino (Espruino's Linux build, made like the ESP32:
16,383 fixed variables, memory-mapped Storage, 32-bit). Build it from https://github.com/espruino/Espruino
(make BOARD=LINUX, with a board file like boards/ESP32.py in its variables and saved_code
size); see README.md "Makers without hardware". Skipped: nothing was run.`;

const { values: opt } = parseArgs({
  options: {
    minutes: { type: 'string', default: '4' },
    interval: { type: 'string', default: '20' },
    seed: { type: 'string', default: '5' },
    keep: { type: 'boolean', default: false },
    'sample-s': { type: 'string', default: '2' },
  },
});

const log = (s: string) => process.stderr.write(`e2e: ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(false));
    s.listen(port, '0.0.0.0', () => s.close(() => res(true)));
  });
}

async function waitPort(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); res(true); });
      c.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on port ${port} after ${ms} ms`);
    await sleep(200);
  }
}

/** Runs `deep ARGS`; resolves with its output, rejects with it on a non-zero exit. */
function deep(args: string[], input?: string, timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [DEEP, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('close', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`deep ${args.join(' ')} exited with ${code}:\n${out}`));
    });
    c.stdin.end(input ?? '');
  });
}

/** `deep sim --pty`: resolves with the pseudo-terminal it serves once it prints it. */
function startSim(seed: string): Promise<{ child: ChildProcess; pty: string }> {
  return new Promise((resolve, reject) => {
    // --skip 0 would start in the night; the default skip starts the first ride.
    const child = spawn(process.execPath, [DEEP, 'sim', '--pty', '--seed', seed], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = / on (\/dev\/pts\/\d+)\n/.exec(out);
      if (m) resolve({ child, pty: m[1] });
    });
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (code) => reject(new Error(`deep sim exited with ${code}: ${out}`)));
  });
}

interface Sample { usage: number; total: number; status: DeviceStatus | undefined }
interface DeviceStatus {
  reporter: { reports: number; lastSignMs: number; maxStepMs: number } | string;
  memory: { usage: number; total: number };
  uplink: { sent: number };
  queued: number;
  faults: number;
  busFaults: Record<string, number>;
  bus?: { maxGapMs: number; pollMs: number };
}

async function main(): Promise<number> {
  const espruino = process.env.ESPRUINO;
  if (!espruino) {
    process.stdout.write(HOW_TO + '\n');
    return 0;
  }
  const [espCmd, ...espPre] = espruino.trim().split(/\s+/);
  const minutes = Number(opt.minutes), intervalS = Number(opt.interval);
  if (!(minutes > 0 && minutes <= 60)) throw new Error(`--minutes expected 1..60, got "${opt.minutes}"`);
  if (!(intervalS >= 5 && intervalS <= 3600)) throw new Error(`--interval expected 5..3600 s, got "${opt.interval}"`);
  const sampleMs = Number(opt['sample-s']) * 1000;
  if (!(sampleMs >= 500 && sampleMs <= 60_000)) throw new Error(`--sample-s expected 0.5..60, got "${opt['sample-s']}"`);
  if (!(await portFree(TELNET_PORT))) throw new Error(`port ${TELNET_PORT} is in use: another Espruino (or telnet server) runs; stop it first`);

  const work = mkdtempSync(path.join(tmpdir(), 'deep-e2e-espruino-'));
  const children: ChildProcess[] = [];
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (!opt.keep) rmSync(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => { cleanup(); process.exit(130); });
  let errors = 0;
  const errorLines: string[] = [];
  try {
    log(`building for ${BOARD}`);
    const b = await build({ board: BOARD, bundles: ['firmware', 'ed25519-module'] });
    log(b.bundles.map((x) => `${x.file} ${x.bytes} bytes`).join(', '));

    const node = await spawnIngestNode({ db: path.join(work, 'ledger.sqlite') });
    children.push(node.child);
    log(`ingest node ${node.url}`);
    const sim = await startSim(opt.seed!);
    children.push(sim.child);
    try { if (lstatSync(VESC_LINK)) unlinkSync(VESC_LINK); } catch { /* absent */ }
    symlinkSync(sim.pty, VESC_LINK);
    log(`simulated bike on ${sim.pty} (${VESC_LINK})`);

    // The interpreter's stdin stays an open pipe: at end of file (</dev/null) the Linux
    // build reads NULs from it without end, fills its input queue and stops reading the UART.
    const esp = spawn(espCmd, [...espPre, '--telnet'], { cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
    esp.stdin!.on('error', () => undefined);
    children.push(esp);
    const consoleLog = createWriteStream(path.join(work, 'espruino.log'));
    let tail = '';
    let head = '';
    const bannerText = () => head;
    const scan = (d: Buffer) => {
      consoleLog.write(d);
      if (head.length < 4000) head += d.toString('latin1');
      tail += d.toString('latin1');
      const lines = tail.split(/\r?\n/);
      tail = lines.pop()!;
      for (const l of lines) if (CONSOLE_ERROR.test(l)) { errors++; if (errorLines.length < 10) errorLines.push(l.trim()); }
    };
    esp.stdout!.on('data', scan);
    esp.stderr!.on('data', scan);
    esp.once('exit', (code, sig) => { errors++; errorLines.push(`interpreter exited (${code ?? sig})`); log(`the interpreter exited (${code ?? sig})`); });
    // Up when its banner is printed. Not probed with a connect-and-close: the Linux telnet
    // server, handed a client that leaves at once, later stops listening (seen in 2v29).
    const bannerBy = Date.now() + 20_000;
    while (!/espruino\.com\/Donate/.test(bannerText()) && Date.now() < bannerBy && esp.exitCode === null) await sleep(100);
    if (!/espruino\.com\/Donate/.test(bannerText())) throw new Error(`the interpreter printed no banner within 20 s:\n${bannerText().slice(-500)}`);
    await sleep(500);

    let t0 = Date.now();
    const flashed = await deep(['flash', '--board', BOARD, '--port', CONSOLE, '--skip-build']);
    const booted = /flashed: firmware/.test(flashed) ? 1 : 0;
    log(`flashed in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${flashed.trim().split('\n').pop()}`);

    t0 = Date.now();
    const paired = await deep(['pair', '--port', CONSOLE, '--wifi', 'e2e', '--endpoint', node.url, '--password-stdin'], 'unused-on-linux\n');
    const id = /paired: device id ([0-9a-f]{16})/.exec(paired)?.[1];
    if (!id) throw new Error(`deep pair did not print a device id:\n${paired}`);
    log(`paired as ${id} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // Espruino's telnet server takes one client; the previous one (deep pair) may still be
    // closing, so a refused or dropped first attempt is tried again.
    let link: Awaited<ReturnType<typeof openLink>> | undefined;
    let con: DeviceConsole | undefined;
    for (let attempt = 1; !con; attempt++) {
      try {
        await sleep(1000);
        link = await openLink(CONSOLE);
        const c = new DeviceConsole(link);
        await c.sync();
        await c.eval(`deep.settings({intervalS: ${intervalS}})`, 10_000);
        con = c;
      } catch (e) {
        if (link) await link.close().catch(() => undefined);
        link = undefined;
        if (attempt >= 5) throw e;
      }
    }
    log(`report interval ${intervalS} s; riding ${minutes} min`);

    const samples: Sample[] = [];
    const sample = async (): Promise<Sample | undefined> => {
      try {
        // One process.memory() per sample (it runs a garbage collection, which at an
        // ESP32's speed holds the interpreter): deep.status() carries it.
        const st = await con.eval<DeviceStatus>('deep.status()', 15_000);
        const s = { usage: st.memory.usage, total: st.memory.total, status: st };
        samples.push(s);
        return s;
      } catch (e) {
        log(`sample failed: ${(e as Error).message}`);
        return undefined;
      }
    };
    const end = Date.now() + minutes * 60_000;
    let last: Sample | undefined;
    while (Date.now() < end && esp.exitCode === null) {
      last = (await sample()) ?? last;
      if (last?.status && samples.length % Math.max(1, Math.round(20_000 / sampleMs)) === 0) {
        const st = last.status;
        log(`vars ${last.usage}/${last.total}, reports ${typeof st.reporter === 'string' ? st.reporter : st.reporter.reports}, sent ${st.uplink.sent}, queued ${st.queued}`);
      }
      await sleep(sampleMs);
    }
    // Drain: what was made is delivered (the uplink kicks after each report).
    const drainEnd = Date.now() + 60_000;
    while (Date.now() < drainEnd && esp.exitCode === null) {
      last = (await sample()) ?? last;
      if (last?.status && last.status.queued === 0) break;
      await sleep(2000);
    }
    await link!.close();

    const st = last?.status;
    const reports = st && typeof st.reporter !== 'string' ? st.reporter.reports : 0;
    const ledger = await readLedger(node.url, id);
    for (const p of ledger.problems) log(`ledger: ${p}`);
    const peak = samples.reduce((m, s) => Math.max(m, s.usage), 0);
    const total = samples[0]?.total ?? 0;
    const signMs = samples.reduce((m, s) => Math.max(m, s.status && typeof s.status.reporter !== 'string' ? s.status.reporter.lastSignMs : 0), 0);
    const gap = st?.bus ? st.bus.maxGapMs : -1;
    const faults = st ? st.faults + Object.values(st.busFaults).reduce((a, n) => a + n, 0) : -1;
    for (const l of errorLines) log(`console: ${l}`);
    if (st) log(`bus faults ${JSON.stringify(st.busFaults)}; device faults ${st.faults}; poll period ${st.bus?.pollMs} ms; longest signing step ${typeof st.reporter === 'string' ? '-' : st.reporter.maxStepMs} ms`);
    process.stdout.write(`booted=${booted} reports=${reports} acked=${ledger.accepted} verified=${ledger.reverified} peak_vars=${peak} total_vars=${total} sign_ms=${signMs} max_poll_gap_ms=${gap} faults=${faults} errors=${errors}\n`);
    const ok = booted === 1 && ledger.accepted >= 5 && ledger.reverified === ledger.accepted && errors === 0 && total > 0 && peak <= total * 0.6;
    if (opt.keep) log(`work folder kept: ${work}`);
    return ok ? 0 : 1;
  } finally {
    cleanup();
  }
}

main().then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`e2e:espruino: ${(e as Error).message}\n`);
  process.exitCode = 3;
});

