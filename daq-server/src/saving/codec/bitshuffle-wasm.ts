/**
 * Bit transposition kernels for bitshuffle as a small WebAssembly SIMD
 * module, written here byte by byte (no toolchain), in the style of
 * processing/jungfrau/wasm.ts. Validated at load; `bitshuffle-js.ts` holds
 * the JavaScript equivalents used as fallback and as test reference.
 *
 * A block of n elements (n a multiple of 8) of `es` bytes is shuffled in two
 * passes over memory regions of the module (the block fits in L1/L2):
 *   1. byte transpose  T[j·n + i] = IN[i·es + j]          (trb2/trb4/trbg)
 *   2. bit rows        S[(j·8 + b)·n/8 + k] bit i = bit b of T[j·n + 8k + i]
 *      (bits: i8x16.bitmask of 16 bytes gives the top bits of 16 elements,
 *      the SSE2 movemask trick; 8 shifts give the 8 bit rows)
 * and unshuffled by the inverse passes (unbits, then untrb2/untrb4/untrbg).
 * For es = 1 the byte transpose is the identity and is skipped.
 *
 * Kernels may read up to 16 bytes past the end of their source region and
 * `unbits` writes up to 8 bytes past its destination region (into the next
 * row, rewritten afterwards, or into slack): regions keep 64 bytes of slack.
 */

import { section, sleb, uleb, vec } from '../../wasm/assembler.js';
import { lz4dec } from './lz4-wasm.js';
import { unbits16 } from './unbits-wasm.js';

/** The part of the WebAssembly JS API used here (lib is ES2022 only). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmModule {
  readonly kind?: 'module';
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
};

const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));

const I32 = 0x7f, V128 = 0x7b;

/** Instruction stream of one function body. */
export class Code {
  readonly b: number[] = [];
  op(...x: number[]): this {
    this.b.push(...x);
    return this;
  }
  get(l: number): this {
    return this.op(0x20, ...uleb(l));
  }
  set(l: number): this {
    return this.op(0x21, ...uleb(l));
  }
  tee(l: number): this {
    return this.op(0x22, ...uleb(l));
  }
  i32(v: number): this {
    return this.op(0x41, ...sleb(v));
  }
  add(): this {
    return this.op(0x6a);
  }
  mul(): this {
    return this.op(0x6c);
  }
  /** local l += v */
  inc(l: number, v: number): this {
    return this.get(l).i32(v).add().set(l);
  }
  /** local l += local m */
  incBy(l: number, m: number): this {
    return this.get(l).get(m).add().set(l);
  }
  /** `block loop (exit when local a ≥ local b, unsigned) body br 0 end end` */
  whileLt(a: number, b: number, body: () => void): this {
    this.op(0x02, 0x40, 0x03, 0x40);
    this.get(a).get(b).op(0x4f, 0x0d, 0x01); // i32.ge_u br_if 1
    body();
    this.op(0x0c, 0x00, 0x0b, 0x0b); // br 0 end end
    return this;
  }
  simd(code: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(code), ...imm);
  }
  load(offset = 0): this {
    return this.simd(0x00, 0, ...uleb(offset));
  }
  store(offset = 0): this {
    return this.simd(0x0b, 0, ...uleb(offset));
  }
  shuffle(lanes: number[]): this {
    if (lanes.length !== 16) throw new Error('shuffle needs 16 lanes');
    return this.simd(0x0d, ...lanes);
  }
  bitmask(): this {
    return this.simd(0x64);
  }
  /** i8x16.shl by a constant */
  shl8(n: number): this {
    return this.i32(n).simd(0x6b);
  }
  v128const(bytes: number[]): this {
    return this.simd(0x0c, ...bytes);
  }
  load8(offset = 0): this {
    return this.op(0x2d, 0, ...uleb(offset));
  }
  store8(offset = 0): this {
    return this.op(0x3a, 0, ...uleb(offset));
  }
  store16(offset = 0): this {
    return this.op(0x3b, 0, ...uleb(offset));
  }
}

export interface Func {
  name: string;
  /** i32 parameters */
  params: number;
  /** i32 results (0 or 1) */
  results?: number;
  locals: number[];
  body: Code;
}

const range = (a: number, n: number, step = 1): number[] => Array.from({ length: n }, (_, i) => a + i * step);

// ---- pass 1: byte transpose ----

