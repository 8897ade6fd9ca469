/**
 * The azimuthal integrator: everything that does not change from frame to
 * frame (bin axes, the pixel → bin table, per-pixel normalization, static
 * sums) is built once per (geometry, image shape, mask, corrections, npt,
 * unit, ranges, method); `integrate(image)` then makes one pass over the
 * frame with no allocation and returns pyFAI "ng" results (integrate1d_ng /
 * integrate2d_ng with the CSR engine: method ("no"|"bbox", "csr", "cython")).
 *
 * Per bin: intensity = S/N, sigma (pyFAI's default: standard error of the
 * mean) = √V/N, std = √(V/N2); empty bins get `empty` (default 0, as
 * pyFAI — whose CSR engine fills empty bins with the integrator's `empty`,
 * not with the dummy).
 *
 * Result arrays are views of buffers owned by the integrator, overwritten
 * by the next call: copy what you keep.
 */
import type { TypedArray } from '../../protocol/index.js';
import type { PyFAIGeometry } from '../../detectors/geometry/pyfai-geometry.js';
import { RADIAL_UNITS, DEG, normalizeAzimuthRange, type RadialUnit } from './units.js';
import { centreArray, deltaArray, type RadialBase } from './positions.js';
import { extent, makeAxis, type Axis } from './axis.js';
import { buildTable1d, buildTable2d, type Csr, type TableInput } from './table.js';
import { staticCorrections, dummyTest, isDummy, type CorrectionOptions, type DummyTest, type FrameValidity, type StaticCorrections } from './corrections.js';
import { Sums, staticSums, accumulateFast, finishFast, accumulateFull, listPixel, Model, type KernelTable } from './kernels.js';
import { FastMemory, wasmAvailable, dummyKind } from './fast-wasm.js';
import { clipFunctions, clipKey, type ClipFn, type ClipVariant } from './clip-wasm.js';
import { dtypeOf } from '../../protocol/index.js';
import { PixelTable } from './table.js';

/** π as pyFAI's Cython code has it (a C float). */
const PI32 = Math.fround(Math.PI);

export type SplitMethod = 'no' | 'bbox';
export type ErrorModel = 'poisson' | 'azimuthal' | null;

export interface IntegratorOptions extends CorrectionOptions {
  /** radial bins (≥ 1) */
  npt: number;
  /** radial unit, default `q_nm^-1` */
  unit?: RadialUnit;
  /** pixel splitting: `no` or `bbox` (default) */
  method?: SplitMethod;
  /** [lower, upper] in `unit`; default: the extent of the unmasked pixels */
  radialRange?: readonly [number, number] | null;
  /** [lower, upper] χ in degrees (pyFAI convention, χ in ]−180°, 180°]) */
  azimuthRange?: readonly [number, number] | null;
  /** azimuthal bins of a 2D "cake"; 0 or absent: 1D integration */
  nptAzim?: number;
  /** most (pixel, bin) entries the table may hold (default 2³¹ − 1); more: TableTooLarge */
  maxTableEntries?: number;
  /** error model when `integrate` is not given one (default null: no sigma) */
  errorModel?: ErrorModel;
  /**
   * per-frame engine of integrations without error model or with Poisson
   * errors: `wasm` (default, generated WebAssembly kernels) or `js` (the
   * reference JavaScript loop); both give the same sums
   */
  engine?: 'wasm' | 'js';
  /** value of empty bins, default 0 (pyFAI's `AzimuthalIntegrator.empty`; pyFAI 2026.9 does not put the dummy there) */
  empty?: number;
}

/** Per-call options of `integrate`. */
export interface IntegrateOptions {
  /** error model for this call (default: the integrator's) */
  errorModel?: ErrorModel;
  /** per-frame mask, one byte per pixel, non-zero = invalid in this frame (the project's `ctx.vars.mask`) */
  mask?: Uint8Array | null;
}

