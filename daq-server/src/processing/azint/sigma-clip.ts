/**
 * Sigma clipping per radial bin, pyFAI's `sigma_clip_ng` (CSR engine) as
 * ESRF's sparsify / peak finder use it to estimate the background of
 * Bragg-diffraction frames:
 *
 *   integrate (S, V, N, N2, C per bin; mean ⟨I⟩ = S/N, std = √(V/N2));
 *   repeat up to `cycle` times, per bin:
 *     n = max(3, C);  cut = max(cutoff, √(2·ln(n/√(2π))))   (Chauvenet)
 *     discard the pixels with |signal/norm − ⟨I⟩| > cut · std
 *     nothing discarded → the bin is done (its count reported as n);
 *     else integrate the bin again without the discarded pixels.
 *
 * Output per bin: background average ⟨I⟩ and std (and sem, count, sums);
 * bins without pixels get `empty`. The error model is `poisson`
 * (variance = max(raw, 1)) or `azimuthal` (the spread in the bin, pyFAI's
 * online update).
 *
 * Without pixel splitting and with the Poisson model (the smx pipeline)
 * the clip runs on a per-geometry table sorted by bin (clip-sorted.ts,
 * WebAssembly kernels in clip-sorted-wasm.ts): the first integration sums
 * each bin's pixels in increasing index as pyFAI's CSR rows; a cycle only
 * scans the bins whose kept values are not all within the threshold, and
 * takes the discarded pixels out of the sums (pyFAI re-sums the kept ones:
 * float64 rounding differences only). `clipWith` also gives the per-pixel
 * validity and may leave out the per-pixel states.
 *
 * Otherwise, without pixel splitting (method `no`, what pyFAI recommends for
 * clipping) each cycle is one pass over the frame, in pixel order, that
 * both checks and re-integrates the bins still being clipped: a pixel's
 * verdict only depends on its own bin's statistics, so this is exactly
 * pyFAI's per-bin loop. It runs as generated WebAssembly (clip-wasm.ts)
 * with the default engine, in JS otherwise. With `bbox` a pixel belongs to
 * several bins and a pixel discarded by one bin leaves all of them, so the
 * order of the bins matters: pyFAI's result then depends on its OpenMP
 * thread count. We follow pyFAI run on one thread (bins in increasing
 * order, each clipped to the end before the next starts, over the rows of
 * the CSR matrix) — correct but much slower than the no-split path.
 *
 * Per pixel the result tells what happened (`state`): 0 integrated and
 * kept, 1 discarded as an outlier, 2 invalid in this frame (non-finite,
 * dummy, frame mask), 3 valid but not integrated (outside the ranges),
 * 4 never usable (masked, or unusable flat/dark/normalization).
 */
import type { TypedArray } from '../../protocol/index.js';
import { dtypeOf } from '../../protocol/index.js';
import type { Integrator, ErrorModel } from './integrator.js';
import { Sums, accumulateFull, Model } from './kernels.js';
import { isDummy, type FrameValidity } from './corrections.js';
import { dummyKind, type FastMemory } from './fast-wasm.js';
import { clipFunctions, clipKey, type ClipFn, type ClipVariant } from './clip-wasm.js';
import { SortedClipTable } from './clip-sorted.js';

export interface SigmaClipOptions {
  /** clipping cycles (pyFAI `max_iter`, sparsify `cycle`), default 5 */
  cycle?: number;
  /** minimum cut in std units (pyFAI `thres`, sparsify `cutoff_clip`); 0 = Chauvenet's criterion alone. Default 0 */
  cutoff?: number;
  /** `poisson` (default) or `azimuthal` */
  errorModel?: Exclude<ErrorModel, null>;
}

/** Per-pixel outcome codes of a clip (`SigmaClipResult.state`). */
export const PixelState = { KEPT: 0, DISCARDED: 1, INVALID: 2, NOT_INTEGRATED: 3, UNUSABLE: 4 } as const;

