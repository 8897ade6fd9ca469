/**
 * The back-projection inner loop as WebAssembly functions, emitted at start-up
 * with the shared assembler (no toolchain; V8 re-checks typed-array bounds in
 * JS loops, WebAssembly does not). For count voxels of one row they add
 * q[⌊s⌋] + f·(q[⌊s⌋+1] − q[⌊s⌋]) (f = s − ⌊s⌋, s += c per voxel) to out[]:
 *
 *  - `row4(q, out, s, c, groups)`, SIMD, 4 voxels at a time: positions in two
 *    f64x2 vectors, truncated and converted as vectors, the interpolation and
 *    the accumulation in f32x4; the 8 reads of q are lane loads (WebAssembly
 *    SIMD has no gather). Results agree with the JS loop to float32 rounding.
 *  - `row(q, out, s, c, count)`, scalar, for the remainder: the same float64
 *    operations in the same order as the JS twin (`backprojectSlice`), bit for
 *    bit. Alone it is no faster than V8's JIT of the JS loop (measured), so
 *    without SIMD the JS loop runs; `kernel: 'scalar'` keeps it for the tests.
 *
 * The ranges (which voxels see the detector) are computed in JS, one call per
 * voxel row and angle. Filtered rows and the slice live in the module's memory.
 */
import { buildModule, Code, OP, I32, F64, uleb, type FuncDef, WA } from '../../wasm/assembler.js';
import { bandRows, type Angles } from './backproject.js';

const I32_TRUNC_F64_S = 0xaa;

/** row(q, out, s, c, count): byte addresses q (filtered row) and out (first voxel). */
function rowCode(): Code {
  const Q = 0, OUT = 1, S = 2, C = 3, N = 4, I = 5, F = 6, A = 7, V0 = 8;
  const c = new Code();
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  c.get(N).op(OP.i32_eqz).op(OP.br_if, 1);
  // i = trunc(s); f = s − i; a = q + 4i
  c.get(S).op(I32_TRUNC_F64_S).set(I);
  c.get(S).get(I).op(OP.f64_convert_i32_s).op(OP.f64_sub).set(F);
  c.get(Q).get(I).i32(2).op(OP.i32_shl).op(OP.i32_add).set(A);
  c.get(A).mem(OP.f32_load, 2, 0).op(OP.f64_promote_f32).set(V0);
  // out = f32(out + (v0 + f·(v1 − v0)))
  c.get(OUT);
  c.get(OUT).mem(OP.f32_load, 2, 0).op(OP.f64_promote_f32);
  c.get(V0).get(F).get(A).mem(OP.f32_load, 2, 4).op(OP.f64_promote_f32).get(V0).op(OP.f64_sub).op(OP.f64_mul).op(OP.f64_add);
  c.op(OP.f64_add).op(OP.f32_demote_f64).mem(OP.f32_store, 2, 0);
  c.get(OUT).i32(4).op(OP.i32_add).set(OUT);
  c.get(S).get(C).op(OP.f64_add).set(S);
  c.get(N).i32(1).op(OP.i32_sub).set(N);
  c.op(OP.br, 0);
  c.op(OP.end).op(OP.end);
  return c;
}

