/**
 * Bitshuffle + LZ4: the HDF5 filter 32008 with cd_values[4] = 2, as written
 * by DECTRIS detectors, LIMA2 and hdf5plugin (bitshuffle's bshuf_h5filter.c,
 * bshuf_compress_lz4, bshuf_blocked_wrap_fun). See README.md.
 *
 * Chunk = u64 BE uncompressed bytes, u32 BE block size in bytes, then per
 * block (block size elements, then one partial block of the remaining
 * elements rounded down to a multiple of 8) u32 BE compressed size + LZ4
 * block of the bit-shuffled block, then the last (n mod 8) elements raw.
 *
 * A `Codec` owns its scratch (the kernels' memory, the LZ4 hash table): one
 * per thread; the module-level functions use one lazily created per module
 * instance, i.e. per worker_thread.
 */
import { instantiateBitshuffle, type BitshuffleKernels } from './bitshuffle-wasm.js';
import { jsKernels } from './bitshuffle-js.js';
import { Lz4Compressor, Lz4Error, lz4CompressBound, lz4DecompressInto } from './lz4.js';
import { Bslz4Decoder, DecodeError } from './bslz4-decoder.js';

export const BSLZ4_FILTER_ID = 32008;
/** cd_values[4] selecting LZ4 (BSHUF_H5_COMPRESS_LZ4) */
export const BSHUF_H5_COMPRESS_LZ4 = 2;
/** bitshuffle version in cd_values[0..1]: what hdf5plugin 7.1 (bundled bitshuffle, BSHUF_VERSION_MAJOR/MINOR) stores */
export const BSHUF_VERSION: readonly [number, number] = [0, 4];

const TARGET_BLOCK_BYTES = 8192;
const MIN_BLOCK = 128;
const BLOCKED_MULT = 8;
const HEADER = 12;
/** refuse (corrupt) headers asking for larger blocks */
const MAX_BLOCK_BYTES = 1 << 28;

export class Bslz4Error extends Error {
  override name = 'Bslz4Error';
}

/** bshuf_default_block_size: 8192 bytes / elemSize, a multiple of 8, at least 128 elements. */
export function bshufDefaultBlockSize(elemSize: number): number {
  const b = Math.floor(TARGET_BLOCK_BYTES / elemSize);
  return Math.max(b - (b % BLOCKED_MULT), MIN_BLOCK);
}

function checkElemSize(elemSize: number): void {
  if (!Number.isInteger(elemSize) || elemSize < 1 || elemSize > 1 << 16) throw new RangeError(`bslz4: invalid element size ${elemSize}`);
}

function blockElems(elemSize: number, blockSize?: number): number {
  if (blockSize === undefined || blockSize === 0) return bshufDefaultBlockSize(elemSize);
  if (!Number.isInteger(blockSize) || blockSize < 0 || blockSize % BLOCKED_MULT) {
    throw new RangeError(`bslz4: block size ${blockSize} (elements) must be a positive multiple of 8`);
  }
  return blockSize;
}

/** bshuf_compress_lz4_bound + the 12-byte header. `blockSize` in elements (0/undefined: default). */
export function bslz4MaxCompressedSize(nbytes: number, elemSize: number, blockSize?: number): number {
  checkElemSize(elemSize);
  const bs = blockElems(elemSize, blockSize);
  const n = Math.floor(nbytes / elemSize);
  let bound = (lz4CompressBound(bs * elemSize) + 4) * Math.floor(n / bs);
  const last = n % bs - (n % BLOCKED_MULT);
  if (last) bound += lz4CompressBound(last * elemSize) + 4;
  return HEADER + bound + (n % BLOCKED_MULT) * elemSize + (nbytes - n * elemSize);
}

/**
 * The filter's cd_values for the HDF5 pipeline message (filter 32008) as
 * bitshuffle's set_local stores them: [major, minor, elemSize, blockSize
 * (elements, 0 = default), 2 = LZ4]. Decoders use [2] and [4] only (the
 * block size is read from each chunk's header).
 */
export function bslz4FilterCdValues(elemSize: number, blockSize = 0): number[] {
  checkElemSize(elemSize);
  if (blockSize) blockElems(elemSize, blockSize);
  return [BSHUF_VERSION[0], BSHUF_VERSION[1], elemSize, blockSize, BSHUF_H5_COMPRESS_LZ4];
}

