/**
 * Helpers of the smx tests: a deterministic random generator, synthetic
 * frames (background + Poisson-ish noise + Gaussian spots of known centre and
 * photons), brute-force references of the kernels written from the formulas,
 * and a per-radius sigma-clipped background estimated from a frame.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PixelInputs } from '../../src/processing/smx/sparsify.js';

/** Repository root (tests run from daq-server/dist/test/smx). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
/** daq-server/test/smx in the sources (for the Python reference script). */
export const TEST_SRC = resolve(REPO_ROOT, 'daq-server/test/smx');

/** xorshift128+ style generator on two 32-bit halves (deterministic, seeded). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    // splitmix32 to fill the state
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }
  /** uniform in [0, 1) (xoshiro128**) */
  uniform(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r / 4294967296;
  }
  normal(): number {
    let u = this.uniform();
    while (u <= 1e-300) u = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
  /** Poisson(λ): exact (Knuth) below 30, rounded normal above. */
  poisson(lam: number): number {
    if (!(lam > 0)) return 0;
    if (lam < 30) {
      const L = Math.exp(-lam);
      let k = 0;
      let p = this.uniform();
      while (p > L) {
        k++;
        p *= this.uniform();
      }
      return k;
    }
    return Math.max(0, Math.round(lam + Math.sqrt(lam) * this.normal()));
  }
}
const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

export interface Spot {
  row: number;
  col: number;
  /** expected photons of the whole spot */
  photons: number;
}

export interface SyntheticFrame {
  rows: number;
  cols: number;
  /** Poisson-sampled counts */
  image: Float32Array;
  /** expected counts of the background only (raw units) */
  bgRaw: Float64Array;
  /** expected counts of the spots only (raw units) */
  spotRaw: Float64Array;
  norm: Float32Array;
  valid: Uint8Array;
  /** exact background in normalised units and its Poisson deviation */
  bgAvg: Float32Array;
  bgStd: Float32Array;
  spots: Spot[];
}

export interface FrameSpec {
  rows: number;
  cols: number;
  /** background expectation in normalised units at (row, col) */
  background: (r: number, c: number) => number;
  /** normalisation at (row, col); default 1 */
  norm?: (r: number, c: number) => number;
  spots: Spot[];
  /** Gaussian σ of the spots in pixels */
  sigma: number;
  seed: number;
  /** 0 = masked */
  valid?: (r: number, c: number) => boolean;
  /** no noise: image = expectation */
  noiseless?: boolean;
}

/**
 * A frame: background·norm plus Gaussian spots (point-sampled at pixel centres
 * within ±4σ, normalised to the spot's photons, like the simulator), then
 * Poisson noise. Spot photons falling outside the image are lost.
 */
export function makeFrame(spec: FrameSpec): SyntheticFrame {
  const { rows, cols } = spec;
  const n = rows * cols;
  const rng = new Rng(spec.seed);
  const norm = new Float32Array(n);
  const valid = new Uint8Array(n);
  const bgRaw = new Float64Array(n);
  const bgAvg = new Float32Array(n);
  const bgStd = new Float32Array(n);
  const spotRaw = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const k = r * cols + c;
      norm[k] = spec.norm ? spec.norm(r, c) : 1;
      valid[k] = spec.valid ? (spec.valid(r, c) ? 1 : 0) : 1;
      const b = spec.background(r, c);
      bgAvg[k] = b;
      bgRaw[k] = b * norm[k];
      bgStd[k] = Math.sqrt(b * norm[k]) / norm[k];
    }
  }
  const R = Math.ceil(4 * spec.sigma);
  const inv = 1 / (2 * spec.sigma * spec.sigma);
  for (const s of spec.spots) {
    const ri = Math.round(s.row), ci = Math.round(s.col);
    let sum = 0;
    for (let dr = -R; dr <= R; dr++) for (let dc = -R; dc <= R; dc++) sum += Math.exp(-((ri + dr - s.row) ** 2 + (ci + dc - s.col) ** 2) * inv);
    for (let dr = -R; dr <= R; dr++) {
      for (let dc = -R; dc <= R; dc++) {
        const r = ri + dr, c = ci + dc;
        if (r < 0 || r >= rows || c < 0 || c >= cols) continue;
        spotRaw[r * cols + c] += (s.photons * Math.exp(-((r - s.row) ** 2 + (c - s.col) ** 2) * inv)) / sum;
      }
    }
  }
  const image = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const lam = bgRaw[k] + spotRaw[k];
    image[k] = spec.noiseless ? lam : rng.poisson(lam);
  }
  return { rows, cols, image, bgRaw, spotRaw, norm, valid, bgAvg, bgStd, spots: spec.spots };
}

export const inputsOf = (f: SyntheticFrame): PixelInputs => ({ image: f.image, norm: f.norm, valid: f.valid, bgAvg: f.bgAvg, bgStd: f.bgStd });

/** Brute-force sparsify from the formula: valid, norm > 0, finite background, I/norm − bg > max(noise, cutoff·√(std² + noise²)). */
export function referenceSparsify(input: PixelInputs, noise: number, cutoff: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < input.image.length; k++) {
    if (input.valid && !input.valid[k]) continue;
    const nk = input.norm ? input.norm[k] : 1;
    if (!(nk > 0)) continue;
    const bg = input.bgAvg[k], sd = input.bgStd[k];
    if (!Number.isFinite(bg) || !Number.isFinite(sd)) continue;
    const v = input.image[k] / nk - bg;
    const thr = Math.max(noise, cutoff * Math.sqrt(sd * sd + noise * noise));
    if (v > thr) out.push(k);
  }
  return out;
}

