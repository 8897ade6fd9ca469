/**
 * The smx kernels without a per-pixel background: when the background comes
 * per radial bin (the sigma-clipping step) the per-pixel values are a linear
 * interpolation between two bins, so they lie between the two bins' values.
 * A lower bound of each pick / peak threshold per bin then filters the frame
 * in one cheap pass (y = I/norm against the bound of the pixel's bin), and
 * the exact tests (the same arithmetic as sparsify.ts / peaks.ts on the
 * interpolated float32 background, bit for bit) run on the few candidates
 * only. The results are identical to the dense path's.
 *
 * The candidate list of a frame is kept (`CandidateList`, in ctx.vars under
 * `VAR_CANDIDATES`) so that a later step whose bounds are not lower reuses it
 * instead of scanning the frame again (sparsify then peakfinder).
 */
import type { NumArray } from './background.js';
import { buildModule, Code, OP, I32, WA } from '../../wasm/assembler.js';

/** Per-pixel interpolation table (BackgroundInterpolator) and the per-bin background of this frame. */
export interface BinBackground {
  /** bin of each pixel's left neighbour centre, −1: no background (never picked) */
  bin: Int32Array;
  /** interpolation weight of bin + 1 */
  weight: Float64Array;
  /** per-bin background average and standard deviation (normalised units) */
  avg: NumArray;
  std: NumArray;
}

/** The interpolated float32 background average at pixel k (NaN: none), exactly as BackgroundInterpolator writes it. */
export function bgAvgAt(b: BinBackground, k: number): number {
  const i = b.bin[k];
  if (i < 0) return NaN;
  const last = b.avg.length - 1;
  if (i < last) {
    const d = b.weight[k];
    return Math.fround(b.avg[i] * (1 - d) + b.avg[i + 1] * d);
  }
  return Math.fround(b.avg[last]);
}

/** The interpolated float32 background deviation at pixel k (NaN: none). */
export function bgStdAt(b: BinBackground, k: number): number {
  const i = b.bin[k];
  if (i < 0) return NaN;
  const last = b.std.length - 1;
  if (i < last) {
    const d = b.weight[k];
    return Math.fround(b.std[i] * (1 - d) + b.std[i + 1] * d);
  }
  return Math.fround(b.std[last]);
}

/**
 * Lower bounds, per table index (bin + 1; index 0 = no background: +∞), of
 * the normalised value y = I/norm a pixel needs to pass `v = y − bg > floor`
 * and `v ≥ cut·√(sd² + noise²)`, over every background the interpolation
 * can give in that bin. A small relative margin covers the rounding of the
 * exact tests (float32 v, products). Bins with a non-finite value get −∞
 * (every pixel a candidate: the exact test decides).
 */
export function lowerBounds(bg: BinBackground, cut: number, noise: number, floor: number, out: Float64Array): Float64Array {
  const n = bg.avg.length;
  out[0] = Infinity;
  const n2 = noise * noise;
  for (let i = 0; i < n; i++) {
    const j = i + 1 < n ? i + 1 : i;
    const a0 = bg.avg[i], a1 = bg.avg[j], s0 = bg.std[i], s1 = bg.std[j];
    if (!(Number.isFinite(a0) && Number.isFinite(a1) && Number.isFinite(s0) && Number.isFinite(s1))) {
      out[i + 1] = -Infinity;
      continue;
    }
    const aMin = Math.min(a0, a1);
    // |sd| over the interpolation: the smaller end when both have the same sign, else 0
    const sMin = s0 >= 0 && s1 >= 0 ? Math.min(s0, s1) : s0 <= 0 && s1 <= 0 ? Math.min(-s0, -s1) : 0;
    const t = Math.max(floor, cut > 0 ? cut * Math.sqrt(sMin * sMin + n2) : 0);
    out[i + 1] = aMin + t - 1e-6 * (Math.abs(aMin) + t) - 1e-300;
  }
  return out;
}

/** Candidate pixels of a frame: those whose I/norm is above the lower bound of their bin. */
export class CandidateList {
  index: Uint32Array = new Uint32Array(4096);
  n = 0;
  /** the bounds (table index bin + 1) the list was made with */
  bounds: Float64Array = new Float64Array(0);
  image: NumArray | null = null;

  /** Every candidate of `bounds` is in this list (same image, bounds here ≤ those). */
  covers(image: NumArray, bounds: Float64Array): boolean {
    if (image !== this.image || bounds.length !== this.bounds.length) return false;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) if (!(b[i] <= bounds[i])) return false;
    return true;
  }

  private wasm: WasmCandidateScan | null = null;
  private wasmFailed = false;

  scan(image: NumArray, norm: NumArray | null, bin: Int32Array, bounds: Float64Array): void {
    if (this.bounds.length !== bounds.length) this.bounds = new Float64Array(bounds.length);
    this.bounds.set(bounds);
    this.image = image;
    if (image instanceof Float32Array && norm instanceof Float32Array && image.length === bin.length) {
      if (this.wasm === null || this.wasm.bin !== bin || this.wasm.norm !== norm) {
        this.wasm = this.wasmFailed ? null : WasmCandidateScan.create(bin, norm, bounds.length);
        if (this.wasm === null) this.wasmFailed = true;
      }
      if (this.wasm !== null) {
        this.wasm.scan(image, bounds, this);
        return;
      }
    }
    let idx = this.index;
    let m = 0;
    const size = bin.length;
    // pixel k is a candidate when I > bound·norm (norm > 0; norm ≤ 0 or NaN pixels are never picked)
    if (norm !== null) {
      for (let k = 0; k < size; k++) {
        if (image[k] > bounds[bin[k] + 1] * norm[k]) {
          if (m === idx.length) idx = this.grow();
          idx[m++] = k;
        }
      }
    } else {
      for (let k = 0; k < size; k++) {
        if (image[k] > bounds[bin[k] + 1]) {
          if (m === idx.length) idx = this.grow();
          idx[m++] = k;
        }
      }
    }
    this.n = m;
  }

  private grow(): Uint32Array {
    return this.growTo(this.index.length * 2);
  }

  growTo(capacity: number): Uint32Array {
    const next = new Uint32Array(capacity);
    next.set(this.index.subarray(0, Math.min(this.index.length, capacity)));
    return (this.index = next);
  }
}

