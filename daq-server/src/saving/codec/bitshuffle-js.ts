/**
 * JavaScript versions of the bitshuffle kernels (same signatures and memory
 * layout as bitshuffle-wasm.ts, on a plain ArrayBuffer): the fallback where
 * WebAssembly SIMD is missing and the reference in the tests. Written for
 * clarity first; bits/unbits use the 8×8 bit-matrix transpose of
 * bitshuffle_core.c (TRANS_BIT_8X8) on two 32-bit halves.
 */
import type { BitshuffleKernels, WasmMemory } from './bitshuffle-wasm.js';
import { lz4DecompressInto } from './lz4.js';

/** Transpose the 8×8 bit matrix held in bytes (lo = bytes 0-3, hi = 4-7); returns [lo, hi] in `r`. */
function trans8x8(lo: number, hi: number, r: Int32Array): void {
  // 64-bit TRANS_BIT_8X8 split in two 32-bit words: x = hi:lo
  let t: number;
  // t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AA ; x ^= t ^ (t << 7)   (stays within each 32-bit half for these masks)
  t = (lo ^ (lo >>> 7)) & 0x00aa00aa;
  lo = lo ^ t ^ (t << 7);
  t = (hi ^ (hi >>> 7)) & 0x00aa00aa;
  hi = hi ^ t ^ (t << 7);
  t = (lo ^ (lo >>> 14)) & 0x0000cccc;
  lo = lo ^ t ^ (t << 14);
  t = (hi ^ (hi >>> 14)) & 0x0000cccc;
  hi = hi ^ t ^ (t << 14);
  // t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0 ; x ^= t ^ (t << 28): crosses halves
  t = (lo ^ (hi << 4)) & 0xf0f0f0f0;
  lo = lo ^ t;
  hi = hi ^ (t >>> 4);
  r[0] = lo;
  r[1] = hi;
}

export function jsKernels(bytes: number): BitshuffleKernels {
  const buffer = new ArrayBuffer(bytes);
  const m = new Uint8Array(buffer);
  const r = new Int32Array(2);
  const memory: WasmMemory = { buffer };
  const trbg = (src: number, dst: number, i0: number, n: number, es: number): void => {
    for (let i = i0; i < n; i++) for (let j = 0; j < es; j++) m[dst + j * n + i] = m[src + i * es + j];
  };
  const untrbg = (src: number, dst: number, i0: number, n: number, es: number): void => {
    for (let i = i0; i < n; i++) for (let j = 0; j < es; j++) m[dst + i * es + j] = m[src + j * n + i];
  };
  const rd32 = (p: number): number => m[p] | (m[p + 1] << 8) | (m[p + 2] << 16) | (m[p + 3] << 24);
  return {
    memory,
    trb2: (src, dst, n16, n) => fixTail(src, dst, n16, n, 2),
    trb4: (src, dst, n16, n) => fixTail(src, dst, n16, n, 4),
    trbg,
    untrb2: (src, dst, n16, n) => fixUntail(src, dst, n16, n, 2),
    untrb4: (src, dst, n16, n) => fixUntail(src, dst, n16, n, 4),
    untrbg,
    bits(src, dst, n, rows) {
      const st = n >>> 3;
      for (let j = 0; j < rows; j++) {
        const ib = src + j * n, ob = dst + j * n;
        for (let k = 0; k < st; k++) {
          trans8x8(rd32(ib + 8 * k), rd32(ib + 8 * k + 4), r);
          let lo = r[0], hi = r[1];
          for (let b = 0; b < 4; b++, lo >>>= 8) m[ob + b * st + k] = lo;
          for (let b = 4; b < 8; b++, hi >>>= 8) m[ob + b * st + k] = hi;
        }
      }
    },
    lz4dec(ip, iend, op, oend) {
      try {
        return lz4DecompressInto(m, ip, iend, m, op, oend);
      } catch {
        return -1;
      }
    },
    unbits16(src, dst, n, rows) {
      this.unbits(src, dst, n, rows);
    },
    unbits(src, dst, n, rows) {
      const st = n >>> 3;
      for (let j = 0; j < rows; j++) {
        const ib = src + j * n, ob = dst + j * n;
        for (let k = 0; k < st; k++) {
          const lo = m[ib + k] | (m[ib + st + k] << 8) | (m[ib + 2 * st + k] << 16) | (m[ib + 3 * st + k] << 24);
          const hi = m[ib + 4 * st + k] | (m[ib + 5 * st + k] << 8) | (m[ib + 6 * st + k] << 16) | (m[ib + 7 * st + k] << 24);
          trans8x8(lo, hi, r); // the transpose is its own inverse
          let a = r[0], b = r[1];
          for (let i = 0; i < 4; i++, a >>>= 8) m[ob + 8 * k + i] = a;
          for (let i = 4; i < 8; i++, b >>>= 8) m[ob + 8 * k + i] = b;
        }
      }
    },
  };
  function fixTail(src: number, dst: number, n16: number, n: number, es: number): void {
    for (let i = 0; i < n16; i++) for (let j = 0; j < es; j++) m[dst + j * n + i] = m[src + i * es + j];
  }
  function fixUntail(src: number, dst: number, n16: number, n: number, es: number): void {
    for (let i = 0; i < n16; i++) for (let j = 0; j < es; j++) m[dst + i * es + j] = m[src + j * n + i];
  }
}
