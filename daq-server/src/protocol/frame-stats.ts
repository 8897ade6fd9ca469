/**
 * Whole-frame statistics sent beside a region of a frame. A viewer zoomed into a region receives only
 * that region's pixels, yet autoscale on the whole frame (LiveImage's `auto_scope="frame"`) must follow
 * each new frame: with `frame_stats: [lo, hi]` (percentiles) in `subscribe` or `stream.read`, each data
 * header carries, per item, the item's min, max and those two percentiles, per detector pixel (before
 * binning). Bounded cost whatever the frame: a fixed-stride subsample of at most FRAME_STATS_SAMPLES
 * values; gap/dummy pixels and NaN are left out. One definition for the server and the browser.
 */
import type { DType } from './dtypes.js';

/** [min, max, lo-th percentile, hi-th percentile] of one item; null where it has no valid value. */
export type FrameStats = [number, number, number, number];

export const FRAME_STATS_SAMPLES = 16384;

/** Values at or above this are gap/dummy pixels (a uint32 detector marks them 2^32 − 1). */
export function dummyAbove(dtype: DType | string): number {
  return dtype === 'uint32' ? 2 ** 31 : Infinity;
}

/** Percentile p (0…100) of `sorted` values (nearest rank). */
function rank(sorted: Float64Array, n: number, p: number): number {
  return sorted[Math.min(n - 1, Math.max(0, Math.round((p / 100) * (n - 1))))]!;
}

/** Statistics of one item (`scratch`: a reusable buffer of FRAME_STATS_SAMPLES values). */
export function frameStats(
  values: ArrayLike<number>,
  percentiles: readonly [number, number],
  ignoreAbove: number,
  scratch: Float64Array = new Float64Array(FRAME_STATS_SAMPLES),
): FrameStats | null {
  const step = Math.max(1, Math.ceil(values.length / scratch.length));
  let n = 0;
  for (let i = 0; i < values.length && n < scratch.length; i += step) {
    const v = values[i]!;
    if (v === v && v < ignoreAbove && v > -Infinity) scratch[n++] = v; // v === v: not NaN
  }
  if (n === 0) return null;
  const sorted = scratch.subarray(0, n).sort();
  return [sorted[0]!, sorted[n - 1]!, rank(sorted, n, percentiles[0]), rank(sorted, n, percentiles[1])];
}

/** The `frame_stats` parameter: null when absent; else two percentiles 0 ≤ lo < hi ≤ 100, or a message naming what is wrong. */
export function checkFrameStatsParam(v: unknown): { value: [number, number] | null; error?: string } {
  if (v === undefined || v === null || v === false) return { value: null };
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    return { value: null, error: `must be [lo, hi], two percentiles (numbers from 0 to 100), got ${JSON.stringify(v)?.slice(0, 60)}` };
  }
  const [lo, hi] = v as [number, number];
  if (!(lo >= 0 && hi <= 100 && lo < hi)) return { value: null, error: `must have 0 ≤ lo < hi ≤ 100, got [${lo}, ${hi}]` };
  return { value: [lo, hi] };
}
