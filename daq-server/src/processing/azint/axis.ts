/**
 * Bin edges of one integration axis, as pyFAI's bounding-box/CSR engines
 * define them (`calc_boundaries` + `calc_upper_bound`):
 *
 *  - without a given range: min over the unmasked pixels of (centre − delta)
 *    and max of (centre + delta) (delta = 0 without pixel splitting);
 *    radial axes are clipped at 0 (pyFAI's `allow_pos0_neg=False`), the χ
 *    axis of a cake to [−π, π];
 *  - with a range: its smaller and larger ends (base units);
 *  - the upper edge is then nudged up by one float32 ulp: max·(1+2⁻²³);
 *  - `n` equal bins; bin centres as numpy.linspace(min + δ/2, max − δ/2, n).
 */
import { upperBound } from './units.js';

export interface Axis {
  /** number of bins */
  readonly n: number;
  /** lower edge of bin 0 (base unit) */
  readonly min: number;
  /** upper edge of the last bin, after the float32 nudge (base unit) */
  readonly max: number;
  /** largest position before the nudge (pyFAI's `pos0_maxin`) */
  readonly maxIn: number;
  /** bin width */
  readonly delta: number;
  /** bin centres (base unit) */
  readonly centres: Float64Array;
}

/** numpy.linspace(start, stop, n) with numpy's arithmetic (step·i + start, last point exactly `stop`). */
export function linspace(start: number, stop: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = i * step + start;
  out[n - 1] = stop;
  return out;
}

/** An axis of `n` bins from `min` to the nudged upper bound of `maxIn`. */
export function makeAxis(n: number, min: number, maxIn: number): Axis {
  const max = upperBound(maxIn);
  const delta = (max - min) / n;
  return { n, min, max, maxIn, delta, centres: linspace(min + 0.5 * delta, max - 0.5 * delta, n) };
}

/**
 * Extent of the positions over the pixels `usable` accepts: [min(c − d), max(c + d)].
 * [NaN, NaN] when no pixel is usable.
 */
export function extent(centre: Float64Array, delta: Float64Array | null, usable: (k: number) => boolean): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let k = 0; k < centre.length; k++) {
    if (!usable(k)) continue;
    const c = centre[k];
    const d = delta ? delta[k] : 0;
    if (c - d < lo) lo = c - d;
    if (c + d > hi) hi = c + d;
  }
  return lo <= hi ? [lo, hi] : [NaN, NaN];
}
