/**
 * A very small WebAssembly module writer, shared by the hand-assembled
 * kernels (integration, sigma clipping, smx; Jungfrau and bitshuffle use its
 * LEB128 and section encoders): i32/f32/f64 locals and arithmetic, loads and
 * stores, structured control flow, emitting the binary format directly so that
 * kernels can be generated at run time for one image dtype and option set
 * without any toolchain. Reference: the WebAssembly core specification,
 * "Binary Format" (sections, LEB128 integers, opcodes).
 */

/** The part of the WebAssembly JS API the kernels use (the TypeScript lib here is ES2022, without it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
export interface WasmApi {
  Memory: new (d: { initial: number; maximum?: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
/** The runtime's WebAssembly, or undefined where there is none (the kernels then fall back to JS). */
export const WA: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** SIMD opcodes (after the 0xfd prefix; final spec numbering) used by the kernels. */
export const SIMD = {
  v128_load: 0x00,
  v128_store: 0x0b,
  v128_const: 0x0c,
  f64x2_splat: 0x14,
  f64x2_extract_lane: 0x21,
  f64x2_add: 0xf0,
  f64x2_mul: 0xf2,
  /** pseudo-maximum b < a ? a : b ... (a < b ? b : a): one maxpd, no NaN handling */
  f64x2_pmax: 0xf7,
} as const;

/** Opcodes used by the kernels (core spec numbering). */
export const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  return: 0x0f,
  local_get: 0x20,
  local_set: 0x21,
  local_tee: 0x22,
  i32_load: 0x28,
  f32_load: 0x2a,
  f64_load: 0x2b,
  i32_load8_s: 0x2c,
  i32_load8_u: 0x2d,
  i32_load16_s: 0x2e,
  i32_load16_u: 0x2f,
  i32_store: 0x36,
  i32_store8: 0x3a,
  f32_store: 0x38,
  f64_store: 0x39,
  i32_const: 0x41,
  f32_const: 0x43,
  f64_const: 0x44,
  i32_eqz: 0x45,
  i32_eq: 0x46,
  i32_ne: 0x47,
  i32_lt_s: 0x48,
  i32_ge_u: 0x4f,
  f32_eq: 0x5b,
  f32_gt: 0x5e,
  f64_eq: 0x61,
  f64_ne: 0x62,
  f64_lt: 0x63,
  f64_gt: 0x64,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_shl: 0x74,
  i32_shr_u: 0x76,
  f32_abs: 0x8b,
  f32_sub: 0x93,
  f32_div: 0x95,
  f64_abs: 0x99,
  f64_add: 0xa0,
  f64_sub: 0xa1,
  f64_mul: 0xa2,
  f64_div: 0xa3,
  f64_max: 0xa5,
  f32_demote_f64: 0xb6,
  f64_convert_i32_s: 0xb7,
  f64_convert_i32_u: 0xb8,
  f64_promote_f32: 0xbb,
  void: 0x40,
} as const;

/** Unsigned LEB128. */
export function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 (32-bit values). */
export function sleb(v: number): number[] {
  const out: number[] = [];
  v |= 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const utf8 = (s: string): number[] => [...uleb(Buffer.byteLength(s)), ...Buffer.from(s, 'utf8')];

/** Instruction stream of one function body. */
export class Code {
  readonly bytes: number[] = [];

  op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  get(i: number): this {
    return this.op(OP.local_get, ...uleb(i));
  }
  set(i: number): this {
    return this.op(OP.local_set, ...uleb(i));
  }
  tee(i: number): this {
    return this.op(OP.local_tee, ...uleb(i));
  }
  i32(v: number): this {
    return this.op(OP.i32_const, ...sleb(v));
  }
  f32(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(OP.f32_const, ...b);
  }
  f64(v: number): this {
    const b = new Uint8Array(new Float64Array([v]).buffer);
    return this.op(OP.f64_const, ...b);
  }
  /** a SIMD instruction (0xfd prefix) with its immediates */
  simd(opcode: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(opcode), ...imm);
  }
  /** a SIMD load/store with alignment (log2 bytes) and constant offset */
  simdMem(opcode: number, alignLog2: number, offset = 0): this {
    return this.simd(opcode, ...uleb(alignLog2), ...uleb(offset));
  }
  /** v128.const of two float64 lanes */
  f64x2(lane0: number, lane1: number): this {
    return this.simd(SIMD.v128_const, ...new Uint8Array(new Float64Array([lane0, lane1]).buffer));
  }
  /** a load/store with alignment (log2 bytes) and constant offset */
  mem(opcode: number, alignLog2: number, offset = 0): this {
    return this.op(opcode, ...uleb(alignLog2), ...uleb(offset));
  }
}

export interface FuncDef {
  name: string;
  params: ValType[];
  results: ValType[];
  /** extra locals, after the params */
  locals: ValType[];
  body: Code;
}

export function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

export function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A module importing one memory (`env.memory`, `pages` minimum) and exporting `funcs`. */
export function buildModule(funcs: FuncDef[], pages: number): Uint8Array {
  const types = funcs.map((f) => [0x60, ...uleb(f.params.length), ...f.params, ...uleb(f.results.length), ...f.results]);
  const imports = [[...utf8('env'), ...utf8('memory'), 0x02, 0x00, ...uleb(pages)]];
  const fidx = funcs.map((_, i) => uleb(i));
  const exps = funcs.map((f, i) => [...utf8(f.name), 0x00, ...uleb(i)]);
  const codes = funcs.map((f) => {
    // locals grouped by runs of the same type
    const groups: number[][] = [];
    for (let i = 0; i < f.locals.length; ) {
      let j = i;
      while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
      groups.push([...uleb(j - i), f.locals[i]]);
      i = j;
    }
    const body = [...vec(groups), ...f.body.bytes, OP.end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(fidx)),
    ...section(7, vec(exps)),
    ...section(10, vec(codes)),
  ]);
}
