// Paging of published interval results (GET /v1/market/intervals): oldest first, in whole
// interval starts, so that a page never ends between two hubs' results of the same start
// (the next page begins after that start, and would otherwise skip the rest of it).
import type { IntervalResult } from './hub';

export interface IntervalPage {
  intervals: IntervalResult[];
  /** The `after` of the next page, or null when this page holds the last results. */
  next: number | null;
}

export function pageIntervals(results: readonly IntervalResult[], q: { afterS: number; hub: string | undefined; limit: number }): IntervalPage {
  const all = results.filter((r) => r.startS > q.afterS && (q.hub === undefined || r.hub === q.hub))
    .sort((a, b) => a.startS - b.startS || (a.hub < b.hub ? -1 : a.hub > b.hub ? 1 : 0));
  if (all.length <= q.limit) return { intervals: all, next: null };
  let end = q.limit;
  // Back to the start of the cut group; one start alone larger than a page goes whole.
  while (end > 0 && all[end].startS === all[end - 1].startS) end--;
  if (end === 0) {
    end = q.limit;
    while (end < all.length && all[end].startS === all[end - 1].startS) end++;
  }
  return { intervals: all.slice(0, end), next: end < all.length ? all[end - 1].startS : null };
}
