/**
 * Line profiles of LiveImage: values of the drawn frame along a line (horizontal, vertical or free)
 * averaged across a width, sampled one drawn texel apart (at the middle of each step). Values are per detector pixel (a binned
 * texel, the sum of binning² pixels, is divided by binning²), so a profile reads the same at
 * every zoom. Masked pixels (NaN, ≥ dummy) are left out of the average; a sample with none left
 * is NaN. Bounded: at most `maxSamples` along and 64 across. Free of DOM (unit tested in Node).
 */
import type { Placement } from './model.js';

/** A line on the detector: from (x0, y0) to (x1, y1), x = column, y = row, continuous pixels. */
export type Line = [number, number, number, number];

export type ProfileMode = 'off' | 'horizontal' | 'vertical' | 'line';

export interface ProfileData {
  /** distance from the line's start, detector pixels */
  position: Float64Array;
  value: Float64Array;
}

/** The line a mode takes through detector point (x, y) of a rows × cols detector (line mode: `line` as is). */
export function profileLine(mode: ProfileMode, x: number, y: number, rows: number, cols: number, line: Line | null): Line | null {
  if (mode === 'horizontal') return [0, Math.floor(y) + 0.5, cols, Math.floor(y) + 0.5];
  if (mode === 'vertical') return [Math.floor(x) + 0.5, 0, Math.floor(x) + 0.5, rows];
  if (mode === 'line') return line;
  return null;
}

export function sampleProfile(
  values: ArrayLike<number>,
  p: Placement,
  line: Line,
  width = 1,
  dummy = Infinity,
  maxSamples = 4096,
): ProfileData {
  const [x0, y0, x1, y1] = line;
  const len = Math.hypot(x1 - x0, y1 - y0);
  const b = p.binning;
  const n = Math.max(1, Math.min(maxSamples, Math.ceil(len / b)));
  const across = Math.max(1, Math.min(64, Math.round(width / b)));
  // unit vectors along and across the line
  const ux = len > 0 ? (x1 - x0) / len : 1;
  const uy = len > 0 ? (y1 - y0) / len : 0;
  const position = new Float64Array(n);
  const value = new Float64Array(n);
  const norm = 1 / (b * b);
  for (let k = 0; k < n; k++) {
    const t = (len * (k + 0.5)) / n;
    let sum = 0;
    let count = 0;
    for (let j = 0; j < across; j++) {
      const o = (j - (across - 1) / 2) * b; // offsets across, centred on the line
      const x = x0 + ux * t - uy * o;
      const y = y0 + uy * t + ux * o;
      const tc = Math.floor((x - p.c0) / b);
      const tr = Math.floor((y - p.r0) / b);
      if (tr < 0 || tc < 0 || tr >= p.rows || tc >= p.cols) continue;
      const v = values[tr * p.cols + tc];
      if (!(v < dummy)) continue; // NaN or a gap dummy
      sum += v;
      count++;
    }
    position[k] = t;
    value[k] = count ? (sum / count) * norm : NaN;
  }
  return { position, value };
}

export interface RoiStat {
  /** mean and max per detector pixel, sum of the pixels, over the drawn texels the ROI covers */
  mean: number;
  max: number;
  sum: number;
  /** detector pixels counted */
  pixels: number;
}

/**
 * Statistics of ROI [row0, col0, rows, cols] on the drawn frame: the texels whose centre lies in it
 * (exact unbinned; to a texel binned). Masked pixels are left out.
 */
export function roiStat(values: ArrayLike<number>, p: Placement, roi: readonly number[], dummy = Infinity): RoiStat {
  const [r0, c0, nr, nc] = roi;
  const b = p.binning;
  const tr0 = Math.max(0, Math.ceil((r0 - p.r0) / b - 0.5));
  const tr1 = Math.min(p.rows, Math.ceil((r0 + nr - p.r0) / b - 0.5));
  const tc0 = Math.max(0, Math.ceil((c0 - p.c0) / b - 0.5));
  const tc1 = Math.min(p.cols, Math.ceil((c0 + nc - p.c0) / b - 0.5));
  let sum = 0;
  let max = -Infinity;
  let n = 0;
  for (let r = tr0; r < tr1; r++) {
    const o = r * p.cols;
    for (let c = tc0; c < tc1; c++) {
      const v = values[o + c];
      if (!(v < dummy)) continue;
      sum += v;
      if (v > max) max = v;
      n++;
    }
  }
  const pixels = n * b * b;
  return { sum, pixels, mean: pixels ? sum / pixels : NaN, max: n ? max / (b * b) : NaN };
}
