/**
 * WebAssembly kernels of the bin-sorted sigma clip (clip-sorted.ts), for
 * float32 frames without dummy or dark (the smx pipeline): the sorted table
 * (pixel index, norm), the kept values x, the per-pixel validity and the
 * per-bin sums live in one memory; addresses are baked into the code.
 *
 *  - `first(r0, r1, base)`: the runs r0..r1 of one chunk whose image (and
 *    frame mask) were copied to the scratch areas (pixel k at k − base):
 *    validity, x = raw/norm (float32 division: the same float32 as rounding
 *    the float64 quotient, which is why it may be stored as float32), and per
 *    run's bin the running sums (S, V) = Σ (raw, max(raw, 1)) in one float64
 *    pair, pixels in increasing index as the pixel-order pass, and the kept
 *    extremes (−min x, max x) in another (SIMD pseudo-max: one instruction,
 *    x is finite there). The normalisation sums N, N2, C of a bin do not
 *    depend on the frame: the caller keeps them per geometry and the kernel
 *    only sums (w, w², 1) of the pixels found invalid, into (IW, IC).
 *  - `scan(b, aver, thr, c)`: one clipping check of bin b over its runs.
 *    x is stored as float32 (half the memory traffic); its rounding is at
 *    most e = 2⁻²²·|x| + c (c = 2⁻²²·(|aver| + |thr|) covers the rounding
 *    of the difference): kept values with |x − aver| > thr + e are discarded
 *    (NaN, listed: the return value), those within thr ± e are listed apart
 *    (count at AMBIG) for the caller to decide on the exact float64 value,
 *    the extremes of the others, widened by e, are left at MINMAX.
 */
import { buildModule, Code, OP, SIMD, I32, F32, F64, V128, type ValType, WA } from '../../wasm/assembler.js';

const OPX = { i32_ge_s: 0x4e, f64_ge: 0x66, f64_min: 0xa4 } as const;

export const sortedWasmAvailable = (): boolean => WA !== undefined;

export interface SortedLayout {
  n: number;
  size: number;
  nbins: number;
  runs: number;
  chunk: number;
  /** most entries one bin has (the discard list's capacity) */
  maxBin: number;
}

export class SortedClipWasm {
  /** pixel index − chunk start of each entry */
  readonly off: Uint16Array;
  readonly norm: Float32Array;
  /** x = s/w of each entry as float32 (NaN: invalid or discarded) */
  readonly x: Float32Array;
  /** the undecided entries of the last scan (count at ambiguous()) */
  readonly list2: Int32Array;
  private readonly counts: Int32Array;
  readonly valid: Uint8Array;
  readonly runBin: Int32Array;
  readonly runStart: Int32Array;
  readonly binRunPtr: Int32Array;
  readonly binRuns: Int32Array;
  /** per bin: (S, V) of the valid pixels (2 float64) */
  readonly SV: Float64Array;
  /** per bin: (−min x, max x) of the valid pixels */
  readonly LH: Float64Array;
  /** per bin: (Σ w, Σ w²) and count of the invalid pixels */
  readonly IW: Float64Array;
  readonly IC: Float64Array;
  readonly img: Float32Array;
  readonly mask: Uint8Array;
  readonly list: Int32Array;
  readonly minmax: Float64Array;
  readonly first: (r0: number, r1: number, base: number) => void;
  readonly scan: (b: number, aver: number, thr: number, c: number) => number;

