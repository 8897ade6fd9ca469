/**
 * Multi-tau intensity autocorrelation g2(q, τ) for XPCS, updated frame by
 * frame (after LIMA2's `xpcs` pipeline and the usual XPCS software: Schätzel's
 * multi-tau scheme with symmetric normalisation).
 *
 * Lag grid (τ in frames; `m` even, `levels` levels):
 *
 *   level 0:      τ = 1, 2, …, m                      (m lags, the raw frames)
 *   level l ≥ 1:  τ = k·2^l, k = m/2+1, …, m            (m/2 lags per level)
 *
 * i.e. 1..m, then step 2 up to 2m, step 4 up to 4m, …; n_tau = m + (levels−1)·m/2,
 * largest τ = m·2^(levels−1). τ = 0 is not on the grid; g2(0) = ⟨I²⟩/⟨I⟩² is
 * reported separately (`g2_0`). Level l works on the coarse-grained series
 * I_l(s) = ½(I_{l−1}(2s) + I_{l−1}(2s+1)) (so I_l(s) is the average of frames
 * [s·2^l, (s+1)·2^l)); a lag of k level-l steps is τ = k·2^l frames and the
 * result is g2 averaged over a triangle of half-width 2^l around τ (the usual
 * multi-tau smoothing, relative width ≤ 2/(m+2)).
 *
 * Normalisation (per pixel, symmetric — Schätzel 1990, Lumma et al. 2000),
 * for pixel p, level l, lag k, over the N = S − k pairs (s−k, s) seen so far:
 *
 *   G  = Σ_s I(s−k)·I(s),  IP = Σ_s I(s−k)  ("past"),  IF = Σ_s I(s)  ("future")
 *   g2_p(τ) = N·G / (IP·IF)
 *
 * then g2(q, τ) = mean of g2_p over the pixels p of ring q with IP, IF > 0,
 * and err = standard error of that mean (std of g2_p / √n). Option
 * `normalization: 'ring'` instead sums G, IP, IF over the ring first,
 * g2 = N·ΣG/(ΣIP·ΣIF) (less biased for very low count rates, where single
 * pixels have few photons).
 *
 * Memory: IP and IF are not stored per lag: IP = total − (sum of the last k
 * values), IF = total − (sum of the first k values), so per pixel and level
 * the correlator keeps the last m values (float32), the first m values
 * (float32), the per-lag G (float64: m at level 0, m/2 above) and the total
 * (float64): 16m + 16 bytes at level 0, 12m + 8 bytes per higher level,
 * allocated when a level receives its first value. m = 16, 12 levels:
 * ≈ 2.4 kB per pixel in rings, i.e. 640 MB for 512 × 512, 2.5 GB for 1 Mpx
 * (`memoryBytes()`; about the practical limit of the dense design).
 * All arrays are pixel-major (the m values / lags of a pixel are contiguous)
 * so that a frame touches a pixel's state in one or two cache lines — this
 * is what makes the sparse path fast.
 *
 * Missing / incomplete frames (`ingest(i, null)`, or frame indexes skipped)
 * are gaps: their values are 0 and not valid, a coarse value is valid only if
 * both halves are, a pair (s−k, s) counts only when both values are valid; N
 * counts valid pairs and IP/IF get exact corrections (float64 per lag per
 * pixel, allocated at the first gap of a level).
 *
 * Sparse (event) mode: a value whose fraction of non-zero pixels (the fill
 * factor) is low is processed only at its non-zero pixels (a zero adds
 * nothing to G, IP, IF or the totals, so the result is bit-identical to the
 * dense computation). Values are still stored in the dense per-pixel buffers,
 * with the list of non-zero pixels of each buffer slot, so the dense and
 * sparse paths can alternate frame by frame (`mode: 'auto'`); coarse values of
 * two sparse values are the union of their lists. `ingestSparse` takes
 * (pixel index, count) lists directly, without touching the other pixels.
 *
 * Frames must be ingested in frame order (one correlator per acquisition, fed
 * where the frames are in order).
 */

export type XpcsMode = 'dense' | 'sparse' | 'auto';
export type XpcsNormalization = 'pixel' | 'ring';