export interface Codec {
  /** 'wasm' (WebAssembly SIMD kernels) or 'js' (fallback) */
  readonly engine: 'wasm' | 'js';
  /** compress src into out (out.length ≥ bslz4MaxCompressedSize); returns the bytes written */
  compress(src: Uint8Array, elemSize: number, out: Uint8Array, blockSize?: number): number;
  /** decompress a chunk into out; returns the uncompressed bytes (throws Bslz4Error on corrupt input) */
  decompress(src: Uint8Array, elemSize: number, out: Uint8Array): number;
  /**
   * decompress a chunk into the codec's own buffer and return a view of it,
   * valid until the codec's next call (no copy, no allocation per chunk)
   */
  decompressView(src: Uint8Array, elemSize: number): Uint8Array;
  /** bshuf_bitshuffle: blocked bit transposition (no compression), leftover (n mod 8) elements copied */
  bitshuffle(src: Uint8Array, out: Uint8Array, elemSize: number, blockSize?: number): void;
  bitunshuffle(src: Uint8Array, out: Uint8Array, elemSize: number, blockSize?: number): void;
}

const al64 = (n: number): number => Math.ceil(n / 64) * 64;

export interface CodecOptions {
  /**
   * LZ4 decompression of the wasm engine: 'wasm' (default: bslz4-decoder.ts,
   * LZ4 and unshuffle in WebAssembly) or 'js' (lz4.ts, the previous path, kept
   * as the benchmark's reference)
   */
  lz4?: 'wasm' | 'js';
}

class Bslz4Codec implements Codec {
  readonly engine: 'wasm' | 'js';
  private readonly decoder: Bslz4Decoder | null;
  private viewBuf = new Uint8Array(0);
  private k!: BitshuffleKernels;
  private mem!: Uint8Array;
  private cap = 0;
  private IN = 0;
  private T = 0;
  private S = 0;
  private readonly lz4 = new Lz4Compressor();

  constructor(engine?: 'wasm' | 'js', opts: CodecOptions = {}) {
    this.engine = engine === 'js' ? 'js' : instantiateBitshuffle(65536) ? 'wasm' : 'js';
    this.decoder = this.engine === 'wasm' && opts.lz4 !== 'js' ? Bslz4Decoder.create() : null;
    this.ensure(TARGET_BLOCK_BYTES);
  }

  /** scratch for blocks of `bytes` (three regions with 64 bytes of slack each) */
  private ensure(bytes: number): void {
    if (bytes <= this.cap) return;
    if (bytes > MAX_BLOCK_BYTES) throw new Bslz4Error(`bslz4: block of ${bytes} bytes is too large`);
    const cap = Math.max(bytes, TARGET_BLOCK_BYTES);
    const region = al64(cap + 64);
    const total = 3 * region + 64;
    const k = this.engine === 'wasm' ? instantiateBitshuffle(total) : jsKernels(total);
    if (!k) throw new Bslz4Error('bslz4: WebAssembly instantiation failed');
    this.k = k;
    this.mem = new Uint8Array(k.memory.buffer);
    this.cap = cap;
    this.IN = 0;
    this.T = region;
    this.S = 2 * region;
  }

  /** bit-shuffle n elements at IN into S */
  private shuffle(n: number, es: number): void {
    const k = this.k;
    if (es === 1) {
      k.bits(this.IN, this.S, n, 1);
      return;
    }
    const n16 = n & ~15;
    if (es === 2) {
      k.trb2(this.IN, this.T, n16, n);
      if (n16 < n) k.trbg(this.IN, this.T, n16, n, 2);
    } else if (es === 4) {
      k.trb4(this.IN, this.T, n16, n);
      if (n16 < n) k.trbg(this.IN, this.T, n16, n, 4);
    } else k.trbg(this.IN, this.T, 0, n, es);
    k.bits(this.T, this.S, n, es);
  }

  /** bit-unshuffle n elements at S into IN */
  private unshuffle(n: number, es: number): void {
    const k = this.k;
    if (es === 1) {
      k.unbits(this.S, this.IN, n, 1);
      return;
    }
    k.unbits(this.S, this.T, n, es);
    const n16 = n & ~15;
    if (es === 2) {
      k.untrb2(this.T, this.IN, n16, n);
      if (n16 < n) k.untrbg(this.T, this.IN, n16, n, 2);
    } else if (es === 4) {
      k.untrb4(this.T, this.IN, n16, n);
      if (n16 < n) k.untrbg(this.T, this.IN, n16, n, 4);
    } else k.untrbg(this.T, this.IN, 0, n, es);
  }

