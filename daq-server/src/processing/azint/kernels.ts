/**
 * Hot loops of the integration engine: one pass over a frame, in pixel
 * order, accumulating into per-bin sums (float64). No allocation.
 *
 * Per valid pixel (pyFAI "ng" preprocessing): signal = raw − dark,
 * variance = max(raw, 1) (Poisson), norm (static, see corrections.ts),
 * count = 1. A pixel is valid when it is in the table, its raw value is
 * finite and it is not the dummy. Per bin with coefficient c:
 *
 *   S = Σ c·signal   V = Σ c²·variance   N = Σ c·norm   N2 = Σ (c·norm)²   C = Σ c
 *
 * `accumulateFast` (no error model or Poisson) only sums S and V per frame:
 * N, N2, C and the entry count E are static sums over the table, and the
 * pixels found invalid in this frame are subtracted from them afterwards
 * (the `inv` sums), so the per-frame pass reads just the image, the table
 * and the dark. These JS loops are the reference and the `js` engine; the
 * default engine runs the same passes as generated WebAssembly
 * (fast-wasm.ts, clip-wasm.ts).
 *
 * Invalid in a frame: a non-finite value, the dummy (compared as float32,
 * like pyFAI), or non-zero in the frame's mask (`FrameValidity.mask`).
 *
 * `accumulateFull` sums everything per frame and also implements pyFAI's
 * "azimuthal" error model, where the variance is the spread of the
 * normalized signal x = signal/norm around the bin mean, accumulated with
 * pyFAI's online update (pixels in ascending order, ω = c·norm):
 *
 *   first valid entry: S = c·signal, N = ω, N2 = ω², V = 0
 *   then:  V += ω²·(S_A/N_A − x)·(S_{A∪b}/N_{A∪b} − x)
 *
 * It also gives sigma clipping its first integration and the normalized
 * signal of every pixel (`x`).
 */
import type { TypedArray } from '../../protocol/index.js';
import type { FrameValidity } from './corrections.js';
import type { EntryList } from './table.js';

/** Per-bin sums of one pass (length nbins + 1: the last slot absorbs the zero-weight half of unsplit pixels). */
export class Sums {
  readonly S: Float64Array;
  readonly V: Float64Array;
  readonly N: Float64Array;
  readonly N2: Float64Array;
  readonly C: Float64Array;
  /** number of (valid pixel, bin) entries: a bin with none is empty */
  readonly E: Float64Array;

  constructor(readonly nbins: number) {
    const n = nbins + 1;
    this.S = new Float64Array(n);
    this.V = new Float64Array(n);
    this.N = new Float64Array(n);
    this.N2 = new Float64Array(n);
    this.C = new Float64Array(n);
    this.E = new Float64Array(n);
  }

  clear(): void {
    this.S.fill(0);
    this.V.fill(0);
    this.N.fill(0);
    this.N2.fill(0);
    this.C.fill(0);
    this.E.fill(0);
  }

  copyFrom(o: Sums, b: number): void {
    this.S[b] = o.S[b];
    this.V[b] = o.V[b];
    this.N[b] = o.N[b];
    this.N2[b] = o.N2[b];
    this.C[b] = o.C[b];
    this.E[b] = o.E[b];
  }
}

/** The table and static data a kernel reads. */
export interface KernelTable {
  bin: Int32Array;
  frac: Float32Array | null;
  list: EntryList;
  norm: Float32Array;
  dark: Float32Array | null;
}

/** Static N, N2, C, E of every bin: each table pixel counted valid. */
export function staticSums(t: KernelTable, out: Sums): void {
  out.clear();
  const { bin, frac, list, norm } = t;
  const { N, N2, C, E } = out;
  let li = 0;
  for (let k = 0; k < bin.length; k++) {
    const b = bin[k];
    if (b === -1) continue;
    const w = norm[k];
    if (b === -2) {
      for (let e = list.ptr[li]; e < list.ptr[li + 1]; e++) {
        const bb = list.bins[e], c = list.coefs[e], cw = c * w;
        N[bb] += cw;
        N2[bb] += cw * cw;
        C[bb] += c;
        E[bb] += 1;
      }
      li++;
      continue;
    }
    const f = frac ? frac[k] : 1;
    const fw = f * w;
    N[b] += fw;
    N2[b] += fw * fw;
    C[b] += f;
    E[b] += 1;
    if (f !== 1) {
      const g = 1 - f, gw = g * w;
      N[b + 1] += gw;
      N2[b + 1] += gw * gw;
      C[b + 1] += g;
      E[b + 1] += 1;
    }
  }
}