export interface MultiTauOptions {
  /** dense: every pixel every frame; sparse: only non-zero pixels; auto: sparse when fill factor < sparseThreshold (default auto) */
  mode?: XpcsMode;
  /** auto mode: fill factor (fraction of non-zero pixels in rings) below which a frame is processed sparsely (default 0.1) */
  sparseThreshold?: number;
  /** pixel: per-pixel symmetric normalisation then ring mean (default); ring: symmetric normalisation of ring sums */
  normalization?: XpcsNormalization;
  /** image value marking an invalid pixel in a frame: counted as 0 (default none); NaN is always counted as 0 */
  dummy?: number | null;
}

export interface XpcsSnapshot {
  /** lags in frames, [n_tau] */
  tau: Float64Array;
  /** g2 per ring and lag, row-major [n_rings, n_tau]; NaN where no pair or no pixel contributes yet */
  g2: Float64Array;
  /** standard error of g2 (spread of the per-pixel g2 over the ring / √pixels), [n_rings, n_tau] */
  g2_err: Float64Array;
  /** pixels contributing to each g2 value (pixel normalisation: with IP, IF > 0), [n_rings, n_tau] */
  pixels: Int32Array;
  /** g2 at τ = 0, ⟨I²⟩/⟨I⟩² per pixel averaged over the ring (≈ 1 + β + 1/⟨I⟩ for speckle with shot noise), [n_rings] */
  g2_0: Float64Array;
  /** mean intensity per pixel per valid frame in each ring, [n_rings] */
  intensity: Float64Array;
  /** frames ingested (missing ones included) and valid ones */
  nframes: number;
  nvalid: number;
  nRings: number;
  nTau: number;
}

/** The standard multi-tau lag grid in frames: 1..m, then k·2^l for k = m/2+1..m at each level l ≥ 1. */
export function multiTauLags(m: number, levels: number): Float64Array {
  checkMLevels(m, levels);
  const out = new Float64Array(m + (levels - 1) * (m / 2));
  let n = 0;
  for (let k = 1; k <= m; k++) out[n++] = k;
  for (let l = 1; l < levels; l++) for (let k = m / 2 + 1; k <= m; k++) out[n++] = k * 2 ** l;
  return out;
}

function checkMLevels(m: number, levels: number): void {
  if (!Number.isInteger(m) || m < 2 || m % 2 !== 0) throw new RangeError(`multi-tau: m must be an even integer ≥ 2 (got ${m})`);
  if (!Number.isInteger(levels) || levels < 1 || levels > 40) throw new RangeError(`multi-tau: levels must be an integer in 1..40 (got ${levels})`);
}

/** Bytes the correlator state takes for `pixels` pixels once all `levels` levels are allocated (dense buffers, no gaps). */
export function multiTauMemoryBytes(pixels: number, m: number, levels: number): number {
  const level0 = 4 * m + 4 * m + 8 * m + 8 + 8;
  const higher = 4 * m + 4 * m + 8 * (m / 2) + 8;
  return pixels * (level0 + (levels - 1) * higher) + 16 * pixels;
}

/**
 * The dense update of the usual case (every lag 0..nb−1 has a valid partner,
 * no gap correction): lag i reads slot j0 − i (mod m), so the partners of a
 * pixel are two descending runs of its m-value history.
 */
function denseKernel(
  np: number,
  m: number,
  nl: number,
  nb: number,
  j0: number,
  slot: number,
  s: number,
  cur: Float32Array,
  buf: Float32Array,
  G: Float64Array,
  total: Float64Array,
  sumSq: Float64Array | null,
  first: Float32Array | null,
): void {
  const n1 = Math.min(nb, j0 + 1); // slots j0, j0−1, …, j0−n1+1
  const n2 = nb - n1; // then m−1, m−2, …
  if (sumSq) {
    for (let p = 0; p < np; p++) {
      const c = cur[p];
      const b = p * m, g = p * nl;
      for (let i = 0; i < n1; i++) G[g + i] += c * buf[b + j0 - i];
      const g2 = g + n1, b2 = b + m - 1;
      for (let i = 0; i < n2; i++) G[g2 + i] += c * buf[b2 - i];
      total[p] += c;
      sumSq[p] += c * c;
      buf[b + slot] = c;
    }
  } else {
    for (let p = 0; p < np; p++) {
      const c = cur[p];
      const b = p * m, g = p * nl;
      for (let i = 0; i < n1; i++) G[g + i] += c * buf[b + j0 - i];
      const g2 = g + n1, b2 = b + m - 1;
      for (let i = 0; i < n2; i++) G[g2 + i] += c * buf[b2 - i];
      total[p] += c;
      buf[b + slot] = c;
    }
  }
  if (first) for (let p = 0; p < np; p++) first[p * m + s] = cur[p];
}

