// setTimeout/setInterval/clearTimeout/clearInterval on the virtual clock. The timers belong
// to the power-on (`owner`): a power cut clears them all. clearTimeout() and
// clearInterval() without an id clear every timer, as in Espruino.
import type { VirtualClock } from '../clock';

export function makeTimers(clock: VirtualClock, owner: object, alive: () => void) {
  return {
    setTimeout(fn: unknown, ms?: number, ...args: unknown[]): number {
      alive();
      if (typeof fn !== 'function') throw new TypeError('setTimeout: function expected');
      return clock.setTimeout(() => (fn as (...a: unknown[]) => void)(...args), ms ?? 0, owner);
    },
    setInterval(fn: unknown, ms?: number, ...args: unknown[]): number {
      alive();
      if (typeof fn !== 'function') throw new TypeError('setInterval: function expected');
      return clock.setInterval(() => (fn as (...a: unknown[]) => void)(...args), ms ?? 0, owner);
    },
    clearTimeout(id?: number): void { if (id !== undefined) clock.clear(id); else clock.clearOwner(owner); },
    clearInterval(id?: number): void { if (id !== undefined) clock.clear(id); else clock.clearOwner(owner); },
  };
}
