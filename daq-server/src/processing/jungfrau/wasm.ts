/**
 * The G0 hot loop of the Jungfrau correction as a small WebAssembly SIMD
 * function, written here byte by byte (no toolchain): four pixels per
 * iteration, value = (f32(adc) · a + b) · f with the tables in groups of
 * four ([a0 a1 a2 a3 b0 b1 b2 b3], see correctionTables), flags set to 0.
 * A group holding any word that is not G0 is still computed as G0 (garbage)
 * and its addresses are appended to a pending list; the caller redoes those
 * pixels with the scalar code (G1, G2, invalid, saturated: rare).
 *
 *   span2d(raw, tab, out, flags, groups, chunks, rows,
 *          outStride, flagsStride, skip, f, pend, np) → np
 *
 * reads raw words and tables contiguously, `rows` × `chunks` × `groups`
 * groups of four pixels; writes each row at out/flags + row · stride, its
 * chunks separated by `skip` pixels (the double chip-border columns of an
 * assembled row: 4 chunks of 64 groups, skip 2). Addresses and strides are
 * bytes in the module's memory; `pend` receives pairs (raw address, out
 * address) of pending groups from index np on; the new count is returned.
 * Memory is imported ("m"."mem") so the caller sizes it. Row-major order
 * keeps every stream sequential (per-chip columns of rows were 2× slower).
 *
 * In JavaScript the same loop costs ~2-3× more (V8 re-checks typed-array
 * bounds and bases on every access when arrays are arguments); the module
 * is tiny and validated at load, with the JavaScript kernel as fallback.
 */

import { section, uleb, vec } from '../../wasm/assembler.js';

/** The part of the WebAssembly JS API used here (the compile options have no DOM/WebAssembly lib). */
interface WasmMemory {
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

const sleb = (v: bigint): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && !(b & 0x40)) || (v === -1n && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));

const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
const op = {
  get: (l: number) => [0x20, ...uleb(l)],
  set: (l: number) => [0x21, ...uleb(l)],
  tee: (l: number) => [0x22, ...uleb(l)],
  i32: (v: number) => [0x41, ...sleb(BigInt(v))],
  i64: (v: bigint) => [0x42, ...sleb(v)],
  add: [0x6a],
  ltU: [0x49],
  shl: [0x74],
  i64and: [0x83],
  i64eqz: [0x50],
  i32eqz: [0x45],
  i64load: (align: number, offset = 0) => [0x29, ...uleb(align), ...uleb(offset)],
  i32store: (align: number, offset = 0) => [0x36, ...uleb(align), ...uleb(offset)],
  simd: (code: number, ...imm: number[]) => [0xfd, ...uleb(code), ...imm],
  mem: (align: number, offset = 0) => [...uleb(align), ...uleb(offset)],
};
// SIMD opcodes (final spec numbering)
const V128_LOAD = 0x00, V128_LOAD16X4_U = 0x04, V128_STORE = 0x0b, F32X4_SPLAT = 0x13;
const F32X4_ADD = 0xe4, F32X4_MUL = 0xe6, F32X4_CONVERT_I32X4_U = 0xfb;