export interface IntegrationResult {
  ndim: 1 | 2;
  /** radial bin centres in the integrator's unit */
  radial: Float64Array;
  /** 2D: χ bin centres in degrees */
  azimuthal: Float64Array | null;
  /** 1D: [npt]; 2D: [npt_azim][npt] row-major (pyFAI's layout) */
  intensity: Float32Array;
  /** standard error of the mean √V/N (pyFAI's `sigma`); null without error model */
  sigma: Float32Array | null;
  /** standard deviation √(V/N2); null without error model */
  std: Float32Array | null;
  /** Σ c over valid pixels */
  count: Float64Array;
  sum_signal: Float64Array;
  sum_variance: Float64Array;
  sum_normalization: Float64Array;
  sum_normalization2: Float64Array;
}

function modelOf(m: ErrorModel): Model {
  return m === 'poisson' ? Model.Poisson : m === 'azimuthal' ? Model.Azimuthal : Model.None;
}

export class Integrator {
  readonly ndim: 1 | 2;
  readonly unit: RadialUnit;
  readonly method: SplitMethod;
  readonly errorModel: ErrorModel;
  readonly radialAxis: Axis;
  /** 2D only */
  readonly azimuthAxis: Axis | null;
  /** normalized χ range (rad) of a 1D integration restricted in azimuth */
  readonly chiRange: [number, number] | null;
  readonly table: PixelTable;
  readonly corrections: StaticCorrections;
  readonly dummy: DummyTest;
  readonly empty: number;
  /** radial bin centres in `unit` */
  readonly radial: Float64Array;
  /** 2D: χ bin centres in degrees */
  readonly azimuthal: Float64Array | null;
  /** each pixel centre's radial position in pyFAI's base unit (2θ rad, q nm⁻¹, r m), float32 */
  readonly positions: Float32Array;
  /** [rows, cols] of the image, when the geometry is a regular grid */
  readonly shape: [number, number] | null;

  private readonly kt: KernelTable;
  private readonly stat: Sums;
  private readonly acc: Sums;
  private readonly inv: Sums;
  private readonly out: { I: Float32Array; sem: Float32Array; std: Float32Array };
  private radialCache: Float32Array | null = null;
  /** WebAssembly memory holding the table and the fast kernels (null: JS engine) */
  private readonly mem: FastMemory | null;
  // state of the pass in progress, for the pixels the WebAssembly kernel hands back
  private passImage: TypedArray | null = null;
  /** validity of the frame in progress: the dummy test and the frame mask */
  private readonly fv: FrameValidity;
  private passPoisson = false;
  private passList = 0;

