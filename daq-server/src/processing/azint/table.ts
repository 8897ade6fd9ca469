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

/**
 * Thrown when the matrix would not fit in memory: `entries` (pixel, bin) pairs are more than
 * `limit`. The integrator's callers turn it into a ParameterError naming the bin counts.
 */
export class TableTooLarge extends RangeError {
  constructor(
    readonly entries: number,
    readonly limit: number,
    /** counting stopped there: the table would hold at least `entries` */
    readonly atLeast = false,
  ) {
    super(`the pixel → bin table would hold ${atLeast ? 'more than ' : ''}${entries} entries, more than the ${limit} that memory allows`);
  }
}

/** Bytes one listed entry costs: its bin and coefficient here, and again in a kernel's or the CSR's copy. */
export const ENTRY_BYTES = 16;

/**
 * Entries one table may hold: a sixteenth of the machine memory (several receivers each build
 * one), and below 2³¹ (Int32 offsets).
 */
export function maxTableEntries(totalMemory: number): number {
  return Math.min(2 ** 31 - 1, Math.floor(totalMemory / 16 / ENTRY_BYTES));
}

/**
 * Builds a table in two passes over the pixels (the caller runs its loop once per pass): the
 * first only counts the entries, the second fills typed arrays of exactly that size. Nothing
 * grows element by element, and a table too large for memory is refused before any allocation.
 */
class TableBuilder {
  readonly bin: Int32Array;
  readonly frac: Float32Array;
  private anySplit = false;
  private counting = true;
  /** entries of the current pixel, and its first two bins (the adjacency test) */
  private m = 0;
  private b0 = 0;
  private b1 = 0;
  private maxM = 0;
  private listPixels = 0;
  private listEntries = 0;
  private eb = new Int32Array(0);
  private ec = new Float64Array(0);
  private pix = new Int32Array(0);
  private ptr = new Int32Array(1);
  private bins = new Int32Array(0);
  private coefs = new Float32Array(0);
  private li = 0;
  private le = 0;

  constructor(
    size: number,
    readonly nbins: number,
    private readonly maxEntries: number,
  ) {
    this.bin = new Int32Array(size).fill(-1);
    this.frac = new Float32Array(size);
  }

  add(b: number, c: number): void {
    const m = this.m++;
    if (m === 0) this.b0 = b;
    else if (m === 1) this.b1 = b;
    if (!this.counting) {
      this.eb[m] = b;
      this.ec[m] = c;
    }
  }

  /** Store (or, in the counting pass, count) the entries gathered for pixel k. */
  commit(k: number): void {
    const m = this.m;
    this.m = 0;
    if (m === 0) return;
    const pair = m === 1 || (m === 2 && this.b1 === this.b0 + 1);
    if (this.counting) {
      if (!pair) {
        this.listPixels++;
        this.listEntries += m;
        if (m > this.maxM) this.maxM = m;
        // too large already: stop counting (the rest of the pass is wasted time)
        if (this.bin.length + this.listEntries > this.maxEntries) throw new TableTooLarge(this.bin.length + this.listEntries, this.maxEntries, true);
      }
      return;
    }
    const { eb, ec } = this;
    if (pair) {
      // single bin, or a pair of adjacent bins: the first coefficient is kept, the second is 1 − it
      this.bin[k] = eb[0];
      const f = m === 1 ? 1 : Math.fround(ec[0]);
      this.frac[k] = f;
      if (f !== 1) this.anySplit = true;
    } else {
      this.bin[k] = -2;
      this.pix[this.li] = k;
      for (let e = 0; e < m; e++) {
        this.bins[this.le] = eb[e];
        this.coefs[this.le++] = ec[e];
      }
      this.ptr[++this.li] = this.le;
    }
  }

  /** End of the counting pass: check the size, allocate the lists. */
  startFilling(): void {
    const entries = this.bin.length + this.listEntries;
    if (entries > this.maxEntries) throw new TableTooLarge(entries, this.maxEntries);
    this.counting = false;
    this.eb = new Int32Array(Math.max(2, this.maxM));
    this.ec = new Float64Array(Math.max(2, this.maxM));
    this.pix = new Int32Array(this.listPixels);
    this.ptr = new Int32Array(this.listPixels + 1);
    this.bins = new Int32Array(this.listEntries);
    this.coefs = new Float32Array(this.listEntries);
  }

  finish(): PixelTable {
    return new PixelTable(this.nbins, this.bin, this.anySplit ? this.frac : null, { pix: this.pix, ptr: this.ptr, bins: this.bins, coefs: this.coefs });
  }
}

/** Run `pass` twice on `t`: counting, then filling. */
function twoPasses(t: TableBuilder, pass: () => void): PixelTable {
  pass();
  t.startFilling();
  pass();
  return t.finish();
}

/**
 * 1D table. `chiRange` (rad, already normalized) drops pixels whose χ
 * extent misses it, as pyFAI does in 1D.
 */
export function buildTable1d(input: TableInput, axis: Axis, chiRange: [number, number] | null, maxEntries = 2 ** 31 - 1): PixelTable {
  const { rad, dRad, chi, dChi, usable } = input;
  const size = rad.length;
  const t = new TableBuilder(size, axis.n, maxEntries);
  const s: Span = { lo: 0, hi: 0, fLo: 0, fHi: 0, inner: 0 };
  return twoPasses(t, () => {
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
  });
}

/** 2D table (cake): bins indexed azim · nRad + rad. */
export function buildTable2d(input: TableInput, radAxis: Axis, chiAxis: Axis, maxEntries = 2 ** 31 - 1): PixelTable {
  const { rad, dRad, chi, dChi, usable } = input;
  const size = rad.length;
  const nRad = radAxis.n;
  const t = new TableBuilder(size, nRad * chiAxis.n, maxEntries);
  const s0: Span = { lo: 0, hi: 0, fLo: 0, fHi: 0, inner: 0 };
  const s1: Span = { lo: 0, hi: 0, fLo: 0, fHi: 0, inner: 0 };
  const w0 = (i: number): number => (s0.lo === s0.hi ? 1 : i === s0.lo ? s0.fLo : i === s0.hi ? s0.fHi : s0.inner);
  const w1 = (j: number): number => (s1.lo === s1.hi ? 1 : j === s1.lo ? s1.fLo : j === s1.hi ? s1.fHi : s1.inner);
  return twoPasses(t, () => {
    for (let k = 0; k < size; k++) {
      if (!usable(k)) continue;
      if (!span(rad[k], dRad ? dRad[k] : 0, radAxis, s0)) continue;
      if (!span(chi![k], dChi ? dChi[k] : 0, chiAxis, s1)) continue;
      for (let j = s1.lo; j <= s1.hi; j++) {
        for (let i = s0.lo; i <= s0.hi; i++) t.add(j * nRad + i, w0(i) * w1(j));
      }
      t.commit(k);
    }
  });
}