/** One level of the multi-tau correlator. */
class Level {
  /** values received so far */
  S = 0;
  /** lags in level steps, ascending */
  readonly lags: Int32Array;
  readonly nl: number;
  /** last m values, pixel-major: buf[p·m + (s mod m)] */
  readonly buf: Float32Array;
  /** first m values, pixel-major: first[p·m + s], s < m */
  readonly first: Float32Array;
  /** Σ I(s−k)·I(s) per pixel and lag: G[p·nl + i] */
  readonly G: Float64Array;
  /** Σ I(s) over valid values, per pixel */
  readonly total: Float64Array;
  /** level 0 only: Σ I(s)² per pixel */
  readonly sumSq: Float64Array | null;
  /** valid pairs per lag */
  readonly pairs: Float64Array;
  /** gap corrections: IP and IF contributions of values whose partner is invalid, [p·nl + i]; allocated at the first gap */
  corrP: Float64Array | null = null;
  corrF: Float64Array | null = null;
  /** per buffer slot: value valid, stored sparse (its non-zero pixels listed), count and list of non-zero pixels */
  readonly slotValid: Uint8Array;
  readonly slotSparse: Uint8Array;
  readonly slotNnz: Int32Array;
  readonly slotNz: Int32Array[];
  validCount = 0;

  constructor(readonly l: number, readonly m: number, np: number) {
    const lags: number[] = [];
    for (let k = l === 0 ? 1 : m / 2 + 1; k <= m; k++) lags.push(k);
    this.lags = Int32Array.from(lags);
    this.nl = lags.length;
    this.buf = new Float32Array(np * m);
    this.first = new Float32Array(np * m);
    this.G = new Float64Array(np * this.nl);
    this.total = new Float64Array(np);
    this.sumSq = l === 0 ? new Float64Array(np) : null;
    this.pairs = new Float64Array(this.nl);
    this.slotValid = new Uint8Array(m);
    this.slotSparse = new Uint8Array(m).fill(1); // an empty slot is a sparse slot with no entry
    this.slotNnz = new Int32Array(m);
    this.slotNz = Array.from({ length: m }, () => new Int32Array(0));
  }
}

export interface IngestResult {
  /** fraction of the pixels in rings that are non-zero in this frame (NaN for a missing frame) */
  fill_factor: number;
  /** whether the frame was processed by the sparse path */
  sparse: boolean;
}

/**
 * The live multi-tau correlator. `labels[k]` is the ring of image pixel k
 * (−1: none); frames are flat images indexed like `labels`.
 */
export class MultiTauCorrelator {
  readonly m: number;
  readonly levels: number;
  readonly nRings: number;
  /** lags in frames */
  readonly tau: Float64Array;
  readonly nTau: number;
  /** pixels in rings (compact index → image index), grouped by ring */
  readonly pixels: Int32Array;
  /** ring of each compact pixel */
  readonly ringOf: Int32Array;
  /** pixels per ring */
  readonly ringPixels: Int32Array;
  readonly mode: XpcsMode;
  readonly sparseThreshold: number;
  readonly normalization: XpcsNormalization;
  readonly dummy: number | null;
  private readonly np: number;
  private readonly imageSize: number;
  /** image index → compact index or −1 (built on first ingestSparse) */
  private compact: Int32Array | null = null;
  private readonly lv: (Level | null)[];
  /** scratch for the value being pushed (dense; zero outside its non-zero list when `scratchClean`) */
  private readonly cur: Float32Array;
  private scratchClean = true;
  private readonly nzScratch: Int32Array;
  /** stamp marks for list unions */
  private readonly mark: Int32Array;
  private stamp = 0;
  private first = -1;
  private next = 0;
  private nframesCount = 0;