/** trb2(src, dst, n16, n): es = 2, elements [0, n16) (n16 a multiple of 16) */
function trb2(): Func {
  const SRC = 0, DST = 1, N16 = 2, N = 3, I = 4, A = 5, B = 6;
  const c = new Code();
  c.i32(0).set(I);
  c.whileLt(I, N16, () => {
    c.get(SRC).load(0).set(A).get(SRC).load(16).set(B);
    c.get(DST).get(I).add().get(A).get(B).shuffle(range(0, 16, 2)).store(0);
    c.get(DST).get(I).add().get(N).add().get(A).get(B).shuffle(range(1, 16, 2)).store(0);
    c.inc(SRC, 32).inc(I, 16);
  });
  return { name: 'trb2', params: 4, locals: [I32, V128, V128], body: c };
}

/** trb4(src, dst, n16, n): es = 4 */
function trb4(): Func {
  const SRC = 0, DST = 1, N16 = 2, N = 3, I = 4, Q = 5, A = 6, B = 7, C = 8, D = 9, X0 = 10, X1 = 11, Y0 = 12, Y1 = 13;
  const lo = [...range(0, 8, 4), ...range(1, 8, 4)]; // bytes 0 and 1 of 8 elements
  const hi = [...range(2, 8, 4), ...range(3, 8, 4)]; // bytes 2 and 3
  const first = [...range(0, 8), ...range(16, 8)];
  const second = [...range(8, 8), ...range(24, 8)];
  const c = new Code();
  c.i32(0).set(I);
  c.whileLt(I, N16, () => {
    c.get(SRC).load(0).set(A).get(SRC).load(16).set(B).get(SRC).load(32).set(C).get(SRC).load(48).set(D);
    c.get(A).get(B).shuffle(lo).set(X0).get(A).get(B).shuffle(hi).set(X1);
    c.get(C).get(D).shuffle(lo).set(Y0).get(C).get(D).shuffle(hi).set(Y1);
    c.get(DST).get(I).add().tee(Q).get(X0).get(Y0).shuffle(first).store(0);
    c.get(Q).get(N).add().tee(Q).get(X0).get(Y0).shuffle(second).store(0);
    c.get(Q).get(N).add().tee(Q).get(X1).get(Y1).shuffle(first).store(0);
    c.get(Q).get(N).add().get(X1).get(Y1).shuffle(second).store(0);
    c.inc(SRC, 64).inc(I, 16);
  });
  return { name: 'trb4', params: 4, locals: [I32, I32, V128, V128, V128, V128, V128, V128, V128, V128], body: c };
}

/** trbg(src, dst, i0, n, es): scalar, elements [i0, n), any es; `inverse` swaps the roles (untrbg). */
function trbg(inverse: boolean): Func {
  const SRC = 0, DST = 1, I0 = 2, N = 3, ES = 4, I = 5, J = 6, P = 7, Q = 8;
  const c = new Code();
  c.get(I0).set(I);
  c.whileLt(I, N, () => {
    // P = element i (src · es + ...), Q = byte row 0, column i
    c.get(I).get(ES).mul().set(P);
    c.get(I).set(Q);
    c.i32(0).set(J);
    c.whileLt(J, ES, () => {
      if (!inverse) c.get(DST).get(Q).add().get(SRC).get(P).add().load8().store8();
      else c.get(DST).get(P).add().get(SRC).get(Q).add().load8().store8();
      c.inc(P, 1).incBy(Q, N).inc(J, 1);
    });
    c.inc(I, 1);
  });
  return { name: inverse ? 'untrbg' : 'trbg', params: 5, locals: [I32, I32, I32, I32], body: c };
}

/** untrb2(src, dst, n16, n) */
function untrb2(): Func {
  const SRC = 0, DST = 1, N16 = 2, N = 3, I = 4, A = 5, B = 6;
  const lo = range(0, 8).flatMap((i) => [i, 16 + i]);
  const hi = range(8, 8).flatMap((i) => [i, 16 + i]);
  const c = new Code();
  c.i32(0).set(I);
  c.whileLt(I, N16, () => {
    c.get(SRC).get(I).add().load(0).set(A).get(SRC).get(I).add().get(N).add().load(0).set(B);
    c.get(DST).get(A).get(B).shuffle(lo).store(0);
    c.get(DST).get(A).get(B).shuffle(hi).store(16);
    c.inc(DST, 32).inc(I, 16);
  });
  return { name: 'untrb2', params: 4, locals: [I32, V128, V128], body: c };
}

