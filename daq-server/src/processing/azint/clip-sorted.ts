/**
 * Sigma clipping without pixel splitting, Poisson error model, on a table
 * sorted by bin (built once per geometry): the frame is cut into chunks of
 * consecutive pixels small enough to stay in cache; within a chunk the
 * integrated pixels are listed by bin (then pixel index), so the first
 * integration is a gather inside the chunk with each bin's sums in
 * registers over a run of its pixels. Chunks are taken in order and every
 * run continues its bin's running sums, so each bin sums its pixels in
 * increasing index, exactly as the pixel-order pass (same sums, bit for bit).
 *
 * The normalised values x = s/w of the sorted pixels are kept (float32 with
 * the WebAssembly kernels, whose scans leave values within the float32
 * rounding of the threshold to the exact float64 test here; float64 with the
 * JS engine; NaN = invalid or discarded), with each bin's smallest and largest kept x
 * (from the WebAssembly first pass; the JS one leaves them unknown and the
 * first cycle scans every active bin): a clipping cycle skips a bin whose
 * kept values all lie within its threshold (nothing would be discarded),
 * and scans the others' contiguous runs only.
 * Discarded pixels are subtracted from their bin's sums (pyFAI re-sums the
 * kept pixels; the difference is rounding of float64 sums, ~1e-15 relative).
 */
import type { TypedArray } from '../../protocol/index.js';
import type { Integrator } from './integrator.js';
import { isDummy, type FrameValidity } from './corrections.js';
import { SortedClipWasm, sortedWasmAvailable } from './clip-sorted-wasm.js';

/** pixels per chunk (32 KiB of float32 image: the gathers of a chunk stay in the L1 cache) */
const CHUNK = 8192;

export interface SortedSums {
  S: Float64Array;
  V: Float64Array;
  N: Float64Array;
  N2: Float64Array;
  C: Float64Array;
  E: Float64Array;
}

/** The first pass for float32 frames with a frame mask, no dummy, no dark (the smx pipeline): a loop of its own. */
function firstMasked(
  image: Float32Array, mask: Uint8Array, valid: Uint8Array, pix: Int32Array, norm: Float32Array, runBin: Int32Array, runStart: Int32Array,
  x: Float32Array | Float64Array, S: Float64Array, V: Float64Array, N: Float64Array, N2: Float64Array, C: Float64Array, E: Float64Array,
): void {
  const nr = runBin.length;
  for (let r = 0; r < nr; r++) {
    const b = runBin[r];
    let sS = S[b], sV = V[b], sN = N[b], sN2 = N2[b], sC = C[b];
    const j1 = runStart[r + 1];
    for (let j = runStart[r]; j < j1; j++) {
      const k = pix[j];
      const raw = image[k];
      if (mask[k] !== 0 || !(raw - raw === 0)) {
        x[j] = NaN;
        valid[k] = 0;
        continue;
      }
      valid[k] = 1;
      const w = norm[j];
      x[j] = raw / w;
      sS += raw;
      // max(raw, 1) without a branch (exact for float32 raw: the sums and the difference are exact in float64)
      sV += 0.5 * (raw + 1 + Math.abs(raw - 1));
      sN += w;
      sN2 += w * w;
      sC += 1;
    }
    S[b] = sS;
    V[b] = sV;
    N[b] = sN;
    N2[b] = sN2;
    C[b] = sC;
    E[b] = sC;
  }
}

export class SortedClipTable {
  /** pixel index of each sorted entry */
  readonly pix: Int32Array;
  readonly norm: Float32Array;
  readonly dark: Float32Array | null;
  /** runs: bin and first entry (runStart has one more element) */
  readonly runBin: Int32Array;
  readonly runStart: Int32Array;
  /** runs of each bin (CSR: binRunPtr[b] .. binRunPtr[b + 1] in binRuns) */
  readonly binRunPtr: Int32Array;
  readonly binRuns: Int32Array;
  /** usable pixels outside the table (their validity is tested per frame) */
  readonly outside: Int32Array;
  // per frame
  /** float32 in WebAssembly memory (its scans decide near-threshold values on the exact float64), float64 with the JS engine */
  readonly x: Float32Array | Float64Array;
  readonly xmin: Float64Array;
  readonly xmax: Float64Array;
  /** discarded entries of the current frame */
  discarded: Int32Array = new Int32Array(1024);
  nDiscarded = 0;

  /** chunk c holds the runs chunkRun[c] .. chunkRun[c + 1] */
  private readonly chunkRun: Int32Array;
  /** the WebAssembly kernels and memory (null: JS engine) */
  private readonly w: SortedClipWasm | null;
  /** per bin Σ w, Σ w², count over the whole table (the WebAssembly first pass subtracts the invalid pixels) */
  private readonly tableSums: [Float64Array, Float64Array, Float64Array] | null = null;
  private maskCleared = false;

