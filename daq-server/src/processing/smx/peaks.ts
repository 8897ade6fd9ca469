/**
 * Bragg-peak finding after pyFAI's OpenCL `peakfinder` kernel
 * (pyFAI/resources/openCL/peakfinder.cl, OCL_PeakFinder.peakfinder, a
 * "peakfinder8"-like algorithm). With v = I/norm − bg_avg (normalised units)
 * and σ' = √(bg_std² + noise²) per pixel:
 *
 *  - pixel k is *high* when v > 0 and v ≥ cutoff_peak·σ';
 *  - a high pixel is a peak when, in the patch_size × patch_size patch
 *    centred on it, (a) no pixel has a larger v (local maximum) and
 *    (b) at least `connected` pixels are high (the centre included);
 *  - the peak's values are sums over the pixels of the patch with v > 0
 *    (high or not, as in pyFAI):
 *      intensity = Σ v                 (normalised units: I/norm − background)
 *      sigma     = √Σ σ'²
 *      centroid  = centre + Σ (offset · v) / Σ v
 *      snr       = intensity / sigma
 *
 * Coordinates: x = column, y = row, in pixel units of the image, pixel
 * centres at integer coordinates (pyFAI's pos1/pos0; CXI/Cheetah
 * peakXPosRaw/peakYPosRaw). CrystFEL's own convention puts pixel corners at
 * integers: it adds half a pixel when reading such files.
 *
 * Invalid pixels (valid = 0, norm ≤ 0, no finite background) are neutral: they
 * are never high and add nothing, as masked pixels in pyFAI (noise > 0). The
 * background average may be NaN (no background) but not −∞.
 *
 * Differences from pyFAI, deliberate:
 *  - ties: pyFAI reports every pixel equal to its patch maximum (two peaks for
 *    two equal neighbouring maxima); here a pixel with an equal value earlier
 *    in raster order wins, so a tie gives one peak;
 *  - `peaksAtBorder`: pyFAI never reports a pixel closer than patch_size//2 to
 *    the image border (its patch reaches outside the image, which invalidates
 *    it); that is the default here too, and `peaksAtBorder: true` finds them
 *    with their patch cut by the border;
 *  - the result is sorted by intensity (descending, then pixel index) and
 *    capped at maxNumPeaks; pyFAI returns work-group order, uncapped.
 */
import { checkLength, type PixelInputs } from './sparsify.js';
import type { NumArray } from './background.js';
import { bgAvgAt, bgStdAt, lowerBounds, CandidateList, type BinBackground } from './ondemand.js';

export interface PeakParams {
  /** pyFAI `noise`: added quadratically to the background deviation */
  noise: number;
  /** pyFAI `cutoff_peak`: a pixel is high when v ≥ cutoff_peak·σ' */
  cutoff_peak: number;
  /** pyFAI `patch_size`: side of the square neighbourhood (odd; pyFAI uses half = ⌊patch_size/2⌋) */
  patch_size: number;
  /** pyFAI `connected`: minimum number of high pixels in the patch (centre included) */
  connected: number;
  /** keep at most this many peaks (the most intense) */
  max_num_peaks: number;
  /** find peaks closer than patch_size//2 to the border (pyFAI: no) */
  peaks_at_border?: boolean;
}

/** Peaks of one frame, struct of arrays, sorted by intensity (descending). */
export interface PeakList {
  /** number of peaks in the arrays (≤ max_num_peaks) */
  n: number;
  /** number of peaks found before the cap */
  total: number;
  /** column of the centroid, pixel centres at integers */
  x: Float32Array;
  /** row of the centroid */
  y: Float32Array;
  /** Σ v over the patch pixels with v > 0 (normalised units) */
  intensity: Float32Array;
  /** √Σ σ'² over the same pixels */
  sigma: Float32Array;
  /** intensity / sigma */
  snr: Float32Array;
  /** number of high pixels in the patch */
  count: Uint16Array;
  /** flat index of the maximum pixel */
  index: Uint32Array;
}

