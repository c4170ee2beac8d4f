/**
 * Seeded randomness. Library code never calls Math.random: every function that needs randomness takes an
 * `Rng`. The generator is SplitMix32-style (Mulberry32), small and fast; its full state is one 32-bit integer,
 * so it can be saved in a checkpoint and restored exactly.
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng: expected a finite seed, got ${seed}`);
    // Fold any integer (also negative or above 2^32) into 32 bits.
    this.s = (Math.trunc(seed) % 4294967296) >>> 0;
  }

  /** The state, for checkpoints. */
  get state(): number {
    return this.s;
  }

  static fromState(state: number): Rng {
    return new Rng(state);
  }

  /** A uniform float in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Rng.nextInt: expected a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** A 31-bit seed for tfjs ops that take one (dropout). */
  nextSeed(): number {
    return Math.floor(this.next() * 2147483647);
  }

  /** A standard normal sample (Box-Muller). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /** A new independent generator derived from this one. */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4294967296));
  }
}

/**
 * The generator to build a model with whose weights are loaded right after (a strict loadStateDict): uniformArray and
 * normalArray give zeros from it without drawing, because those values are never read (drawing the 3.5M initial
 * values of the default model cost 30-60 ms of every start-up). Any other draw from it is a bug and throws.
 */
export class LoadingRng extends Rng {
  constructor() {
    super(0);
  }

  override next(): number {
    throw new Error('LoadingRng: a model built for loading drew a random number; use a seeded Rng');
  }
}

/** Float32Array of `n` samples from U(lo, hi) (zeros from a LoadingRng). */
export function uniformArray(rng: Rng, n: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  if (rng instanceof LoadingRng) return out;
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.next();
  return out;
}

/** Float32Array of `n` samples from N(0, std^2) (zeros from a LoadingRng). */
export function normalArray(rng: Rng, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  if (rng instanceof LoadingRng) return out;
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}
