/**
 * Levels of LiveImage: a histogram of the drawn frame and its percentiles, for the levels panel and
 * percentile autoscale. Bounded cost whatever the frame: at most `maxSamples` values are taken with
 * a fixed stride (a 4 Mpx frame is subsampled), into buffers allocated once and reused frame after
 * frame. Gap/dummy pixels (≥ ignoreAbove) and NaN are left out. Free of DOM (unit tested in Node).
 */
export class LevelStats {
  private readonly sample: Float32Array;
  /** values sampled from the last frame, sorted ascending */
  private n = 0;
  readonly counts: Uint32Array;
  /** the histogram's bins span [lo, hi] (the sample's min and max) */
  lo = 0;
  hi = 1;

  constructor(bins = 128, readonly maxSamples = 16384) {
    this.sample = new Float32Array(maxSamples);
    this.counts = new Uint32Array(bins);
  }

  /** values counted in the last update */
  get count(): number {
    return this.n;
  }

  /** Sample, sort and histogram a frame's values. */
  update(values: ArrayLike<number>, ignoreAbove = Infinity): void {
    const step = Math.max(1, Math.ceil(values.length / this.maxSamples));
    const sample = this.sample;
    let n = 0;
    for (let i = 0; i < values.length && n < sample.length; i += step) {
      const v = values[i];
      if (v === v && v < ignoreAbove && v > -Infinity) sample[n++] = v; // v === v: not NaN
    }
    this.n = n;
    const sorted = sample.subarray(0, n);
    sorted.sort(); // typed-array sort: numeric, in place
    this.counts.fill(0);
    if (n === 0) {
      this.lo = 0;
      this.hi = 1;
      return;
    }
    this.lo = sorted[0];
    this.hi = sorted[n - 1] > sorted[0] ? sorted[n - 1] : sorted[0] + 1;
    const bins = this.counts.length;
    const scale = bins / (this.hi - this.lo);
    for (let i = 0; i < n; i++) this.counts[Math.min(bins - 1, Math.floor((sorted[i] - this.lo) * scale))]++;
  }

  /** The p-th percentile (0…100) of the sampled values (nearest rank); NaN before any value. */
  percentile(p: number): number {
    if (this.n === 0) return NaN;
    const k = Math.min(this.n - 1, Math.max(0, Math.round((p / 100) * (this.n - 1))));
    return this.sample[k];
  }

  /** [lo, hi] percentiles as display levels: a flat image still gets a usable range; none: [0, 1]. */
  range(lo: number, hi: number): [number, number] {
    if (this.n === 0) return [0, 1];
    const a = this.percentile(lo);
    let b = this.percentile(hi);
    if (!(b > a)) b = a + 1;
    return [a, b];
  }
}

/** The percentile presets of the levels panel: [low, high] in percent. */
export const PERCENTILE_PRESETS: readonly (readonly [number, number])[] = [
  [0, 100],
  [0.1, 99.9],
  [1, 99.5],
  [5, 95],
];

export const presetLabel = ([lo, hi]: readonly [number, number]): string => (lo === 0 && hi === 100 ? 'min–max' : `${lo}–${hi} %`);

/**
 * Levels as people read them: autoscaled levels are estimates, so 3 significant digits of their span are
 * enough (263.111 → 263; 0.123456–0.5 → 0.123–0.5), rounded outwards so the range still holds them.
 */
export function roundLevels([lo, hi]: readonly [number, number]): [number, number] {
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return [lo, hi];
  const step = 10 ** (Math.floor(Math.log10(span)) - 2);
  const tidy = (v: number) => +v.toPrecision(12); // 0.30000000000000004 → 0.3
  return [tidy(Math.floor(lo / step) * step), tidy(Math.ceil(hi / step) * step)];
}