/** untrb4(src, dst, n16, n) */
function untrb4(): Func {
  const SRC = 0, DST = 1, N16 = 2, N = 3, I = 4, Q = 5, R0 = 6, R1 = 7, R2 = 8, R3 = 9, U = 10, V = 11, W = 12, X = 13;
  const lo = range(0, 8).flatMap((i) => [i, 16 + i]);
  const hi = range(8, 8).flatMap((i) => [i, 16 + i]);
  const q0 = range(0, 4).flatMap((k) => [2 * k, 2 * k + 1, 16 + 2 * k, 17 + 2 * k]);
  const q1 = range(4, 4).flatMap((k) => [2 * k, 2 * k + 1, 16 + 2 * k, 17 + 2 * k]);
  const c = new Code();
  c.i32(0).set(I);
  c.whileLt(I, N16, () => {
    c.get(SRC).get(I).add().tee(Q).load(0).set(R0);
    c.get(Q).get(N).add().tee(Q).load(0).set(R1);
    c.get(Q).get(N).add().tee(Q).load(0).set(R2);
    c.get(Q).get(N).add().load(0).set(R3);
    c.get(R0).get(R1).shuffle(lo).set(U).get(R0).get(R1).shuffle(hi).set(V);
    c.get(R2).get(R3).shuffle(lo).set(W).get(R2).get(R3).shuffle(hi).set(X);
    c.get(DST).get(U).get(W).shuffle(q0).store(0);
    c.get(DST).get(U).get(W).shuffle(q1).store(16);
    c.get(DST).get(V).get(X).shuffle(q0).store(32);
    c.get(DST).get(V).get(X).shuffle(q1).store(48);
    c.inc(DST, 64).inc(I, 16);
  });
  return { name: 'untrb4', params: 4, locals: [I32, I32, V128, V128, V128, V128, V128, V128, V128, V128], body: c };
}

// ---- pass 2: bit rows ----

/**
 * bits(src, dst, n, rows): each of `rows` byte rows of n bytes (n a multiple
 * of 8) becomes 8 bit rows of n/8 bytes (row b holds bit b).
 */
function bits(): Func {
  const SRC = 0, DST = 1, N = 2, ROWS = 3;
  const IN = 4, O = 5, END = 6, J = 7, ST = 8; // S1..S7 = 9..15 (b · n/8)
  const V = 16;
  const c = new Code();
  c.get(N).i32(3).op(0x76).set(ST); // i32.shr_u
  for (let b = 1; b < 8; b++) c.get(ST).i32(b).mul().set(ST + b);
  const rowAddr = (b: number): void => {
    c.get(O);
    if (b) c.get(ST + b).add();
  };
  c.i32(0).set(J);
  c.whileLt(J, ROWS, () => {
    c.get(J).get(N).mul().tee(O).get(SRC).add().tee(IN).get(N).i32(-16).op(0x71).add().set(END); // END = IN + (n & ~15)
    c.get(O).get(DST).add().set(O);
    c.whileLt(IN, END, () => {
      c.get(IN).load(0).set(V);
      for (let b = 7; b >= 0; b--) {
        rowAddr(b);
        c.get(V).bitmask().store16(0);
        if (b) c.get(V).shl8(1).set(V);
      }
      c.inc(IN, 16).inc(O, 2);
    });
    // odd number of 8-byte columns: one more, byte stores
    c.get(N).i32(8).op(0x71, 0x04, 0x40); // if (n & 8)
    c.get(IN).load(0).set(V);
    for (let b = 7; b >= 0; b--) {
      rowAddr(b);
      c.get(V).bitmask().store8(0);
      if (b) c.get(V).shl8(1).set(V);
    }
    c.op(0x0b);
    c.inc(J, 1);
  });
  return { name: 'bits', params: 4, locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, V128], body: c };
}

/**
 * unbits(src, dst, n, rows): inverse of bits. Two 8-byte columns per step:
 * the 8 bit-row words (16 bits) are gathered into one vector, each column's
 * 8 bytes are duplicated into both halves with the low half shifted one bit
 * further, so that one bitmask gives two adjacent output bytes.
 */