export interface RefPeak {
  index: number;
  x: number;
  y: number;
  intensity: number;
  sigma: number;
  count: number;
}

/**
 * Brute-force peak finder from the definition (every pixel, whole patch, no
 * early exit): v = fround(I/norm − bg) where usable else 0; a peak is a high
 * pixel that is the patch maximum (ties: earliest in raster order) with
 * ≥ connected high pixels; sums over patch pixels with v > 0.
 */
export function referencePeaks(
  input: PixelInputs,
  rows: number,
  cols: number,
  p: { noise: number; cutoff_peak: number; patch_size: number; connected: number; peaks_at_border?: boolean },
): RefPeak[] {
  const n = rows * cols;
  const v = new Float64Array(n);
  const s2 = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const nk = input.norm ? input.norm[k] : 1;
    const ok = (!input.valid || input.valid[k] === 1) && nk > 0 && Number.isFinite(input.bgAvg[k]) && Number.isFinite(input.bgStd[k]);
    const x = ok ? Math.fround(input.image[k] / nk - input.bgAvg[k]) : 0;
    v[k] = x > 0 ? x : 0;
    s2[k] = input.bgStd[k] ** 2 + p.noise ** 2;
  }
  const high = (k: number): boolean => v[k] > 0 && v[k] >= p.cutoff_peak * Math.sqrt(s2[k]);
  const hw = Math.floor(p.patch_size / 2);
  const out: RefPeak[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const k = r * cols + c;
      if (!high(k)) continue;
      if (!p.peaks_at_border && (r < hw || c < hw || r >= rows - hw || c >= cols - hw)) continue;
      let isMax = true, count = 0, sum = 0, ss = 0, sr = 0, sc = 0;
      for (let rr = r - hw; rr <= r + hw; rr++) {
        for (let cc = c - hw; cc <= c + hw; cc++) {
          if (rr < 0 || rr >= rows || cc < 0 || cc >= cols) continue;
          const kk = rr * cols + cc;
          if (!(v[kk] > 0)) continue;
          if (v[kk] > v[k] || (v[kk] === v[k] && kk < k)) isMax = false;
          if (high(kk)) count++;
          sum += v[kk];
          ss += s2[kk];
          sr += (rr - r) * v[kk];
          sc += (cc - c) * v[kk];
        }
      }
      if (isMax && count >= p.connected) out.push({ index: k, x: c + sc / sum, y: r + sr / sum, intensity: sum, sigma: Math.sqrt(ss), count });
    }
  }
  return out;
}

/**
 * Per-radius background estimated from the frame itself (test-only stand-in
 * for the sigma-clipping step): pixels binned by radius, per bin the mean and
 * standard deviation of I/norm after iterative clipping at
 * max(3, √(2 ln(n/√(2π)))) standard deviations (Chauvenet, as pyFAI), 3 cycles.
 */
export function radialBackground(
  image: ArrayLike<number>,
  norm: ArrayLike<number>,
  valid: Uint8Array,
  radius: ArrayLike<number>,
  nbins: number,
): { radial: Float32Array; avg: Float32Array; std: Float32Array } {
  let rmin = Infinity, rmax = -Infinity;
  for (let k = 0; k < radius.length; k++) {
    if (!valid[k]) continue;
    if (radius[k] < rmin) rmin = radius[k];
    if (radius[k] > rmax) rmax = radius[k];
  }
  rmax *= 1 + 2 ** -23;
  const width = (rmax - rmin) / nbins;
  const members: number[][] = Array.from({ length: nbins }, () => []);
  for (let k = 0; k < radius.length; k++) {
    if (!valid[k] || !(norm[k] > 0)) continue;
    const b = Math.min(nbins - 1, Math.floor((radius[k] - rmin) / width));
    members[b].push(image[k] / norm[k]);
  }
  const radial = new Float32Array(nbins), avg = new Float32Array(nbins), std = new Float32Array(nbins);
  for (let b = 0; b < nbins; b++) {
    radial[b] = rmin + (b + 0.5) * width;
    let xs = members[b];
    let m = 0, s = 0;
    for (let cycle = 0; cycle <= 3; cycle++) {
      if (xs.length === 0) break;
      m = xs.reduce((a, x) => a + x, 0) / xs.length;
      s = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / xs.length);
      if (cycle === 3) break;
      const cut = Math.max(3, Math.sqrt(2 * Math.log(Math.max(3, xs.length) / Math.sqrt(2 * Math.PI))));
      const kept = xs.filter((x) => Math.abs(x - m) <= cut * s);
      if (kept.length === xs.length) break;
      xs = kept;
    }
    avg[b] = m;
    std[b] = s;
  }
  return { radial, avg, std };
}

/** Nearest element of `truth` to (x, y), with its distance. */
export function nearest(truth: Spot[], x: number, y: number): { spot: Spot | null; dist: number } {
  let best: Spot | null = null, dist = Infinity;
  for (const s of truth) {
    const d = Math.hypot(s.col - x, s.row - y);
    if (d < dist) {
      dist = d;
      best = s;
    }
  }
  return { spot: best, dist };
}