  constructor(
    /** the detector geometry (not retained: its per-pixel arrays can be freed once integrators are built) */
    geometry: PyFAIGeometry,
    options: IntegratorOptions,
  ) {
    const o = options;
    if (!(Number.isInteger(o.npt) && o.npt >= 1)) throw new RangeError(`npt must be an integer ≥ 1 (got ${o.npt})`);
    const nAzim = o.nptAzim ?? 0;
    if (!(Number.isInteger(nAzim) && nAzim >= 0)) throw new RangeError(`npt_azim must be an integer ≥ 0 (got ${o.nptAzim})`);
    this.ndim = nAzim > 0 ? 2 : 1;
    this.unit = o.unit ?? 'q_nm^-1';
    if (!Object.hasOwn(RADIAL_UNITS, this.unit)) throw new RangeError(`unknown radial unit ${JSON.stringify(this.unit)}`);
    this.method = o.method ?? 'bbox';
    if (this.method !== 'no' && this.method !== 'bbox') throw new RangeError(`unknown method ${JSON.stringify(this.method)}`);
    this.errorModel = o.errorModel ?? null;
    const { base, scale } = RADIAL_UNITS[this.unit];
    const split = this.method === 'bbox';

    this.corrections = staticCorrections(geometry, o);
    this.dummy = dummyTest(o.dummy, o.deltaDummy);
    this.fv = { ...this.dummy, mask: null };
    this.empty = Math.fround(o.empty ?? 0);

    const rad = centreArray(geometry, base as RadialBase);
    this.positions = Float32Array.from(rad);
    this.shape = geometry.pixels.shape ? [geometry.pixels.shape[0], geometry.pixels.shape[1]] : null;
    const dRad = split ? deltaArray(geometry, base as RadialBase) : null;
    const needChi = this.ndim === 2 || !!o.azimuthRange;
    const chi = needChi ? geometry.chi() : null;
    const dChi = needChi && split ? deltaArray(geometry, 'chi') : null;
    const mask = o.mask ?? null;
    const unmasked = mask ? (k: number): boolean => mask[k] === 0 : (): boolean => true;

    // radial axis: pyFAI's calc_boundaries over the unmasked pixels (clipped at 0), or the given range
    let rMin: number, rMax: number;
    if (o.radialRange) {
      const a = o.radialRange[0] / scale, b = o.radialRange[1] / scale;
      rMin = Math.min(a, b);
      rMax = Math.max(a, b);
    } else {
      [rMin, rMax] = extent(rad, dRad, unmasked);
      if (Number.isNaN(rMin)) throw new RangeError('no unmasked pixel: nothing to integrate');
      rMin = Math.max(0, rMin);
      rMax = Math.max(0, rMax);
    }
    this.radialAxis = makeAxis(o.npt, rMin, rMax);
    this.radial = this.radialAxis.centres.map((c) => c * scale);

    const usable = this.corrections.usable;
    const input: TableInput = { rad, dRad, chi, dChi, usable: (k) => usable[k] === 1 };
    if (this.ndim === 2) {
      let cMin: number, cMax: number;
      if (o.azimuthRange) {
        [cMin, cMax] = normalizeAzimuthRange([o.azimuthRange[0], o.azimuthRange[1]]);
      } else {
        // pyFAI clips the χ extent of a cake to ±π — its π being the float32 one
        [cMin, cMax] = extent(chi!, dChi, unmasked);
        cMin = Math.max(cMin, -PI32);
        cMax = Math.min(cMax, PI32);
      }
      this.azimuthAxis = makeAxis(nAzim, cMin, cMax);
      this.azimuthal = this.azimuthAxis.centres.map((c) => c * DEG);
      this.chiRange = null;
      this.table = buildTable2d(input, this.radialAxis, this.azimuthAxis, o.maxTableEntries);
    } else {
      this.azimuthAxis = null;
      this.azimuthal = null;
      this.chiRange = o.azimuthRange ? normalizeAzimuthRange([o.azimuthRange[0], o.azimuthRange[1]]) : null;
      this.table = buildTable1d(input, this.radialAxis, this.chiRange, o.maxTableEntries);
    }

    // the WebAssembly engine keeps the table and the dark in its own memory (the JS arrays are dropped)
    const useWasm = (o.engine ?? 'wasm') === 'wasm' && wasmAvailable();
    if (useWasm) {
      const t = this.table, c = this.corrections;
      const mem = new FastMemory(t.nbins, t.size, t.frac !== null, c.dark !== null);
      mem.bin.set(t.bin);
      mem.syncBin16();
      if (mem.frac && t.frac) mem.frac.set(t.frac);
      if (mem.dark && c.dark) mem.dark.set(c.dark);
      mem.norm.set(c.norm);
      this.table = new PixelTable(t.nbins, mem.bin, mem.frac, t.list);
      this.corrections = { ...c, dark: mem.dark, norm: mem.norm };
      this.mem = mem;
    } else this.mem = null;

    this.kt = {
      bin: this.table.bin,
      frac: this.table.frac,
      list: this.table.list,
      norm: this.corrections.norm,
      dark: this.corrections.dark,
    };
    const nb = this.table.nbins;
    this.stat = new Sums(nb);
    staticSums(this.kt, this.stat);
    this.acc = new Sums(nb);
    this.inv = new Sums(nb);
    this.out = { I: new Float32Array(nb), sem: new Float32Array(nb), std: new Float32Array(nb) };
  }

  /** Number of output bins (1D: npt; 2D: npt_azim · npt). */
  get nbins(): number {
    return this.table.nbins;
  }

  /** Pixels in an image. */
  get size(): number {
    return this.table.size;
  }

  /** The sparse matrix, rows = bins (pyFAI's CSR layout). */
  csr(): Csr {
    return this.table.csr();
  }

  /** The tables the kernels read (for the sigma clipper and other engines built on this integrator). */
  kernelTable(): KernelTable {
    return this.kt;
  }