  compress(src: Uint8Array, elemSize: number, out: Uint8Array, blockSize?: number): number {
    checkElemSize(elemSize);
    const es = elemSize;
    const nbytes = src.length;
    if (nbytes % es) throw new RangeError(`bslz4Compress: ${nbytes} bytes is not a whole number of ${es}-byte elements`);
    const bs = blockElems(es, blockSize);
    const need = bslz4MaxCompressedSize(nbytes, es, bs);
    if (out.length < need) throw new RangeError(`bslz4Compress: out has ${out.length} bytes, needs bslz4MaxCompressedSize = ${need}`);
    const n = nbytes / es;
    this.ensure(Math.min(bs, n - (n % 8)) * es);
    // header
    const hi = Math.floor(nbytes / 0x100000000);
    writeU32BE(out, 0, hi);
    writeU32BE(out, 4, nbytes >>> 0);
    writeU32BE(out, 8, bs * es);
    let op = HEADER;
    let i = 0;
    const mem = this.mem;
    const block = (m: number): void => {
      const bytes = m * es;
      mem.set(src.subarray(i * es, i * es + bytes), this.IN);
      this.shuffle(m, es);
      const c = this.lz4.compress(mem, this.S, bytes, out, op + 4);
      writeU32BE(out, op, c);
      op += 4 + c;
      i += m;
    };
    while (n - i >= bs) block(bs);
    const last = (n - i) - ((n - i) % BLOCKED_MULT);
    if (last) block(last);
    if (i < n) {
      out.set(src.subarray(i * es, nbytes), op);
      op += nbytes - i * es;
    }
    return op;
  }

  decompress(src: Uint8Array, elemSize: number, out: Uint8Array): number {
    const h = this.header(src, elemSize);
    if (h.nbytes > out.length) throw new RangeError(`bslz4Decompress: out has ${out.length} bytes, the chunk holds ${h.nbytes}`);
    if (this.decoder) {
      out.set(this.decodeWasm(src, h), 0);
      return h.nbytes;
    }
    return this.decompressJs(src, h, out);
  }

  decompressView(src: Uint8Array, elemSize: number): Uint8Array {
    const h = this.header(src, elemSize);
    if (this.decoder) return this.decodeWasm(src, h);
    if (h.nbytes > 2 ** 31) throw new Bslz4Error(`bslz4: chunk of ${h.nbytes} bytes is too large`);
    if (this.viewBuf.length < h.nbytes) this.viewBuf = new Uint8Array(h.nbytes);
    const out = this.viewBuf.subarray(0, h.nbytes);
    this.decompressJs(src, h, out);
    return out;
  }

  private decodeWasm(src: Uint8Array, h: ChunkHeader): Uint8Array {
    try {
      return this.decoder!.decodeView(src, { n: h.nbytes / h.es, es: h.es, bs: h.bs }, HEADER);
    } catch (e) {
      if (e instanceof DecodeError) throw new Bslz4Error(`bslz4: ${e.message}`);
      throw e;
    }
  }

  /** the chunk's 12-byte header, checked */
  private header(src: Uint8Array, elemSize: number): ChunkHeader {
    checkElemSize(elemSize);
    const es = elemSize;
    if (src.length < HEADER) throw new Bslz4Error(`bslz4: chunk of ${src.length} bytes is shorter than its 12-byte header`);
    const hi = readU32BE(src, 0);
    if (hi >= 0x200000) throw new Bslz4Error('bslz4: corrupt header (uncompressed size ≥ 2^53)');
    const nbytes = hi * 0x100000000 + readU32BE(src, 4);
    if (nbytes % es) throw new Bslz4Error(`bslz4: uncompressed size ${nbytes} is not a multiple of the element size ${es}`);
    const bb = readU32BE(src, 8);
    let bs = Math.floor(bb / es);
    if (bs === 0) bs = bshufDefaultBlockSize(es); // as bshuf_blocked_wrap_fun does for 0
    if (bs % BLOCKED_MULT) throw new Bslz4Error(`bslz4: corrupt header (block size ${bb} bytes is not 8 elements of ${es} bytes)`);
    if (bs * es > MAX_BLOCK_BYTES) throw new Bslz4Error(`bslz4: block of ${bs * es} bytes is too large`);
    return { nbytes, es, bs };
  }

