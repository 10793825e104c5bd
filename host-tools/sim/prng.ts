// Seeded PRNG for the simulator: every random choice (ride generator, sensor noise, UART
// noise, CAN errors) comes from one of these, so the same seed gives the same bytes.
// sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG, PractRand-clean to 2^40 bytes),
// seeded through splitmix32 so that nearby seeds give unrelated streams.

function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [state, (z ^ (z >>> 16)) >>> 0];
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`"seed" expected integer in [0, 2^32), got ${seed}`);
    }
    let s = seed;
    let v: number;
    [s, v] = splitmix32(s); this.a = v;
    [s, v] = splitmix32(s); this.b = v;
    [s, v] = splitmix32(s); this.c = v;
    [s, v] = splitmix32(s); this.d = v;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform integer in [0, 2^32). */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  range(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A child generator with its own stream, so adding draws in one place does not shift the others. */
  fork(): Prng {
    return new Prng(this.u32());
  }
}
