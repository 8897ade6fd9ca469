/**
 * Sigma clipping passes as generated WebAssembly, for tables without pixel
 * splitting (one bin per pixel, the method pyFAI recommends for clipping).
 * Same semantics as the JS passes of sigma-clip.ts; the per-pixel state
 * array (in the integrator's WebAssembly memory) replaces the discarded
 * flags and the validity:
 *
 *   0 integrated and kept · 1 discarded as an outlier · 2 invalid in this
 *   frame (non-finite, dummy, frame mask) · 3 valid but not integrated
 *   (outside the ranges) · 4 never usable (masked, unusable flat/dark/norm)
 *
 * `first` integrates every valid pixel (S, V, N, N2, C, E per bin, Poisson
 * or azimuthal online variance) and sets the states; it also serves the
 * azimuthal error model of plain integration, where split pixels (`pair`)
 * are allowed and a pixel with a general entry list stops it (it returns
 * that pixel's chunk index, else `cnt`) for the caller to handle in order
 * and resume. `pass` checks the
 * kept pixels of the active bins against |x − ⟨I⟩| > thr (x = signal/norm in
 * double precision, as pyFAI), marks the outliers (state 1, bad[b] += 1)
 * and re-integrates the others into the (cleared) sums of the active bins.
 */
import type { DType } from '../../protocol/index.js';
import { Code, OP, I32, F32, F64, type FuncDef, type ValType } from '../../wasm/assembler.js';
import { invalidTest, loadPixel, type FastVariant } from './fast-wasm.js';

export interface ClipVariant {
  dtype: DType;
  /** split pixels (frac): each pixel feeds bin b with f and b + 1 with 1 − f (integration only, not clipping) */
  pair: boolean;
  dark: boolean;
  azimuthal: boolean;
  dummy: FastVariant['dummy'];
  mask: boolean;
}

// parameters of both functions (addresses, then the dummy test)
const P = { k0: 0, cnt: 1, img: 2, bin: 3, dark: 4, norm: 5, state: 6, mask: 7, S: 8, V: 9, N: 10, N2: 11, C: 12, E: 13, active: 14, aver: 15, thr: 16, bad: 17, frac: 18, d32: 19, dd: 20 };
const PARAMS: ValType[] = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, F32];
// locals
const L = { k: 21, g: 22, b: 23, raw: 24, s: 25, w: 26, xb: 27, omA: 28, d1: 29, b8: 30, f: 31, cw: 32 };
const LOCALS: ValType[] = [I32, I32, I32, F64, F64, F64, F64, F64, F64, I32, F64, F64];

/** f64 at `base + b8` (b8 = bin·8) ← f64 at same + value */
function addAt(c: Code, base: number, value: (c: Code) => void): void {
  c.get(base).get(L.b8).op(OP.i32_add);
  c.get(base).get(L.b8).op(OP.i32_add).mem(OP.f64_load, 3);
  value(c);
  c.op(OP.f64_add).mem(OP.f64_store, 3);
}
function loadAt(c: Code, base: number): void {
  c.get(base).get(L.b8).op(OP.i32_add).mem(OP.f64_load, 3);
}
function storeAt(c: Code, base: number, value: (c: Code) => void): void {
  c.get(base).get(L.b8).op(OP.i32_add);
  value(c);
  c.mem(OP.f64_store, 3);
}
function setState(c: Code, value: number): void {
  c.get(P.state).get(L.g).op(OP.i32_add).i32(value).mem(OP.i32_store8, 0);
}
const next = (c: Code, depth: number): void => {
  c.get(L.k).i32(1).op(OP.i32_add).set(L.k).op(OP.br, depth);
};

/**
 * Accumulate the pixel (s, w, raw) into bin b8 (Poisson or azimuthal) with
 * coefficient 1, or — `weighted` — with the coefficient in local f (cw = f·w).
 */
function accumulate(c: Code, v: ClipVariant, weighted = false): void {
  const cs = (x: Code): void => {
    x.get(L.s);
    if (weighted) x.get(L.f).op(OP.f64_mul);
  };
  const cw = weighted ? L.cw : L.w;
  addAt(c, P.C, (x) => (weighted ? x.get(L.f) : x.f64(1)));
  addAt(c, P.E, (x) => x.f64(1));
  if (!v.azimuthal) {
    addAt(c, P.S, cs);
    addAt(c, P.V, (x) => {
      x.get(L.raw).f64(1).op(OP.f64_max);
      if (weighted) x.get(L.f).get(L.f).op(OP.f64_mul).op(OP.f64_mul);
    });
    addAt(c, P.N, (x) => x.get(cw));
    addAt(c, P.N2, (x) => x.get(cw).get(cw).op(OP.f64_mul));
    return;
  }
  // first entry of the bin: S = c·s, N = c·w, N2 = (c·w)²; then pyFAI's online update of V
  loadAt(c, P.N2);
  c.f64(0).op(OP.f64_gt).op(OP.if, OP.void);
  {
    c.get(L.s).get(L.w).op(OP.f64_div).set(L.xb);
    loadAt(c, P.N);
    c.set(L.omA);
    loadAt(c, P.S);
    c.get(L.omA).op(OP.f64_div).get(L.xb).op(OP.f64_sub).set(L.d1);
    addAt(c, P.S, cs);
    storeAt(c, P.N, (x) => x.get(L.omA).get(cw).op(OP.f64_add));
    addAt(c, P.N2, (x) => x.get(cw).get(cw).op(OP.f64_mul));
    // V += (c·w)²·d1·(S/N − x)
    addAt(c, P.V, (x) => {
      x.get(cw).get(cw).op(OP.f64_mul).get(L.d1).op(OP.f64_mul);
      loadAt(x, P.S);
      loadAt(x, P.N);
      x.op(OP.f64_div).get(L.xb).op(OP.f64_sub).op(OP.f64_mul);
    });
  }
  c.op(OP.else);
  {
    storeAt(c, P.S, cs);
    storeAt(c, P.N, (x) => x.get(cw));
    storeAt(c, P.N2, (x) => x.get(cw).get(cw).op(OP.f64_mul));
  }
  c.op(OP.end);
}

