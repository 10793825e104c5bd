// What every module of one power-on gets from the device: the power check each API call
// starts with, and the device's event loop (callbacks scheduled by the emulated hardware,
// dropped when the power goes).

export interface DeviceLoop {
  /** Throws "device has no power" once this power-on has ended. */
  alive(): void;
  /** Runs `fn` on the device's event loop after `ms` virtual ms (not if the power went). */
  later(fn: () => void, ms?: number): number;
  clearTimer(id: number): void;
}

/** Copies bytes into a Uint8Array of the device realm (so `instanceof` works in the vm). */
export type ToRealm = (b: Uint8Array) => Uint8Array;
