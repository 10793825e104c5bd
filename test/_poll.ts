// Waiting in tests for something that happens on its own time (a device rebooting on an
// emulator clock driven in real time, a WiFi join): poll until it holds, up to a deadline,
// instead of sleeping a fixed time that a loaded machine may not honour.

/**
 * Calls `probe` every `everyMs` until it returns a value other than undefined, and resolves
 * with that value. A probe that throws is retried too (the thing may not exist yet). At the
 * deadline, rejects with `what` and the last value or error seen.
 */
export async function pollUntil<T>(what: string, probe: () => T | undefined, opts: { timeoutMs?: number; everyMs?: number } = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  let last = 'never probed';
  for (;;) {
    try {
      const v = probe();
      if (v !== undefined) return v;
      last = 'not yet';
    } catch (e) {
      last = `threw ${(e as Error).message}`;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last probe: ${last})`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 100));
  }
}