export interface SigmaClipResult {
  /** radial bin centres in the integrator's unit */
  radial: Float64Array;
  /** background average per bin: ⟨I⟩ of the kept pixels */
  average: Float32Array;
  /** standard deviation per bin √(V/N2) of the kept pixels */
  std: Float32Array;
  /** standard error of the mean √V/N */
  sem: Float32Array;
  /** Σ c of the kept pixels (pyFAI: max(3, ·) for bins that converged) */
  count: Float64Array;
  sum_signal: Float64Array;
  sum_variance: Float64Array;
  sum_normalization: Float64Array;
  /** per pixel: `PixelState` code */
  state: Uint8Array;
  /** passes after the first integration */
  cycles: number;
}

/** Per-bin sums a clip works on (length ≥ nbins). */
interface BinSums {
  S: Float64Array;
  V: Float64Array;
  N: Float64Array;
  N2: Float64Array;
  C: Float64Array;
  E: Float64Array;
}

const SQRT_2PI = Math.sqrt(2 * Math.PI);

/**
 * JS clip pass for tables without splitting: check the kept pixels of the
 * active bins, mark outliers (flags = 1, bad[b] += 1), re-integrate the
 * others into the (cleared) sums of the active bins.
 */
function clipPassJs(img: TypedArray, integ: Integrator, azim: boolean, x: Float32Array, flags: Uint8Array, active: Uint8Array, aver: Float64Array, thr: Float64Array, bad: Float64Array, s: BinSums): void {
  const { bin, norm, dark } = integ.kernelTable();
  const { S, V, N, N2, C, E } = s;
  for (let b = 0; b < integ.nbins; b++) if (active[b]) S[b] = V[b] = N[b] = N2[b] = C[b] = E[b] = 0;
  for (let k = 0; k < bin.length; k++) {
    const b = bin[k];
    if (b < 0 || flags[k] || x[k] !== x[k] || !active[b]) continue;
    const raw = img[k];
    const sig = dark ? raw - dark[k] : raw;
    const w = norm[k];
    const xb = sig / w; // in double precision, as pyFAI compares it
    if (Math.abs(xb - aver[b]) > thr[b]) {
      flags[k] = 1;
      bad[b]++;
      continue;
    }
    C[b] += 1;
    E[b] += 1;
    if (azim) {
      if (N2[b] <= 0) {
        S[b] = sig;
        N[b] = w;
        N2[b] = w * w;
      } else {
        const omA = N[b];
        const d1 = S[b] / omA - xb;
        S[b] += sig;
        N[b] = omA + w;
        N2[b] += w * w;
        V[b] += w * w * d1 * (S[b] / N[b] - xb);
      }
    } else {
      S[b] += sig;
      V[b] += raw > 1 ? raw : 1;
      N[b] += w;
      N2[b] += w * w;
    }
  }
}

/** Sigma clipping on a 1D integrator; buffers are allocated once and reused for every frame. */
export class SigmaClipper {
  readonly cycle: number;
  readonly cutoff: number;
  readonly errorModel: Exclude<ErrorModel, null>;
  private readonly acc: Sums;
  private readonly active: Uint8Array;
  private readonly aver: Float64Array;
  private readonly thr: Float64Array;
  private readonly bad: Float64Array;
  private readonly out: { average: Float32Array; std: Float32Array; sem: Float32Array; count: Float64Array };
  // JS paths: the normalized signal (NaN = invalid / not integrated) and the discarded flags, then the states
  private x: Float32Array | null = null;
  private flags: Uint8Array | null = null;
  private stateJs: Uint8Array | null = null;

  constructor(
    readonly integrator: Integrator,
    options: SigmaClipOptions = {},
  ) {
    if (integrator.ndim !== 1) throw new Error('sigma clipping needs a 1D integrator');
    this.cycle = options.cycle ?? 5;
    this.cutoff = options.cutoff ?? 0;
    this.errorModel = options.errorModel ?? 'poisson';
    if (!(Number.isInteger(this.cycle) && this.cycle >= 0)) throw new RangeError(`cycle must be an integer ≥ 0 (got ${options.cycle})`);
    if (!Number.isFinite(this.cutoff)) throw new RangeError(`cutoff must be finite (got ${options.cutoff})`);
    if (this.errorModel !== 'poisson' && this.errorModel !== 'azimuthal') throw new RangeError(`error model must be poisson or azimuthal (got ${options.errorModel})`);
    const nb = integrator.nbins;
    this.acc = new Sums(nb);
    this.active = new Uint8Array(nb + 1);
    this.aver = new Float64Array(nb + 1);
    this.thr = new Float64Array(nb + 1);
    this.bad = new Float64Array(nb + 1);
    this.out = { average: new Float32Array(nb), std: new Float32Array(nb), sem: new Float32Array(nb), count: new Float64Array(nb) };
  }