// ------------------------------------------------------------------ WebAssembly candidate scan

const SCAN_CHUNK = 16384;

/**
 * The candidate scan for float32 frames with a norm: the table index
 * (bin + 1, uint16) and the norm of every pixel live in WebAssembly memory
 * (copied once per geometry); per frame the image goes through in chunks and
 * the kernel lists the pixels with I > bound·norm (float32 arithmetic: the
 * bounds' margin covers its rounding).
 */
export class WasmCandidateScan {
  private readonly img: Float32Array;
  private readonly table: Float32Array;
  private readonly out: Int32Array;
  private readonly fn: (k0: number, cnt: number) => number;

  static create(bin: Int32Array, norm: Float32Array, nTable: number): WasmCandidateScan | null {
    if (!WA || nTable > 65535 || bin.length !== norm.length) return null;
    try {
      return new WasmCandidateScan(bin, norm, nTable);
    } catch {
      return null;
    }
  }

  private constructor(
    readonly bin: Int32Array,
    readonly norm: Float32Array,
    nTable: number,
  ) {
    const size = bin.length;
    let at = 64;
    const take = (bytes: number): number => {
      const here = at;
      at = Math.ceil((at + bytes) / 64) * 64;
      return here;
    };
    const o = { table: take(4 * nTable), img: take(4 * SCAN_CHUNK), out: take(4 * SCAN_CHUNK), idx: take(2 * size), norm: take(4 * size) };
    const pages = Math.ceil(at / 65536);
    const memory = new WA!.Memory({ initial: pages, maximum: pages });
    const buf = memory.buffer;
    this.table = new Float32Array(buf, o.table, nTable);
    this.img = new Float32Array(buf, o.img, SCAN_CHUNK);
    this.out = new Int32Array(buf, o.out, SCAN_CHUNK);
    const idx = new Uint16Array(buf, o.idx, size);
    for (let k = 0; k < size; k++) idx[k] = bin[k] + 1;
    new Float32Array(buf, o.norm, size).set(norm);
    const ex = new WA!.Instance(new WA!.Module(scanModule(o, pages)), { env: { memory } }).exports;
    this.fn = ex.scan as (k0: number, cnt: number) => number;
  }

  /** Candidates of `image` under `bounds` (table index bin + 1) into `list`; returns how many. */
  scan(image: Float32Array, bounds: Float64Array, list: CandidateList): void {
    const t = this.table;
    for (let i = 0; i < t.length; i++) t[i] = bounds[i]; // float32 rounding: within the bounds' margin
    const size = image.length;
    let m = 0;
    for (let k0 = 0; k0 < size; k0 += SCAN_CHUNK) {
      const cnt = Math.min(SCAN_CHUNK, size - k0);
      this.img.set(image.subarray(k0, k0 + cnt));
      const n = this.fn(k0, cnt);
      if (n > 0) {
        while (m + n > list.index.length) list.growTo(2 * list.index.length);
        list.index.set(this.out.subarray(0, n), m);
        m += n;
      }
    }
    list.n = m;
  }
}


/** scan(k0, cnt): for i < cnt, pixel k = k0 + i is listed when img[i] > table[idx[k]] · norm[k]; returns the count */
function scanModule(o: { table: number; img: number; out: number; idx: number; norm: number }, pages: number): Uint8Array {
  const K0 = 0, CNT = 1, I = 2, K = 3, N = 4;
  const c = new Code();
  c.i32(0).set(I).i32(0).set(N);
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  c.get(I).get(CNT).op(OP.i32_ge_u).op(OP.br_if, 1);
  c.get(K0).get(I).op(OP.i32_add).set(K);
  c.get(I).i32(2).op(OP.i32_shl).mem(OP.f32_load, 2, o.img);
  c.get(K).i32(1).op(OP.i32_shl).mem(OP.i32_load16_u, 1, o.idx).i32(2).op(OP.i32_shl).mem(OP.f32_load, 2, o.table);
  c.get(K).i32(2).op(OP.i32_shl).mem(OP.f32_load, 2, o.norm);
  c.op(0x94 /* f32.mul */).op(OP.f32_gt);
  c.op(OP.if, OP.void);
  c.get(N).i32(2).op(OP.i32_shl).get(K).mem(OP.i32_store, 2, o.out);
  c.get(N).i32(1).op(OP.i32_add).set(N);
  c.op(OP.end);
  c.get(I).i32(1).op(OP.i32_add).set(I).op(OP.br, 0);
  c.op(OP.end).op(OP.end);
  c.get(N);
  return buildModule([{ name: 'scan', params: [I32, I32], results: [I32], locals: [I32, I32, I32], body: c }], pages);
}
