/**
 * The sparse pixel → bin matrix of an integrator, with pyFAI's splitting
 * rules (`SplitBBoxIntegrator.calc_lut_1d` / `calc_lut_2d`), stored by pixel
 * so that a frame is read once, in memory order:
 *
 *  - `bin[k] ≥ 0`: pixel k contributes `frac[k]` to bin `bin[k]` and
 *    1 − frac[k] to bin `bin[k] + 1` (no splitting: frac = 1, or `frac`
 *    is null when no pixel is split at all). This covers every pixel of
 *    the `no` method and the pixels that bbox splits over ≤ 2 adjacent bins.
 *  - `bin[k] = −1`: pixel k is not in the matrix (masked, outside the
 *    ranges, or a static invalid pixel: flat/dark/normalization unusable).
 *  - `bin[k] = −2`: pixel k has a general list of (bin, coefficient)
 *    entries in `list` (pixels in ascending order, CSC-like).
 *
 * Splitting (bbox): a pixel spans [c − d, c + d] in bin units
 * f = (x − min)/δ; bins trunc(f_min) … trunc(f_max) (truncation toward 0,
 * as pyFAI's C cast), clipped to the axis; pixels with trunc(f_max) < 0 or
 * trunc(f_min) ≥ n are dropped. Coefficients: (b_min + 1 − f_min)/(f_max −
 * f_min) for the first bin, (f_max − b_max)/(…) for the last,
 * 1/(f_max − f_min) in between; 1 when both ends fall in one bin. In 2D the
 * coefficient is the product of the radial and azimuthal fractions. Every
 * pixel's coefficients sum to 1 (pixels partly outside a given range put
 * their whole weight in the edge bin, like pyFAI).
 *
 * 1D with an azimuth range: pixels whose χ extent [χ − dχ, χ + dχ] misses
 * the range are dropped whole (pyFAI does not split along χ in 1D).
 *
 * `csr()` gives the same matrix row by row (row = bin, pyFAI's layout:
 * Int32 indptr/indices, Float32 coefficients), for inspection and export.
 */
import type { Axis } from './axis.js';

export interface EntryList {
  /** pixel index of each listed pixel (ascending) */
  pix: Int32Array;
  /** entries of listed pixel i are ptr[i] … ptr[i+1]−1 */
  ptr: Int32Array;
  bins: Int32Array;
  coefs: Float32Array;
}

export interface Csr {
  /** rows = bins (length nbins + 1) */
  indptr: Int32Array;
  /** pixel index of each entry */
  indices: Int32Array;
  /** coefficient of each entry */
  data: Float32Array;
}

export class PixelTable {
  private csrCache: Csr | null = null;

  constructor(
    /** number of output bins (1D: npt; 2D: npt_azim × npt_rad, index = azim · npt_rad + rad) */
    readonly nbins: number,
    readonly bin: Int32Array,
    readonly frac: Float32Array | null,
    readonly list: EntryList,
  ) {}

  get size(): number {
    return this.bin.length;
  }

  /** Number of (pixel, bin) entries with a non-zero coefficient. */
  get nnz(): number {
    let n = this.list.bins.length;
    const { bin, frac } = this;
    for (let k = 0; k < bin.length; k++) {
      if (bin[k] < 0) continue;
      n += frac && frac[k] !== 1 ? 2 : 1;
    }
    return n;
  }

  /** Visit every entry (pixel, bin, coefficient), pixels in ascending order. */
  forEach(fn: (pixel: number, bin: number, coef: number) => void): void {
    const { bin, frac, list } = this;
    let li = 0;
    for (let k = 0; k < bin.length; k++) {
      const b = bin[k];
      if (b >= 0) {
        const f = frac ? frac[k] : 1;
        fn(k, b, f);
        if (f !== 1) fn(k, b + 1, 1 - f);
      } else if (b === -2) {
        for (let e = list.ptr[li]; e < list.ptr[li + 1]; e++) fn(k, list.bins[e], list.coefs[e]);
        li++;
      }
    }
  }

  /** The matrix in CSR form, rows = bins (built on first call, then cached). */
  csr(): Csr {
    if (this.csrCache) return this.csrCache;
    const indptr = new Int32Array(this.nbins + 1);
    this.forEach((_, b) => indptr[b + 1]++);
    for (let b = 0; b < this.nbins; b++) indptr[b + 1] += indptr[b];
    const nnz = indptr[this.nbins];
    const indices = new Int32Array(nnz), data = new Float32Array(nnz);
    const fill = indptr.slice(0, this.nbins);
    this.forEach((k, b, c) => {
      const at = fill[b]++;
      indices[at] = k;
      data[at] = c;
    });
    this.csrCache = { indptr, indices, data };
    return this.csrCache;
  }
}

/** What the builder needs about the pixels. */
export interface TableInput {
  /** radial centre and half-extent (null: no splitting), base units */
  rad: Float64Array;
  dRad: Float64Array | null;
  /** χ centre and half-extent (rad); needed for 2D, or 1D with an azimuth range */
  chi: Float64Array | null;
  dChi: Float64Array | null;
  /** pixel usable (not masked, statically valid) */
  usable: (k: number) => boolean;
}

/** Fractions of one axis: first/last bin, their fractions, the inner fraction. null: the pixel misses the axis. */
interface Span {
  lo: number;
  hi: number;
  fLo: number;
  fHi: number;
  inner: number;
}