  constructor(labels: ArrayLike<number>, nRings: number, m = 16, levels = 12, options: MultiTauOptions = {}) {
    checkMLevels(m, levels);
    if (!Number.isInteger(nRings) || nRings < 1) throw new RangeError(`multi-tau: nRings must be a positive integer (got ${nRings})`);
    this.m = m;
    this.levels = levels;
    this.nRings = nRings;
    this.tau = multiTauLags(m, levels);
    this.nTau = this.tau.length;
    this.mode = options.mode ?? 'auto';
    if (!['dense', 'sparse', 'auto'].includes(this.mode)) throw new RangeError(`multi-tau: unknown mode ${String(this.mode)}`);
    this.sparseThreshold = options.sparseThreshold ?? 0.1;
    this.normalization = options.normalization ?? 'pixel';
    this.dummy = options.dummy ?? null;
    // compact pixel list grouped by ring (ring 0 first), image order inside a ring
    const counts = new Int32Array(nRings);
    for (let k = 0; k < labels.length; k++) {
      const r = labels[k];
      if (r >= 0) {
        if (r >= nRings || !Number.isInteger(r)) throw new RangeError(`multi-tau: label ${r} at pixel ${k} is not a ring index < ${nRings}`);
        counts[r]++;
      }
    }
    let np = 0;
    const start = new Int32Array(nRings);
    for (let r = 0; r < nRings; r++) {
      start[r] = np;
      np += counts[r];
    }
    if (np === 0) throw new RangeError('multi-tau: no pixel in any ring');
    this.pixels = new Int32Array(np);
    this.ringOf = new Int32Array(np);
    const fill = start.slice();
    for (let k = 0; k < labels.length; k++) {
      const r = labels[k];
      if (r >= 0) {
        this.ringOf[fill[r]] = r;
        this.pixels[fill[r]++] = k;
      }
    }
    this.ringPixels = counts;
    this.np = np;
    this.imageSize = labels.length;
    this.lv = new Array(levels).fill(null);
    this.cur = new Float32Array(np);
    this.nzScratch = new Int32Array(np);
    this.mark = new Int32Array(np);
  }

  /** Number of pixels in rings. */
  get pixelCount(): number {
    return this.np;
  }

  /** Frames ingested so far (missing ones included). */
  get nframes(): number {
    return this.nframesCount;
  }

  /** Index the next frame should have (frames before it are done), or null before the first. */
  get nextFrame(): number | null {
    return this.first < 0 ? null : this.next;
  }

  /** Upper bound of the state's size in bytes once every level is allocated. */
  memoryBytes(): number {
    return multiTauMemoryBytes(this.np, this.m, this.levels) + 4 * this.imageSize;
  }

  /** Bytes allocated now. */
  allocatedBytes(): number {
    let b = this.cur.byteLength + this.nzScratch.byteLength + this.mark.byteLength + this.pixels.byteLength + this.ringOf.byteLength;
    if (this.compact) b += this.compact.byteLength;
    for (const L of this.lv) {
      if (!L) continue;
      b += L.buf.byteLength + L.first.byteLength + L.G.byteLength + L.total.byteLength;
      if (L.sumSq) b += L.sumSq.byteLength;
      if (L.corrP) b += L.corrP.byteLength + L.corrF!.byteLength;
      for (const z of L.slotNz) b += z.byteLength;
    }
    return b;
  }

  /** Account for frames skipped before `frameIndex` (they become gaps); throws when frames go backwards. */
  private advanceTo(frameIndex: number): void {
    if (!Number.isSafeInteger(frameIndex) || frameIndex < 0) throw new RangeError(`multi-tau: frame index must be a non-negative integer (got ${frameIndex})`);
    if (this.first < 0) {
      this.first = frameIndex;
      this.next = frameIndex;
    }
    if (frameIndex < this.next) {
      throw new RangeError(`multi-tau: frame ${frameIndex} arrives after frame ${this.next - 1}: frames must be ingested in order`);
    }
    while (this.next < frameIndex) {
      this.pushMissing();
      this.next++;
    }
    this.next++;
    this.nframesCount = this.next - this.first;
  }

