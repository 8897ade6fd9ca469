/**
 * Sparsification of a diffraction frame after pyFAI's OpenCL `find_intense`
 * kernel (pyFAI/resources/openCL/sparsify.cl, OCL_PeakFinder.sparsify):
 *
 *   σ'  = √(bg_std² + noise²)
 *   keep pixel k  ⇔  I_k / norm_k − bg_avg_k  >  max(noise, cutoff_pick · σ')     (strict >)
 *
 * What is kept is the pixel's flat index and its value in the frame as given
 * (pyFAI keeps the dark-subtracted signal, not I/norm: `copy_intense` copies
 * preproc4.s0); the background per radial bin travels with the frame, so
 * `densify` rebuilds the frame (background from bins + kept pixels).
 */
import type { NumArray } from './background.js';
import { bgAvgAt, bgStdAt, lowerBounds, CandidateList, type BinBackground } from './ondemand.js';

/** The per-pixel inputs of the smx kernels (all of length rows·cols, row-major). */
export interface PixelInputs {
  /** the frame: counts or photons, as corrected by the previous steps */
  image: NumArray;
  /** pyFAI's normalisation (solid angle · polarization · flat); null: 1 everywhere */
  norm: NumArray | null;
  /** 1 = usable pixel; null: every pixel usable */
  valid: Uint8Array | null;
  /** background average at each pixel, normalised units (NaN: no background, never picked) */
  bgAvg: NumArray;
  /** background standard deviation at each pixel, normalised units */
  bgStd: NumArray;
}

export interface SparsifyParams {
  /** pyFAI `noise`: minimum meaningful signal, also added quadratically to the background deviation */
  noise: number;
  /** pyFAI `cutoff_pick`: keep pixels above background + cutoff_pick·σ' */
  cutoff_pick: number;
}

export interface SparseFrame {
  /** flat pixel indices, increasing */
  index: Uint32Array;
  /** the frame's value at those pixels (raw units, as in the input image) */
  intensity: Float32Array;
}

/** Throw when a per-pixel array does not have the image's size (null: absent, fine). */
export function checkLength(name: string, a: { length: number } | null, size: number): void {
  if (a !== null && a.length !== size) throw new RangeError(`smx: ${name} has ${a.length} elements, the image ${size}`);
}

function checkInputs(input: PixelInputs, size: number): void {
  checkLength('image', input.image, size);
  checkLength('norm', input.norm, size);
  checkLength('valid', input.valid, size);
  checkLength('bgAvg', input.bgAvg, size);
  checkLength('bgStd', input.bgStd, size);
}

/**
 * Sparsifier for frames of one size: keeps a scratch list of pixel indices so
 * that a frame costs no allocation beyond its result.
 */
export class Sparsifier {
  private scratch: Uint32Array | null = null;
  private ones: Float32Array | null = null;
  private all: Uint8Array | null = null;

  constructor(readonly size: number) {}

  /** Pixels above threshold in one frame. */
  run(input: PixelInputs, params: SparsifyParams): SparseFrame {
    const size = this.size;
    checkInputs(input, size);
    const scratch = (this.scratch ??= new Uint32Array(size));
    const { image, bgAvg, bgStd } = input;
    // one loop for every case: a missing norm / mask is an array of ones
    const norm = input.norm ?? (this.ones ??= new Float32Array(size).fill(1));
    const valid = input.valid ?? (this.all ??= new Uint8Array(size).fill(1));
    const noise = params.noise;
    const n2 = noise * noise;
    const cut = params.cutoff_pick;
    const c2 = cut * cut;
    let m = 0;
    for (let k = 0; k < size; k++) {
      const v = image[k] / norm[k] - bgAvg[k];
      const sd = bgStd[k];
      // v > max(noise, cut·σ′) ⇔ v > noise and v² > cut²·σ′² (v > 0), evaluated without branches
      // (& of the comparisons as numbers): each comparison alone is decided by the noise, a branch
      // on it would be mispredicted; all together are rarely true. NaN compares false.
      if (+(v > noise) & +(v * v > c2 * (sd * sd + n2)) & +(valid[k] !== 0)) {
        if (norm[k] > 0) scratch[m++] = k;
      }
    }
    const index = scratch.slice(0, m);
    const intensity = new Float32Array(m);
    for (let i = 0; i < m; i++) intensity[i] = image[index[i]];
    return { index, intensity };
  }
}

/**
 * Sparsification with the background per radial bin (no per-pixel arrays):
 * a bound per bin filters the frame, the exact test runs on the candidates
 * (same arithmetic as `Sparsifier.run` on the interpolated background, same
 * result). `cands`: a candidate list of this frame to reuse when it covers
 * the bounds here; it is (re)filled otherwise.
 */
export class BinSparsifier {
  private bounds = new Float64Array(0);
  private scratch = new Uint32Array(4096);

  constructor(readonly size: number) {}

  run(image: NumArray, norm: NumArray | null, valid: Uint8Array | null, bg: BinBackground, params: SparsifyParams, cands: CandidateList): SparseFrame {
    const size = this.size;
    checkLength('image', image, size);
    checkLength('norm', norm, size);
    checkLength('valid', valid, size);
    checkLength('bin', bg.bin, size);
    const noise = params.noise;
    const n2 = noise * noise;
    const cut = params.cutoff_pick;
    const c2 = cut * cut;
    if (this.bounds.length !== bg.avg.length + 1) this.bounds = new Float64Array(bg.avg.length + 1);
    lowerBounds(bg, cut, noise, noise, this.bounds);
    if (!cands.covers(image, this.bounds)) cands.scan(image, norm, bg.bin, this.bounds);
    if (this.scratch.length < cands.n) this.scratch = new Uint32Array(cands.n);
    const scratch = this.scratch;
    const list = cands.index;
    let m = 0;
    for (let j = 0; j < cands.n; j++) {
      const k = list[j];
      const nk = norm === null ? 1 : norm[k];
      const v = image[k] / nk - bgAvgAt(bg, k);
      const sd = bgStdAt(bg, k);
      if (v > noise && v * v > c2 * (sd * sd + n2) && (valid === null || valid[k] !== 0) && nk > 0) scratch[m++] = k;
    }
    const index = scratch.slice(0, m);
    const intensity = new Float32Array(m);
    for (let i = 0; i < m; i++) intensity[i] = image[index[i]];
    return { index, intensity };
  }
}

/** One-shot sparsification (allocates its scratch; use a Sparsifier per receiver for streams of frames). */
export function sparsify(input: PixelInputs, params: SparsifyParams): SparseFrame {
  return new Sparsifier(input.image.length).run(input, params);
}
