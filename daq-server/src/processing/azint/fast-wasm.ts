/**
 * The per-frame pass of `accumulateFast` (kernels.ts) as generated
 * WebAssembly: V8 re-checks typed-array maps, bounds and loop-invariant
 * flags on every element of a JS loop, a WebAssembly loop does not (about
 * 3× fewer instructions per pixel). One kernel is generated per image
 * dtype and option set (splitting, dark, Poisson, dummy test) — the
 * semantics are those of `accumulateFast`, which stays the reference and
 * the fallback.
 *
 * Memory (one WebAssembly.Memory per integrator, never grown, so the
 * typed-array views on it stay valid): the per-bin sums S and V (LANES
 * copies each), an output list, a scratch chunk of the image, then the
 * per-pixel table (bin, its 16-bit copy `bin16`, frac) and the dark. The
 * integrator keeps its table in this memory (no copy).
 *
 * Speed (Eiger 4M, 1000 bins, bbox): the loop is unrolled LANES times and
 * each copy of the body adds into its own copy of S/V (constant offsets),
 * so that neighbouring pixels of one bin do not serialize on a
 * store-to-load chain, and it reads the bin table in 16 bits; together
 * about 20–25 % fewer ns/pixel than one S/V and an Int32 table.
 *
 * A frame is processed in chunks: the chunk's bytes are copied into the
 * scratch area (it stays in cache for the kernel), the kernel accumulates
 * S and V, sums the static N, N2, C, E of the pixels invalid in this frame
 * (for the caller to subtract) and returns the pixels with a general entry
 * list (handled by the caller in JS).
 */
import type { DType, TypedArray } from '../../protocol/index.js';
import { dtypeOf } from '../../protocol/index.js';
import type { FrameValidity } from './corrections.js';
import { buildModule, Code, OP, I32, F32, F64, type FuncDef, type ValType, WA, type WasmMemory } from '../../wasm/assembler.js';

/** Pixels per chunk: 16 Ki pixels ≤ 128 KiB of image, cache-resident. */
export const CHUNK = 1 << 14;

/**
 * Copies of the per-bin sums S and V the fast kernel accumulates into:
 * pixel k adds to copy k mod LANES, so that neighbouring pixels, which
 * mostly fall in the same bin, do not wait for each other's
 * read-modify-write of one memory word (the store-to-load chain, not the
 * arithmetic, bounds a scatter-add histogram). The copies are summed after
 * the frame.
 */
export const LANES = 4;

export interface FastVariant {
  dtype: DType;
  /** the table has split pixels (frac array) */
  pair: boolean;
  dark: boolean;
  poisson: boolean;
  dummy: 'none' | 'exact' | 'delta';
  /** a per-frame mask (non-zero = invalid) is given */
  mask: boolean;
  /** the kernel reads the 16-bit copy of the bin table (`FastMemory.bin16`) */
  bin16: boolean;
}

/** 16-bit bin table: the codes of −1 (not integrated) and −2 (general entry list); bins must stay below BIN16_LIST */
const BIN16_SKIP = 0xffff, BIN16_LIST = 0xfffe;

const LOAD: Record<DType, { shift: number; load: (c: Code) => void }> = {
  uint8: { shift: 0, load: (c) => c.mem(OP.i32_load8_u, 0).op(OP.f64_convert_i32_s) },
  int8: { shift: 0, load: (c) => c.mem(OP.i32_load8_s, 0).op(OP.f64_convert_i32_s) },
  uint16: { shift: 1, load: (c) => c.mem(OP.i32_load16_u, 1).op(OP.f64_convert_i32_s) },
  int16: { shift: 1, load: (c) => c.mem(OP.i32_load16_s, 1).op(OP.f64_convert_i32_s) },
  uint32: { shift: 2, load: (c) => c.mem(OP.i32_load, 2).op(OP.f64_convert_i32_u) },
  int32: { shift: 2, load: (c) => c.mem(OP.i32_load, 2).op(OP.f64_convert_i32_s) },
  float32: { shift: 2, load: (c) => c.mem(OP.f32_load, 2).op(OP.f64_promote_f32) },
  float64: { shift: 3, load: (c) => c.mem(OP.f64_load, 3) },
};