  private pushMissing(): void {
    this.push(0, false, false, 0);
  }

  /**
   * Ingest frame `frameIndex` (a flat image indexed like the labels), or a
   * missing / incomplete frame (`image` null). Skipped indexes are missing frames.
   */
  ingest(frameIndex: number, image: ArrayLike<number> | null): IngestResult {
    if (image !== null && image.length !== this.imageSize) throw new RangeError(`multi-tau: image has ${image.length} pixels, the labels ${this.imageSize}`);
    this.advanceTo(frameIndex);
    if (image === null) {
      this.push(0, false, false, 0);
      return { fill_factor: NaN, sparse: false };
    }
    const { np, pixels, cur } = this;
    const dummy = this.dummy;
    let nnz = 0;
    if (this.mode === 'dense') {
      for (let p = 0; p < np; p++) {
        const v = image[pixels[p]];
        cur[p] = v === v && v !== dummy ? v : 0;
        if (cur[p] !== 0) nnz++;
      }
      this.scratchClean = false;
      this.push(0, true, false, nnz);
      return { fill_factor: nnz / np, sparse: false };
    }
    // collect the non-zero pixels while gathering
    const nz = this.nzScratch;
    for (let p = 0; p < np; p++) {
      const v = image[pixels[p]];
      cur[p] = v === v && v !== dummy ? v : 0;
      if (cur[p] !== 0) nz[nnz++] = p;
    }
    this.scratchClean = false;
    const sparse = this.mode === 'sparse' || nnz < this.sparseThreshold * np;
    this.push(0, true, sparse, nnz);
    return { fill_factor: nnz / np, sparse };
  }

  /**
   * Ingest frame `frameIndex` given as events: `counts[j]` at image pixel
   * `indices[j]` (j < n), every other pixel 0. Pixels outside the rings are
   * ignored; repeated indexes add up.
   */
  ingestSparse(frameIndex: number, indices: ArrayLike<number>, counts: ArrayLike<number>, n = indices.length): IngestResult {
    if (n > indices.length || n > counts.length) throw new RangeError('multi-tau: n exceeds the event lists');
    for (let j = 0; j < n; j++) {
      const k = indices[j];
      if (!(Number.isInteger(k) && k >= 0 && k < this.imageSize)) throw new RangeError(`multi-tau: event pixel ${k} outside the image`);
    }
    this.advanceTo(frameIndex);
    const compact = (this.compact ??= this.buildCompact());
    const { cur, np } = this;
    if (!this.scratchClean) {
      cur.fill(0);
      this.scratchClean = true;
    }
    const nz = this.nzScratch;
    const mark = this.mark;
    const stamp = this.nextStamp();
    let nnz = 0;
    for (let j = 0; j < n; j++) {
      const p = compact[indices[j]];
      if (p < 0) continue;
      let v = counts[j];
      if (!(v === v) || v === this.dummy) v = 0;
      if (mark[p] !== stamp) {
        mark[p] = stamp;
        nz[nnz++] = p;
      }
      cur[p] += v;
    }
    // drop entries that ended at zero (keeps "non-zero" exact for the fill factor)
    let w = 0;
    for (let q = 0; q < nnz; q++) if (cur[nz[q]] !== 0) nz[w++] = nz[q];
    nnz = w;
    const sparse = this.mode !== 'dense' && (this.mode === 'sparse' || nnz < this.sparseThreshold * np);
    // nzScratch is reused by the cascade: keep this frame's list to clean up after
    const written = nz.slice(0, nnz);
    this.push(0, true, sparse, nnz);
    for (let q = 0; q < written.length; q++) cur[written[q]] = 0;
    return { fill_factor: nnz / np, sparse };
  }

  private buildCompact(): Int32Array {
    const c = new Int32Array(this.imageSize).fill(-1);
    for (let p = 0; p < this.np; p++) c[this.pixels[p]] = p;
    return c;
  }