  /** The WebAssembly memory of the engine (null with the JS engine). */
  wasm(): FastMemory | null {
    return this.mem;
  }

  /**
   * Radial position of every pixel centre in the integrator's unit (float32),
   * NaN for pixels that are never integrated (masked or statically invalid).
   * Built on first call, then cached.
   */
  pixelRadial(): Float32Array {
    if (!this.radialCache) {
      const scale = RADIAL_UNITS[this.unit].scale;
      const out = new Float32Array(this.size);
      const u = this.corrections.usable, p = this.positions;
      for (let k = 0; k < out.length; k++) out[k] = u[k] ? p[k] * scale : NaN;
      this.radialCache = out;
    }
    return this.radialCache;
  }

  /**
   * The validity test of a frame (dummy + optional frame mask), for engines
   * built on this integrator. The object is reused: valid until the next call.
   */
  frameValidity(mask: Uint8Array | null = null): FrameValidity {
    if (mask && mask.length !== this.size) throw new RangeError(`frame mask has ${mask.length} pixels, the image ${this.size}`);
    this.fv.mask = mask;
    return this.fv;
  }

  /** Integrate one frame (any numeric dtype, `size` pixels, row-major). */
  integrate(image: TypedArray, options: IntegrateOptions = {}): IntegrationResult {
    if (image.length !== this.size) throw new RangeError(`image has ${image.length} pixels, the integrator ${this.size}`);
    const model = modelOf(options.errorModel === undefined ? this.errorModel : options.errorModel);
    const fv = this.frameValidity(options.mask ?? null);
    const acc = this.acc;
    if (model === Model.Azimuthal) {
      if (this.mem) this.azimuthalWasm(image, fv);
      else accumulateFull(image, this.kt, fv, { model }, acc);
    } else if (this.mem) {
      this.fastWasm(image, fv, model === Model.Poisson);
    } else {
      accumulateFast(image, this.kt, fv, model === Model.Poisson, acc, this.inv);
      finishFast(this.stat, this.inv, acc);
    }
    return this.finish(model !== Model.None, model === Model.Azimuthal);
  }

  /** 1D integration (pyFAI integrate1d_ng); throws on a 2D integrator. */
  integrate1d(image: TypedArray, options?: IntegrateOptions): IntegrationResult {
    if (this.ndim !== 1) throw new Error('this integrator is 2D (npt_azim > 0): use integrate2d');
    return this.integrate(image, options);
  }

  /** 2D integration (pyFAI integrate2d_ng); throws on a 1D integrator. */
  integrate2d(image: TypedArray, options?: IntegrateOptions): IntegrationResult {
    if (this.ndim !== 2) throw new Error('this integrator is 1D (npt_azim = 0): use integrate1d');
    return this.integrate(image, options);
  }

  /** `accumulateFast` + `finishFast` through the WebAssembly kernel. */
  private fastWasm(image: TypedArray, fv: FrameValidity, poisson: boolean): void {
    const acc = this.acc, inv = this.inv, mem = this.mem!;
    acc.S.fill(0);
    acc.V.fill(0);
    inv.clear();
    this.passImage = image;
    this.passPoisson = poisson;
    this.passList = 0;
    mem.run(image, fv, poisson, this.onUnhandled);
    this.passImage = null;
    const S = mem.S, V = mem.V;
    const { N, N2, C, E } = mem.clip;
    for (let b = 0; b <= this.nbins; b++) {
      acc.S[b] += S[b];
      acc.V[b] += V[b];
      inv.N[b] += N[b];
      inv.N2[b] += N2[b];
      inv.C[b] += C[b];
      inv.E[b] += E[b];
    }
    finishFast(this.stat, inv, acc);
  }