// parameters
const P_K0 = 0, P_CNT = 1, P_IMG = 2, P_BIN = 3, P_FRAC = 4, P_DARK = 5, P_S = 6, P_V = 7, P_OUT = 8, P_D32 = 9, P_DD = 10, P_MASK = 11;
const P_NORM = 12, P_IN = 13, P_IN2 = 14, P_IC = 15, P_IE = 16;
// locals
const L_K = 17, L_G = 18, L_B = 19, L_N = 20, L_RAW = 21, L_S = 22, L_F = 23, L_FS = 24, L_V = 25, L_A = 26, L_G2 = 27, L_W = 28;
const PARAMS: ValType[] = [I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, F32, I32, I32, I32, I32, I32, I32];
const LOCALS: ValType[] = [I32, I32, I32, I32, F64, F64, F64, F64, F64, I32, F64, F64];

/** Append the pixel index expression `value` (already on the stack after `addr`) to the output list. */
function pushOut(c: Code, value: (c: Code) => void): void {
  c.get(P_OUT).get(L_N).i32(2).op(OP.i32_shl).op(OP.i32_add);
  value(c);
  c.mem(OP.i32_store, 2);
  c.get(L_N).i32(1).op(OP.i32_add).set(L_N);
}

/** `x += value` for the f64 at address `local a` + `offset`. */
function addF64(c: Code, offset: number, value: (c: Code) => void): void {
  c.get(L_A).get(L_A).mem(OP.f64_load, 3, offset);
  value(c);
  c.op(OP.f64_add).mem(OP.f64_store, 3, offset);
}

/**
 * Subtract an invalid pixel's static contributions (N, N2, C, E of its bin,
 * and of bin + 1 for a split pixel) into the inv arrays — what
 * `invalidPixel` (kernels.ts) does in JS.
 */
function invalidCode(c: Code, v: FastVariant): void {
  c.get(P_NORM).get(L_G).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 2).op(OP.f64_promote_f32).set(L_W);
  if (v.pair) c.get(P_FRAC).get(L_G).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 2).op(OP.f64_promote_f32).set(L_F);
  else c.f64(1).set(L_F);
  const sub = (offset: number, coef: number): void => {
    c.get(coef).get(L_W).op(OP.f64_mul).set(L_FS);
    c.get(P_IN).get(L_B).i32(3).op(OP.i32_shl).op(OP.i32_add).set(L_A);
    addF64(c, offset, (x) => x.get(L_FS));
    c.get(P_IN2).get(L_B).i32(3).op(OP.i32_shl).op(OP.i32_add).set(L_A);
    addF64(c, offset, (x) => x.get(L_FS).get(L_FS).op(OP.f64_mul));
    c.get(P_IC).get(L_B).i32(3).op(OP.i32_shl).op(OP.i32_add).set(L_A);
    addF64(c, offset, (x) => x.get(coef));
    c.get(P_IE).get(L_B).i32(3).op(OP.i32_shl).op(OP.i32_add).set(L_A);
    addF64(c, offset, (x) => x.f64(1));
  };
  sub(0, L_F);
  if (v.pair) {
    c.get(L_F).f64(1).op(OP.f64_ne).op(OP.if, OP.void);
    c.f64(1).get(L_F).op(OP.f64_sub).set(L_G2);
    sub(8, L_G2);
    c.op(OP.end);
  }
}

/**
 * The kernel `acc(k0, cnt, img, bin, frac, dark, S, V, out, dummy32, delta32, mask, norm, invN, invN2, invC, invE)`
 * → number of pixels listed in out (those with a general entry list, as −1 − k).
 * S and V are the first of LANES copies `laneStride` bytes apart: the loop
 * body is unrolled LANES times, copy j of the body adds to copy j of S/V
 * (a constant offset in the load/store instructions).
 */
export function kernelCode(v: FastVariant, laneStride: number): Code {
  const c = new Code();
  c.i32(0).set(L_K).i32(0).set(L_N);
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  // one pixel per block; `br 1` inside an `if` of the block goes on with the next pixel
  for (let j = 0; j < LANES; j++) {
    c.op(OP.block, OP.void);
    pixelCode(c, v, j * laneStride);
    c.op(OP.end);
  }
  c.op(OP.br, 0);
  c.op(OP.end).op(OP.end);
  c.get(L_N);
  return c;
}

