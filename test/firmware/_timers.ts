// Shared by the firmware tests that drive logic on virtual time (reporter, uplink). Not a
// test file itself (no .test.ts suffix).
import type { Timers } from '../../firmware/hal/io';

export type VirtualTimers = Timers & {
  /** Runs, in time order, every timer that falls due within the next `ms`. */
  advance(ms: number): void;
  /** Time passes inside a callback (a slow computation). */
  burn(ms: number): void;
  /** Delays, from now, of the timers still waiting. */
  pending(): number[];
};

/** Virtual time: timers fire only when the test advances the clock. */
export function virtualTimers(): VirtualTimers {
  let now = 0, id = 0;
  const due: { id: number; at: number; fn: () => void }[] = [];
  const t: VirtualTimers = {
    now: () => now,
    // a negative delay fires on the next turn, as setTimeout does, never in the past
    setTimeout(fn, ms) { due.push({ id: ++id, at: now + Math.max(0, ms), fn }); return id; },
    clearTimeout(i) { const k = due.findIndex((d) => d.id === i); if (k >= 0) due.splice(k, 1); },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        due.sort((a, b) => a.at - b.at || a.id - b.id);
        if (!due.length || due[0].at > end) break;
        const d = due.shift()!;
        // burn() inside a callback may have moved now past later timers: time never goes back
        if (d.at > now) now = d.at;
        d.fn();
      }
      if (end > now) now = end;
    },
    burn(ms) { now += ms; },
    pending: () => due.map((d) => d.at - now),
  };
  return t;
}
