// Espruino's event methods (on, removeListener, removeAllListeners, emit...) as E, process,
// the serial ports, Wifi and http requests have them. Handlers run in registration order;
// a handler added or removed while an event is emitted takes effect from the next emit.

interface Listener { fn: (...a: unknown[]) => void }

export class Emitter {
  protected handlers: Record<string, Listener[]> = {};
  on(ev: string, fn: (...a: unknown[]) => void): void {
    if (typeof fn !== 'function') throw new TypeError(`on("${ev}"): callback expected a function`);
    (this.handlers[ev] ??= []).push({ fn });
  }
  addListener(ev: string, fn: (...a: unknown[]) => void): void { this.on(ev, fn); }
  removeListener(ev: string, fn: (...a: unknown[]) => void): void {
    const l = this.handlers[ev];
    if (l) this.handlers[ev] = l.filter((x) => x.fn !== fn);
  }
  removeAllListeners(ev?: string): void {
    if (ev === undefined) this.handlers = {};
    else delete this.handlers[ev];
  }
  listenerCount(ev: string): number { return this.handlers[ev]?.length ?? 0; }
  emit(ev: string, ...args: unknown[]): boolean {
    const l = this.handlers[ev];
    if (!l || l.length === 0) return false;
    for (const x of [...l]) x.fn(...args);
    return true;
  }
}