  constructor(l: SortedLayout) {
    let at = 64;
    const take = (bytes: number): number => {
      const here = at;
      at = Math.ceil((at + bytes) / 64) * 64;
      return here;
    };
    const pb = 8 * (l.nbins + 1);
    const o = {
      SV: take(2 * pb), LH: take(2 * pb), IW: take(2 * pb), IC: take(pb), minmax: take(16), counts: take(16),
      img: take(4 * l.chunk), mask: take(l.chunk),
      runBin: take(4 * l.runs), runStart: take(4 * (l.runs + 1)), binRunPtr: take(4 * (l.nbins + 1)), binRuns: take(4 * l.runs),
      list: take(4 * Math.max(1, l.maxBin)), list2: take(4 * Math.max(1, l.maxBin)),
      off: take(2 * l.n), norm: take(4 * l.n), x: take(4 * l.n), valid: take(l.size),
    };
    const pages = Math.ceil(at / 65536);
    if (!WA || pages > 65536) throw new RangeError('the sorted clip needs WebAssembly and at most 4 GiB');
    const memory = new WA.Memory({ initial: pages, maximum: pages });
    const buf = memory.buffer;
    const f64 = (off: number, n: number): Float64Array => new Float64Array(buf, off, n);
    this.SV = f64(o.SV, 2 * (l.nbins + 1));
    this.LH = f64(o.LH, 2 * (l.nbins + 1));
    this.IW = f64(o.IW, 2 * (l.nbins + 1));
    this.IC = f64(o.IC, l.nbins + 1);
    this.minmax = f64(o.minmax, 2);
    this.img = new Float32Array(buf, o.img, l.chunk);
    this.mask = new Uint8Array(buf, o.mask, l.chunk);
    this.runBin = new Int32Array(buf, o.runBin, l.runs);
    this.runStart = new Int32Array(buf, o.runStart, l.runs + 1);
    this.binRunPtr = new Int32Array(buf, o.binRunPtr, l.nbins + 1);
    this.binRuns = new Int32Array(buf, o.binRuns, l.runs);
    this.list = new Int32Array(buf, o.list, Math.max(1, l.maxBin));
    this.off = new Uint16Array(buf, o.off, l.n);
    this.norm = new Float32Array(buf, o.norm, l.n);
    this.x = new Float32Array(buf, o.x, l.n);
    this.list2 = new Int32Array(buf, o.list2, Math.max(1, l.maxBin));
    this.counts = new Int32Array(buf, o.counts, 4);
    this.valid = new Uint8Array(buf, o.valid, l.size);
    const bytes = buildModule(
      [
        { name: 'first', params: [I32, I32, I32], results: [], locals: FIRST_LOCALS, body: firstCode(o) },
        { name: 'scan', params: [I32, F64, F64, F64], results: [I32], locals: SCAN_LOCALS, body: scanCode(o) },
      ],
      pages,
    );
    const ex = new WA.Instance(new WA.Module(bytes), { env: { memory } }).exports;
    this.first = ex.first as (r0: number, r1: number, base: number) => void;
    this.scan = ex.scan as (b: number, aver: number, thr: number, c: number) => number;
  }

  /** entries of the last scan left undecided (in list2) */
  ambiguous(): number {
    return this.counts[0];
  }
}

type Offsets = Record<'SV' | 'LH' | 'IW' | 'IC' | 'minmax' | 'counts' | 'list2' | 'img' | 'mask' | 'runBin' | 'runStart' | 'binRunPtr' | 'binRuns' | 'list' | 'off' | 'norm' | 'x' | 'valid', number>;

// first: params r0, r1, base
const F = { r0: 0, r1: 1, base: 2, r: 3, b16: 4, j: 5, j1: 6, k: 7, raw: 8, x: 9, w: 10, acc: 11, mm: 12 };
const FIRST_LOCALS: ValType[] = [I32, I32, I32, I32, I32, F32, F32, F32, V128, V128];

/** (index local) << shift, then a load/store with `offset` as the immediate address */
const at = (c: Code, idx: number, shift: number): Code => (shift ? c.get(idx).i32(shift).op(OP.i32_shl) : c.get(idx));

