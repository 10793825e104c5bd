// Pins D0..D39 (read/write/set/reset/mode), digitalRead/digitalWrite/pinMode and
// setWatch/clearWatch with falling/rising/both edges. Input levels come from the device
// (simulator lines, pressed buttons; unconnected pins read high); watches are checked by
// poll() after every timer and clock step.

export const PIN_NAMES = Array.from({ length: 40 }, (_, i) => `D${i}`);

export interface PinsOptions {
  alive(): void;
  /** The level an input pin reads now (0 or 1). */
  level(pin: string): number;
  /** Levels the program writes to output pins, by name (the device shows them to tests). */
  outputs: Record<string, number>;
  /** Device time in seconds (the `time` of watch events). */
  time(): number;
}

interface Watch { id: number; pin: string; edge: string; repeat: boolean; fn: (e: unknown) => void; last: number; lastTime: number }

export function pinName(pin: unknown): string {
  if (typeof pin === 'string') return pin;
  if (pin && typeof pin === 'object' && 'name' in pin) return String((pin as { name: string }).name);
  if (typeof pin === 'number') return `D${pin}`;
  throw new Error(`not a pin: ${String(pin)}`);
}

export function makePins(o: PinsOptions) {
  const outputs = o.outputs;
  let watches: Watch[] = [];
  let nextWatch = 1;
  const globals: Record<string, unknown> = {};
  for (const p of PIN_NAMES) {
    globals[p] = {
      name: p,
      read: (): boolean => o.level(p) === 1,
      write: (v: unknown): void => { outputs[p] = v ? 1 : 0; },
      set: (): void => { outputs[p] = 1; },
      reset: (): void => { outputs[p] = 0; },
      mode: (): void => { /* modes do not matter to the emulator */ },
      toString: (): string => p,
    };
  }
  Object.assign(globals, {
    digitalRead: (pin: unknown): number => o.level(pinName(pin)),
    digitalWrite: (pin: unknown, v: unknown): void => { outputs[pinName(pin)] = v ? 1 : 0; },
    pinMode: (): void => { /* emulated pins need no mode */ },
    setWatch(fn: unknown, pin: unknown, opts?: { edge?: string | number; repeat?: boolean } | boolean): number {
      o.alive();
      if (typeof fn !== 'function') throw new TypeError('setWatch: function expected');
      const w = typeof opts === 'object' && opts ? opts : { repeat: !!opts };
      const edge = w.edge === 'falling' || w.edge === -1 ? 'falling' : w.edge === 'rising' || w.edge === 1 ? 'rising' : 'both';
      const p = pinName(pin);
      const id = nextWatch++;
      watches.push({ id, pin: p, edge, repeat: !!w.repeat, fn: fn as (e: unknown) => void, last: o.level(p), lastTime: 0 });
      return id;
    },
    clearWatch(id?: number): void { watches = id === undefined ? [] : watches.filter((w) => w.id !== id); },
  });

  /**
   * Calls the watches whose pin changed as they ask. `call` runs one callback on the
   * device (counting it, reporting what it throws) and returns false once the device has
   * stopped, which ends the poll.
   */
  function poll(call: (fn: () => void) => boolean): void {
    for (const w of [...watches]) {
      const v = o.level(w.pin);
      if (v === w.last) continue;
      const prev = w.last;
      w.last = v;
      const fire = w.edge === 'both' || (w.edge === 'falling' && prev === 1 && v === 0) || (w.edge === 'rising' && prev === 0 && v === 1);
      if (!fire) continue;
      const time = o.time();
      const ev = { state: v === 1, time, lastTime: w.lastTime, pin: w.pin };
      w.lastTime = time;
      if (!w.repeat) watches = watches.filter((x) => x !== w);
      if (!call(() => w.fn(ev))) return;
    }
    // The callbacks may have changed the levels themselves (an interrupt handler that
    // empties the chip releases its INT line): what they leave is the new reference, so
    // the next fall is seen as an edge.
    for (const w of watches) w.last = o.level(w.pin);
  }

  return { globals, poll };
}