/**
 * Peak finder for frames of one shape. Scratch (v per pixel, candidate list,
 * growing peak buffers) is kept between frames: a frame allocates only its
 * result.
 */
export class PeakFinder {
  readonly size: number;
  private v: Float32Array | null = null;
  private ones: Float32Array | null = null;
  private all: Uint8Array | null = null;
  private cand: Uint32Array = new Uint32Array(1024);
  // found peaks, before sorting: [x, y, intensity, sigma²] per peak, plus count and index
  private found: Float64Array = new Float64Array(4 * 256);
  private foundCount: Uint16Array = new Uint16Array(256);
  private foundIndex: Uint32Array = new Uint32Array(256);
  private order: Uint32Array = new Uint32Array(256);
  private bounds = new Float64Array(0);
  private highMap: Uint8Array | null = null;
  /** intensity descending, then pixel index */
  private readonly byIntensity = (a: number, b: number): number =>
    this.found[4 * b + 2] - this.found[4 * a + 2] || this.foundIndex[a] - this.foundIndex[b];

  constructor(
    readonly rows: number,
    readonly cols: number,
  ) {
    this.size = rows * cols;
  }

  private growCand(): Uint32Array {
    const next = new Uint32Array(this.cand.length * 2);
    next.set(this.cand);
    return (this.cand = next);
  }

  private growFound(): void {
    const cap = this.foundIndex.length * 2;
    const f = new Float64Array(4 * cap);
    f.set(this.found);
    this.found = f;
    const c = new Uint16Array(cap);
    c.set(this.foundCount);
    this.foundCount = c;
    const i = new Uint32Array(cap);
    i.set(this.foundIndex);
    this.foundIndex = i;
    this.order = new Uint32Array(cap);
  }

  find(input: PixelInputs, params: PeakParams): PeakList {
    const { rows, cols, size } = this;
    const { image, norm, valid, bgAvg, bgStd } = input;
    checkLength('image', image, size);
    checkLength('norm', norm, size);
    checkLength('valid', valid, size);
    checkLength('bgAvg', bgAvg, size);
    checkLength('bgStd', bgStd, size);
    const hw = Math.floor(params.patch_size / 2);
    const noise = params.noise;
    const n2 = noise * noise;
    const c2 = params.cutoff_peak * params.cutoff_peak;
    const cut = params.cutoff_peak;
    const connected = params.connected;
    const border = params.peaks_at_border === true;
    const v = (this.v ??= new Float32Array(size));

    // pass 1: v per pixel (0 where not positive or not usable), list of high pixels in raster order.
    // No branch depends on the noise: v > 0 for about half the pixels, a branch on it would be
    // mispredicted all the time. max(x, 0) = (x + |x|)/2 (exact for float32 x; NaN stays NaN,
    // which every later test treats as not positive).
    const normA = norm ?? (this.ones ??= new Float32Array(size).fill(1));
    const validA = valid ?? (this.all ??= new Uint8Array(size).fill(1));
    let cand = this.cand;
    let nc = 0;
    for (let k = 0; k < size; k++) {
      const nk = normA[k];
      const x = Math.fround(image[k] / nk - bgAvg[k]);
      const sd = bgStd[k];
      const s2 = sd * sd + n2;
      let u = (x + Math.abs(x)) * 0.5;
      // masked, norm ≤ 0, or no usable deviation (NaN/∞): neutral (rare: predictable)
      if (validA[k] === 0 || !(nk > 0) || !(s2 < Infinity)) u = 0;
      v[k] = u;
      if (+(u * u >= c2 * s2) & +(u > 0)) {
        if (nc === cand.length) cand = this.growCand();
        cand[nc++] = k;
      }
    }

    // pass 2: local maxima with enough high pixels around
    let nf = 0;
    const rmax = rows - 1, cmax = cols - 1;
    for (let j = 0; j < nc; j++) {
      const k = cand[j];
      const r = (k / cols) | 0;
      const c = k - r * cols;
      if (!border && (r < hw || r > rmax - hw || c < hw || c > cmax - hw)) continue;
      const r0 = r > hw ? r - hw : 0, r1 = r + hw < rmax ? r + hw : rmax;
      const c0 = c > hw ? c - hw : 0, c1 = c + hw < cmax ? c + hw : cmax;
      const vk = v[k];
      let high = 0;
      let isMax = true;
      scan: for (let rr = r0; rr <= r1; rr++) {
        const base = rr * cols;
        for (let cc = c0; cc <= c1; cc++) {
          const kk = base + cc;
          const u = v[kk];
          if (u > 0) {
            if (u > vk || (u === vk && kk < k)) {
              isMax = false;
              break scan;
            }
            if (cut <= 0) high++;
            else {
              const sd = bgStd[kk];
              if (u * u >= c2 * (sd * sd + n2)) high++;
            }
          }
        }
      }
      if (!isMax || high < connected) continue;
      let sum = 0, s2sum = 0, sr = 0, sc = 0;
      for (let rr = r0; rr <= r1; rr++) {
        const base = rr * cols;
        for (let cc = c0; cc <= c1; cc++) {
          const u = v[base + cc];
          if (u > 0) {
            const sd = bgStd[base + cc];
            sum += u;
            s2sum += sd * sd + n2;
            sr += (rr - r) * u;
            sc += (cc - c) * u;
          }
        }
      }
      if (nf === this.foundIndex.length) this.growFound();
      const f = this.found;
      f[4 * nf] = c + sc / sum;
      f[4 * nf + 1] = r + sr / sum;
      f[4 * nf + 2] = sum;
      f[4 * nf + 3] = s2sum;
      this.foundCount[nf] = high > 65535 ? 65535 : high;
      this.foundIndex[nf] = k;
      nf++;
    }

    return this.finish(nf, params.max_num_peaks);
  }