const V128 = 0x7b as unknown as typeof I32;
const simd = (c: Code, code: number, ...imm: number[]): Code => c.op(0xfd, ...uleb(code), ...imm);
const SIMD = {
  load: 0x00, store: 0x0b, shuffle: 0x0d, i32x4_splat: 0x11, f64x2_splat: 0x14, i32x4_extract: 0x1b,
  f32x4_replace: 0x20, f64x2_replace: 0x22, f32x4_demote_zero: 0x5e, i32x4_shl: 0xab, i32x4_add: 0xae,
  f32x4_add: 0xe4, f32x4_sub: 0xe5, f32x4_mul: 0xe6, f64x2_add: 0xf0, f64x2_sub: 0xf1,
  i32x4_trunc_sat_f64x2_s_zero: 0xfc, f64x2_convert_low_i32x4_s: 0xfe,
} as const;
/** bytes 0–7 of a, then bytes 0–7 of b: the two low lanes of each */
const LOW_LOW = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** row4(q, out, s, c, groups): 4 voxels per group. */
function row4Code(): Code {
  const Q = 0, OUT = 1, S = 2, C = 3, N = 4;
  const SA = 5, SB = 6, STEP = 7, IA = 8, IB = 9, F = 10, I = 11, V0 = 12, V1 = 13;
  const c = new Code();
  // SA = (s, s + c), SB = (s + 2c, s + 3c), STEP = (4c, 4c)
  c.get(S);
  simd(c, SIMD.f64x2_splat);
  c.get(S).get(C).op(OP.f64_add);
  simd(c, SIMD.f64x2_replace, 1).set(SA);
  c.get(S).get(C).f64(2).op(OP.f64_mul).op(OP.f64_add);
  simd(c, SIMD.f64x2_splat);
  c.get(S).get(C).f64(3).op(OP.f64_mul).op(OP.f64_add);
  simd(c, SIMD.f64x2_replace, 1).set(SB);
  c.get(C).f64(4).op(OP.f64_mul);
  simd(c, SIMD.f64x2_splat).set(STEP);
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  c.get(N).op(OP.i32_eqz).op(OP.br_if, 1);
  // integer parts (low two lanes of IA, IB) and fractions as f32x4
  c.get(SA);
  simd(c, SIMD.i32x4_trunc_sat_f64x2_s_zero).set(IA);
  c.get(SB);
  simd(c, SIMD.i32x4_trunc_sat_f64x2_s_zero).set(IB);
  c.get(SA).get(IA);
  simd(c, SIMD.f64x2_convert_low_i32x4_s);
  simd(c, SIMD.f64x2_sub);
  simd(c, SIMD.f32x4_demote_zero);
  c.get(SB).get(IB);
  simd(c, SIMD.f64x2_convert_low_i32x4_s);
  simd(c, SIMD.f64x2_sub);
  simd(c, SIMD.f32x4_demote_zero);
  simd(c, SIMD.shuffle, ...LOW_LOW).set(F);
  // byte addresses q + 4i of the four lanes
  c.get(IA).get(IB);
  simd(c, SIMD.shuffle, ...LOW_LOW);
  c.i32(2);
  simd(c, SIMD.i32x4_shl);
  c.get(Q);
  simd(c, SIMD.i32x4_splat);
  simd(c, SIMD.i32x4_add).set(I);
  // V0 = q[i], V1 = q[i + 1], lane by lane
  for (const [V, off] of [
    [V0, 0],
    [V1, 4],
  ] as const) {
    c.f32(0);
    simd(c, 0x13); // f32x4.splat
    for (let lane = 0; lane < 4; lane++) {
      c.get(I);
      simd(c, SIMD.i32x4_extract, lane);
      c.mem(OP.f32_load, 2, off);
      simd(c, SIMD.f32x4_replace, lane);
    }
    c.set(V);
  }
  // out += V0 + F·(V1 − V0)
  c.get(OUT);
  c.get(OUT);
  simd(c, SIMD.load, 0, 0);
  c.get(V0).get(F).get(V1).get(V0);
  simd(c, SIMD.f32x4_sub);
  simd(c, SIMD.f32x4_mul);
  simd(c, SIMD.f32x4_add);
  simd(c, SIMD.f32x4_add);
  simd(c, SIMD.store, 0, 0);
  c.get(SA).get(STEP);
  simd(c, SIMD.f64x2_add).set(SA);
  c.get(SB).get(STEP);
  simd(c, SIMD.f64x2_add).set(SB);
  c.get(OUT).i32(16).op(OP.i32_add).set(OUT);
  c.get(N).i32(1).op(OP.i32_sub).set(N);
  c.op(OP.br, 0);
  c.op(OP.end).op(OP.end);
  return c;
}