function unbits(): Func {
  const SRC = 0, DST = 1, N = 2, ROWS = 3;
  const P = 4, O = 5, END = 6, J = 7, ST = 8; // S1..S7 = 9..15
  const V = 16, A = 17, LOW = 18;
  const c = new Code();
  c.get(N).i32(3).op(0x76).set(ST);
  for (let b = 1; b < 8; b++) c.get(ST).i32(b).mul().set(ST + b);
  c.v128const([...Array(8).fill(0xff), ...Array(8).fill(0)]).set(LOW);
  c.i32(0).set(J);
  c.whileLt(J, ROWS, () => {
    c.get(J).get(N).mul().tee(O).get(SRC).add().tee(P).get(ST).add().set(END);
    c.get(O).get(DST).add().set(O);
    c.whileLt(P, END, () => {
      c.get(V);
      for (let b = 0; b < 8; b++) {
        // v128.load16_lane: stack [addr, v] → v
        c.set(V).get(P);
        if (b) c.get(ST + b).add();
        c.get(V).simd(0x55, 0, 0, b);
      }
      c.set(V);
      // lanes 2b = row b column c, 2b+1 = row b column c+1
      for (let half = 0; half < 2; half++) {
        const lanes = range(half, 8, 2);
        c.get(V).get(V).shuffle([...lanes, ...lanes]).tee(A).get(A).get(LOW).simd(0x4e).simd(0x6e).set(A); // A + (A & LOW)
        for (let s = 0; s < 4; s++) {
          c.get(O).get(A).bitmask().store16(8 * half + 6 - 2 * s);
          if (s < 3) c.get(A).shl8(2).set(A);
        }
      }
      c.inc(P, 2).inc(O, 16);
    });
    c.inc(J, 1);
  });
  return { name: 'unbits', params: 4, locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, V128], body: c };
}

const FUNCS = (): Func[] => [trb2(), trb4(), trbg(false), untrb2(), untrb4(), trbg(true), bits(), unbits(), lz4dec(), unbits16()];

/** The module's bytes: imports "m"."mem", exports the kernels. */
export function bitshuffleModuleBytes(): Uint8Array {
  const funcs = FUNCS();
  const types = funcs.map((f) => [0x60, ...vec(Array.from({ length: f.params }, () => [I32])), ...vec(Array.from({ length: f.results ?? 0 }, () => [I32]))]);
  const codes = funcs.map((f) => {
    const groups: number[][] = [];
    for (let i = 0; i < f.locals.length; ) {
      let j = i;
      while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
      groups.push([...uleb(j - i), f.locals[i]]);
      i = j;
    }
    const body = [...vec(groups), ...f.body.b, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('m'), ...name('mem'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(7, vec(funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(codes)),
  ]);
}

export interface BitshuffleKernels {
  memory: WasmMemory;
  trb2(src: number, dst: number, n16: number, n: number): void;
  trb4(src: number, dst: number, n16: number, n: number): void;
  trbg(src: number, dst: number, i0: number, n: number, es: number): void;
  untrb2(src: number, dst: number, n16: number, n: number): void;
  untrb4(src: number, dst: number, n16: number, n: number): void;
  untrbg(src: number, dst: number, i0: number, n: number, es: number): void;
  bits(src: number, dst: number, n: number, rows: number): void;
  unbits(src: number, dst: number, n: number, rows: number): void;
  /** LZ4 block [ip, iend) into [op, oend): bytes written, or a negative error code (lz4-wasm.ts) */
  lz4dec(ip: number, iend: number, op: number, oend: number): number;
  /** unbits, 16 columns a step (unbits-wasm.ts): needs 128 bytes of slack after src and dst rows */
  unbits16(src: number, dst: number, n: number, rows: number): void;
}

let compiled: WasmModule | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is not available. */
export function bitshuffleModule(): WasmModule | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = bitshuffleModuleBytes();
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

/** An instance with its own memory of `bytes` (rounded up to pages), or null without WebAssembly SIMD. */
export function instantiateBitshuffle(bytes: number): BitshuffleKernels | null {
  const mod = bitshuffleModule();
  if (!mod) return null;
  const pages = Math.ceil(bytes / 65536);
  if (pages > 65536) return null;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const e = new WebAssembly.Instance(mod, { m: { mem: memory } }).exports;
  return { memory, ...(e as unknown as Omit<BitshuffleKernels, 'memory'>) };
}