  /**
   * Peak search with the background per radial bin (no per-pixel arrays):
   * high pixels come from a bound per bin and the exact test on the
   * candidates; v of a patch is evaluated only around high pixels that have
   * enough high neighbours. Same arithmetic and result as `find` on the
   * interpolated background.
   */
  findOnDemand(image: NumArray, norm: NumArray | null, valid: Uint8Array | null, bg: BinBackground, params: PeakParams, cands: CandidateList): PeakList {
    const { rows, cols, size } = this;
    checkLength('image', image, size);
    checkLength('norm', norm, size);
    checkLength('valid', valid, size);
    checkLength('bin', bg.bin, size);
    const hw = Math.floor(params.patch_size / 2);
    const noise = params.noise;
    const n2 = noise * noise;
    const cut = params.cutoff_peak;
    const c2 = cut * cut;
    const connected = params.connected;
    const border = params.peaks_at_border === true;
    if (this.bounds.length !== bg.avg.length + 1) this.bounds = new Float64Array(bg.avg.length + 1);
    lowerBounds(bg, cut, noise, 0, this.bounds);
    if (!cands.covers(image, this.bounds)) cands.scan(image, norm, bg.bin, this.bounds);
    // v as pass 1 of `find` computes it
    const vAt = (k: number): number => {
      const nk = norm === null ? 1 : norm[k];
      const x = Math.fround(image[k] / nk - bgAvgAt(bg, k));
      const sd = bgStdAt(bg, k);
      const s2 = sd * sd + n2;
      let u = (x + Math.abs(x)) * 0.5;
      if ((valid !== null && valid[k] === 0) || !(nk > 0) || !(s2 < Infinity)) u = 0;
      return u;
    };
    // the high pixels, in raster order, and their map
    const map = (this.highMap ??= new Uint8Array(size));
    let high = this.cand;
    let nh = 0;
    const list = cands.index;
    for (let j = 0; j < cands.n; j++) {
      const k = list[j];
      const u = vAt(k);
      if (u > 0) {
        const sd = bgStdAt(bg, k);
        if (u * u >= c2 * (sd * sd + n2)) {
          if (nh === high.length) high = this.growCand();
          high[nh++] = k;
          map[k] = 1;
        }
      }
    }
    let nf = 0;
    const rmax = rows - 1, cmax = cols - 1;
    for (let j = 0; j < nh; j++) {
      const k = high[j];
      const r = (k / cols) | 0;
      const c = k - r * cols;
      if (!border && (r < hw || r > rmax - hw || c < hw || c > cmax - hw)) continue;
      const r0 = r > hw ? r - hw : 0, r1 = r + hw < rmax ? r + hw : rmax;
      const c0 = c > hw ? c - hw : 0, c1 = c + hw < cmax ? c + hw : cmax;
      let nHigh = 0;
      for (let rr = r0; rr <= r1; rr++) {
        const base = rr * cols;
        for (let cc = c0; cc <= c1; cc++) nHigh += map[base + cc];
      }
      if (nHigh < connected) continue;
      const vk = vAt(k);
      let isMax = true;
      let sum = 0, s2sum = 0, sr = 0, sc = 0;
      scan: for (let rr = r0; rr <= r1; rr++) {
        const base = rr * cols;
        for (let cc = c0; cc <= c1; cc++) {
          const kk = base + cc;
          const u = kk === k ? vk : vAt(kk);
          if (u > 0) {
            if (u > vk || (u === vk && kk < k)) {
              isMax = false;
              break scan;
            }
            const sd = bgStdAt(bg, kk);
            sum += u;
            s2sum += sd * sd + n2;
            sr += (rr - r) * u;
            sc += (cc - c) * u;
          }
        }
      }
      if (!isMax) continue;
      if (nf === this.foundIndex.length) this.growFound();
      const f = this.found;
      f[4 * nf] = c + sc / sum;
      f[4 * nf + 1] = r + sr / sum;
      f[4 * nf + 2] = sum;
      f[4 * nf + 3] = s2sum;
      this.foundCount[nf] = nHigh > 65535 ? 65535 : nHigh;
      this.foundIndex[nf] = k;
      nf++;
    }
    for (let j = 0; j < nh; j++) map[high[j]] = 0;
    return this.finish(nf, params.max_num_peaks);
  }