export class WasmBackprojector {
  /** filtered rows [angles][stride], in module memory */
  readonly q: Float32Array;
  /** the slice n × n, in module memory */
  readonly out: Float32Array;
  private readonly row: (q: number, out: number, s: number, c: number, count: number) => void;
  private readonly row4: ((q: number, out: number, s: number, c: number, groups: number) => void) | null;
  /** `simd`: 4 voxels per step; `scalar`: bit-identical to the JS loop */
  readonly mode: 'simd' | 'scalar';
  private readonly outBase: number;

  /** null without WebAssembly (SIMD when `simd`): the JS loop is used then. */
  static create(angles: number, stride: number, n: number, simd = true): WasmBackprojector | null {
    if (!WA) return null;
    try {
      return new WasmBackprojector(angles, stride, n, simd);
    } catch {
      return null;
    }
  }

  private constructor(angles: number, readonly stride: number, readonly n: number, simd: boolean) {
    const qBytes = angles * stride * 4;
    this.outBase = 64 + Math.ceil(qBytes / 64) * 64;
    const pages = Math.ceil((this.outBase + n * n * 4 + 64) / 65536);
    const memory = new WA!.Memory({ initial: pages, maximum: pages });
    this.q = new Float32Array(memory.buffer, 64, angles * stride);
    this.out = new Float32Array(memory.buffer, this.outBase, n * n);
    const scalar: FuncDef = { name: 'row', params: [I32, I32, F64, F64, I32], results: [], locals: [I32, F64, I32, F64], body: rowCode() };
    const vector: FuncDef = { name: 'row4', params: [I32, I32, F64, F64, I32], results: [], locals: Array<typeof I32>(9).fill(V128), body: row4Code() };
    let bytes = buildModule([scalar, vector], pages);
    this.mode = 'simd';
    if (!simd || !WA!.validate(bytes)) {
      // without SIMD the scalar kernel is no faster than V8's JIT of the JS loop: only used when asked for
      if (simd) throw new Error('no WebAssembly SIMD');
      bytes = buildModule([scalar], pages);
      this.mode = 'scalar';
      if (!WA!.validate(bytes)) throw new Error('invalid module');
    }
    const ex = new WA!.Instance(new WA!.Module(bytes), { env: { memory } }).exports;
    this.row = ex.row as WasmBackprojector['row'];
    this.row4 = this.mode === 'simd' ? (ex.row4 as NonNullable<WasmBackprojector['row4']>) : null;
  }

  /** out = Σ_k back-projection of row k of `q` (same bands, ranges and order as backprojectSlice). */
  run(angles: Angles, cor: number, cols: number): void {
    const n = this.n, h = (n - 1) / 2, last = cols - 1, stride = this.stride;
    this.out.fill(0);
    const band = bandRows(n);
    for (let y0 = 0; y0 < n; y0 += band) {
      const y1 = Math.min(n, y0 + band);
      for (let k = 0; k < angles.cos.length; k++) {
        const c = angles.cos[k], sn = angles.sin[k];
        const qAddr = 64 + k * stride * 4;
        for (let iy = y0; iy < y1; iy++) {
          const s0 = cor - h * c + (iy - h) * sn;
          let lo = 0, hi = n - 1;
          if (Math.abs(c) < 1e-12) {
            if (s0 < 0 || s0 > last) continue;
          } else {
            const a = -s0 / c, b = (last - s0) / c;
            lo = Math.max(0, Math.ceil(Math.min(a, b)));
            hi = Math.min(n - 1, Math.floor(Math.max(a, b)));
          }
          if (hi < lo) continue;
          const count = hi - lo + 1, out = this.outBase + (iy * n + lo) * 4, s = s0 + lo * c;
          const groups = this.row4 ? count >> 2 : 0;
          if (groups) this.row4!(qAddr, out, s, c, groups);
          if (count > 4 * groups) this.row(qAddr, out + 16 * groups, s + 4 * groups * c, c, count - 4 * groups);
        }
      }
    }
  }
}