  private nextStamp(): number {
    if (++this.stamp >= 0x7fffffff) {
      this.mark.fill(0);
      this.stamp = 1;
    }
    return this.stamp;
  }

  private level(l: number): Level {
    return (this.lv[l] ??= new Level(l, this.m, this.np));
  }

  /**
   * Push the value in `cur` (sparse: its non-zero pixels in nzScratch[0..nnz))
   * to level l, then cascade coarse values up.
   */
  private push(l: number, valid: boolean, sparse: boolean, nnz: number): void {
    const L = this.level(l);
    const { m, np, cur } = this;
    const nl = L.nl;
    const s = L.S;
    const slot = s % m;
    const buf = L.buf, G = L.G;
    // classify the lags that have a partner
    const both: number[] = [];
    const bothOff: number[] = [];
    const pastOnly: number[] = []; // current invalid, partner valid → IP correction
    const pastOnlyOff: number[] = [];
    const futureOnly: number[] = []; // current valid, partner invalid → IF correction
    for (let i = 0; i < nl; i++) {
      const k = L.lags[i];
      if (k > s) break;
      const ps = (s - k) % m;
      const pv = L.slotValid[ps] === 1;
      if (valid && pv) {
        both.push(i);
        bothOff.push(ps);
        L.pairs[i]++;
      } else if (!valid && pv) {
        pastOnly.push(i);
        pastOnlyOff.push(ps);
      } else if (valid && !pv) {
        futureOnly.push(i);
      }
    }
    if ((pastOnly.length || futureOnly.length) && !L.corrP) {
      L.corrP = new Float64Array(np * nl);
      L.corrF = new Float64Array(np * nl);
    }
    if (!valid) {
      if (pastOnly.length) {
        const cp = L.corrP!;
        for (let p = 0; p < np; p++) {
          const b = p * m, g = p * nl;
          for (let t = 0; t < pastOnly.length; t++) cp[g + pastOnly[t]] += buf[b + pastOnlyOff[t]];
        }
      }
      this.clearSlot(L, slot);
      L.slotValid[slot] = 0;
      L.slotSparse[slot] = 1;
      L.slotNnz[slot] = 0;
    } else {
      const nb = both.length;
      const contiguous = nb > 0 && both[nb - 1] === nb - 1; // lags 0..nb−1 all paired (the usual case)
      const off = Int32Array.from(bothOff);
      const idx = Int32Array.from(both);
      const fut = Int32Array.from(futureOnly);
      const nf = fut.length;
      const cf = L.corrF;
      const total = L.total, sumSq = L.sumSq, first = L.first;
      const writeFirst = s < m;
      if (!sparse && contiguous && nf === 0) {
        denseKernel(np, m, nl, nb, off[0], slot, s, cur, buf, G, total, sumSq, writeFirst ? first : null);
        L.slotSparse[slot] = 0;
        L.slotNnz[slot] = nnz;
      } else if (!sparse) {
        for (let p = 0; p < np; p++) {
          const c = cur[p];
          const b = p * m, g = p * nl;
          if (contiguous) {
            for (let i = 0; i < nb; i++) G[g + i] += c * buf[b + off[i]];
          } else {
            for (let t = 0; t < nb; t++) G[g + idx[t]] += c * buf[b + off[t]];
          }
          for (let t = 0; t < nf; t++) cf![g + fut[t]] += c;
          total[p] += c;
          if (sumSq) sumSq[p] += c * c;
          if (writeFirst) first[b + s] = c;
          buf[b + slot] = c;
        }
        L.slotSparse[slot] = 0;
        L.slotNnz[slot] = nnz;
      } else {
        const nz = this.nzScratch;
        for (let q = 0; q < nnz; q++) {
          const p = nz[q];
          const c = cur[p];
          const b = p * m, g = p * nl;
          if (contiguous) {
            for (let i = 0; i < nb; i++) G[g + i] += c * buf[b + off[i]];
          } else {
            for (let t = 0; t < nb; t++) G[g + idx[t]] += c * buf[b + off[t]];
          }
          for (let t = 0; t < nf; t++) cf![g + fut[t]] += c;
          total[p] += c;
          if (sumSq) sumSq[p] += c * c;
          if (writeFirst) first[b + s] = c;
        }
        // the old value of this slot was read above (lag m): now replace it
        this.clearSlot(L, slot);
        for (let q = 0; q < nnz; q++) {
          const p = nz[q];
          buf[p * m + slot] = cur[p];
        }
        let list = L.slotNz[slot];
        if (list.length < nnz) list = L.slotNz[slot] = new Int32Array(Math.min(np, Math.max(nnz, 2 * list.length, 16)));
        list.set(nz.subarray(0, nnz));
        L.slotSparse[slot] = 1;
        L.slotNnz[slot] = nnz;
      }
      L.slotValid[slot] = 1;
      L.validCount++;
    }
    L.S = s + 1;
    // coarse-grain the pair (s−1, s) into level l+1
    if (s % 2 === 1 && l + 1 < this.levels) this.coarsen(L, (s - 1) % m, slot);
  }

