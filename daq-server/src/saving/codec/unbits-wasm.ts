/**
 * unbits16(src, dst, n, rows): the bit-row → byte-row pass of the bitshuffle
 * inverse (as `unbits` in bitshuffle-wasm.ts), 16 columns (128 output bytes)
 * per step instead of 2: the 8 bit rows' next 16 bytes are 16 independent
 * 8×8 bit matrices, transposed together by three rounds of masked swaps
 * (distance 1, 2, 4: the TRANS_BIT_8X8 recursion, lane-wise), then the 8
 * resulting vectors are interleaved byte → 16-bit → 32-bit with shuffles so
 * that each column's 8 bytes land together. About a third of the operations
 * of the 2-column kernel per output byte.
 *
 * The column count n/8 is rounded UP to 16: each row may read up to 15 bytes
 * past its bit rows and write up to 127 bytes past its n output bytes, i.e.
 * into the next row (written afterwards, rows go in order) or into slack:
 * regions need 128 bytes of slack (bslz4-decoder.ts keeps them).
 */
import { Code, type Func } from './bitshuffle-wasm.js';

const I32 = 0x7f, V128 = 0x7b;
// i16x8 shifts (native on x86, the i8x16 ones are emulated): safe here because the masks keep the
// top d bits of each byte clear, so no bit crosses a byte boundary where it matters
const XOR = 0x51, AND = 0x4e, SHL = 0x8b, SHR_U = 0x8d;
const range = (a: number, n: number): number[] => Array.from({ length: n }, (_, i) => a + i);
/** shuffle lanes interleaving units of `u` bytes of the low (hi = 0) or high (hi = 1) halves of a and b */
const zip = (u: number, hi: number): number[] =>
  range(0, 8 / u).flatMap((k) => [...range(8 * hi + k * u, u), ...range(16 + 8 * hi + k * u, u)]);

export function unbits16(): Func {
  const SRC = 0, DST = 1, N = 2, ROWS = 3;
  const ST = 4, E = 12, J = 13, P = 14, O = 15; // S1..S7 = 5..11 (b · n/8)
  const R = 16; // R0..R7 = 16..23
  const A = 24; // A0..A7 = 24..31
  const B = 32; // B0..B7 = 32..39
  const T = 40, M = 41; // masks for distance 1, 2, 4 = 41, 42, 43
  const c = new Code();
  c.get(N).i32(3).op(0x76).set(ST);
  for (let b = 1; b < 8; b++) c.get(ST).i32(b).mul().set(ST + b);
  [0x55, 0x33, 0x0f].forEach((m, s) => c.v128const(Array(16).fill(m)).set(M + s));
  c.i32(0).set(J);
  c.whileLt(J, ROWS, () => {
    c.get(J).get(N).mul().tee(O).get(SRC).add().tee(P);
    c.get(ST).i32(15).add().i32(-16).op(0x71).add().set(E); // E = P + roundup16(n/8)
    c.get(O).get(DST).add().set(O);
    c.whileLt(P, E, () => {
      for (let b = 0; b < 8; b++) {
        c.get(P);
        if (b) c.get(ST + b).add();
        c.load(0).set(R + b);
      }
      // R_b bit i ↔ R_i bit b, per byte lane
      [1, 2, 4].forEach((d, s) => {
        for (let a = 0; a < 8; a++) {
          if (a & d) continue;
          // t = ((R_a >> d) ^ R_{a+d}) & m; R_{a+d} ^= t; R_a ^= t << d
          c.get(R + a).i32(d).simd(SHR_U).get(R + a + d).simd(XOR).get(M + s).simd(AND).set(T);
          c.get(R + a + d).get(T).simd(XOR).set(R + a + d);
          c.get(R + a).get(T).i32(d).simd(SHL).simd(XOR).set(R + a);
        }
      });
      // now R_i lane k = output byte 8k + i: interleave
      for (let p = 0; p < 4; p++) {
        c.get(R + 2 * p).get(R + 2 * p + 1).shuffle(zip(1, 0)).set(A + 2 * p); // columns 0-7 of R_2p, R_2p+1
        c.get(R + 2 * p).get(R + 2 * p + 1).shuffle(zip(1, 1)).set(A + 2 * p + 1); // columns 8-15
      }
      // B0..B3: bytes 0-3 of columns 0-3, 4-7, 8-11, 12-15; B4..B7: bytes 4-7
      for (const [h, x, y] of [[0, A + 0, A + 2], [4, A + 4, A + 6]]) {
        c.get(x).get(y).shuffle(zip(2, 0)).set(B + h);
        c.get(x).get(y).shuffle(zip(2, 1)).set(B + h + 1);
        c.get(x + 1).get(y + 1).shuffle(zip(2, 0)).set(B + h + 2);
        c.get(x + 1).get(y + 1).shuffle(zip(2, 1)).set(B + h + 3);
      }
      for (let q = 0; q < 4; q++) {
        c.get(O).get(B + q).get(B + 4 + q).shuffle(zip(4, 0)).store(32 * q);
        c.get(O).get(B + q).get(B + 4 + q).shuffle(zip(4, 1)).store(32 * q + 16);
      }
      c.inc(P, 16).inc(O, 128);
    });
    c.inc(J, 1);
  });
  const locals = [...Array(12).fill(I32), ...Array(24).fill(V128), V128, V128, V128, V128];
  return { name: 'unbits16', params: 4, locals, body: c };
}