function firstCode(o: Offsets): Code {
  const c = new Code();
  c.get(F.r0).set(F.r);
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  c.get(F.r).get(F.r1).op(OPX.i32_ge_s).op(OP.br_if, 1);
  at(c, F.r, 2).mem(OP.i32_load, 2, o.runBin).i32(4).op(OP.i32_shl).set(F.b16);
  c.get(F.b16).simdMem(SIMD.v128_load, 4, o.SV).set(F.acc);
  c.get(F.b16).simdMem(SIMD.v128_load, 4, o.LH).set(F.mm);
  at(c, F.r, 2).mem(OP.i32_load, 2, o.runStart).set(F.j);
  at(c, F.r, 2).mem(OP.i32_load, 2, o.runStart + 4).set(F.j1);
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  {
    c.get(F.j).get(F.j1).op(OPX.i32_ge_s).op(OP.br_if, 1);
    // i = offset in the chunk (in local k), raw = img[i]; invalid when masked or not finite; then k = base + i
    at(c, F.j, 1).mem(OP.i32_load16_u, 1, o.off).set(F.k);
    c.get(F.k).i32(2).op(OP.i32_shl).mem(OP.f32_load, 2, o.img).set(F.raw);
    c.get(F.k).mem(OP.i32_load8_u, 0, o.mask);
    c.get(F.k).get(F.base).op(OP.i32_add).set(F.k);
    at(c, F.j, 2).mem(OP.f32_load, 2, o.norm).set(F.w);
    c.get(F.raw).get(F.raw).op(OP.f32_sub).f32(0).op(OP.f32_eq).op(OP.i32_eqz).op(OP.i32_or);
    c.op(OP.if, OP.void);
    {
      // rare: x = NaN, not valid, (w, w², 1) into the bin's invalid sums
      at(c, F.j, 2).f32(NaN).mem(OP.f32_store, 2, o.x);
      c.get(F.k).i32(0).mem(OP.i32_store8, 0, o.valid);
      c.get(F.b16);
      c.get(F.b16).mem(OP.f64_load, 3, o.IW).get(F.w).op(OP.f64_promote_f32).op(OP.f64_add);
      c.mem(OP.f64_store, 3, o.IW);
      c.get(F.b16);
      c.get(F.b16).mem(OP.f64_load, 3, o.IW + 8).get(F.w).op(OP.f64_promote_f32).get(F.w).op(OP.f64_promote_f32).op(OP.f64_mul).op(OP.f64_add);
      c.mem(OP.f64_store, 3, o.IW + 8);
      c.get(F.b16).i32(1).op(OP.i32_shr_u);
      c.get(F.b16).i32(1).op(OP.i32_shr_u).mem(OP.f64_load, 3, o.IC).f64(1).op(OP.f64_add);
      c.mem(OP.f64_store, 3, o.IC);
    }
    c.op(OP.else);
    {
      c.get(F.k).i32(1).mem(OP.i32_store8, 0, o.valid);
      c.get(F.raw).get(F.w).op(OP.f32_div).set(F.x);
      at(c, F.j, 2).get(F.x).mem(OP.f32_store, 2, o.x);
      // (S, V) += (raw, max(raw, 1))
      c.get(F.acc);
      c.get(F.raw).op(OP.f64_promote_f32).simd(SIMD.f64x2_splat).f64x2(-Infinity, 1).simd(SIMD.f64x2_pmax);
      c.simd(SIMD.f64x2_add).set(F.acc);
      // (−lo, hi) = max((−lo, hi), (−x, x))
      c.get(F.mm);
      c.get(F.x).op(OP.f64_promote_f32).simd(SIMD.f64x2_splat).f64x2(-1, 1).simd(SIMD.f64x2_mul);
      c.simd(SIMD.f64x2_pmax).set(F.mm);
    }
    c.op(OP.end);
    c.get(F.j).i32(1).op(OP.i32_add).set(F.j).op(OP.br, 0);
  }
  c.op(OP.end).op(OP.end);
  c.get(F.b16).get(F.acc).simdMem(SIMD.v128_store, 4, o.SV);
  c.get(F.b16).get(F.mm).simdMem(SIMD.v128_store, 4, o.LH);
  c.get(F.r).i32(1).op(OP.i32_add).set(F.r).op(OP.br, 0);
  c.op(OP.end).op(OP.end);
  return c;
}

