// The emulator's virtual clock. Nothing in an emulated device reads the host's time: its
// timers, getTime(), Date and the simulated bike all follow this clock, which a test moves
// forward with `advance(ms)`. A simulated day therefore runs as fast as the firmware's own
// work allows, and two runs with the same seed see the same times.
//
// Time comes in two kinds, as on the ESP32:
// - `now` (ms since the emulator started) is monotonic; timers are scheduled on it.
// - the "true" wall clock, `trueWallMs()`, is what an SNTP server would answer. Each
//   device keeps its own wall offset (1970 at boot until something sets it), see globals.ts.
//
// Real asynchronous work (HTTP to a local ingest node) takes no virtual time: before each
// timer fires, `advance` waits for the settle hooks (pending requests) and drains the
// microtask queue, so the firmware sees the reply as if it came back instantly. This keeps
// runs reproducible regardless of host load.

export type TimerOwner = object;

/** Smallest step when a follower reports an event due now (1 µs). */
const MIN_STEP_MS = 0.001;

interface Timer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
  intervalMs: number;
  owner: TimerOwner | undefined;
}

/** Something that must be moved along with virtual time (the simulated bike). */
export interface TimeFollower {
  /** Moves the follower's own time forward by `ms` (> 0). */
  advance(ms: number): void;
  /**
   * Virtual ms until the follower's next own event (a byte arriving, a CAN frame), or
   * undefined when it has none: the clock stops there so the device sees it on time.
   */
  msUntilNextEvent?(): number | undefined;
}

export interface VirtualClockOptions {
  /** The true UTC time at `now = 0`, in ms since 1970. Default 2026-11-25T06:00:00Z. */
  startWallMs?: number;
  /**
   * Largest step handed to followers at once, in ms (default 1000): the simulator is never
   * asked to jump further than this, even when no timer is due for an hour.
   */
  maxStepMs?: number;
}

/** Thrown from advance() callers' point of view never: timer errors go to `onError`. */
export class VirtualClock {
  private nowMs = 0;
  private readonly startWallMs: number;
  private readonly maxStepMs: number;
  private timers: Timer[] = [];
  private nextId = 1;
  private seq = 0;
  private readonly followers: TimeFollower[] = [];
  private readonly settleHooks: (() => Promise<void> | undefined)[] = [];
  private readonly afterFire: (() => void)[] = [];
  private advancing = false;
  /** Receives an exception thrown by a timer callback whose owner did not catch it. */
  onError: (err: unknown, owner: TimerOwner | undefined) => void = (err) => { throw err; };

  constructor(opts: VirtualClockOptions = {}) {
    this.startWallMs = opts.startWallMs ?? Date.UTC(2026, 10, 25, 6, 0, 0);
    this.maxStepMs = opts.maxStepMs ?? 1000;
    if (!(this.maxStepMs > 0)) throw new RangeError(`"maxStepMs" expected > 0, got ${opts.maxStepMs}`);
  }

  /** Virtual ms since the emulator started; monotonic. */
  now(): number { return this.nowMs; }

  /** True UTC in ms since 1970 (what an SNTP server says right now). */
  trueWallMs(): number { return this.startWallMs + this.nowMs; }

  addFollower(f: TimeFollower): void { this.followers.push(f); }
  removeFollower(f: TimeFollower): void {
    const i = this.followers.indexOf(f);
    if (i >= 0) this.followers.splice(i, 1);
  }

  /** `hook()` returns a promise while real async work is pending, undefined when idle. */
  addSettleHook(hook: () => Promise<void> | undefined): void { this.settleHooks.push(hook); }

  /** Called after every timer callback (the emulator polls serial ports there). */
  addAfterFire(fn: () => void): void { this.afterFire.push(fn); }

  setTimeout(fn: () => void, ms: number, owner?: TimerOwner): number {
    return this.add(fn, ms, 0, owner);
  }

  setInterval(fn: () => void, ms: number, owner?: TimerOwner): number {
    // Espruino clamps tiny intervals; 1 ms keeps a zero interval from spinning forever.
    return this.add(fn, ms, Math.max(1, Math.ceil(ms)), owner);
  }