  /**
   * Clip one frame; `mask` (optional, non-zero = invalid in this frame) is
   * the frame's mask. The result's arrays are reused by the next call.
   */
  clip(image: TypedArray, mask: Uint8Array | null = null): SigmaClipResult {
    return this.clipWith(image, mask, null, true);
  }

  /**
   * Clip one frame and, when `valid` is given, set it to 1 where the pixel
   * is usable in this frame (statically usable, finite, not the dummy, not
   * in the frame mask), 0 elsewhere. With `states` false the per-pixel
   * states of the result may be left out (an empty array) where they would
   * cost a pass of their own.
   */
  clipWith(image: TypedArray, mask: Uint8Array | null, valid: Uint8Array | null, states: boolean): SigmaClipResult {
    const integ = this.integrator;
    if (image.length !== integ.size) throw new RangeError(`image has ${image.length} pixels, the integrator ${integ.size}`);
    if (valid !== null && valid.length !== integ.size) throw new RangeError(`valid has ${valid.length} pixels, the integrator ${integ.size}`);
    const fv = integ.frameValidity(mask);
    const t = integ.kernelTable();
    const single = t.frac === null && t.list.pix.length === 0;
    if (single && this.errorModel === 'poisson') {
      const r = this.clipSorted(image, fv, valid, states);
      return r;
    }
    const r = this.clipGeneral(image, fv, single);
    if (valid !== null) for (let k = 0; k < valid.length; k++) valid[k] = r.state[k] === 2 || r.state[k] === 4 ? 0 : 1;
    return r;
  }

  private sorted: SortedClipTable | null = null;
  private stateSorted: Uint8Array | null = null;
  private validSeen: Uint8Array | null = null;

  /** No splitting, Poisson: the bin-sorted table (clip-sorted.ts). */
  private clipSorted(image: TypedArray, fv: FrameValidity, valid: Uint8Array | null, states: boolean): SigmaClipResult {
    const integ = this.integrator;
    const table = (this.sorted ??= new SortedClipTable(integ));
    // pixels never usable are never written: clear a new output once
    if (valid !== null && valid !== this.validSeen) {
      valid.fill(0);
      this.validSeen = valid;
    }
    const s = this.acc;
    table.first(image, fv, s, valid);
    const cycles = this.cycles(s, () => table.pass(image, s, this.active, this.aver, this.thr, this.bad));
    const state = states ? table.states(image, fv, (this.stateSorted ??= new Uint8Array(integ.size))) : new Uint8Array(0);
    return this.result(s, state, cycles);
  }

  private clipGeneral(image: TypedArray, fv: FrameValidity, single: boolean): SigmaClipResult {
    const integ = this.integrator;
    const t = integ.kernelTable();
    const mem = integ.wasm();
    if (single && mem) return this.clipWasm(image, fv, mem);
    const x = (this.x ??= new Float32Array(integ.size));
    const flags = (this.flags ??= new Uint8Array(integ.size));
    flags.fill(0);
    accumulateFull(image, t, fv, { model: this.errorModel === 'azimuthal' ? Model.Azimuthal : Model.Poisson, x }, this.acc);
    const cycles = single ? this.cycles(this.acc, () => clipPassJs(image, integ, this.errorModel === 'azimuthal', x, flags, this.active, this.aver, this.thr, this.bad, this.acc)) : this.clipSequential(image);
    return this.result(this.acc, this.statesJs(image, fv), cycles);
  }

