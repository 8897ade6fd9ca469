/**
 * LZ4 block decompression as a WebAssembly function of the bitshuffle module
 * (bitshuffle-wasm.ts): the decoder of bslz4 chunks runs each block's LZ4
 * and bit unshuffle in the same memory, without a round trip through JS.
 *
 * lz4dec(ip, iend, op, oend) → bytes written, or a negative code (LZ4_ERRORS).
 * Every length and offset is checked against [ip, iend) and [op0, oend) before
 * use, as LZ4_decompress_safe does; copies then go 16 bytes at a time
 * (v128), so they may READ up to 15 bytes past iend and WRITE up to 15 bytes
 * past oend: both regions need ≥ 16 bytes of slack (the decoder keeps 64).
 *
 * Matches with offset < 16 overlap their own output: the first 16 bytes go
 * byte by byte, after which the output is periodic with the offset, hence
 * with P = the smallest multiple of it ≥ 16, and the rest is v128 copies from
 * P bytes back (long runs of zeros, offset 1, are the common case in
 * bit-shuffled detector frames).
 */
import { Code, type Func } from './bitshuffle-wasm.js';

/** The meaning of lz4dec's negative results. */
export const LZ4_ERRORS: Record<number, string> = {
  [-1]: 'truncated block (no token)',
  [-2]: 'truncated literal length',
  [-3]: 'literals run past the end of the block',
  [-4]: 'output overflow (literals)',
  [-5]: 'truncated offset',
  [-6]: 'invalid match offset',
  [-7]: 'truncated match length',
  [-8]: 'output overflow (match)',
};

const I32 = 0x7f;
// core opcodes used here (WebAssembly spec numbering)
const IF = 0x04, END = 0x0b, BR = 0x0c, BR_IF = 0x0d, RETURN = 0x0f;
const EQZ = 0x45, EQ = 0x46, LT_U = 0x49, GT_U = 0x4b, GE_U = 0x4f, SUB = 0x6b, AND = 0x71, OR = 0x72, SHR_U = 0x76;
const LOAD16_U = 0x2f;

export function lz4dec(): Func {
  const IP = 0, IEND = 1, OP = 2, OEND = 3;
  const OP0 = 4, TOK = 5, LIT = 6, B = 7, OFF = 8, ML = 9, REF = 10, K = 11, P = 12;
  const c = new Code();
  /** if (cond on the stack) return code */
  const fail = (code: number): void => {
    c.op(IF, 0x40).i32(code).op(RETURN, END);
  };
  /** LZ4 length continuation: local L += bytes while each is 255 (error `code` at iend) */
  const moreLength = (L: number, code: number): void => {
    c.op(0x03, 0x40); // loop
    c.get(IP).get(IEND).op(GE_U);
    fail(code);
    c.get(IP).load8().tee(B).get(L).add().set(L);
    c.inc(IP, 1);
    c.get(B).i32(255).op(EQ, BR_IF, 0);
    c.op(END);
  };
  /** for (K = from; K < local `n`; K += 16) dst+K ← src+K (v128) */
  const copy16 = (dst: number, src: number, n: number): void => {
    c.op(0x02, 0x40, 0x03, 0x40); // block loop
    c.get(K).get(n).op(GE_U, BR_IF, 1);
    c.get(dst).get(K).add().get(src).get(K).add().load(0).store(0);
    c.inc(K, 16);
    c.op(BR, 0, END, END);
  };

  c.get(OP).set(OP0);
  c.op(0x03, 0x40); // sequence loop
  {
    c.get(IP).get(IEND).op(GE_U);
    fail(-1);
    c.get(IP).load8().tee(TOK).i32(4).op(SHR_U).set(LIT);
    c.inc(IP, 1);
    c.get(LIT).i32(15).op(EQ, IF, 0x40);
    moreLength(LIT, -2);
    c.op(END);
    c.get(LIT).get(IEND).get(IP).op(SUB, GT_U);
    fail(-3);
    c.get(LIT).get(OEND).get(OP).op(SUB, GT_U);
    fail(-4);
    c.i32(0).set(K);
    copy16(OP, IP, LIT);
    c.incBy(IP, LIT).incBy(OP, LIT);
    // the last sequence is literals only
    c.get(IP).get(IEND).op(EQ, IF, 0x40).get(OP).get(OP0).op(SUB, RETURN, END);
    c.get(IEND).get(IP).op(SUB).i32(2).op(LT_U);
    fail(-5);
    c.get(IP).op(LOAD16_U, 0, 0).set(OFF);
    c.inc(IP, 2);
    c.get(OFF).op(EQZ).get(OFF).get(OP).get(OP0).op(SUB, GT_U, OR);
    fail(-6);
    c.get(TOK).i32(15).op(AND).i32(4).add().set(ML);
    c.get(ML).i32(19).op(EQ, IF, 0x40);
    moreLength(ML, -7);
    c.op(END);
    c.get(ML).get(OEND).get(OP).op(SUB, GT_U);
    fail(-8);
    c.get(OP).get(OFF).op(SUB).set(REF);
    c.get(OFF).i32(16).op(LT_U, IF, 0x40);
    {
      // overlapping: 16 bytes one by one, then v128 copies from P = k·off ≥ 16 back
      c.i32(0).set(K);
      c.op(0x03, 0x40);
      c.get(OP).get(K).add().get(REF).get(K).add().load8().store8();
      c.inc(K, 1);
      c.get(K).i32(16).op(LT_U, BR_IF, 0, END);
      c.get(OFF).set(P);
      c.op(0x02, 0x40, 0x03, 0x40);
      c.get(P).i32(16).op(GE_U, BR_IF, 1);
      c.incBy(P, OFF);
      c.op(BR, 0, END, END);
      c.get(OP).get(P).op(SUB).set(REF);
    }
    c.op(0x05); // else
    c.i32(0).set(K);
    c.op(END);
    copy16(OP, REF, ML);
    c.incBy(OP, ML);
    c.op(BR, 0);
  }
  c.op(END);
  c.i32(-1);
  return { name: 'lz4dec', params: 4, results: 1, locals: [I32, I32, I32, I32, I32, I32, I32, I32, I32], body: c };
}
