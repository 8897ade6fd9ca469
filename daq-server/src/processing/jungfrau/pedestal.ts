/**
 * Jungfrau pedestal mode: dark frames are accumulated per raw pixel and
 * gain stage, by the gain code of each word. Dark frames in G1 and G2 come
 * from forcing the gain (the simulator's `dark_gain`; the detector's
 * force-switch settings); a pixel found in another stage simply adds to
 * that stage. Invalid gain codes and saturated words are skipped.
 *
 * State: `sum` float64 [3, modules, 512, 1024] (ADC sums: integers, exact
 * in float64 up to 2^53) and `count` uint32 of the same shape. The running
 * mean is sum / count. Sums and counts of several receivers (each with some
 * of the frames) add up element-wise to exactly the sums and counts of all
 * the frames, so the pedestal of a multi-receiver run is
 * Σ sum / Σ count — `pedestalFromSums`.
 */
import { JF_ADC_MASK, JF_ADC_MAX, type GainMode } from './decode.js';

export class PedestalAccumulator {
  /** raw pixels per frame */
  readonly n: number;
  readonly sum: Float64Array;
  readonly count: Uint32Array;
  /** frames added */
  frames = 0;
  readonly gainMode: GainMode;

  constructor(rawPixels: number, gainMode: GainMode = 'normal') {
    this.n = rawPixels;
    this.sum = new Float64Array(3 * rawPixels);
    this.count = new Uint32Array(3 * rawPixels);
    this.gainMode = gainMode;
  }

  /**
   * Add one dark frame (all raw pixels), or `modules` of it: then `raw`
   * holds those modules packed in order (or a full frame), each of
   * `modulePixels` pixels. Returns the number of words skipped (invalid or saturated).
   */
  add(raw: Uint16Array, modules?: readonly number[], modulePixels = 512 * 1024): number {
    let skipped = 0;
    if (!modules) {
      if (raw.length !== this.n) throw new RangeError(`pedestal: frame has ${raw.length} pixels, expected ${this.n}`);
      skipped = accumulate(raw, 0, 0, this.n, this.n, this.sum, this.count, this.gainMode === 'normal');
    } else {
      const packed = raw.length === modules.length * modulePixels && raw.length !== this.n;
      if (!packed && raw.length !== this.n) throw new RangeError(`pedestal: frame has ${raw.length} pixels: neither ${this.n} nor ${modules.length} modules`);
      modules.forEach((m, slot) => {
        const p0 = m * modulePixels;
        if (p0 + modulePixels > this.n) throw new RangeError(`pedestal: module ${m} is outside the detector`);
        skipped += accumulate(raw, (packed ? slot : m) * modulePixels, p0, modulePixels, this.n, this.sum, this.count, this.gainMode === 'normal');
      });
    }
    this.frames++;
    return skipped;
  }

  /** The pedestal maps [3, ...] (float32): sum / count, NaN where a pixel has no frame in a stage. */
  pedestal(out?: Float32Array): Float32Array {
    return pedestalFromSums(this.sum, this.count, out);
  }

  /** Frames seen per stage: the largest per-pixel count of each stage. */
  framesPerStage(): [number, number, number] {
    const res: [number, number, number] = [0, 0, 0];
    for (let g = 0; g < 3; g++) {
      let mx = 0;
      const c = this.count.subarray(g * this.n, (g + 1) * this.n);
      for (let p = 0; p < c.length; p++) if (c[p] > mx) mx = c[p];
      res[g] = mx;
    }
    return res;
  }

  /** Add another accumulator's (or a receiver's published) sums and counts. */
  merge(sum: ArrayLike<number>, count: ArrayLike<number>): void {
    if (sum.length !== this.sum.length || count.length !== this.count.length) throw new RangeError('pedestal merge: shapes differ');
    for (let k = 0; k < this.sum.length; k++) {
      this.sum[k] += sum[k];
      this.count[k] += count[k];
    }
  }

  reset(): void {
    this.sum.fill(0);
    this.count.fill(0);
    this.frames = 0;
  }
}

/** Accumulate n words raw[r0..] at pixels p0.. (rows of 1024: called per row, four pixels per iteration). */
function accumulate(raw: Uint16Array, r0: number, p0: number, n: number, N: number, sum: Float64Array, count: Uint32Array, sat0: boolean): number {
  let skipped = 0;
  for (let row = 0; row < n; row += 1024) {
    const len = Math.min(1024, n - row);
    skipped += accumulateRow(raw, r0 + row, p0 + row, len, N, sum, count, sat0);
  }
  return skipped;
}

function accumulateRow(raw: Uint16Array, r0: number, p0: number, n: number, N: number, sum: Float64Array, count: Uint32Array, sat0: boolean): number {
  let skipped = 0;
  let k = 0;
  const n4 = n & ~3;
  for (; k < n4; k += 4) {
    const a = r0 + k, p = p0 + k;
    const w0 = raw[a], w1 = raw[a + 1], w2 = raw[a + 2], w3 = raw[a + 3];
    if ((w0 | w1 | w2 | w3) < 0x4000) {
      sum[p] += w0;
      sum[p + 1] += w1;
      sum[p + 2] += w2;
      sum[p + 3] += w3;
      count[p]++;
      count[p + 1]++;
      count[p + 2]++;
      count[p + 3]++;
      continue;
    }
    for (let m = 0; m < 4; m++) skipped += addWord(raw[a + m], p + m, N, sum, count, sat0);
  }
  for (; k < n; k++) skipped += addWord(raw[r0 + k], p0 + k, N, sum, count, sat0);
  return skipped;
}

/** One word into its stage; returns 1 when skipped (invalid gain code or saturated). */
function addWord(w: number, p: number, N: number, sum: Float64Array, count: Uint32Array, sat0: boolean): number {
  const code = w >>> 14;
  const adc = w & JF_ADC_MASK;
  if (code === 0) {
    sum[p] += adc;
    count[p]++;
  } else if (code === 1) {
    sum[N + p] += adc;
    count[N + p]++;
  } else if (code === 3 && adc !== JF_ADC_MAX && !(sat0 && adc === 0)) {
    sum[2 * N + p] += adc;
    count[2 * N + p]++;
  } else return 1;
  return 0;
}

/** Pedestal maps from (summed) sums and counts: sum / count, NaN where the count is 0. */
export function pedestalFromSums(sum: ArrayLike<number>, count: ArrayLike<number>, out?: Float32Array): Float32Array {
  if (sum.length !== count.length) throw new RangeError(`pedestalFromSums: ${sum.length} sums, ${count.length} counts`);
  const res = out ?? new Float32Array(sum.length);
  if (res.length !== sum.length) throw new RangeError(`pedestalFromSums: output has ${res.length} values, expected ${sum.length}`);
  for (let k = 0; k < sum.length; k++) res[k] = count[k] > 0 ? sum[k] / count[k] : NaN;
  return res;
}