  /** The clipping cycles on sums `s` (first integration done); `pass()` re-integrates the active bins. */
  private cycles(s: BinSums, pass: () => void): number {
    const nb = this.integrator.nbins;
    const { active, aver, thr, bad } = this;
    const count = this.out.count;
    for (let b = 0; b < nb; b++) {
      aver[b] = s.N2[b] > 0 ? s.S[b] / s.N[b] : NaN;
      active[b] = s.N[b] !== 0 && s.C[b] !== 0 ? 1 : 0;
      count[b] = s.C[b];
    }
    active[nb] = 0;
    let cycles = 0;
    for (let c = 0; c < this.cycle; c++) {
      let any = false;
      for (let b = 0; b < nb; b++) {
        if (!active[b]) continue;
        const n = Math.max(3, s.C[b]);
        count[b] = n;
        const std = s.N2[b] > 0 ? Math.sqrt(s.V[b] / s.N2[b]) : NaN;
        thr[b] = Math.max(this.cutoff, Math.sqrt(2 * Math.log(n / SQRT_2PI))) * std;
        bad[b] = 0;
        any = true;
      }
      if (!any) break;
      cycles++;
      pass();
      for (let b = 0; b < nb; b++) {
        if (!active[b]) continue;
        // nothing discarded: the re-integration summed the same pixels in the same order (same sums); count stays max(3, C)
        if (bad[b] === 0) {
          active[b] = 0;
          continue;
        }
        count[b] = s.C[b];
        aver[b] = s.N2[b] > 0 ? s.S[b] / s.N[b] : NaN;
        if (s.N[b] === 0 || s.C[b] === 0) active[b] = 0;
      }
    }
    return cycles;
  }

  /** No splitting, WebAssembly: the first integration and every cycle are one generated pass each. */
  private clipWasm(image: TypedArray, fv: FrameValidity, mem: FastMemory): SigmaClipResult {
    const v: ClipVariant = { dtype: dtypeOf(image), pair: false, dark: mem.dark !== null, azimuthal: this.errorModel === 'azimuthal', dummy: dummyKind(fv), mask: fv.mask !== null };
    const ex = mem.exports(clipKey(v), () => clipFunctions(v));
    const first = ex.first as ClipFn, pass = ex.pass as ClipFn;
    const o = mem.off;
    const d32 = fv.dummy ?? 0, dd = fv.delta;
    const s: BinSums = { S: mem.S, V: mem.V, N: mem.clip.N, N2: mem.clip.N2, C: mem.clip.C, E: mem.clip.E };
    for (const a of Object.values(s)) a.fill(0);
    const call = (fn: ClipFn) => (k0: number, cnt: number): void => {
      fn(k0, cnt, o.scratch, o.bin, o.dark, o.norm, o.state, o.maskScratch, o.S, o.V, o.N, o.N2, o.C, o.E, o.active, o.aver, o.thr, o.bad, o.frac, d32, dd);
    };
    mem.chunks(image, fv.mask, call(first));
    const nb = this.integrator.nbins;
    const passChunk = call(pass);
    const cycles = this.cycles(s, () => {
      // the active flags, means and thresholds the pass reads live in WebAssembly memory
      mem.clip.active.set(this.active.subarray(0, nb));
      mem.clip.aver.set(this.aver.subarray(0, nb));
      mem.clip.thr.set(this.thr.subarray(0, nb));
      mem.clip.bad.fill(0);
      for (let b = 0; b < nb; b++) if (this.active[b]) s.S[b] = s.V[b] = s.N[b] = s.N2[b] = s.C[b] = s.E[b] = 0;
      mem.chunks(image, null, passChunk);
      this.bad.set(mem.clip.bad.subarray(0, nb));
    });
    return this.result(s, mem.state, cycles);
  }

  /** Per-pixel states of a JS clip. */
  private statesJs(image: TypedArray, fv: FrameValidity): Uint8Array {
    const integ = this.integrator;
    const st = (this.stateJs ??= new Uint8Array(integ.size));
    const x = this.x!, flags = this.flags!;
    const usable = integ.corrections.usable, bin = integ.table.bin;
    for (let k = 0; k < st.length; k++) {
      if (!usable[k]) st[k] = 4;
      else if (bin[k] !== -1) st[k] = x[k] !== x[k] ? 2 : flags[k] ? 1 : 0;
      else {
        const v = image[k];
        st[k] = v - v === 0 && !isDummy(v, fv) && !(fv.mask && fv.mask[k]) ? 3 : 2;
      }
    }
    return st;
  }