// scan: params b, aver, thr, c
const Sc = { b: 0, a: 1, t: 2, c: 3, q: 4, q1: 5, r: 6, j: 7, j1: 8, n: 9, n2: 10, x: 11, lo: 12, hi: 13, e: 14, d: 15 };
const SCAN_LOCALS: ValType[] = [I32, I32, I32, I32, I32, I32, I32, F64, F64, F64, F64, F64];

function scanCode(o: Offsets): Code {
  const c = new Code();
  c.f64(Infinity).set(Sc.lo).f64(-Infinity).set(Sc.hi).i32(0).set(Sc.n).i32(0).set(Sc.n2);
  at(c, Sc.b, 2).mem(OP.i32_load, 2, o.binRunPtr).set(Sc.q);
  at(c, Sc.b, 2).mem(OP.i32_load, 2, o.binRunPtr + 4).set(Sc.q1);
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  c.get(Sc.q).get(Sc.q1).op(OPX.i32_ge_s).op(OP.br_if, 1);
  at(c, Sc.q, 2).mem(OP.i32_load, 2, o.binRuns).set(Sc.r);
  at(c, Sc.r, 2).mem(OP.i32_load, 2, o.runStart).set(Sc.j);
  at(c, Sc.r, 2).mem(OP.i32_load, 2, o.runStart + 4).set(Sc.j1);
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  {
    c.get(Sc.j).get(Sc.j1).op(OPX.i32_ge_s).op(OP.br_if, 1);
    at(c, Sc.j, 2).mem(OP.f32_load, 2, o.x).op(OP.f64_promote_f32).set(Sc.x);
    // e = 2⁻²²·|x| + c; d = |x − aver|
    c.get(Sc.x).op(OP.f64_abs).f64(2 ** -22).op(OP.f64_mul).get(Sc.c).op(OP.f64_add).set(Sc.e);
    c.get(Sc.x).get(Sc.a).op(OP.f64_sub).op(OP.f64_abs).set(Sc.d);
    c.get(Sc.d).get(Sc.t).get(Sc.e).op(OP.f64_add).op(OP.f64_gt);
    c.op(OP.if, OP.void);
    {
      // surely beyond: discarded
      at(c, Sc.j, 2).f32(NaN).mem(OP.f32_store, 2, o.x);
      at(c, Sc.n, 2).get(Sc.j).mem(OP.i32_store, 2, o.list);
      c.get(Sc.n).i32(1).op(OP.i32_add).set(Sc.n);
    }
    c.op(OP.else);
    {
      c.get(Sc.d).get(Sc.t).get(Sc.e).op(OP.f64_sub).op(OPX.f64_ge);
      c.op(OP.if, OP.void);
      {
        // too close to tell on float32: the caller decides
        at(c, Sc.n2, 2).get(Sc.j).mem(OP.i32_store, 2, o.list2);
        c.get(Sc.n2).i32(1).op(OP.i32_add).set(Sc.n2);
      }
      c.op(OP.else);
      {
        // kept (NaN: invalid or discarded before, ignored); extremes widened by e
        c.get(Sc.x).get(Sc.x).op(OP.f64_eq).op(OP.if, OP.void);
        c.get(Sc.lo).get(Sc.x).get(Sc.e).op(OP.f64_sub).op(OPX.f64_min).set(Sc.lo);
        c.get(Sc.hi).get(Sc.x).get(Sc.e).op(OP.f64_add).op(OP.f64_max).set(Sc.hi);
        c.op(OP.end);
      }
      c.op(OP.end);
    }
    c.op(OP.end);
    c.get(Sc.j).i32(1).op(OP.i32_add).set(Sc.j).op(OP.br, 0);
  }
  c.op(OP.end).op(OP.end);
  c.get(Sc.q).i32(1).op(OP.i32_add).set(Sc.q).op(OP.br, 0);
  c.op(OP.end).op(OP.end);
  c.i32(0).get(Sc.lo).mem(OP.f64_store, 3, o.minmax);
  c.i32(0).get(Sc.hi).mem(OP.f64_store, 3, o.minmax + 8);
  c.i32(0).get(Sc.n2).mem(OP.i32_store, 2, o.counts);
  c.get(Sc.n);
  return c;
}
