/**
 * Per-pixel background from the per-radial-bin sigma-clipped background, the
 * way pyFAI's OpenCL `find_intense` (sparsify.cl) and `peakfinder`
 * (peakfinder.cl) kernels compute it, and pyFAI's `densify` (rebuilding a
 * dense frame from a sparse one).
 */

/** Numeric arrays a kernel may read (typed arrays of any element type, or plain arrays in tests). */
export type NumArray = ArrayLike<number>;

/**
 * Linear interpolation of the per-bin background at each pixel's radius, as
 * pyFAI does on the GPU: with equally spaced bin centres `radial`,
 * pos = clamp((r − radial[0]) / step, 0, nbins − 1), i = ⌊pos⌋,
 * value = avg[i]·(1 − (pos − i)) + avg[i+1]·(pos − i), and the last bin's value
 * beyond it (so values are clamped at both ends, like numpy.interp).
 *
 * Pixels whose radius is not finite (pyFAI marks masked pixels with NaN), or
 * outside [rmin, rmax) when a range is given, get NaN (no background: never picked).
 */
export function interpolateBackground(
  radiusPixel: NumArray,
  radial: NumArray,
  binAvg: NumArray,
  binStd: NumArray,
  outAvg: Float32Array,
  outStd: Float32Array,
  range: readonly [number, number] | null = null,
): void {
  const n = radial.length;
  const size = radiusPixel.length;
  if (binAvg.length !== n || binStd.length !== n) throw new RangeError(`background: ${binAvg.length} averages and ${binStd.length} deviations for ${n} radial bins`);
  if (outAvg.length < size || outStd.length < size) throw new RangeError('background: output arrays are shorter than the radius map');
  if (n === 0) {
    outAvg.fill(NaN, 0, size);
    outStd.fill(NaN, 0, size);
    return;
  }
  const r0 = radial[0];
  const step = n > 1 ? radial[1] - radial[0] : 1;
  const inv = 1 / step;
  const last = n - 1;
  const rmin = range ? range[0] : -Infinity;
  const rmax = range ? range[1] : Infinity;
  for (let k = 0; k < size; k++) {
    const r = radiusPixel[k];
    if (!(r >= rmin && r < rmax) || r !== r) {
      outAvg[k] = NaN;
      outStd[k] = NaN;
      continue;
    }
    let pos = (r - r0) * inv;
    if (!(pos > 0)) pos = 0;
    else if (pos > last) pos = last;
    const i = pos | 0;
    if (i < last) {
      const d = pos - i;
      outAvg[k] = binAvg[i] * (1 - d) + binAvg[i + 1] * d;
      outStd[k] = binStd[i] * (1 - d) + binStd[i + 1] * d;
    } else {
      outAvg[k] = binAvg[last];
      outStd[k] = binStd[last];
    }
  }
}

/**
 * `interpolateBackground` for a fixed geometry: the radius of each pixel does
 * not change between frames, so its bin and weight are computed once and
 * every frame is a gather (same arithmetic, so bit-identical results).
 */
export class BackgroundInterpolator {
  private radius: NumArray | null = null;
  private centres: Float64Array | null = null;
  private bin = new Int32Array(0);
  private weight = new Float64Array(0);

  interpolate(radiusPixel: NumArray, radial: NumArray, binAvg: NumArray, binStd: NumArray, outAvg: Float32Array, outStd: Float32Array): void {
    const n = radial.length;
    if (n < 2 || binAvg.length !== n || binStd.length !== n || outAvg.length < radiusPixel.length || outStd.length < radiusPixel.length) {
      interpolateBackground(radiusPixel, radial, binAvg, binStd, outAvg, outStd); // the general path says what is wrong
      return;
    }
    if (!this.matches(radiusPixel, radial)) this.prepare(radiusPixel, radial);
    const bin = this.bin, weight = this.weight, last = n - 1;
    for (let k = 0; k < bin.length; k++) {
      const i = bin[k];
      if (i < 0) {
        outAvg[k] = NaN;
        outStd[k] = NaN;
      } else if (i < last) {
        const d = weight[k];
        outAvg[k] = binAvg[i] * (1 - d) + binAvg[i + 1] * d;
        outStd[k] = binStd[i] * (1 - d) + binStd[i + 1] * d;
      } else {
        outAvg[k] = binAvg[last];
        outStd[k] = binStd[last];
      }
    }
  }