/** Subtract pixel k's static contributions (it is invalid in this frame) into `inv` (N, N2, C, E). */
export function invalidPixel(k: number, b: number, t: KernelTable, li: number, inv: Sums): void {
  const w = t.norm[k];
  if (b === -2) {
    const l = t.list;
    for (let e = l.ptr[li]; e < l.ptr[li + 1]; e++) {
      const bb = l.bins[e], c = l.coefs[e], cw = c * w;
      inv.N[bb] += cw;
      inv.N2[bb] += cw * cw;
      inv.C[bb] += c;
      inv.E[bb] += 1;
    }
    return;
  }
  const f = t.frac ? t.frac[k] : 1;
  const fw = f * w;
  inv.N[b] += fw;
  inv.N2[b] += fw * fw;
  inv.C[b] += f;
  inv.E[b] += 1;
  if (f !== 1) {
    const g = 1 - f, gw = g * w;
    inv.N[b + 1] += gw;
    inv.N2[b + 1] += gw * gw;
    inv.C[b + 1] += g;
    inv.E[b + 1] += 1;
  }
}

/**
 * S and V (V only with `poisson`) of a frame into `acc` (cleared here);
 * invalid pixels' static contributions into `inv` (cleared here).
 */
export function accumulateFast(img: TypedArray, t: KernelTable, dt: FrameValidity, poisson: boolean, acc: Sums, inv: Sums): void {
  acc.S.fill(0);
  acc.V.fill(0);
  inv.clear();
  const { bin, frac, dark } = t;
  const S = acc.S, V = acc.V;
  const n = bin.length;
  const checkDummy = dt.dummy !== null;
  const d32 = dt.dummy ?? 0, dd = dt.delta;
  const hasDark = dark !== null;
  const dk = dark ?? new Float32Array(0);
  const hasMask = dt.mask !== null;
  const fm = dt.mask ?? new Uint8Array(0);
  let li = 0;
  if (frac === null) {
    // no splitting: one bin per pixel
    for (let k = 0; k < n; k++) {
      const b = bin[k];
      if (b < 0) {
        if (b === -2) {
          listPixel(img, k, li, t, dt, poisson, acc, inv);
          li++;
        }
        continue;
      }
      const raw = img[k];
      if (!(raw - raw === 0) || (checkDummy && (dd === 0 ? Math.fround(raw) === d32 : !(Math.abs(Math.fround(Math.fround(raw) - d32)) > dd))) || (hasMask && fm[k] !== 0)) {
        invalidPixel(k, b, t, li, inv);
        continue;
      }
      S[b] += hasDark ? raw - dk[k] : raw;
      if (poisson) V[b] += raw > 1 ? raw : 1;
    }
    return;
  }
  for (let k = 0; k < n; k++) {
    const b = bin[k];
    if (b < 0) {
      if (b === -2) {
        listPixel(img, k, li, t, dt, poisson, acc, inv);
        li++;
      }
      continue;
    }
    const raw = img[k];
    if (!(raw - raw === 0) || (checkDummy && (dd === 0 ? Math.fround(raw) === d32 : !(Math.abs(Math.fround(Math.fround(raw) - d32)) > dd))) || (hasMask && fm[k] !== 0)) {
      invalidPixel(k, b, t, li, inv);
      continue;
    }
    const s = hasDark ? raw - dk[k] : raw;
    const f = frac[k];
    const fs = f * s;
    S[b] += fs;
    S[b + 1] += s - fs;
    if (poisson) {
      const v = raw > 1 ? raw : 1;
      const g = 1 - f;
      V[b] += f * f * v;
      V[b + 1] += g * g * v;
    }
  }
}

