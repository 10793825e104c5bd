// Shared by the flash and pair tests: one emulated board on a virtual clock driven in real
// time, its console reachable over TCP (like a board on the network) and, through a
// pseudo-terminal (the simulator's python relay), as a serial port path (like USB serial).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VirtualClock } from '../../../host-tools/emu/clock';
import { EmuNetwork } from '../../../host-tools/emu/network';
import { createEmulatedBike, type EmulatedBike } from '../../../host-tools/emu/bike';
import { serveConsole, runRealtime } from '../../../host-tools/emu/serve';
import { createSimBike } from '../../../host-tools/sim/index';
import { openPtyRelay } from '../../../host-tools/sim/transport';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEEP = path.join(ROOT, 'host-tools/bin/deep.js');
export const BUNDLE = path.join(ROOT, 'dist/firmware.js');

export interface Board {
  bike: EmulatedBike;
  clock: VirtualClock;
  network: EmuNetwork;
  tcp: string;
  close(): Promise<void>;
}

/**
 * A board running Espruino; with `bundle` undefined it holds no application yet (what a
 * maker has after flashing the Espruino firmware), otherwise that code in .bootcde.
 */
export async function board(opts: { bundle?: string; seed?: number; accessPoints?: { ssid: string; password: string }[] } = {}): Promise<Board> {
  const clock = new VirtualClock();
  const network = new EmuNetwork({ clock, accessPoints: opts.accessPoints });
  const seed = opts.seed ?? 7;
  const sim = createSimBike({ seed, ride: [{ kind: 'park', durationS: 86400 }], bmsRateHz: 1 });
  // A one-space .bootcde is a board with Espruino and nothing of ours on it.
  // Bare (no bundle): no Storage modules either; `deep flash` must upload "ed25519" itself.
  const bike = createEmulatedBike({ clock, network, sim, seed, name: 'board', bundle: opts.bundle ?? ' ', modules: opts.bundle === undefined ? {} : undefined });
  bike.powerOn();
  const served = await serveConsole(bike.device, 0);
  const stop = runRealtime(clock, 4);
  return {
    bike, clock, network, tcp: `tcp://127.0.0.1:${served.port}`,
    async close() {
      stop();
      await served.close();
      bike.detach();
    },
  };
}

export function firmware(): string {
  return readFileSync(BUNDLE, 'latin1');
}

/**
 * Runs the deep CLI as a child process; resolves with its exit code and output. Not the
 * in-process runner of _run.ts: the Espruino CLI library behind `deep flash` installs
 * globals and its own console, and `deep pair` reads a real stdin, so each run gets a
 * process of its own.
 */
export function deep(args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DEEP, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 45000);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
    child.stdin.end(opts.stdin ?? '');
  });
}

/** The board's console on a pseudo-terminal (host-tools/sim/transport's relay). */
export async function ptyFor(b: Board): Promise<{ path: string; close(): Promise<void> }> {
  const relay = await openPtyRelay();
  const con = b.bike.device.console;
  relay.onData((d) => con.input(Buffer.from(d).toString('latin1')));
  const off = con.onOutput((t) => relay.write(Buffer.from(t, 'latin1')));
  return {
    path: relay.path,
    close: () => {
      off();
      return relay.close();
    },
  };
}
