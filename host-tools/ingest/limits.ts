// Limits that make abuse cost the abuser, not the node (issue #14): token buckets per client
// address, and a log throttle so that a flood of identical rejections writes one line per
// device and interval instead of one per report.

/**
 * One token bucket per key (a client address): `perMin` tokens refill evenly over a minute,
 * and a full bucket holds `perMin` (a burst of one minute's allowance). perMin 0: no limit.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(readonly perMin: number, private readonly now: () => number = Date.now) {
    if (!Number.isFinite(perMin) || perMin < 0) throw new RangeError(`rate limit expected a count per minute >= 0, got ${perMin}`);
    this.perMs = perMin / 60_000;
  }

  private bucket(key: string): { tokens: number; at: number } {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      // Forget the clients whose buckets have refilled, so the map cannot grow without bound.
      if (this.buckets.size >= 10_000) for (const [k, v] of this.buckets) if (v.tokens + (t - v.at) * this.perMs >= this.perMin) this.buckets.delete(k);
      b = { tokens: this.perMin, at: t };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.perMin, b.tokens + (t - b.at) * this.perMs);
    b.at = t;
    return b;
  }

  /** Seconds until `key` has a token again: 0 if it has one now (nothing is taken). */
  retryAfterS(key: string): number {
    if (this.perMin === 0) return 0;
    const b = this.bucket(key);
    return b.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / this.perMs / 1000));
  }

  /** Takes `n` tokens (the bucket may go below zero: a large burst is paid back in time). */
  take(key: string, n = 1): void {
    if (this.perMin === 0 || n <= 0) return;
    this.bucket(key).tokens -= n;
  }
}

/**
 * Logs the first of a kind of event per key and interval; the ones after it within the
 * interval are counted and the next line logged carries `suppressed: N`.
 */
export class LogThrottle {
  private readonly seen = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs: number, private readonly now: () => number = Date.now) {}

  /** undefined: do not log this one; else the fields to add to the line logged. */
  admit(key: string): { suppressed?: number } | undefined {
    const t = this.now();
    const e = this.seen.get(key);
    if (e && t - e.at < this.intervalMs) {
      e.suppressed++;
      return undefined;
    }
    if (!e && this.seen.size >= 10_000) for (const [k, v] of this.seen) if (t - v.at >= this.intervalMs && v.suppressed === 0) this.seen.delete(k);
    const suppressed = e?.suppressed ?? 0;
    this.seen.set(key, { at: t, suppressed: 0 });
    return suppressed ? { suppressed } : {};
  }
}