  /**
   * The per-pixel table (bin, −1 when the pixel has no background, and
   * weight of bin + 1) for these radii and bin centres, prepared once per
   * geometry; null when the general path applies (fewer than 2 bins, sizes differ).
   */
  table(radiusPixel: NumArray, radial: NumArray, binAvg: NumArray, binStd: NumArray): { bin: Int32Array; weight: Float64Array } | null {
    const n = radial.length;
    if (n < 2 || binAvg.length !== n || binStd.length !== n) return null;
    if (!this.matches(radiusPixel, radial)) this.prepare(radiusPixel, radial);
    return { bin: this.bin, weight: this.weight };
  }

  private matches(radiusPixel: NumArray, radial: NumArray): boolean {
    const c = this.centres;
    if (radiusPixel !== this.radius || c === null || c.length !== radial.length) return false;
    for (let i = 0; i < c.length; i++) if (c[i] !== radial[i]) return false;
    return true;
  }

  private prepare(radiusPixel: NumArray, radial: NumArray): void {
    const size = radiusPixel.length, n = radial.length, last = n - 1;
    this.radius = radiusPixel;
    this.centres = Float64Array.from(radial);
    if (this.bin.length !== size) {
      this.bin = new Int32Array(size);
      this.weight = new Float64Array(size);
    }
    const r0 = radial[0], inv = 1 / (radial[1] - radial[0]);
    for (let k = 0; k < size; k++) {
      const r = radiusPixel[k];
      if (!(r - r === 0)) {
        this.bin[k] = -1; // NaN (masked) or infinite: no background, never picked
        continue;
      }
      let pos = (r - r0) * inv;
      if (!(pos > 0)) pos = 0;
      else if (pos > last) pos = last;
      const i = pos | 0;
      this.bin[k] = i;
      this.weight[k] = pos - i;
    }
  }
}

export interface DensifyOptions {
  /**
   * Per-pixel normalisation (solid angle · polarization · flat). When given,
   * background pixels are rebuilt in the raw units of the kept intensities
   * (bg·norm). When null (default) they stay in normalised units, exactly as
   * pyFAI's `densify` and the script stored in pyFAI's sparse HDF5 files do.
   */
  norm?: Float32Array | null;
  /** Pixels with 0 here (or NaN background) get `dummy`. */
  valid?: Uint8Array | null;
  /** Round background values (integer detectors; pyFAI rounds when the frame's dtype is integer). */
  round?: boolean;
  /** Value of masked pixels: NaN (default, float frames) or the detector's dummy. */
  dummy?: number;
  /** Write here instead of allocating. */
  out?: Float32Array;
}

/**
 * Rebuild a dense frame from a sparse one: every pixel gets the background
 * (interpolated per pixel, see `interpolateBackground`), then the kept pixels
 * get their stored intensity; masked pixels get `dummy`.
 */
export function densify(
  sparse: { index: NumArray; intensity: NumArray },
  backgroundPixelAvg: NumArray,
  options: DensifyOptions = {},
): Float32Array {
  const size = backgroundPixelAvg.length;
  const out = options.out ?? new Float32Array(size);
  const norm = options.norm ?? null;
  const valid = options.valid ?? null;
  const dummy = options.dummy ?? NaN;
  const round = options.round ?? false;
  for (let k = 0; k < size; k++) {
    let b = backgroundPixelAvg[k];
    if ((valid !== null && valid[k] === 0) || b !== b) {
      out[k] = dummy;
      continue;
    }
    if (norm !== null) b *= norm[k];
    out[k] = round ? Math.round(b) : b;
  }
  const { index, intensity } = sparse;
  for (let i = 0; i < index.length; i++) out[index[i]] = intensity[i];
  return out;
}