  clear(id: number): void {
    const i = this.timers.findIndex((t) => t.id === id);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Drops every timer of `owner` (a device that lost power). */
  clearOwner(owner: TimerOwner): void {
    this.timers = this.timers.filter((t) => t.owner !== owner);
  }

  pendingTimers(owner?: TimerOwner): number {
    return owner ? this.timers.filter((t) => t.owner === owner).length : this.timers.length;
  }

  private add(fn: () => void, ms: number, intervalMs: number, owner?: TimerOwner): number {
    if (typeof fn !== 'function') throw new TypeError('timer callback expected a function');
    // Whole ms keep virtual time an integer (Espruino timers are not finer than that anyway).
    const delay = Number.isFinite(ms) && ms > 0 ? Math.ceil(ms) : 0;
    const t: Timer = { id: this.nextId++, at: this.nowMs + delay, seq: this.seq++, fn, intervalMs, owner };
    // Sorted insert: timers are few (tens), so a linear scan beats a heap here.
    let i = this.timers.length;
    while (i > 0 && (this.timers[i - 1].at > t.at)) i--;
    this.timers.splice(i, 0, t);
    return t.id;
  }

  private async settle(): Promise<void> {
    // Microtasks first (promise chains inside the device), then any real IO, repeatedly,
    // until nothing is pending: a reply may trigger another request.
    for (let round = 0; round < 1000; round++) {
      await Promise.resolve();
      const pending = this.settleHooks.map((h) => h()).filter((p): p is Promise<void> => p !== undefined);
      if (pending.length === 0) {
        // Let promise chains of any depth finish: one macrotask turn drains the queue.
        if (round === 0) return;
        await new Promise<void>((r) => setImmediate(r));
        const again = this.settleHooks.some((h) => h() !== undefined);
        if (!again) return;
        continue;
      }
      await Promise.all(pending);
    }
    throw new Error('virtual clock: real IO did not settle after 1000 rounds');
  }

  /** Step size policy: devices ask for fine steps while a serial reply is due. */
  setStepPolicy(fn: () => number): void { this.stepPolicy = fn; }
  private stepPolicy: () => number = () => this.maxStepMs;

  private fire(t: Timer): void {
    this.timers.shift();
    if (t.intervalMs > 0) {
      t.at += t.intervalMs;
      t.seq = this.seq++;
      let i = this.timers.length;
      while (i > 0 && this.timers[i - 1].at > t.at) i--;
      this.timers.splice(i, 0, t);
    }
    try {
      t.fn();
    } catch (err) {
      this.onError(err, t.owner);
    }
    for (const f of this.afterFire) f();
  }

  /**
   * Moves virtual time forward by `ms`, firing every timer that falls due, in order. Time
   * moves in steps of at most `maxStepMs` (or what the step policy asks for); after each
   * step the followers advance and the after-fire hooks poll the wires. Resolves when done.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance: "ms" expected >= 0, got ${ms}`);
    if (this.advancing) throw new Error('advance: already advancing (await the previous call)');
    this.advancing = true;
    try {
      const end = this.nowMs + ms;
      await this.settle();
      for (;;) {
        const t = this.timers[0];
        if (t && t.at <= this.nowMs) {
          this.fire(t);
          await this.settle();
          continue;
        }
        if (this.nowMs >= end) break;
        let next = t && t.at < end ? t.at : end;
        // Followers' events may fall between whole ms (a CAN frame every 260 µs): the clock
        // stops at them exactly, so the device sees each one when it happens.
        for (const f of this.followers) {
          const d = f.msUntilNextEvent?.();
          if (d !== undefined && d > 0 && this.nowMs + d < next) next = this.nowMs + d;
          else if (d !== undefined && d <= 0 && this.nowMs + MIN_STEP_MS < next) next = this.nowMs + MIN_STEP_MS;
        }
        const step = Math.min(this.maxStepMs, this.stepPolicy(), next - this.nowMs);
        // Whole µs, as the simulator counts: no float drift between the two clocks.
        const to = Math.round((this.nowMs + step) * 1000) / 1000;
        const moved = to - this.nowMs;
        this.nowMs = to;
        for (const f of this.followers) f.advance(moved);
        for (const f of this.afterFire) f();
      }
      await this.settle();
    } finally {
      this.advancing = false;
    }
  }

  /**
   * Advances in steps of `stepMs` until `cond()` holds or `maxMs` passed; returns whether
   * the condition was met. For tests: "run until the queue is empty".
   */
  async runUntil(cond: () => boolean, maxMs: number, stepMs = 1000): Promise<boolean> {
    const end = this.nowMs + maxMs;
    while (!cond()) {
      if (this.nowMs >= end) return false;
      await this.advance(Math.min(stepMs, end - this.nowMs));
    }
    return true;
  }
}