  constructor(readonly integ: Integrator) {
    const { bin, norm, dark } = integ.kernelTable();
    const usable = integ.corrections.usable;
    const nb = integ.nbins;
    const size = bin.length;
    let n = 0, nOut = 0;
    for (let k = 0; k < size; k++) {
      if (bin[k] >= 0) n++;
      else if (usable[k]) nOut++;
    }
    const pix = new Int32Array(n);
    const normS = new Float32Array(n);
    this.dark = dark ? new Float32Array(n) : null;
    this.outside = new Int32Array(nOut);
    for (let k = 0, o = 0; k < size; k++) if (bin[k] < 0 && usable[k]) this.outside[o++] = k;
    const perBin = new Int32Array(nb);
    // preallocated (every run holds at least one pixel): nothing grows element by element
    const runBinAll = new Int32Array(n), runStartAll = new Int32Array(n + 1);
    const chunkRunAll = new Int32Array(Math.ceil(size / CHUNK) + 1);
    let nRuns = 0, nChunks = 0;
    let j = 0;
    // counting sort by bin inside each chunk
    const count = new Int32Array(nb + 1);
    for (let c0 = 0; c0 < size; c0 += CHUNK) {
      const c1 = Math.min(size, c0 + CHUNK);
      chunkRunAll[nChunks++] = nRuns;
      count.fill(0);
      for (let k = c0; k < c1; k++) if (bin[k] >= 0) count[bin[k] + 1]++;
      for (let b = 0; b < nb; b++) {
        if (count[b + 1] > 0) {
          runBinAll[nRuns] = b;
          runStartAll[nRuns++] = j;
        }
        const cnt = count[b + 1];
        perBin[b] += cnt;
        count[b + 1] = j; // next free slot of bin b
        j += cnt;
      }
      for (let k = c0; k < c1; k++) {
        const b = bin[k];
        if (b < 0) continue;
        const p = count[b + 1]++;
        pix[p] = k;
        normS[p] = norm[k];
        if (dark && this.dark) this.dark[p] = dark[k];
      }
    }
    chunkRunAll[nChunks++] = nRuns;
    runStartAll[nRuns] = n;
    const runBin = runBinAll.subarray(0, nRuns), runStart = runStartAll.subarray(0, nRuns + 1);
    this.chunkRun = chunkRunAll.slice(0, nChunks);
    const ptr = new Int32Array(nb + 1);
    for (const b of runBin) ptr[b + 1]++;
    for (let b = 0; b < nb; b++) ptr[b + 1] += ptr[b];
    const fill = ptr.slice(0, nb);
    const runs = new Int32Array(runBin.length);
    for (let r = 0; r < runBin.length; r++) runs[fill[runBin[r]]++] = r;
    let maxBin = 0;
    for (let b = 0; b < nb; b++) maxBin = Math.max(maxBin, perBin[b]);
    this.w = integ.wasm() !== null && sortedWasmAvailable() ? new SortedClipWasm({ n, size, nbins: nb, runs: runBin.length, chunk: CHUNK, maxBin }) : null;
    if (this.w) {
      const w = this.w;
      for (let q = 0; q < n; q++) w.off[q] = pix[q] % CHUNK; // chunks start at multiples of CHUNK
      w.norm.set(normS);
      w.runBin.set(runBin);
      w.runStart.set(runStart);
      w.binRunPtr.set(ptr);
      w.binRuns.set(runs);
      this.pix = pix;
      this.norm = w.norm;
      this.runBin = w.runBin;
      this.runStart = w.runStart;
      this.binRunPtr = w.binRunPtr;
      this.binRuns = w.binRuns;
      this.x = w.x;
      // in increasing pixel index per bin, as the pixel-order pass sums them
      const tN = new Float64Array(nb), tN2 = new Float64Array(nb), tC = new Float64Array(nb);
      for (let r = 0; r < runBin.length; r++) {
        const b = runBin[r];
        for (let q = runStart[r]; q < runStart[r + 1]; q++) {
          const wq = normS[q];
          tN[b] += wq;
          tN2[b] += wq * wq;
          tC[b] += 1;
        }
      }
      this.tableSums = [tN, tN2, tC];
    } else {
      this.pix = pix;
      this.norm = normS;
      this.runBin = Int32Array.from(runBin);
      this.runStart = Int32Array.from(runStart);
      this.binRunPtr = ptr;
      this.binRuns = runs;
      this.x = new Float64Array(n);
    }
    this.xmin = new Float64Array(nb + 1);
    this.xmax = new Float64Array(nb + 1);
  }

