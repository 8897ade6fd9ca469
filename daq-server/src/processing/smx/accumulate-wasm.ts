/**
 * The float32 block sum of `SumImage` as a WebAssembly SIMD kernel: the
 * block lives in WebAssembly memory; per frame the image and its validity go
 * through in chunks (copied to scratch areas) and `add(k0, n4)` adds 4 pixels
 * at a time, each masked to +0 where invalid (valid = 0 or not finite):
 * the same sums as the scalar loop (adding +0 changes nothing). The float64
 * total lives there too: `flush(n4)` adds the block to it (promoting 4
 * float32 lanes to two float64 pairs) and clears the block.
 */
import { buildModule, Code, OP, I32, uleb, WA } from '../../wasm/assembler.js';

const CH = 16384;

// SIMD opcodes (final spec numbering)
const V128_LOAD = 0x00, V128_STORE = 0x0b, V128_CONST = 0x0c, V128_LOAD32_ZERO = 0x5c, V128_AND = 0x4e;
const I32X4_NE = 0x38, F32X4_EQ = 0x41, I16X8_EXTEND_LOW_I8X16_U = 0x89, I32X4_EXTEND_LOW_I16X8_U = 0xa9, F32X4_ADD = 0xe4, F32X4_SUB = 0xe5;
const simd = (c: Code, code: number, ...imm: number[]): Code => c.op(0xfd, ...uleb(code), ...imm);
const memarg = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];

export class WasmBlockSum {
  /** the float32 block (size rounded up to 4) */
  readonly block: Float32Array;
  /** the float64 total (size rounded up to 4) */
  readonly total: Float64Array;
  private readonly flushFn: (n: number) => void;
  private readonly img: Float32Array;
  private readonly valid: Uint8Array;
  private readonly add: (k0: number, n: number) => void;

  static create(size: number): WasmBlockSum | null {
    if (!WA) return null;
    try {
      return new WasmBlockSum(size);
    } catch {
      return null;
    }
  }

  private constructor(readonly size: number) {
    const padded = Math.ceil(size / 4) * 4;
    const o = { img: 64, valid: 64 + 4 * CH, block: 64 + 5 * CH, total: 64 + 5 * CH + 4 * padded };
    const pages = Math.ceil((o.total + 8 * padded + 64) / 65536);
    const memory = new WA!.Memory({ initial: pages, maximum: pages });
    const buf = memory.buffer;
    this.img = new Float32Array(buf, o.img, CH);
    this.valid = new Uint8Array(buf, o.valid, CH);
    this.block = new Float32Array(buf, o.block, padded);
    this.total = new Float64Array(buf, o.total, padded);
    const bytes = addModule(o, pages);
    if (!WA!.validate(bytes)) throw new Error('no WebAssembly SIMD');
    const ex = new WA!.Instance(new WA!.Module(bytes), { env: { memory } }).exports;
    this.add = ex.add as (k0: number, n: number) => void;
    this.flushFn = ex.flush as (n: number) => void;
  }

  /** total += block, block = 0 */
  flush(): void {
    this.flushFn(this.block.length);
  }

  /** block += image where valid ≠ 0 (null: everywhere) and the value is finite */
  addImage(image: Float32Array, valid: Uint8Array | null): void {
    const size = this.size;
    if (valid === null) this.valid.fill(1);
    for (let k0 = 0; k0 < size; k0 += CH) {
      const n = Math.min(CH, size - k0);
      this.img.set(image.subarray(k0, k0 + n));
      if (valid !== null) this.valid.set(valid.subarray(k0, k0 + n));
      const n4 = Math.ceil(n / 4) * 4;
      if (n4 > n) {
        this.img.fill(0, n, n4);
        this.valid.fill(0, n, n4);
      }
      this.add(k0, n4);
    }
  }
}

