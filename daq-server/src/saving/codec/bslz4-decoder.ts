/**
 * The bslz4 chunk decoder on WebAssembly: the whole chunk is copied into the
 * module's memory once, then per block LZ4 (lz4-wasm.ts) → bit rows →
 * byte transpose, the last pass writing straight into the frame's place in
 * the same memory (no per-block copy, no allocation per frame: the memory is
 * kept and only grows). `decodeView` hands out that frame as a view (valid
 * until the next call); `decodeInto` copies it once into the caller's array.
 *
 * Memory: [ chunk | S: LZ4 output (bit rows) | T: byte rows | OUT: frame ],
 * each with 256 bytes of slack (the kernels' wild reads/writes, see
 * lz4-wasm.ts and bitshuffle-wasm.ts).
 */
import { bitshuffleModule, instantiateBitshuffle, type BitshuffleKernels } from './bitshuffle-wasm.js';
import { LZ4_ERRORS } from './lz4-wasm.js';

/** Largest memory the decoder takes (chunk + frame + 2 blocks). */
const MAX_MEMORY = 2 ** 31;
/** wild reads/writes of lz4dec (16 bytes) and unbits16 (128 bytes) */
const SLACK = 256;
const al64 = (n: number): number => Math.ceil((n + SLACK) / 64) * 64;

/** What a chunk's header says, checked by the caller (bslz4.ts) before decoding. */
export interface ChunkLayout {
  /** elements */
  n: number;
  /** element size in bytes */
  es: number;
  /** block size in elements */
  bs: number;
}

export class DecodeError extends Error {}

export class Bslz4Decoder {
  private k: BitshuffleKernels | null = null;
  private mem = new Uint8Array(0);
  private size = 0;
  private S = 0;
  private T = 0;
  private OUT = 0;

  /** null where WebAssembly SIMD is unavailable (its memory comes with the first chunk) */
  static create(): Bslz4Decoder | null {
    return bitshuffleModule() ? new Bslz4Decoder() : null;
  }

  private layout(chunkBytes: number, blockBytes: number, frameBytes: number): void {
    const S = al64(chunkBytes);
    const T = S + al64(blockBytes);
    const OUT = T + al64(blockBytes);
    const total = OUT + al64(frameBytes);
    if (total > MAX_MEMORY) throw new DecodeError(`chunk of ${frameBytes} bytes needs more than ${MAX_MEMORY} bytes of decoder memory`);
    if (total > this.size) {
      // grow by ≥ 1/4 so that slowly growing chunks do not re-instantiate each time
      const size = Math.min(MAX_MEMORY, Math.max(total, Math.ceil(this.size * 1.25)));
      const k = instantiateBitshuffle(size);
      if (!k) throw new DecodeError('WebAssembly instantiation failed');
      this.k = k;
      this.mem = new Uint8Array(k.memory.buffer);
      this.size = this.mem.length;
    }
    this.S = S;
    this.T = T;
    this.OUT = OUT;
  }

  /**
   * Decode the blocks of `chunk` (header already checked: `l`) into the
   * decoder's frame; returns the view of its n·es bytes.
   */
  decodeView(chunk: Uint8Array, l: ChunkLayout, header: number): Uint8Array {
    const { n, es, bs } = l;
    const nbytes = n * es;
    const first = n >= 8 ? Math.min(bs, n - (n % 8)) : 0;
    this.layout(chunk.length, first * es, nbytes);
    const k = this.k!;
    const mem = this.mem;
    const end = chunk.length;
    mem.set(chunk, 0);
    const { S, T, OUT } = this;
    let ip = header;
    let i = 0;
    const block = (m: number): void => {
      const bytes = m * es;
      if (end - ip < 4) throw new DecodeError(`chunk truncated at block of element ${i}`);
      const c = ((mem[ip] << 24) | (mem[ip + 1] << 16) | (mem[ip + 2] << 8) | mem[ip + 3]) >>> 0;
      ip += 4;
      if (c > end - ip) throw new DecodeError(`block at element ${i} claims ${c} bytes, ${end - ip} left`);
      const d = k.lz4dec(ip, ip + c, S, S + bytes);
      if (d < 0) throw new DecodeError(`block at element ${i}: LZ4: ${LZ4_ERRORS[d] ?? `error ${d}`}`);
      if (d !== bytes) throw new DecodeError(`block at element ${i} decompressed to ${d} bytes, expected ${bytes}`);
      const dst = OUT + i * es;
      if (es === 1) k.unbits16(S, dst, m, 1);
      else {
        k.unbits16(S, T, m, es);
        const m16 = m & ~15;
        if (es === 2) k.untrb2(T, dst, m16, m);
        else if (es === 4) k.untrb4(T, dst, m16, m);
        if (es > 4 || es === 3) k.untrbg(T, dst, 0, m, es);
        else if (m16 < m) k.untrbg(T, dst, m16, m, es);
      }
      ip += c;
      i += m;
    };
    while (n - i >= bs) block(bs);
    const last = n - i - ((n - i) % 8);
    if (last) block(last);
    if (i < n) {
      // the (n mod 8) trailing elements are stored raw
      const rest = nbytes - i * es;
      if (end - ip < rest) throw new DecodeError('chunk truncated in its trailing unshuffled elements');
      mem.copyWithin(OUT + i * es, ip, ip + rest);
    }
    return mem.subarray(OUT, OUT + nbytes);
  }
}