/** One pixel of the fast kernel, inside a block inside the loop; `lane`: byte offset of its copy of S/V. */
function pixelCode(c: Code, v: FastVariant, lane: number): void {
  // k ≥ cnt → exit (block → loop → outer block)
  c.get(L_K).get(P_CNT).op(OP.i32_ge_u).op(OP.br_if, 2);
  c.get(P_K0).get(L_K).op(OP.i32_add).set(L_G);
  // b = bin[g]; b < 0: skip (−1) or defer (−2)
  if (v.bin16) {
    // 2 bytes a pixel instead of 4: the pass is bound by memory traffic (image + table)
    c.get(P_BIN).get(L_G).i32(1).op(OP.i32_shl).op(OP.i32_add).mem(OP.i32_load16_u, 1).tee(L_B).i32(BIN16_LIST).op(OP.i32_ge_u);
    c.op(OP.if, OP.void);
    c.get(L_B).i32(BIN16_LIST).op(OP.i32_eq).op(OP.if, OP.void);
  } else {
    c.get(P_BIN).get(L_G).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.i32_load, 2).tee(L_B).i32(0).op(OP.i32_lt_s);
    c.op(OP.if, OP.void);
    c.get(L_B).i32(-2).op(OP.i32_eq).op(OP.if, OP.void);
  }
  pushOut(c, (x) => x.i32(-1).get(L_G).op(OP.i32_sub));
  c.op(OP.end);
  c.get(L_K).i32(1).op(OP.i32_add).set(L_K).op(OP.br, 1);
  c.op(OP.end);
  // raw value
  loadPixel(c, v.dtype, P_IMG, L_K);
  c.set(L_RAW);
  // invalid: non-finite (float images), the dummy (compared as float32, like pyFAI), the frame mask
  if (invalidTest(c, v, L_RAW, L_K, P_D32, P_DD, P_MASK)) {
    c.op(OP.if, OP.void);
    invalidCode(c, v);
    c.get(L_K).i32(1).op(OP.i32_add).set(L_K).op(OP.br, 1);
    c.op(OP.end);
  }
  // signal
  c.get(L_RAW);
  if (v.dark) c.get(P_DARK).get(L_G).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 2).op(OP.f64_promote_f32).op(OP.f64_sub);
  c.set(L_S);
  if (v.poisson) c.get(L_RAW).f64(1).op(OP.f64_max).set(L_V);
  const binAddr = (base: number): void => {
    c.get(base).get(L_B).i32(3).op(OP.i32_shl).op(OP.i32_add).set(L_A);
  };
  if (!v.pair) {
    binAddr(P_S);
    addF64(c, lane, (x) => x.get(L_S));
    if (v.poisson) {
      binAddr(P_V);
      addF64(c, lane, (x) => x.get(L_V));
    }
  } else {
    c.get(P_FRAC).get(L_G).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 2).op(OP.f64_promote_f32).set(L_F);
    c.get(L_F).get(L_S).op(OP.f64_mul).set(L_FS);
    binAddr(P_S);
    addF64(c, lane, (x) => x.get(L_FS));
    addF64(c, lane + 8, (x) => x.get(L_S).get(L_FS).op(OP.f64_sub));
    if (v.poisson) {
      c.f64(1).get(L_F).op(OP.f64_sub).set(L_G2);
      binAddr(P_V);
      addF64(c, lane, (x) => x.get(L_F).get(L_F).op(OP.f64_mul).get(L_V).op(OP.f64_mul));
      addF64(c, lane + 8, (x) => x.get(L_G2).get(L_G2).op(OP.f64_mul).get(L_V).op(OP.f64_mul));
    }
  }
  c.get(L_K).i32(1).op(OP.i32_add).set(L_K);
}

type KernelFn = (...args: number[]) => number;

/** Byte layout of an integrator's WebAssembly memory. */
export class FastMemory {
  readonly memory: WasmMemory;
  readonly S: Float64Array;
  readonly V: Float64Array;
  /** bytes between the LANES copies of S and V the fast kernel fills (copy 0 is S / V) */
  readonly laneStride: number;
  /** all LANES copies of S and of V */
  private readonly SLanes: Float64Array;
  private readonly VLanes: Float64Array;
  readonly out: Int32Array;
  readonly bin: Int32Array;
  /**
   * The same table in 16 bits for the fast kernel (BIN16_SKIP for −1,
   * BIN16_LIST for −2), null when there are too many bins; filled by
   * `syncBin16()` once `bin` is set.
   */
  readonly bin16: Uint16Array | null;
  readonly frac: Float32Array | null;
  readonly dark: Float32Array | null;
  /** per-pixel normalization (0 where unusable) */
  readonly norm: Float32Array;
  /** per-pixel state of a sigma clip (see clip-wasm.ts) */
  readonly state: Uint8Array;
  /** per-bin arrays of a sigma clip (S and V are shared with the fast pass) */
  readonly clip: { N: Float64Array; N2: Float64Array; C: Float64Array; E: Float64Array; aver: Float64Array; thr: Float64Array; bad: Float64Array; active: Uint8Array };
  readonly off: Record<'S' | 'V' | 'N' | 'N2' | 'C' | 'E' | 'aver' | 'thr' | 'bad' | 'active' | 'out' | 'scratch' | 'maskScratch' | 'bin' | 'bin16' | 'frac' | 'dark' | 'norm' | 'state', number>;
  private readonly u8: Uint8Array;
  private readonly modules = new Map<string, Record<string, unknown>>();