  /**
   * The azimuthal error model in WebAssembly: the first pass of the sigma
   * clip (clip-wasm.ts), which also takes split pixels; it stops at each
   * pixel with a general entry list, handled here, so that every bin still
   * sees its pixels in increasing order (the online variance depends on it).
   */
  private azimuthalWasm(image: TypedArray, fv: FrameValidity): void {
    const mem = this.mem!;
    const v: ClipVariant = { dtype: dtypeOf(image), pair: mem.frac !== null, dark: mem.dark !== null, azimuthal: true, dummy: dummyKind(fv), mask: fv.mask !== null };
    const first = mem.exports(clipKey(v), () => clipFunctions(v)).first as ClipFn;
    const o = mem.off;
    const { N, N2, C, E } = mem.clip;
    const S = mem.S, V = mem.V;
    for (const a of [S, V, N, N2, C, E]) a.fill(0);
    const d32 = fv.dummy ?? 0, dd = fv.delta;
    const bpe = image.BYTES_PER_ELEMENT;
    const { list, norm, dark } = this.kt;
    let li = 0;
    mem.chunks(image, fv.mask, (k0, cnt) => {
      for (let at = 0; at < cnt; ) {
        const done = at + first(k0 + at, cnt - at, o.scratch + at * bpe, o.bin, o.dark, o.norm, o.state, o.maskScratch + at, o.S, o.V, o.N, o.N2, o.C, o.E, o.active, o.aver, o.thr, o.bad, o.frac, d32, dd);
        if (done >= cnt) break;
        // pixel k has a general entry list: pyFAI's online update for each of its entries
        const k = k0 + done;
        const raw = image[k];
        if (raw - raw === 0 && !isDummy(raw, fv) && !(fv.mask && fv.mask[k])) {
          const sig = dark ? raw - dark[k] : raw, w = norm[k], xb = sig / w;
          for (let e = list.ptr[li]; e < list.ptr[li + 1]; e++) {
            const b = list.bins[e], c = list.coefs[e], cw = c * w;
            C[b] += c;
            E[b] += 1;
            if (N2[b] <= 0) {
              S[b] = c * sig;
              N[b] = cw;
              N2[b] = cw * cw;
            } else {
              const omA = N[b];
              const d1 = S[b] / omA - xb;
              S[b] += c * sig;
              N[b] = omA + cw;
              N2[b] += cw * cw;
              V[b] += cw * cw * d1 * (S[b] / N[b] - xb);
            }
          }
        }
        li++;
        at = done + 1;
      }
    });
    const acc = this.acc;
    acc.S.set(S.subarray(0, acc.S.length));
    acc.V.set(V.subarray(0, acc.V.length));
    acc.N.set(N.subarray(0, acc.N.length));
    acc.N2.set(N2.subarray(0, acc.N2.length));
    acc.C.set(C.subarray(0, acc.C.length));
    acc.E.set(E.subarray(0, acc.E.length));
  }

  /** A pixel with a general entry list, handed back by the WebAssembly kernel (in pixel order). */
  private readonly onUnhandled = (k: number): void => {
    listPixel(this.passImage!, k, this.passList++, this.kt, this.fv, this.passPoisson, this.acc, this.inv);
  };

  private finish(withErrors: boolean, byNorm2: boolean): IntegrationResult {
    const nb = this.nbins;
    const { S, V, N, N2, E } = this.acc;
    const { I, sem, std } = this.out;
    const empty = this.empty;
    for (let b = 0; b < nb; b++) {
      // pyFAI's CSR engine: a bin is empty when Σ(c·norm)² is 0
      const filled = byNorm2 ? N2[b] > 0 : E[b] > 0;
      if (filled) {
        I[b] = S[b] / N[b];
        if (withErrors) {
          sem[b] = Math.sqrt(V[b]) / N[b];
          std[b] = Math.sqrt(V[b] / N2[b]);
        }
      } else {
        I[b] = empty;
        sem[b] = std[b] = empty;
      }
    }
    const a = this.acc;
    return {
      ndim: this.ndim,
      radial: this.radial,
      azimuthal: this.azimuthal,
      intensity: I,
      sigma: withErrors ? sem : null,
      std: withErrors ? std : null,
      count: a.C.subarray(0, nb),
      sum_signal: a.S.subarray(0, nb),
      sum_variance: a.V.subarray(0, nb),
      sum_normalization: a.N.subarray(0, nb),
      sum_normalization2: a.N2.subarray(0, nb),
    };
  }
}
