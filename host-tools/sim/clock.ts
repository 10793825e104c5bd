// The simulator's virtual clock: a queue of timed events run in time order by advance().
// Time is integer microseconds, so byte and CAN-frame times add up without float drift.
// Nothing here reads the wall clock; the real-time mode (cli) calls advance() itself.

export interface EventHandle {
  cancel(): void;
}

/** An event is its own handle: a class, so scheduling allocates no closure. */
class Event implements EventHandle {
  cancelled = false;
  constructor(
    readonly tUs: number,
    readonly seq: number,
    readonly fn: () => void,
    /** true when the event cannot change anything the device sees (see nextVisibleUs). */
    readonly quiet?: () => boolean,
  ) {}

  cancel(): void {
    this.cancelled = true;
  }
}

export class VirtualClock {
  private heap: Event[] = [];
  private seq = 0;
  /** Now, µs since the bike was created. */
  nowUs = 0;

  /**
   * Runs `fn` at absolute time `tUs` (not before now); same-time events run in order of
   * scheduling. `quiet` says (when asked) that the event changes nothing a device can see
   * at that moment, so a driver loop need not stop there.
   */
  at(tUs: number, fn: () => void, quiet?: () => boolean): EventHandle {
    const ev = new Event(Math.max(Math.round(tUs), this.nowUs), this.seq++, fn, quiet);
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
    return ev;
  }

  after(delayUs: number, fn: () => void, quiet?: () => boolean): EventHandle {
    return this.at(this.nowUs + delayUs, fn, quiet);
  }

  /** Time of the next event that is not quiet, µs (a linear scan: the queue holds a few dozen). */
  nextVisibleUs(): number | undefined {
    let best: number | undefined;
    for (const ev of this.heap) {
      if (ev.cancelled || (best !== undefined && ev.tUs >= best)) continue;
      if (ev.quiet && ev.quiet()) continue;
      best = ev.tUs;
    }
    return best;
  }

  /** Time of the next pending event, µs, or undefined. */
  nextUs(): number | undefined {
    while (this.heap.length && this.heap[0].cancelled) this.pop();
    return this.heap.length ? this.heap[0].tUs : undefined;
  }

  /** Runs every event due up to `untilUs` inclusive, then sets the clock to `untilUs`. */
  runUntil(untilUs: number): void {
    for (;;) {
      const t = this.nextUs();
      if (t === undefined || t > untilUs) break;
      const ev = this.pop();
      this.nowUs = ev.tUs;
      ev.fn();
    }
    if (untilUs > this.nowUs) this.nowUs = untilUs;
  }

  private pop(): Event {
    const h = this.heap;
    const top = h[0];
    const last = h.pop() as Event;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.tUs < b.tUs || (a.tUs === b.tUs && a.seq < b.seq);
}