/** The module's bytes. */
export function kernelBytes(): Uint8Array {
  // params
  const RAW = 0, TAB = 1, OUT = 2, FLAGS = 3, GROUPS = 4, CHUNKS = 5, ROWS = 6, OS = 7, FS = 8, SKIP = 9, F = 10, PEND = 11, NP = 12;
  // locals
  const PO = 13, PF = 14, G = 15, C = 16, R = 17, FV = 18;
  const body = [
    ...vec([[...uleb(5), I32], [...uleb(1), V128]]),
    ...op.get(F), ...op.simd(F32X4_SPLAT), ...op.set(FV),
    0x03, 0x40, // loop $rows
    ...op.get(OUT), ...op.set(PO),
    ...op.get(FLAGS), ...op.set(PF),
    ...op.i32(0), ...op.set(C),
    0x03, 0x40, // loop $chunks
    ...op.i32(0), ...op.set(G),
    0x03, 0x40, // loop $groups
    // any word of the group with gain bits set → pending (raw address, out address)
    ...op.get(RAW), ...op.i64load(1), ...op.i64(-0x3fff3fff3fff4000n), ...op.i64and, ...op.i64eqz, ...op.i32eqz,
    0x04, 0x40, // if
    ...op.get(PEND), ...op.get(NP), ...op.i32(3), ...op.shl, ...op.add, ...op.get(RAW), ...op.i32store(2, 0),
    ...op.get(PEND), ...op.get(NP), ...op.i32(3), ...op.shl, ...op.add, ...op.get(PO), ...op.i32store(2, 4),
    ...op.get(NP), ...op.i32(1), ...op.add, ...op.set(NP),
    0x0b, // end if
    // out = (f32(u16 words) · a + b) · f ; flags = 0
    ...op.get(PO),
    ...op.get(RAW), ...op.simd(V128_LOAD16X4_U, ...op.mem(1)), ...op.simd(F32X4_CONVERT_I32X4_U),
    ...op.get(TAB), ...op.simd(V128_LOAD, ...op.mem(2)), ...op.simd(F32X4_MUL),
    ...op.get(TAB), ...op.simd(V128_LOAD, ...op.mem(2, 16)), ...op.simd(F32X4_ADD),
    ...op.get(FV), ...op.simd(F32X4_MUL),
    ...op.simd(V128_STORE, ...op.mem(0)),
    ...op.get(PF), ...op.i32(0), ...op.i32store(0),
    ...op.get(RAW), ...op.i32(8), ...op.add, ...op.set(RAW),
    ...op.get(TAB), ...op.i32(32), ...op.add, ...op.set(TAB),
    ...op.get(PO), ...op.i32(16), ...op.add, ...op.set(PO),
    ...op.get(PF), ...op.i32(4), ...op.add, ...op.set(PF),
    ...op.get(G), ...op.i32(1), ...op.add, ...op.tee(G), ...op.get(GROUPS), ...op.ltU, 0x0d, 0x00, // br_if $groups
    0x0b, // end loop $groups
    // skip output pixels between chunks (the double chip-border columns)
    ...op.get(PO), ...op.get(SKIP), ...op.i32(2), ...op.shl, ...op.add, ...op.set(PO),
    ...op.get(PF), ...op.get(SKIP), ...op.add, ...op.set(PF),
    ...op.get(C), ...op.i32(1), ...op.add, ...op.tee(C), ...op.get(CHUNKS), ...op.ltU, 0x0d, 0x00, // br_if $chunks
    0x0b, // end loop $chunks
    ...op.get(OUT), ...op.get(OS), ...op.add, ...op.set(OUT),
    ...op.get(FLAGS), ...op.get(FS), ...op.add, ...op.set(FLAGS),
    ...op.get(R), ...op.i32(1), ...op.add, ...op.tee(R), ...op.get(ROWS), ...op.ltU, 0x0d, 0x00, // br_if $rows
    0x0b, // end loop $rows
    ...op.get(NP),
    0x0b, // end func
  ];
  const params = [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, I32, I32].map((t) => [t]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec(params), ...vec([[I32]])]])),
    ...section(2, vec([[...name('m'), ...name('mem'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('span2d'), 0x00, 0]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

export type Span2d = (
  raw: number, tab: number, out: number, flags: number, groups: number, chunks: number, rows: number,
  outStride: number, flagsStride: number, skip: number, f: number, pend: number, np: number,
) => number;

let compiled: WasmModule | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is not available. */
export function kernelModule(): WasmModule | null {
  if (compiled !== undefined) return compiled;
  try {
    const bytes = kernelBytes();
    compiled = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  } catch {
    compiled = null;
  }
  return compiled;
}

/** Byte layout of one corrector's memory: regions 64-byte aligned. */
export interface WasmRegions {
  raw: number;
  tab: number;
  out: number;
  flags: number;
  pend: number;
  /** band scratch of the banded full-frame pass (see JungfrauCorrector.correct): image values, flags, raw words */
  band: number;
  bandFlags: number;
  bandRaw: number;
  bytes: number;
}

export function wasmRegions(rawPixels: number, imagePixels: number, bandPixels = 0, bandRawPixels = 0): WasmRegions {
  const al = (n: number): number => Math.ceil(n / 64) * 64;
  const raw = 0;
  const tab = al(raw + 2 * rawPixels);
  const out = al(tab + 4 * 6 * rawPixels);
  const flags = al(out + 4 * imagePixels);
  const pend = al(flags + imagePixels);
  const band = al(pend + 8 * (rawPixels / 4 + 1));
  const bandFlags = al(band + 4 * bandPixels);
  const bandRaw = al(bandFlags + bandPixels);
  const bytes = al(bandRaw + 2 * bandRawPixels);
  return { raw, tab, out, flags, pend, band, bandFlags, bandRaw, bytes };
}

/** An instance with its own memory sized for the regions. */
export function instantiateKernel(regions: WasmRegions): { memory: WasmMemory; span2d: Span2d } | null {
  const mod = kernelModule();
  if (!mod) return null;
  const pages = Math.ceil(regions.bytes / 65536);
  if (pages > 65536) return null;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const instance = new WebAssembly.Instance(mod, { m: { mem: memory } });
  return { memory, span2d: instance.exports.span2d as unknown as Span2d };
}