  constructor(
    readonly nbins: number,
    readonly size: number,
    hasFrac: boolean,
    hasDark: boolean,
  ) {
    const align = (x: number): number => Math.ceil(x / 64) * 64;
    let at = 64;
    const take = (bytes: number): number => {
      const here = at;
      at = align(at + bytes);
      return here;
    };
    const perBin = 8 * (nbins + 2);
    const laneStride = align(perBin);
    const small = nbins + 2 < BIN16_LIST;
    const off = {
      S: take(laneStride * LANES), V: take(laneStride * LANES), N: take(perBin), N2: take(perBin), C: take(perBin), E: take(perBin),
      aver: take(perBin), thr: take(perBin), bad: take(perBin), active: take(nbins + 2),
      out: take(4 * CHUNK), scratch: take(8 * CHUNK), maskScratch: take(CHUNK),
      bin: take(4 * size), bin16: take(small ? 2 * size : 0), frac: take(hasFrac ? 4 * size : 0), dark: take(hasDark ? 4 * size : 0),
      norm: take(4 * size), state: take(size),
    };
    const pages = Math.ceil(at / 65536);
    if (pages > 65536) throw new RangeError('image too large for the WebAssembly engine');
    if (!WA) throw new Error('WebAssembly is not available');
    this.memory = new WA.Memory({ initial: pages, maximum: pages });
    const buf = this.memory.buffer;
    this.u8 = new Uint8Array(buf);
    this.off = off;
    const f64 = (o: number): Float64Array => new Float64Array(buf, o, nbins + 2);
    this.S = f64(off.S);
    this.V = f64(off.V);
    this.laneStride = laneStride;
    this.SLanes = new Float64Array(buf, off.S, (laneStride * LANES) / 8);
    this.VLanes = new Float64Array(buf, off.V, (laneStride * LANES) / 8);
    this.clip = { N: f64(off.N), N2: f64(off.N2), C: f64(off.C), E: f64(off.E), aver: f64(off.aver), thr: f64(off.thr), bad: f64(off.bad), active: new Uint8Array(buf, off.active, nbins + 2) };
    this.out = new Int32Array(buf, off.out, CHUNK);
    this.bin = new Int32Array(buf, off.bin, size);
    this.bin16 = small ? new Uint16Array(buf, off.bin16, size) : null;
    this.frac = hasFrac ? new Float32Array(buf, off.frac, size) : null;
    this.dark = hasDark ? new Float32Array(buf, off.dark, size) : null;
    this.norm = new Float32Array(buf, off.norm, size);
    this.state = new Uint8Array(buf, off.state, size);
  }

  /** Fill `bin16` from `bin` (call after setting `bin`). */
  syncBin16(): void {
    const b16 = this.bin16;
    if (!b16) return;
    const bin = this.bin;
    for (let k = 0; k < bin.length; k++) {
      const b = bin[k];
      b16[k] = b >= 0 ? b : b === -2 ? BIN16_LIST : BIN16_SKIP;
    }
  }

  /** The exports of a generated module on this memory (compiled once per key). */
  exports(key: string, funcs: () => FuncDef[]): Record<string, unknown> {
    let ex = this.modules.get(key);
    if (!ex) {
      const bytes = buildModule(funcs(), this.memory.buffer.byteLength / 65536);
      ex = new WA!.Instance(new WA!.Module(bytes), { env: { memory: this.memory } }).exports;
      this.modules.set(key, ex);
    }
    return ex;
  }

  /**
   * Walk a frame in chunks: copy each chunk of the image (and of the frame
   * mask) into the scratch areas, then call `fn(k0, cnt)`.
   */
  chunks(img: TypedArray, mask: Uint8Array | null, fn: (k0: number, cnt: number) => void): void {
    if (img.length !== this.size) throw new RangeError(`image has ${img.length} pixels, the integrator ${this.size}`);
    if (mask && mask.length !== img.length) throw new RangeError(`frame mask has ${mask.length} pixels, the image ${img.length}`);
    const bpe = img.BYTES_PER_ELEMENT;
    const src = new Uint8Array(img.buffer, img.byteOffset, img.byteLength);
    const n = img.length;
    const o = this.off;
    for (let k0 = 0; k0 < n; k0 += CHUNK) {
      const cnt = Math.min(CHUNK, n - k0);
      this.u8.set(src.subarray(k0 * bpe, (k0 + cnt) * bpe), o.scratch);
      if (mask) this.u8.set(mask.subarray(k0, k0 + cnt), o.maskScratch);
      fn(k0, cnt);
    }
  }