  /** The WebAssembly first pass (float32 frames, no dummy, no dark). */
  private firstWasm(w: SortedClipWasm, image: Float32Array, mask: Uint8Array | null, s: SortedSums, valid: Uint8Array | null): void {
    const nb = this.integ.nbins;
    w.SV.fill(0);
    w.IW.fill(0);
    w.IC.fill(0);
    w.LH.fill(-Infinity);
    if (mask === null && !this.maskCleared) {
      w.mask.fill(0);
      this.maskCleared = true;
    }
    const size = image.length, cr = this.chunkRun;
    for (let c = 0, c0 = 0; c0 < size; c++, c0 += CHUNK) {
      const c1 = Math.min(size, c0 + CHUNK);
      w.img.set(image.subarray(c0, c1));
      if (mask !== null) {
        w.mask.set(mask.subarray(c0, c1));
        this.maskCleared = false;
      }
      if (cr[c + 1] > cr[c]) w.first(cr[c], cr[c + 1], c0);
    }
    const { SV, LH, IW, IC } = w;
    const [tN, tN2, tC] = this.tableSums!;
    const { xmin, xmax } = this;
    for (let b = 0; b < nb; b++) {
      s.S[b] = SV[2 * b];
      s.V[b] = SV[2 * b + 1];
      // the geometry's sums, less the pixels invalid in this frame (exactly the table's when none is)
      const bad = IC[b];
      const C = tC[b] - bad;
      s.C[b] = s.E[b] = C;
      s.N[b] = bad === 0 ? tN[b] : C === 0 ? 0 : tN[b] - IW[2 * b];
      s.N2[b] = bad === 0 ? tN2[b] : C === 0 ? 0 : tN2[b] - IW[2 * b + 1];
      // extremes of the float32 x, widened by their rounding (2⁻²⁴ relative) to bound the exact quotients
      const lo = -LH[2 * b], hi = LH[2 * b + 1];
      xmin[b] = lo === Infinity ? lo : lo - Math.abs(lo) * 2 ** -23;
      xmax[b] = hi === -Infinity ? hi : hi + Math.abs(hi) * 2 ** -23;
    }
    if (valid !== null) valid.set(w.valid);
  }

  /**
   * First integration of a frame (sums cleared here), the kept values, and
   * `valid` (when given: 1 where the pixel is usable in this frame).
   */
  first(image: TypedArray, fv: FrameValidity, s: SortedSums, valid: Uint8Array | null): void {
    const { pix, norm, dark, runBin, runStart, x, xmin, xmax } = this;
    const { S, V, N, N2, C, E } = s;
    S.fill(0);
    V.fill(0);
    N.fill(0);
    N2.fill(0);
    C.fill(0);
    E.fill(0);
    // the extremes of the kept values are not known yet: the first cycle scans every active bin and sets them
    xmin.fill(-Infinity);
    xmax.fill(Infinity);
    this.nDiscarded = 0;
    const mask = fv.mask;
    const plain = fv.dummy === null && mask === null && dark === null;
    if (this.w !== null && fv.dummy === null && dark === null && image instanceof Float32Array) {
      this.firstWasm(this.w, image, mask, s, valid);
    } else if (fv.dummy === null && mask !== null && dark === null && valid !== null && image instanceof Float32Array) {
      firstMasked(image, mask, valid, pix, norm, runBin, runStart, x, S, V, N, N2, C, E);
    } else for (let r = 0; r < runBin.length; r++) {
      const b = runBin[r];
      let sS = S[b], sV = V[b], sN = N[b], sN2 = N2[b], sC = C[b];
      const j1 = runStart[r + 1];
      if (plain) {
        for (let j = runStart[r]; j < j1; j++) {
          const k = pix[j];
          const raw = image[k];
          if (!(raw - raw === 0)) {
            x[j] = NaN;
            if (valid !== null) valid[k] = 0;
            continue;
          }
          if (valid !== null) valid[k] = 1;
          const w = norm[j];
          const xb = raw / w;
          x[j] = xb;
          sS += raw;
          sV += raw > 1 ? raw : 1;
          sN += w;
          sN2 += w * w;
          sC += 1;
        }
      } else {
        for (let j = runStart[r]; j < j1; j++) {
          const k = pix[j];
          const raw = image[k];
          if (!(raw - raw === 0) || (fv.dummy !== null && isDummy(raw, fv)) || (mask !== null && mask[k] !== 0)) {
            x[j] = NaN;
            if (valid !== null) valid[k] = 0;
            continue;
          }
          if (valid !== null) valid[k] = 1;
          const sg = dark !== null ? raw - dark[j] : raw;
          const w = norm[j];
          const xb = sg / w;
          x[j] = xb;
          sS += sg;
          sV += raw > 1 ? raw : 1;
          sN += w;
          sN2 += w * w;
          sC += 1;
        }
      }
      S[b] = sS;
      V[b] = sV;
      N[b] = sN;
      N2[b] = sN2;
      C[b] = sC;
      E[b] = sC;
    }
    if (valid !== null) {
      const out = this.outside;
      for (let o = 0; o < out.length; o++) {
        const k = out[o];
        const raw = image[k];
        valid[k] = raw - raw === 0 && !(fv.dummy !== null && isDummy(raw, fv)) && !(mask !== null && mask[k] !== 0) ? 1 : 0;
      }
    }
  }

