/**
 * Counter-based deterministic randomness for the simulators: no state, no
 * Math.random. Every random number is a pure function of (seed, stream,
 * frame, pixel), so frame i of a run can be produced in any order, by any
 * receiver, and reproduced by the Python reference (test/simref.py).
 *
 * Hash (all arithmetic modulo 2^32, i.e. Math.imul and `>>> 0` here,
 * uint32 numpy arrays in Python):
 *
 *   mix32(x)      = murmur3 fmix32: x ^= x>>16; x *= 0x85EBCA6B; x ^= x>>13; x *= 0xC2B2AE35; x ^= x>>16
 *   hash2(a, b)   = mix32((a * 0x9E3779B1) ^ b)
 *   seedKey(s)    = mix32(s ^ 0x5EEDC0DE)
 *   key(s, st, n) = hash2(n, hash2(st, seedKey(s)))     st: stream number, n: frame slot (mod 2^32)
 *   u(p)          = hash2(p, key)                       p: flat pixel index within the frame
 *
 * Integer-exact Poisson sampler (`PoissonTable`, used where the Python
 * reference must agree bit for bit: the `flat` and `dark` scenes of the
 * counting detectors and the camera's read noise): for a constant mean λ a
 * table of cumulative thresholds T_j (integers in [0, 2^32]) is built with
 * IEEE-754 double +, *, / only (no exp/log, whose last bit differs between
 * libms), in a fixed order:
 *
 *   m = floor(λ); w_m = 1
 *   upwards   k = m+1, m+2, …: w_k = w_{k-1} * λ / k      while w_k ≥ 2^-40
 *   downwards k = m-1, …, 0:   w_k = w_{k+1} * (k+1) / λ  while w_k ≥ 2^-40
 *   kmin = smallest k kept; total = Σ w_k summed in ascending k
 *   cum_j = Σ_{k ≤ kmin+j} w_k (ascending); T_j = floor((cum_j / total) * 2^32); last T = 2^32
 *   sample(u) = kmin + #{ j : T_j ≤ u }      (u a uint32 hash)
 *
 * The variance equals the mean (it is the Poisson law truncated at 2^-40
 * relative weight, resolved to 2^-32 in probability).
 *
 * For per-pixel varying means (the physical scenes) `poissonFloat` uses
 * inverse-transform sampling with exp() for λ < 30 and a rounded normal
 * approximation above; those scenes are deterministic too, but only the
 * TypeScript implementation defines them.
 */

/** Stream numbers: independent random sequences for each purpose. */
export const STREAM = {
  /** photons (flat scene and static expectation maps) */
  PHOTON: 1,
  /** camera read noise */
  READ_NOISE: 2,
  /** lost-packet draw per frame index */
  LOST: 3,
  /** serial crystallography: is this frame a hit, how many spots */
  HIT: 4,
  /** serial crystallography: spot positions and intensities */
  SPOTS: 5,
  /** xpcs: speckle key fields */
  SPECKLE: 6,
  /** Jungfrau electronic noise */
  ELECTRONIC: 7,
  /** Jungfrau per-pixel calibration (pedestals, gains) */
  CALIBRATION: 8,
  /** second photon stream: spot photons added on top of the background */
  PHOTON2: 9,
  /** second uniform for the normal approximation of large means */
  NORMAL: 10,
} as const;

export const TWO32 = 4294967296;
const INV_TWO32 = 1 / TWO32;

/** murmur3 32-bit finaliser; returns a uint32 (as a non-negative number). */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Hash of two uint32 words (a is taken modulo 2^32). */
export function hash2(a: number, b: number): number {
  return mix32(Math.imul(a, 0x9e3779b1) ^ b);
}

export function seedKey(seed: number): number {
  return mix32(seed ^ 0x5eedc0de);
}

/** Key of one random stream for frame slot `n` (taken modulo 2^32). */
export function frameKey(seed: number, stream: number, n: number): number {
  return hash2(n % TWO32, hash2(stream, seedKey(seed)));
}

/** Uniform in (0, 1) from a uint32 hash. */
export function unit(h: number): number {
  return (h + 0.5) * INV_TWO32;
}

/** Approximately standard normal from the four bytes of one hash (Irwin–Hall of 4 discrete uniforms, |z| ≤ 3.45). */
export function normal8(h: number): number {
  return ((h & 255) + ((h >>> 8) & 255) + ((h >>> 16) & 255) + (h >>> 24) - 510) * (1 / 147.80138);
}

