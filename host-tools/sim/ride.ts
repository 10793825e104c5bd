// Ride scripts: what the bike does, as a list of timed segments, and a generator of random
// but plausible days from a seed.
import { Prng } from './prng';

export type Segment =
  /** Ride at a target speed on a grade; the motor supplies `assist` (0..1) of the road load. */
  | { kind: 'ride'; durationS: number; speedKmh: number; slopePct?: number; assist?: number }
  /** Slow down to `toKmh` (default 0) over the segment; the motor brakes and regenerates. */
  | { kind: 'brake'; durationS: number; toKmh?: number }
  /** Stand still, not connected to anything. */
  | { kind: 'park'; durationS: number }
  /** Plugged in at a hub, the charger on (CC-CV, at most `currentMa`, default 4000 mA). */
  | { kind: 'charge'; durationS: number; hub?: string; currentMa?: number }
  /** Plugged in at a hub, the inverter exports `powerW` to the grid until each pack is at `floorSocPct`. */
  | { kind: 'export'; durationS: number; hub?: string; powerW?: number; floorSocPct?: number }
  /**
   * Plugged in at a hub until the rider leaves at the segment's end. The script decides
   * nothing more: the hub's charger/inverter runs at whatever power it is set to
   * (SimBike.setHubPowerW, the market's matched power), 0 (neither) unless set.
   */
  | { kind: 'plugged'; durationS: number; hub?: string };

export type SegmentKind = Segment['kind'];
const KINDS: SegmentKind[] = ['ride', 'brake', 'park', 'charge', 'export', 'plugged'];

/** Checks a ride script and says which segment and field is wrong. */
export function validateRide(ride: unknown): Segment[] {
  if (!Array.isArray(ride)) throw new TypeError(`ride expected an array of segments, got ${typeof ride}`);
  ride.forEach((s: any, i: number) => {
    const where = `ride[${i}]`;
    if (!s || typeof s !== 'object') throw new TypeError(`${where} expected an object`);
    if (!KINDS.includes(s.kind)) throw new TypeError(`${where}.kind expected one of ${KINDS.join('|')}, got ${JSON.stringify(s.kind)}`);
    num(where, s, 'durationS', 0, 30 * 86400, true);
    if (s.kind === 'ride') {
      num(where, s, 'speedKmh', 0, 60, true);
      num(where, s, 'slopePct', -25, 25, false);
      num(where, s, 'assist', 0, 1, false);
    } else if (s.kind === 'brake') num(where, s, 'toKmh', 0, 60, false);
    else if (s.kind === 'charge') num(where, s, 'currentMa', 0, 20000, false);
    else if (s.kind === 'export') {
      num(where, s, 'powerW', 0, 3000, false);
      num(where, s, 'floorSocPct', 0, 100, false);
    }
    if ('hub' in s && s.hub !== undefined && typeof s.hub !== 'string') throw new TypeError(`${where}.hub expected a string`);
  });
  return ride as Segment[];
}

function num(where: string, s: any, field: string, min: number, max: number, required: boolean): void {
  const v = s[field];
  if (v === undefined && !required) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new RangeError(`${where}.${field} expected a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
}

export function rideDurationS(ride: Segment[]): number {
  return ride.reduce((t, s) => t + s.durationS, 0);
}

export interface RandomRideOptions {
  seed: number;
  /** Total length of the day, seconds (default 86 400). */
  durationS?: number;
  /** Hub names to plug in at (default ['hub-1', 'hub-2']). */
  hubs?: string[];
  /**
   * 'scripted' (default): the script says charge or export at each hub visit; 'market':
   * it only says when the bike is plugged in at a hub and when the rider leaves (plugged
   * segments), and the hub's market decides what flows.
   */
  plugs?: 'scripted' | 'market';
}

/**
 * A plausible day: trips made of ride/brake stretches over hills, parking, and visits to a
 * hub where the bike charges or sells energy back. Every segment kind appears in a full day.
 */
export function randomRide(o: RandomRideOptions): Segment[] {
  const rng = new Prng(o.seed >>> 0);
  const total = o.durationS ?? 86400;
  const hubs = o.hubs ?? ['hub-1', 'hub-2'];
  const out: Segment[] = [];
  let t = 0;
  const push = (s: Segment): void => {
    const d = Math.min(s.durationS, total - t);
    if (d <= 0) return;
    out.push({ ...s, durationS: d } as Segment);
    t += d;
  };
  // Night: parked; the first trip leaves between 6:00 and 8:00 (scaled to the day length).
  push({ kind: 'park', durationS: Math.round(total * rng.range(0.25, 0.33)) });
  let trip = 0;
  while (t < total) {
    const legs = rng.int(3, 8);
    for (let k = 0; k < legs && t < total; k++) {
      push({
        kind: 'ride',
        durationS: Math.round(total * rng.range(0.002, 0.008)),
        speedKmh: Math.round(rng.range(12, 27)),
        slopePct: Math.round(rng.range(-6, 7) * 10) / 10,
        assist: Math.round(rng.range(0.5, 0.9) * 100) / 100,
      });
      push({ kind: 'brake', durationS: rng.int(4, 12), toKmh: rng.chance(0.5) ? 0 : Math.round(rng.range(5, 12)) });
    }
    const hub = hubs[trip % hubs.length];
    const plug = rng.next();
    if (o.plugs === 'market') {
      // The same draws as a scripted day, so a seed visits the same hubs at the same times;
      // each visit lasts 45 min to 3 h (a shift, a lunch, an afternoon at a hub).
      if (plug < 0.8) push({ kind: 'plugged', durationS: Math.round(total * rng.range(0.03, 0.125)), hub });
      else push({ kind: 'park', durationS: Math.round(total * rng.range(0.02, 0.08)) });
    } else if (plug < 0.45) {
      push({ kind: 'charge', durationS: Math.round(total * rng.range(0.03, 0.08)), hub, currentMa: 4000 });
    } else if (plug < 0.8) {
      push({ kind: 'export', durationS: Math.round(total * rng.range(0.02, 0.05)), hub, powerW: 300, floorSocPct: 30 });
      push({ kind: 'plugged', durationS: Math.round(total * rng.range(0.002, 0.01)), hub });
    } else {
      push({ kind: 'park', durationS: Math.round(total * rng.range(0.02, 0.08)) });
    }
    trip++;
  }
  return out;
}