  private result(s: BinSums, state: Uint8Array, cycles: number): SigmaClipResult {
    const integ = this.integrator;
    const nb = integ.nbins;
    const { average, sem, std, count } = this.out;
    const empty = integ.empty;
    for (let b = 0; b < nb; b++) {
      if (s.C[b] > 0 && s.N[b] !== 0) {
        average[b] = s.S[b] / s.N[b];
        std[b] = s.N2[b] > 0 ? Math.sqrt(s.V[b] / s.N2[b]) : NaN;
        sem[b] = Math.sqrt(s.V[b]) / s.N[b];
      } else {
        average[b] = std[b] = sem[b] = empty;
      }
    }
    return {
      radial: integ.radial,
      average,
      std,
      sem,
      count,
      sum_signal: s.S.subarray(0, nb),
      sum_variance: s.V.subarray(0, nb),
      sum_normalization: s.N.subarray(0, nb),
      state,
      cycles,
    };
  }

  /**
   * pyFAI's per-bin loop run on one thread (used with pixel splitting): bins
   * in increasing order, each integrated (without the pixels earlier bins
   * discarded) and clipped to the end before the next, over the CSR rows.
   * `x` already marks invalid pixels (NaN). Returns the most cycles a bin ran.
   */
  private clipSequential(image: TypedArray): number {
    const integ = this.integrator;
    const { indptr, indices, data } = integ.csr();
    const { norm, dark } = integ.kernelTable();
    const x = this.x!, flags = this.flags!, acc = this.acc;
    const azim = this.errorModel === 'azimuthal';
    const count = this.out.count;
    let cycles = 0;
    const integrate = (b: number): void => {
      let S = 0, V = 0, N = 0, N2 = 0, C = 0, E = 0;
      for (let j = indptr[b]; j < indptr[b + 1]; j++) {
        const k = indices[j];
        if (flags[k] || x[k] !== x[k]) continue;
        const c = data[j];
        const raw = image[k];
        const s = dark ? raw - dark[k] : raw;
        const w = norm[k];
        const xb = s / w;
        const cw = c * w;
        E++;
        C += c;
        if (azim) {
          if (N === 0) {
            S = c * s;
            N = cw;
            N2 = cw * cw;
          } else {
            const omA = N;
            const d1 = S / omA - xb;
            S += c * s;
            N = omA + cw;
            N2 += cw * cw;
            V += cw * cw * d1 * (S / N - xb);
          }
        } else {
          S += c * s;
          V += c * c * (raw > 1 ? raw : 1);
          N += cw;
          N2 += cw * cw;
        }
      }
      acc.S[b] = S;
      acc.V[b] = V;
      acc.N[b] = N;
      acc.N2[b] = N2;
      acc.C[b] = C;
      acc.E[b] = E;
    };
    for (let b = 0; b < integ.nbins; b++) {
      integrate(b);
      count[b] = acc.C[b];
      let c = 0;
      for (; c < this.cycle; c++) {
        if (acc.N[b] === 0 || acc.C[b] === 0) break;
        const n = Math.max(3, acc.C[b]);
        count[b] = n;
        const aver = acc.N2[b] > 0 ? acc.S[b] / acc.N[b] : NaN;
        const std = acc.N2[b] > 0 ? Math.sqrt(acc.V[b] / acc.N2[b]) : NaN;
        const thr = Math.max(this.cutoff, Math.sqrt(2 * Math.log(n / SQRT_2PI))) * std;
        let bad = 0;
        for (let j = indptr[b]; j < indptr[b + 1]; j++) {
          const k = indices[j];
          if (flags[k] || x[k] !== x[k]) continue;
          const raw = image[k];
          const xb = (dark ? raw - dark[k] : raw) / norm[k];
          if (Math.abs(xb - aver) > thr) {
            flags[k] = 1;
            bad++;
          }
        }
        if (bad === 0) break;
        integrate(b);
        count[b] = acc.C[b];
      }
      if (c > cycles) cycles = c;
    }
    return cycles;
  }
}