/** A pixel with a general entry list (the `li`-th of the list), for `accumulateFast`. */
export function listPixel(img: TypedArray, k: number, li: number, t: KernelTable, dt: FrameValidity, poisson: boolean, acc: Sums, inv: Sums): void {
  const raw = img[k];
  if (!(raw - raw === 0) || isDummyInline(raw, dt) || (dt.mask !== null && dt.mask[k] !== 0)) {
    invalidPixel(k, -2, t, li, inv);
    return;
  }
  const s = t.dark ? raw - t.dark[k] : raw;
  const v = raw > 1 ? raw : 1;
  const l = t.list;
  for (let e = l.ptr[li]; e < l.ptr[li + 1]; e++) {
    const b = l.bins[e], c = l.coefs[e];
    acc.S[b] += c * s;
    if (poisson) acc.V[b] += c * c * v;
  }
}

function isDummyInline(raw: number, dt: FrameValidity): boolean {
  if (dt.dummy === null) return false;
  const r32 = Math.fround(raw);
  return dt.delta === 0 ? r32 === dt.dummy : !(Math.abs(Math.fround(r32 - dt.dummy)) > dt.delta);
}

/** Combine a fast pass: N, N2, C, E = static − invalid (into `acc`). */
export function finishFast(stat: Sums, inv: Sums, acc: Sums): void {
  const n = acc.nbins;
  for (let b = 0; b < n; b++) {
    const e = stat.E[b] - inv.E[b];
    acc.E[b] = e;
    if (e > 0) {
      acc.N[b] = stat.N[b] - inv.N[b];
      acc.N2[b] = stat.N2[b] - inv.N2[b];
      acc.C[b] = stat.C[b] - inv.C[b];
    } else {
      acc.S[b] = acc.V[b] = acc.N[b] = acc.N2[b] = acc.C[b] = 0;
    }
  }
}

/** Error model of a full pass. */
export const enum Model {
  None = 0,
  Poisson = 1,
  Azimuthal = 2,
}

/** Options of a full pass. */
export interface FullPass {
  model: Model;
  /** per pixel output: the normalized signal x = signal/norm (NaN where invalid or not integrated) */
  x?: Float32Array | null;
}

/** All sums of a frame into `acc` (cleared here). */
export function accumulateFull(img: TypedArray, t: KernelTable, dt: FrameValidity, o: FullPass, acc: Sums): void {
  const { bin, frac, list, norm, dark } = t;
  const { S, V, N, N2, C, E } = acc;
  const x = o.x ?? null;
  const azim = o.model === Model.Azimuthal, poisson = o.model === Model.Poisson;
  const fmask = dt.mask;
  acc.clear();
  const n = bin.length;
  let li = 0;
  const entry = (b: number, c: number, s: number, v: number, w: number, xb: number): void => {
    const cw = c * w;
    E[b] += 1;
    C[b] += c;
    if (azim) {
      if (N2[b] <= 0) {
        S[b] = c * s;
        N[b] = cw;
        N2[b] = cw * cw;
      } else {
        const omA = N[b];
        const d1 = S[b] / omA - xb;
        S[b] += c * s;
        N[b] = omA + cw;
        N2[b] += cw * cw;
        const d2 = S[b] / N[b] - xb;
        V[b] += cw * cw * d1 * d2;
      }
    } else {
      S[b] += c * s;
      if (poisson) V[b] += c * c * v;
      N[b] += cw;
      N2[b] += cw * cw;
    }
  };
  for (let k = 0; k < n; k++) {
    const b = bin[k];
    const listed = b === -2;
    if (b === -1) {
      if (x) x[k] = NaN;
      continue;
    }
    const raw = img[k];
    if (!(raw - raw === 0) || isDummyInline(raw, dt) || (fmask !== null && fmask[k] !== 0)) {
      if (x) x[k] = NaN;
      if (listed) li++;
      continue;
    }
    const s = dark ? raw - dark[k] : raw;
    const v = raw > 1 ? raw : 1;
    const w = norm[k];
    const xb = s / w;
    if (x) x[k] = xb;
    if (listed) {
      for (let e = list.ptr[li]; e < list.ptr[li + 1]; e++) entry(list.bins[e], list.coefs[e], s, v, w, xb);
      li++;
    } else {
      const f = frac ? frac[k] : 1;
      entry(b, f, s, v, w, xb);
      if (f !== 1) entry(b + 1, 1 - f, s, v, w, xb);
    }
  }
}