  /**
   * One clipping cycle over the active bins: discard the kept pixels with
   * |x − aver| > thr (bad[b] counts them) and take them out of the sums.
   */
  pass(image: TypedArray, s: SortedSums, active: Uint8Array, aver: Float64Array, thr: Float64Array, bad: Float64Array): void {
    const { pix, norm, dark, runStart, binRunPtr, binRuns, x, xmin, xmax } = this;
    const nb = this.integ.nbins;
    for (let b = 0; b < nb; b++) {
      if (!active[b]) continue;
      bad[b] = 0;
      const a = aver[b], t = thr[b];
      // every kept value within the threshold: nothing to discard
      if (xmax[b] - a <= t && a - xmin[b] <= t) continue;
      let nBad = 0, dS = 0, dV = 0, dN = 0, dN2 = 0;
      let lo = Infinity, hi = -Infinity;
      const w = this.w;
      if (w !== null) {
        nBad = w.scan(b, a, t, (Math.abs(a) + Math.abs(t)) * 2 ** -22);
        lo = w.minmax[0];
        hi = w.minmax[1];
        // values too close to the threshold for float32: the exact float64 decides
        const nAmb = w.ambiguous();
        for (let i = 0; i < nAmb; i++) {
          const j = w.list2[i];
          const raw = image[pix[j]];
          const xb = (dark !== null ? raw - dark[j] : raw) / norm[j];
          if (Math.abs(xb - a) > t) {
            x[j] = NaN;
            w.list[nBad++] = j;
          } else {
            if (xb < lo) lo = xb;
            if (xb > hi) hi = xb;
          }
        }
        for (let i = 0; i < nBad; i++) {
          const j = w.list[i];
          const raw = image[pix[j]];
          const wj = norm[j];
          dS += dark !== null ? raw - dark[j] : raw;
          dV += raw > 1 ? raw : 1;
          dN += wj;
          dN2 += wj * wj;
          this.noteDiscarded(j);
        }
      } else for (let q = binRunPtr[b]; q < binRunPtr[b + 1]; q++) {
        const r = binRuns[q];
        const j1 = runStart[r + 1];
        for (let j = runStart[r]; j < j1; j++) {
          const xb = x[j];
          if (Math.abs(xb - a) > t) {
            // NaN (invalid, discarded earlier) compares false: only kept values get here
            x[j] = NaN;
            nBad++;
            const raw = image[pix[j]];
            const w = norm[j];
            dS += dark !== null ? raw - dark[j] : raw;
            dV += raw > 1 ? raw : 1;
            dN += w;
            dN2 += w * w;
            this.noteDiscarded(j);
          } else if (xb === xb) {
            if (xb < lo) lo = xb;
            if (xb > hi) hi = xb;
          }
        }
      }
      xmin[b] = lo;
      xmax[b] = hi;
      if (nBad === 0) continue;
      bad[b] = nBad;
      s.S[b] -= dS;
      s.V[b] -= dV;
      s.N[b] -= dN;
      s.N2[b] -= dN2;
      s.C[b] -= nBad;
      s.E[b] -= nBad;
      if (s.C[b] === 0) s.S[b] = s.V[b] = s.N[b] = s.N2[b] = 0;
    }
  }

  /** Add entry j to the frame's discarded list (grown by doubling). */
  private noteDiscarded(j: number): void {
    if (this.nDiscarded === this.discarded.length) {
      const d = new Int32Array(this.discarded.length * 2);
      d.set(this.discarded);
      this.discarded = d;
    }
    this.discarded[this.nDiscarded++] = j;
  }

  /** Per-pixel states (PixelState codes) of the frame last clipped. */
  states(image: TypedArray, fv: FrameValidity, out: Uint8Array): Uint8Array {
    const usable = this.integ.corrections.usable;
    const bin = this.integ.table.bin;
    for (let k = 0; k < out.length; k++) {
      if (!usable[k]) out[k] = 4;
      else if (bin[k] === -1) {
        const v = image[k];
        out[k] = v - v === 0 && !isDummy(v, fv) && !(fv.mask && fv.mask[k]) ? 3 : 2;
      }
    }
    const { pix, x } = this;
    for (let j = 0; j < pix.length; j++) out[pix[j]] = x[j] === x[j] ? 0 : 2;
    for (let i = 0; i < this.nDiscarded; i++) out[pix[this.discarded[i]]] = 1;
    return out;
  }
}