  /** the previous path: LZ4 in JS, unshuffle in wasm, one copy per block */
  private decompressJs(src: Uint8Array, h: ChunkHeader, out: Uint8Array): number {
    const { nbytes, es, bs } = h;
    const n = nbytes / es;
    if (n >= 8) this.ensure(Math.min(bs, n - (n % 8)) * es);
    let ip = HEADER;
    let i = 0;
    const mem = this.mem;
    const block = (m: number): void => {
      const bytes = m * es;
      if (src.length - ip < 4) throw new Bslz4Error(`bslz4: chunk truncated at block of element ${i}`);
      const c = readU32BE(src, ip);
      ip += 4;
      if (c > src.length - ip) throw new Bslz4Error(`bslz4: block at element ${i} claims ${c} bytes, ${src.length - ip} left`);
      let d: number;
      try {
        d = lz4DecompressInto(src, ip, ip + c, mem, this.S, this.S + bytes);
      } catch (e) {
        if (e instanceof Lz4Error) throw new Bslz4Error(`bslz4: block at element ${i}: ${e.message}`);
        throw e;
      }
      if (d !== bytes) throw new Bslz4Error(`bslz4: block at element ${i} decompressed to ${d} bytes, expected ${bytes}`);
      this.unshuffle(m, es);
      out.set(mem.subarray(this.IN, this.IN + bytes), i * es);
      ip += c;
      i += m;
    };
    while (n - i >= bs) block(bs);
    const last = (n - i) - ((n - i) % BLOCKED_MULT);
    if (last) block(last);
    if (i < n) {
      const rest = nbytes - i * es;
      if (src.length - ip < rest) throw new Bslz4Error('bslz4: chunk truncated in its trailing unshuffled elements');
      out.set(src.subarray(ip, ip + rest), i * es);
    }
    return nbytes;
  }

  private blocked(src: Uint8Array, out: Uint8Array, es: number, blockSize: number | undefined, inverse: boolean): void {
    checkElemSize(es);
    const nbytes = src.length;
    if (nbytes % es) throw new RangeError(`bitshuffle: ${nbytes} bytes is not a whole number of ${es}-byte elements`);
    if (out.length < nbytes) throw new RangeError(`bitshuffle: out has ${out.length} bytes, needs ${nbytes}`);
    const bs = blockElems(es, blockSize);
    const n = nbytes / es;
    this.ensure(Math.min(bs, n - (n % 8)) * es);
    const mem = this.mem;
    let i = 0;
    const block = (m: number): void => {
      const bytes = m * es;
      if (inverse) {
        mem.set(src.subarray(i * es, i * es + bytes), this.S);
        this.unshuffle(m, es);
        out.set(mem.subarray(this.IN, this.IN + bytes), i * es);
      } else {
        mem.set(src.subarray(i * es, i * es + bytes), this.IN);
        this.shuffle(m, es);
        out.set(mem.subarray(this.S, this.S + bytes), i * es);
      }
      i += m;
    };
    while (n - i >= bs) block(bs);
    const last = (n - i) - ((n - i) % BLOCKED_MULT);
    if (last) block(last);
    if (i < n) out.set(src.subarray(i * es, nbytes), i * es);
  }

  bitshuffle(src: Uint8Array, out: Uint8Array, elemSize: number, blockSize?: number): void {
    this.blocked(src, out, elemSize, blockSize, false);
  }

  bitunshuffle(src: Uint8Array, out: Uint8Array, elemSize: number, blockSize?: number): void {
    this.blocked(src, out, elemSize, blockSize, true);
  }
}

interface ChunkHeader {
  /** uncompressed bytes */
  nbytes: number;
  es: number;
  /** block size in elements */
  bs: number;
}

function writeU32BE(a: Uint8Array, p: number, v: number): void {
  a[p] = v >>> 24;
  a[p + 1] = v >>> 16;
  a[p + 2] = v >>> 8;
  a[p + 3] = v;
}

function readU32BE(a: Uint8Array, p: number): number {
  return ((a[p] << 24) | (a[p + 1] << 16) | (a[p + 2] << 8) | a[p + 3]) >>> 0;
}

/** A codec with its own scratch ('wasm' where WebAssembly SIMD validates, else 'js'; force with `engine`). */
export function createCodec(engine?: 'wasm' | 'js', opts?: CodecOptions): Codec {
  return new Bslz4Codec(engine, opts);
}

let shared: Codec | undefined;
/** The module's (this thread's) codec. */
export function defaultCodec(): Codec {
  return (shared ??= new Bslz4Codec());
}

export function bslz4Compress(src: Uint8Array, elemSize: number, out: Uint8Array, blockSize?: number): number {
  return defaultCodec().compress(src, elemSize, out, blockSize);
}

export function bslz4Decompress(src: Uint8Array, elemSize: number, out: Uint8Array): number {
  return defaultCodec().decompress(src, elemSize, out);
}

export function bitshuffle(src: Uint8Array, out: Uint8Array, elemSize: number, blockSize?: number): void {
  defaultCodec().bitshuffle(src, out, elemSize, blockSize);
}

export function bitunshuffle(src: Uint8Array, out: Uint8Array, elemSize: number, blockSize?: number): void {
  defaultCodec().bitunshuffle(src, out, elemSize, blockSize);
}
