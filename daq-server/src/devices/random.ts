/**
 * Seeded randomness for the simulated devices: every reading is keyed by (seed, channel, scan,
 * point), so the same scan on the same seed gives the same numbers whatever ran before it.
 */

/** A 32-bit integer hash (murmur3's finaliser): well mixed, cheap, stateless. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Hash a list of integers (and strings, by their characters) into one 32-bit key. */
export function keyOf(...parts: (number | string)[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    if (typeof p === 'number') h = mix32(h ^ mix32((p | 0) ^ Math.imul((p / 4294967296) | 0, 0x27d4eb2f)));
    else for (let i = 0; i < p.length; i++) h = mix32(h ^ p.charCodeAt(i));
  }
  return h;
}

/** mulberry32: a small, fast generator of uniform numbers in [0, 1) from a 32-bit key. */
export class Rng {
  private state: number;
  constructor(key: number) {
    this.state = key >>> 0;
  }
  /** Start again from another key (block sampling reuses one generator: no allocation per sample). */
  reseed(key: number): this {
    this.state = key >>> 0;
    return this;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** standard normal (Box–Muller) */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** a Poisson draw: exact (Knuth) for small means, the normal approximation above 30 */
  poisson(mean: number): number {
    if (!(mean > 0)) return 0;
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }
}