/** signal s and norm w of pixel g (raw already in its local) */
function signalAndNorm(c: Code, v: ClipVariant): void {
  c.get(L.raw);
  if (v.dark) c.get(P.dark).get(L.g).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 2).op(OP.f64_promote_f32).op(OP.f64_sub);
  c.set(L.s);
  c.get(P.norm).get(L.g).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 2).op(OP.f64_promote_f32).set(L.w);
}

function loopHead(c: Code): void {
  c.i32(0).set(L.k);
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  c.get(L.k).get(P.cnt).op(OP.i32_ge_u).op(OP.br_if, 1);
  c.get(P.k0).get(L.k).op(OP.i32_add).set(L.g);
}

function firstCode(v: ClipVariant): Code {
  const c = new Code();
  loopHead(c);
  loadPixel(c, v.dtype, P.img, L.k);
  c.set(L.raw);
  c.get(P.bin).get(L.g).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.i32_load, 2).set(L.b);
  // a pixel with a general entry list (−2): return its index, the caller handles it and resumes
  c.get(L.b).i32(-2).op(OP.i32_eq).op(OP.if, OP.void);
  c.get(L.k).op(OP.return);
  c.op(OP.end);
  // not in the table: never usable (norm 0) → 4, else invalid → 2, valid → 3
  c.get(L.b).i32(0).op(OP.i32_lt_s).op(OP.if, OP.void);
  {
    c.get(P.norm).get(L.g).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 2).f32(0).op(OP.f32_eq).op(OP.if, OP.void);
    setState(c, 4);
    c.op(OP.else);
    if (invalidTest(c, v, L.raw, L.k, P.d32, P.dd, P.mask)) {
      c.op(OP.if, OP.void);
      setState(c, 2);
      c.op(OP.else);
      setState(c, 3);
      c.op(OP.end);
    } else setState(c, 3);
    c.op(OP.end);
    next(c, 1);
  }
  c.op(OP.end);
  if (invalidTest(c, v, L.raw, L.k, P.d32, P.dd, P.mask)) {
    c.op(OP.if, OP.void);
    setState(c, 2);
    next(c, 1);
    c.op(OP.end);
  }
  setState(c, 0);
  c.get(L.b).i32(3).op(OP.i32_shl).set(L.b8);
  signalAndNorm(c, v);
  if (!v.pair) accumulate(c, v);
  else {
    // bin b with f, bin b + 1 with 1 − f (when f ≠ 1)
    c.get(P.frac).get(L.g).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 2).op(OP.f64_promote_f32).set(L.f);
    c.get(L.f).get(L.w).op(OP.f64_mul).set(L.cw);
    accumulate(c, v, true);
    c.get(L.f).f64(1).op(OP.f64_ne).op(OP.if, OP.void);
    c.f64(1).get(L.f).op(OP.f64_sub).set(L.f);
    c.get(L.f).get(L.w).op(OP.f64_mul).set(L.cw);
    c.get(L.b8).i32(8).op(OP.i32_add).set(L.b8);
    accumulate(c, v, true);
    c.op(OP.end);
  }
  next(c, 0);
  c.op(OP.end).op(OP.end);
  c.get(P.cnt);
  return c;
}

function passCode(v: ClipVariant): Code {
  const c = new Code();
  loopHead(c);
  // only kept, integrated pixels of active bins
  c.get(P.state).get(L.g).op(OP.i32_add).mem(OP.i32_load8_u, 0).op(OP.if, OP.void);
  next(c, 1);
  c.op(OP.end);
  c.get(P.bin).get(L.g).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.i32_load, 2).tee(L.b).i32(3).op(OP.i32_shl).set(L.b8);
  c.get(P.active).get(L.b).op(OP.i32_add).mem(OP.i32_load8_u, 0).op(OP.i32_eqz).op(OP.if, OP.void);
  next(c, 1);
  c.op(OP.end);
  loadPixel(c, v.dtype, P.img, L.k);
  c.set(L.raw);
  signalAndNorm(c, v);
  // |x − ⟨I⟩| > thr → outlier
  c.get(L.s).get(L.w).op(OP.f64_div).set(L.xb);
  c.get(L.xb);
  loadAt(c, P.aver);
  c.op(OP.f64_sub).op(OP.f64_abs);
  loadAt(c, P.thr);
  c.op(OP.f64_gt).op(OP.if, OP.void);
  setState(c, 1);
  addAt(c, P.bad, (x) => x.f64(1));
  next(c, 1);
  c.op(OP.end);
  accumulate(c, v);
  next(c, 0);
  c.op(OP.end).op(OP.end);
  return c;
}

export const clipKey = (v: ClipVariant): string => `clip/${v.dtype}/${v.pair}/${v.dark}/${v.azimuthal}/${v.dummy}/${v.mask}`;

/** The two functions `first` and `pass` of a variant. */
export function clipFunctions(v: ClipVariant): FuncDef[] {
  return [
    { name: 'first', params: PARAMS, results: [I32], locals: LOCALS, body: firstCode(v) },
    { name: 'pass', params: PARAMS, results: [], locals: LOCALS, body: passCode(v) },
  ];
}

export type ClipFn = (...args: number[]) => number;
export { P as CLIP_PARAMS };