  /** Zero the stored value of a slot (cheaply when it is sparse). */
  private clearSlot(L: Level, slot: number): void {
    const { m, np } = this;
    const buf = L.buf;
    if (L.slotSparse[slot]) {
      const list = L.slotNz[slot];
      const n = L.slotNnz[slot];
      for (let q = 0; q < n; q++) buf[list[q] * m + slot] = 0;
    } else {
      for (let p = 0; p < np; p++) buf[p * m + slot] = 0;
    }
  }

  /** Average slots a and b of level L into `cur` and push it to the next level. */
  private coarsen(L: Level, a: number, b: number): void {
    const { m, np, cur } = this;
    const buf = L.buf;
    const valid = L.slotValid[a] === 1 && L.slotValid[b] === 1;
    if (!valid) {
      this.push(L.l + 1, false, false, 0);
      return;
    }
    const na = L.slotNnz[a], nb = L.slotNnz[b];
    const bothSparse = L.slotSparse[a] === 1 && L.slotSparse[b] === 1;
    const sparse =
      this.mode !== 'dense' && bothSparse && (this.mode === 'sparse' || na + nb < this.sparseThreshold * np || na + nb === 0);
    if (!sparse) {
      let nnz = 0;
      for (let p = 0; p < np; p++) {
        const v = (buf[p * m + a] + buf[p * m + b]) * 0.5;
        cur[p] = v;
        if (cur[p] !== 0) nnz++;
      }
      this.scratchClean = false;
      this.push(L.l + 1, true, false, nnz);
      return;
    }
    // the sparse push reads `cur` only at the listed pixels: no need for a clean scratch
    const nz = this.nzScratch;
    const mark = this.mark;
    const stamp = this.nextStamp();
    let nnz = 0;
    const la = L.slotNz[a], lb = L.slotNz[b];
    for (let q = 0; q < na; q++) {
      const p = la[q];
      mark[p] = stamp;
      cur[p] = (buf[p * m + a] + buf[p * m + b]) * 0.5;
      if (cur[p] !== 0) nz[nnz++] = p;
    }
    for (let q = 0; q < nb; q++) {
      const p = lb[q];
      if (mark[p] === stamp) continue;
      mark[p] = stamp;
      cur[p] = (buf[p * m + a] + buf[p * m + b]) * 0.5;
      if (cur[p] !== 0) nz[nnz++] = p;
    }
    this.push(L.l + 1, true, true, nnz);
    // leave `cur` as clean as it was (the slot lists a, b of this level are unchanged by the push)
    for (let q = 0; q < na; q++) cur[la[q]] = 0;
    for (let q = 0; q < nb; q++) cur[lb[q]] = 0;
  }