  /**
   * Accumulate S (and V with `poisson`) of a frame into this memory's S/V,
   * and the static N, N2, C, E of the pixels invalid in this frame into
   * `clip.N`, `clip.N2`, `clip.C`, `clip.E` (all cleared here);
   * `unhandled(k)` is called for each pixel with a general entry list, in
   * pixel order (the caller handles it).
   */
  run(img: TypedArray, dt: FrameValidity, poisson: boolean, unhandled: (entry: number) => void): void {
    const v: FastVariant = {
      dtype: dtypeOf(img),
      pair: this.frac !== null,
      dark: this.dark !== null,
      poisson,
      dummy: dummyKind(dt),
      mask: dt.mask !== null,
      bin16: this.bin16 !== null,
    };
    const key = `acc/${v.dtype}/${v.pair}/${v.dark}/${v.poisson}/${v.dummy}/${v.mask}/${v.bin16}`;
    const fn = this.exports(key, () => [{ name: 'acc', params: PARAMS, results: [I32], locals: LOCALS, body: kernelCode(v, this.laneStride) }]).acc as KernelFn;
    this.SLanes.fill(0);
    if (poisson) this.VLanes.fill(0);
    else this.V.fill(0);
    const { N, N2, C, E } = this.clip;
    N.fill(0);
    N2.fill(0);
    C.fill(0);
    E.fill(0);
    const o = this.off;
    const d32 = dt.dummy ?? 0, dd = dt.delta;
    const out = this.out;
    this.chunks(img, dt.mask, (k0, cnt) => {
      const listed = fn(k0, cnt, o.scratch, v.bin16 ? o.bin16 : o.bin, o.frac, o.dark, o.S, o.V, o.out, d32, dd, o.maskScratch, o.norm, o.N, o.N2, o.C, o.E);
      for (let i = 0; i < listed; i++) unhandled(-1 - out[i]);
    });
    // fold the copies into copy 0
    const step = this.laneStride / 8, nb = this.nbins + 2;
    const SL = this.SLanes, VL = this.VLanes;
    for (let l = 1; l < LANES; l++) {
      const at = l * step;
      for (let b = 0; b < nb; b++) SL[b] += SL[at + b];
      if (poisson) for (let b = 0; b < nb; b++) VL[b] += VL[at + b];
    }
  }
}

/** How a frame's dummy is tested. */
export const dummyKind = (dt: FrameValidity): FastVariant['dummy'] => (dt.dummy === null ? 'none' : dt.delta === 0 ? 'exact' : 'delta');

/**
 * Push the "invalid pixel" test of a kernel (i32 on the stack: 1 = invalid):
 * non-finite (float images), the dummy (as float32), non-zero in the frame
 * mask. `raw` is the f64 local of the value, `k` the i32 local of the index
 * in the chunk; nothing is pushed when no test applies (returns false).
 */
export function invalidTest(c: Code, v: Pick<FastVariant, 'dtype' | 'dummy' | 'mask'>, raw: number, k: number, d32: number, dd: number, mask: number): boolean {
  const tests: ((x: Code) => void)[] = [];
  if (v.dtype === 'float32' || v.dtype === 'float64') tests.push((x) => x.get(raw).get(raw).op(OP.f64_sub).f64(0).op(OP.f64_ne));
  if (v.dummy === 'exact') tests.push((x) => x.get(raw).op(OP.f32_demote_f64).get(d32).op(OP.f32_eq));
  if (v.dummy === 'delta') tests.push((x) => x.get(raw).op(OP.f32_demote_f64).get(d32).op(OP.f32_sub).op(OP.f32_abs).get(dd).op(OP.f32_gt).op(OP.i32_eqz));
  if (v.mask) tests.push((x) => x.get(mask).get(k).op(OP.i32_add).mem(OP.i32_load8_u, 0).op(OP.i32_eqz).op(OP.i32_eqz));
  tests.forEach((t, i) => {
    t(c);
    if (i > 0) c.op(OP.i32_or);
  });
  return tests.length > 0;
}

/** Push the image value of chunk index local `k` as f64. */
export function loadPixel(c: Code, dtype: DType, img: number, k: number): void {
  const ld = LOAD[dtype];
  c.get(img).get(k).i32(ld.shift).op(OP.i32_shl).op(OP.i32_add);
  ld.load(c);
}

/** True when WebAssembly can be used here. */
export const wasmAvailable = (): boolean => WA !== undefined && typeof WA.Memory === 'function';