/** Approximately standard normal from two hashes (Irwin–Hall of 4 16-bit uniforms, |z| ≤ 3.46). */
export function normal16(h1: number, h2: number): number {
  return ((h1 & 0xffff) + (h1 >>> 16) + (h2 & 0xffff) + (h2 >>> 16) - 131070) * (1 / 37837.23);
}

/**
 * Poisson deviate for a per-pixel mean: inverse transform for λ < 30
 * (`expNeg` = exp(-λ) may be passed precomputed, else NaN), rounded
 * normal approximation above. `h1`, `h2` independent uint32 hashes
 * (h2 only used for λ ≥ 30).
 */
export function poissonFloat(lam: number, expNeg: number, h1: number, h2: number): number {
  if (!(lam > 0)) return 0;
  if (lam < 30) {
    let p = expNeg === expNeg ? expNeg : Math.exp(-lam);
    const u = unit(h1);
    if (u <= p) return 0;
    let s = p;
    let k = 0;
    while (u > s && k < 200) {
      k++;
      p = (p * lam) / k;
      s += p;
    }
    return k;
  }
  const v = Math.floor(lam + Math.sqrt(lam) * normal16(h1, h2) + 0.5);
  return v > 0 ? v : 0;
}

/** Exponentially distributed value of mean `mean` from a hash. */
export function exponential(mean: number, h: number): number {
  return -mean * Math.log(unit(h));
}

const TAIL = 2 ** -40;
const GUIDE_BITS = 12;

/** Integer-exact Poisson sampler for one constant mean (see the file comment for the algorithm). */
export class PoissonTable {
  readonly mean: number;
  readonly kmin: number;
  /** cumulative thresholds T_j in [0, 2^32]; the last is 2^32 */
  readonly thresholds: Float64Array;
  /** guide[b] = first j with T_j > b·2^20: sampling starts there (exact, only a speed-up) */
  private readonly guide: Int32Array;

  constructor(mean: number) {
    this.mean = mean;
    if (!(mean > 0)) {
      this.kmin = 0;
      this.thresholds = Float64Array.of(TWO32);
    } else {
      const m = Math.floor(mean);
      const up: number[] = [1];
      let w = 1;
      for (let k = m + 1; ; k++) {
        w = (w * mean) / k;
        if (w < TAIL) break;
        up.push(w);
      }
      const down: number[] = [];
      w = 1;
      for (let k = m; k > 0; k--) {
        w = (w * k) / mean; // weight of k-1
        if (w < TAIL) break;
        down.push(w);
      }
      this.kmin = m - down.length;
      const weights = down.reverse().concat(up);
      let total = 0;
      for (const x of weights) total += x;
      const t = new Float64Array(weights.length);
      let cum = 0;
      for (let j = 0; j < weights.length; j++) {
        cum += weights[j];
        t[j] = Math.floor((cum / total) * TWO32);
      }
      t[t.length - 1] = TWO32;
      this.thresholds = t;
    }
    const nb = 1 << GUIDE_BITS;
    this.guide = new Int32Array(nb);
    const t = this.thresholds;
    let j = 0;
    for (let b = 0; b < nb; b++) {
      const edge = b * 1048576;
      while (t[j] <= edge) j++;
      this.guide[b] = j;
    }
  }

  /** kmin + #{j : T_j ≤ u} for a uint32 u. */
  sample(u: number): number {
    const t = this.thresholds;
    let j = this.guide[u >>> 20];
    while (t[j] <= u) j++;
    return this.kmin + j;
  }

  /** Fill `out[i] = offset + sample(hash2(i, key))` over `count` pixels (the hot loop of the flat scene). */
  fill(out: { [i: number]: number }, count: number, key: number, offset = 0): void {
    const t = this.thresholds;
    const g = this.guide;
    const base = this.kmin + offset;
    for (let p = 0; p < count; p++) {
      let x = Math.imul(p, 0x9e3779b1) ^ key;
      x ^= x >>> 16;
      x = Math.imul(x, 0x85ebca6b);
      x ^= x >>> 13;
      x = Math.imul(x, 0xc2b2ae35);
      x ^= x >>> 16;
      const u = x >>> 0;
      let j = g[u >>> 20];
      while (t[j] <= u) j++;
      out[p] = base + j;
    }
  }
}