  /** g2 of every ring and lag from the frames so far (O(pixels × n_tau)). */
  snapshot(): XpcsSnapshot {
    const { m, np, nRings, nTau, ringOf } = this;
    const g2 = new Float64Array(nRings * nTau).fill(NaN);
    const err = new Float64Array(nRings * nTau).fill(NaN);
    const used = new Int32Array(nRings * nTau);
    const ringNorm = this.normalization === 'ring';
    let tauBase = 0;
    for (let l = 0; l < this.levels; l++) {
      const L = this.lv[l];
      const nl = l === 0 ? m : m / 2;
      if (!L) {
        tauBase += nl;
        continue;
      }
      const S = L.S;
      // lags up to the last one with a valid pair (after gaps a smaller lag may have none)
      let na = nl;
      while (na > 0 && L.pairs[na - 1] === 0) na--;
      if (na === 0) {
        tauBase += nl;
        continue;
      }
      const sum = new Float64Array(nRings * na);
      const sq = new Float64Array(nRings * na);
      const cnt = new Float64Array(nRings * na);
      const sG = ringNorm ? new Float64Array(nRings * na) : null;
      const sP = ringNorm ? new Float64Array(nRings * na) : null;
      const sF = ringNorm ? new Float64Array(nRings * na) : null;
      const lastSlot = new Int32Array(m);
      for (let j = 0; j < m; j++) lastSlot[j] = (((S - 1 - j) % m) + m) % m;
      const lags = L.lags, pairs = L.pairs, buf = L.buf, first = L.first, G = L.G, total = L.total;
      const cp = L.corrP, cf = L.corrF;
      for (let p = 0; p < np; p++) {
        const tot = total[p];
        const b = p * m, g = p * nl;
        const rb = ringOf[p] * na;
        let last = 0, fsum = 0, j = 0, f = 0;
        for (let i = 0; i < na; i++) {
          const k = lags[i];
          while (j < k && j < S) last += buf[b + lastSlot[j++]];
          while (f < k && f < S) fsum += first[b + f++];
          const N = pairs[i];
          if (N === 0) continue;
          let IP = tot - last, IF = tot - fsum;
          if (cp) {
            IP -= cp[g + i];
            IF -= cf![g + i];
          }
          const Gv = G[g + i];
          if (sG) {
            sG[rb + i] += Gv;
            sP![rb + i] += IP;
            sF![rb + i] += IF;
          }
          const eps = 1e-12 * Math.abs(tot); // IP, IF are differences of sums: ignore rounding residues
          if (IP > eps && IF > eps) {
            const v = (N * Gv) / (IP * IF);
            sum[rb + i] += v;
            sq[rb + i] += v * v;
            cnt[rb + i]++;
          }
        }
      }
      for (let r = 0; r < nRings; r++) {
        for (let i = 0; i < na; i++) {
          const o = r * nTau + tauBase + i;
          const c = cnt[r * na + i];
          used[o] = c;
          if (pairs[i] === 0) continue;
          const mean = c > 0 ? sum[r * na + i] / c : NaN;
          if (ringNorm) {
            const d = sP![r * na + i] * sF![r * na + i];
            g2[o] = d > 0 ? (pairs[i] * sG![r * na + i]) / d : NaN;
          } else {
            g2[o] = mean;
          }
          if (c >= 2) {
            const v = Math.max(0, (sq[r * na + i] - c * mean * mean) / (c - 1));
            err[o] = Math.sqrt(v / c);
          }
        }
      }
      tauBase += nl;
    }
    // τ = 0 and mean intensity from level 0
    const g2_0 = new Float64Array(nRings).fill(NaN);
    const intensity = new Float64Array(nRings).fill(NaN);
    const L0 = this.lv[0];
    let nvalid = 0;
    if (L0 && L0.validCount > 0) {
      nvalid = L0.validCount;
      const s0 = new Float64Array(nRings), c0 = new Float64Array(nRings), it = new Float64Array(nRings);
      for (let p = 0; p < np; p++) {
        const t = L0.total[p];
        const r = ringOf[p];
        it[r] += t;
        if (t > 0) {
          s0[r] += (nvalid * L0.sumSq![p]) / (t * t);
          c0[r]++;
        }
      }
      for (let r = 0; r < nRings; r++) {
        if (c0[r] > 0) g2_0[r] = s0[r] / c0[r];
        intensity[r] = it[r] / (this.ringPixels[r] * nvalid);
      }
    }
    return { tau: this.tau.slice(), g2, g2_err: err, pixels: used, g2_0, intensity, nframes: this.nframesCount, nvalid, nRings, nTau };
  }
}
