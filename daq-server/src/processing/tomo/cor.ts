/**
 * Centre of rotation from the 0°/180° projection pair: at 180° the sample is
 * seen mirrored about the axis, p180(col) = p0(2·cor − col). The mirrored
 * 180° projection is therefore the 0° one shifted by d = 2·cor − (cols − 1);
 * d is the peak of their cross-correlation, summed over rows (FFT, zero
 * padded), refined to sub-pixel by a parabola through the peak and its
 * neighbours. The rows are differentiated first so the correlation peaks on
 * edges (sharp) instead of on the whole object (broad).
 */
import { FFT, nextPow2 } from './fft.js';

export interface CorEstimate {
  /** column of the axis (pixel centres at integers) */
  center: number;
  /** normalised correlation at the peak (1: the mirrored pair matches perfectly) */
  quality: number;
}

/**
 * `p0`, `p180`: −log projections [rows × cols]; only columns are searched
 * within ±`search` pixels of the centre column (cor offset).
 */
export function estimateCenter(p0: Float32Array, p180: Float32Array, rows: number, cols: number, search: number): CorEstimate {
  const n = nextPow2(2 * cols);
  const fft = new FFT(n);
  const accRe = new Float64Array(n), accIm = new Float64Array(n);
  const aRe = new Float64Array(n), aIm = new Float64Array(n), bRe = new Float64Array(n), bIm = new Float64Array(n);
  let energyA = 0, energyB = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    aRe.fill(0);
    aIm.fill(0);
    bRe.fill(0);
    bIm.fill(0);
    for (let c = 1; c < cols - 1; c++) {
      // central differences; b is the mirrored 180° row
      const a = p0[o + c + 1] - p0[o + c - 1];
      const m = cols - 1 - c;
      const b = p180[o + m - 1] - p180[o + m + 1];
      aRe[c] = a;
      bRe[c] = b;
      energyA += a * a;
      energyB += b * b;
    }
    fft.transform(aRe, aIm);
    fft.transform(bRe, bIm);
    // A · conj(B)
    for (let k = 0; k < n; k++) {
      accRe[k] += aRe[k] * bRe[k] + aIm[k] * bIm[k];
      accIm[k] += aIm[k] * bRe[k] - aRe[k] * bIm[k];
    }
  }
  fft.transform(accRe, accIm, true);
  // corr(d) = Σ a(x)·b(x − d) at index d mod n; d = 2·cor − (cols − 1), |cor offset| ≤ search
  const maxD = Math.min(cols - 2, Math.floor(2 * search));
  const at = (d: number): number => accRe[(d + n) % n] / n;
  let best = 0, bestV = -Infinity;
  for (let d = -maxD; d <= maxD; d++) {
    const v = at(d);
    if (v > bestV) {
      bestV = v;
      best = d;
    }
  }
  const l = at(best - 1), r = at(best + 1);
  const denom = l - 2 * bestV + r;
  const frac = denom < 0 ? (0.5 * (l - r)) / denom : 0;
  const d = best + Math.max(-0.5, Math.min(0.5, frac));
  const quality = energyA > 0 && energyB > 0 ? bestV / Math.sqrt(energyA * energyB) : 0;
  return { center: (d + cols - 1) / 2, quality };
}