/** add(k0, n): for i < n step 4: block[k0 + i ..+4] += img[i ..+4] masked by valid[i ..+4] ≠ 0 and finiteness */
function addModule(o: { img: number; valid: number; block: number; total: number }, pages: number): Uint8Array {
  const K0 = 0, N = 1, I = 2, A = 3;
  const c = new Code();
  c.i32(0).set(I);
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  c.get(I).get(N).op(OP.i32_ge_u).op(OP.br_if, 1);
  // address of the block lanes
  c.get(K0).get(I).op(OP.i32_add).i32(2).op(OP.i32_shl).set(A);
  c.get(A);
  c.get(A);
  simd(c, V128_LOAD, ...memarg(4, o.block));
  // x
  c.get(I).i32(2).op(OP.i32_shl);
  simd(c, V128_LOAD, ...memarg(4, o.img));
  // valid mask: 4 bytes → 4 lanes ≠ 0
  c.get(I);
  simd(c, V128_LOAD32_ZERO, ...memarg(0, o.valid));
  simd(c, I16X8_EXTEND_LOW_I8X16_U);
  simd(c, I32X4_EXTEND_LOW_I16X8_U);
  simd(c, V128_CONST, ...new Array(16).fill(0));
  simd(c, I32X4_NE);
  // finite: x − x = 0
  c.get(I).i32(2).op(OP.i32_shl);
  simd(c, V128_LOAD, ...memarg(4, o.img));
  c.get(I).i32(2).op(OP.i32_shl);
  simd(c, V128_LOAD, ...memarg(4, o.img));
  simd(c, F32X4_SUB);
  simd(c, V128_CONST, ...new Array(16).fill(0));
  simd(c, F32X4_EQ);
  simd(c, V128_AND);
  simd(c, V128_AND);
  simd(c, F32X4_ADD);
  simd(c, V128_STORE, ...memarg(4, o.block));
  c.get(I).i32(4).op(OP.i32_add).set(I).op(OP.br, 0);
  c.op(OP.end).op(OP.end);
  return buildModule(
    [
      { name: 'add', params: [I32, I32], results: [], locals: [I32, I32], body: c },
      { name: 'flush', params: [I32], results: [], locals: [I32], body: flushCode(o) },
    ],
    pages,
  );
}

const F64X2_PROMOTE_LOW_F32X4 = 0x5f, F64X2_ADD = 0xf0, I8X16_SHUFFLE = 0x0d;

/** flush(n): for i < n step 4: total[i ..+2] += block[i ..+2], total[i+2 ..+2] += block[i+2 ..+2] (float64), block[i ..+4] = 0 */
function flushCode(o: { block: number; total: number }): Code {
  const N = 0, I = 1;
  const c = new Code();
  c.i32(0).set(I);
  c.op(OP.block, OP.void).op(OP.loop, OP.void);
  c.get(I).get(N).op(OP.i32_ge_u).op(OP.br_if, 1);
  // low pair: total[i], total[i+1]
  c.get(I).i32(3).op(OP.i32_shl);
  c.get(I).i32(3).op(OP.i32_shl);
  simd(c, V128_LOAD, ...memarg(3, o.total));
  c.get(I).i32(2).op(OP.i32_shl);
  simd(c, V128_LOAD, ...memarg(4, o.block));
  simd(c, F64X2_PROMOTE_LOW_F32X4);
  simd(c, F64X2_ADD);
  simd(c, V128_STORE, ...memarg(3, o.total));
  // high pair: total[i+2], total[i+3] (lanes 2, 3 moved down)
  c.get(I).i32(3).op(OP.i32_shl);
  c.get(I).i32(3).op(OP.i32_shl);
  simd(c, V128_LOAD, ...memarg(3, o.total + 16));
  c.get(I).i32(2).op(OP.i32_shl);
  simd(c, V128_LOAD, ...memarg(4, o.block));
  c.get(I).i32(2).op(OP.i32_shl);
  simd(c, V128_LOAD, ...memarg(4, o.block));
  simd(c, I8X16_SHUFFLE, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
  simd(c, F64X2_PROMOTE_LOW_F32X4);
  simd(c, F64X2_ADD);
  simd(c, V128_STORE, ...memarg(3, o.total + 16));
  // block lanes back to 0
  c.get(I).i32(2).op(OP.i32_shl);
  simd(c, V128_CONST, ...new Array(16).fill(0));
  simd(c, V128_STORE, ...memarg(4, o.block));
  c.get(I).i32(4).op(OP.i32_add).set(I).op(OP.br, 0);
  c.op(OP.end).op(OP.end);
  return c;
}