function span(c: number, d: number, axis: Axis, out: Span): boolean {
  const fmin = (c - d - axis.min) / axis.delta;
  const fmax = (c + d - axis.min) / axis.delta;
  if (!(fmin === fmin && fmax === fmax)) return false; // NaN position
  let lo = Math.trunc(fmin), hi = Math.trunc(fmax);
  if (hi < 0 || lo >= axis.n) return false;
  if (hi > axis.n - 1) hi = axis.n - 1;
  if (lo < 0) lo = 0;
  out.lo = lo;
  out.hi = hi;
  if (lo === hi) {
    out.fLo = out.fHi = out.inner = 1;
  } else {
    const inv = 1 / (fmax - fmin);
    out.fLo = inv * (lo + 1 - fmin);
    out.fHi = inv * (fmax - hi);
    out.inner = inv;
  }
  return true;
}

class TableBuilder {
  readonly bin: Int32Array;
  readonly frac: Float32Array;
  private anySplit = false;
  private pix: number[] = [];
  private ptr: number[] = [0];
  private bins: number[] = [];
  private coefs: number[] = [];
  // entries of the current pixel
  private eb: number[] = [];
  private ec: number[] = [];

  constructor(
    size: number,
    readonly nbins: number,
  ) {
    this.bin = new Int32Array(size).fill(-1);
    this.frac = new Float32Array(size);
  }

  add(b: number, c: number): void {
    this.eb.push(b);
    this.ec.push(c);
  }

  /** Store the entries gathered for pixel k. */
  commit(k: number): void {
    const { eb, ec } = this;
    const m = eb.length;
    if (m === 1 || (m === 2 && eb[1] === eb[0] + 1)) {
      // single bin, or a pair of adjacent bins: the first coefficient is kept, the second is 1 − it
      this.bin[k] = eb[0];
      const f = m === 1 ? 1 : Math.fround(ec[0]);
      this.frac[k] = f;
      if (f !== 1) this.anySplit = true;
    } else if (m > 0) {
      this.bin[k] = -2;
      this.pix.push(k);
      for (let e = 0; e < m; e++) {
        this.bins.push(eb[e]);
        this.coefs.push(ec[e]);
      }
      this.ptr.push(this.bins.length);
    }
    eb.length = 0;
    ec.length = 0;
  }

  finish(): PixelTable {
    return new PixelTable(this.nbins, this.bin, this.anySplit ? this.frac : null, {
      pix: Int32Array.from(this.pix),
      ptr: Int32Array.from(this.ptr),
      bins: Int32Array.from(this.bins),
      coefs: Float32Array.from(this.coefs),
    });
  }
}

/**
 * 1D table. `chiRange` (rad, already normalized) drops pixels whose χ
 * extent misses it, as pyFAI does in 1D.
 */
export function buildTable1d(input: TableInput, axis: Axis, chiRange: [number, number] | null): PixelTable {
  const { rad, dRad, chi, dChi, usable } = input;
  const size = rad.length;
  const t = new TableBuilder(size, axis.n);
  const s: Span = { lo: 0, hi: 0, fLo: 0, fHi: 0, inner: 0 };
  for (let k = 0; k < size; k++) {
    if (!usable(k)) continue;
    if (chiRange) {
      const c1 = chi![k], d1 = dChi ? dChi[k] : 0;
      if (c1 + d1 < chiRange[0] || c1 - d1 > chiRange[1]) continue;
    }
    if (!span(rad[k], dRad ? dRad[k] : 0, axis, s)) continue;
    if (s.lo === s.hi) t.add(s.lo, 1);
    else {
      t.add(s.lo, s.fLo);
      for (let b = s.lo + 1; b < s.hi; b++) t.add(b, s.inner);
      t.add(s.hi, s.fHi);
    }
    t.commit(k);
  }
  return t.finish();
}

/** 2D table (cake): bins indexed azim · nRad + rad. */
export function buildTable2d(input: TableInput, radAxis: Axis, chiAxis: Axis): PixelTable {
  const { rad, dRad, chi, dChi, usable } = input;
  const size = rad.length;
  const nRad = radAxis.n;
  const t = new TableBuilder(size, nRad * chiAxis.n);
  const s0: Span = { lo: 0, hi: 0, fLo: 0, fHi: 0, inner: 0 };
  const s1: Span = { lo: 0, hi: 0, fLo: 0, fHi: 0, inner: 0 };
  const w0 = (i: number): number => (s0.lo === s0.hi ? 1 : i === s0.lo ? s0.fLo : i === s0.hi ? s0.fHi : s0.inner);
  const w1 = (j: number): number => (s1.lo === s1.hi ? 1 : j === s1.lo ? s1.fLo : j === s1.hi ? s1.fHi : s1.inner);
  for (let k = 0; k < size; k++) {
    if (!usable(k)) continue;
    if (!span(rad[k], dRad ? dRad[k] : 0, radAxis, s0)) continue;
    if (!span(chi![k], dChi ? dChi[k] : 0, chiAxis, s1)) continue;
    for (let j = s1.lo; j <= s1.hi; j++) {
      for (let i = s0.lo; i <= s0.hi; i++) t.add(j * nRad + i, w0(i) * w1(j));
    }
    t.commit(k);
  }
  return t.finish();
}