  /** Sort the found peaks by intensity (descending), ties by pixel index; keep the first maxNumPeaks. */
  private finish(nf: number, maxNumPeaks: number): PeakList {
    // sort by intensity (descending), ties by pixel index; keep the first max_num_peaks
    const f = this.found;
    const order = this.order.subarray(0, nf);
    for (let i = 0; i < nf; i++) order[i] = i;
    const idx = this.foundIndex;
    order.sort(this.byIntensity);
    const n = Math.min(nf, Math.max(0, Math.floor(maxNumPeaks)));
    const out: PeakList = {
      n,
      total: nf,
      x: new Float32Array(n),
      y: new Float32Array(n),
      intensity: new Float32Array(n),
      sigma: new Float32Array(n),
      snr: new Float32Array(n),
      count: new Uint16Array(n),
      index: new Uint32Array(n),
    };
    for (let i = 0; i < n; i++) {
      const p = order[i];
      const sigma = Math.sqrt(f[4 * p + 3]);
      out.x[i] = f[4 * p];
      out.y[i] = f[4 * p + 1];
      out.intensity[i] = f[4 * p + 2];
      out.sigma[i] = sigma;
      out.snr[i] = f[4 * p + 2] / sigma;
      out.count[i] = this.foundCount[p];
      out.index[i] = idx[p];
    }
    return out;
  }
}

/** One-shot peak search (allocates its scratch; use a PeakFinder per receiver for streams of frames). */
export function findPeaks(input: PixelInputs, rows: number, cols: number, params: PeakParams): PeakList {
  return new PeakFinder(rows, cols).find(input, params);
}

/** The hit decision of the ESRF smx pipeline. */
export const isHit = (nbPeaks: number, minNbPeaks: number): boolean => nbPeaks >= minNbPeaks;
