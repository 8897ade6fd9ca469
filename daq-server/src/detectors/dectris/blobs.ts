/**
 * Image blobs of DECTRIS streams → pixels, with the server's codec
 * (saving/codec: SIMD bitshuffle + LZ4). Every size is checked against what
 * the message declared: a blob that does not decode to exactly the declared
 * image throws BlobError naming what is wrong (the frame is kept, flagged invalid).
 */
import { TYPED_ARRAY, type DType, type TypedArray } from '../../protocol/index.js';
import { createCodec, type Codec } from '../../saving/codec/index.js';
import { lz4DecompressInto } from '../../saving/codec/lz4.js';
import { bszstdDecompress } from '../../saving/codec/bszstd.js';

export class BlobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobError';
  }
}

/** How a blob is encoded: Stream2's 56500 algorithms and stream v1's `encoding` strings, normalised. */
/** `bszstd`: bitshuffle + zstd, Jungfraujoch's other Stream2 compression. */
export type BlobEncoding = 'none' | 'bslz4' | 'bszstd' | 'lz4-hdf5' | 'lz4-block';

/** One codec per thread (its scratch memory is reused for every frame). */
let codec: Codec | null = null;

const u32be = (b: Uint8Array, p: number): number => ((b[p] << 24) >>> 0) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3];
const u64be = (b: Uint8Array, p: number): number => u32be(b, p) * 0x100000000 + u32be(b, p + 4);

/**
 * Whether `blob` starts with the 12-byte header of the HDF5 bitshuffle/LZ4 framing. With it, the first
 * 4 bytes are the high word of the uncompressed size (0 below 4 GiB); without it they are the first
 * block's compressed length, never 0 (an LZ4 block has at least its token).
 */
export const hasFramingHeader = (blob: Uint8Array): boolean => blob.length >= 12 && u32be(blob, 0) === 0;

/** Decode `blob` into a new array of `count` elements of `dtype`. */
export function decodeBlob(blob: Uint8Array, encoding: BlobEncoding, dtype: DType, count: number): TypedArray {
  const T = TYPED_ARRAY[dtype];
  const nbytes = count * T.BYTES_PER_ELEMENT;
  const out = new Uint8Array(nbytes);
  switch (encoding) {
    case 'none':
      if (blob.length !== nbytes) throw new BlobError(`uncompressed blob of ${blob.length} bytes, the image declares ${nbytes}`);
      out.set(blob);
      break;
    case 'bslz4':
      bslz4(blob, T.BYTES_PER_ELEMENT, out);
      break;
    case 'bszstd':
      try {
        bszstdDecompress(blob, T.BYTES_PER_ELEMENT, out);
      } catch (err) {
        throw new BlobError(`bszstd: ${(err as Error).message}`);
      }
      break;
    case 'lz4-hdf5':
      lz4Hdf5(blob, out);
      break;
    case 'lz4-block': {
      const n = lz4Safe(blob, 0, blob.length, out, 0, nbytes);
      if (n !== nbytes) throw new BlobError(`lz4 blob decoded to ${n} bytes, the image declares ${nbytes}`);
      break;
    }
  }
  return new T(out.buffer, 0, count);
}

/** bitshuffle + LZ4 with or without the 12-byte header (some v1 emitters leave it out). */
function bslz4(blob: Uint8Array, elemSize: number, out: Uint8Array): void {
  let chunk = blob;
  if (hasFramingHeader(blob)) {
    const declared = u64be(blob, 0);
    if (declared !== out.length) throw new BlobError(`bslz4 blob declares ${declared} bytes, the image is ${out.length}`);
  } else {
    chunk = new Uint8Array(12 + blob.length);
    const v = new DataView(chunk.buffer);
    v.setUint32(0, Math.floor(out.length / 0x100000000));
    v.setUint32(4, out.length >>> 0);
    v.setUint32(8, 0); // 0: the default block size, which headerless emitters use
    chunk.set(blob, 12);
  }
  codec ??= createCodec();
  let n: number;
  try {
    n = codec.decompress(chunk, elemSize, out);
  } catch (err) {
    throw new BlobError(`bslz4: ${(err as Error).message}`);
  }
  if (n !== out.length) throw new BlobError(`bslz4 blob decoded to ${n} bytes, the image declares ${out.length}`);
}

/** The HDF5 LZ4 filter's framing (Stream2 `lz4`): u64 BE total, u32 BE block size, then per block u32 BE length + LZ4 block (raw when not smaller). */
function lz4Hdf5(blob: Uint8Array, out: Uint8Array): void {
  if (blob.length < 12) throw new BlobError(`lz4 blob of ${blob.length} bytes is shorter than its 12-byte header`);
  const total = u64be(blob, 0);
  if (total !== out.length) throw new BlobError(`lz4 blob declares ${total} bytes, the image is ${out.length}`);
  const block = u32be(blob, 8);
  if (block === 0) throw new BlobError('lz4 blob declares a block size of 0');
  let ip = 12;
  for (let op = 0; op < total; ) {
    const want = Math.min(block, total - op);
    if (blob.length - ip < 4) throw new BlobError(`lz4 blob truncated at output byte ${op}`);
    const c = u32be(blob, ip);
    ip += 4;
    if (c > blob.length - ip) throw new BlobError(`lz4 block at output byte ${op} claims ${c} bytes, ${blob.length - ip} left`);
    if (c === want) out.set(blob.subarray(ip, ip + c), op);
    else {
      const n = lz4Safe(blob, ip, ip + c, out, op, op + want);
      if (n !== want) throw new BlobError(`lz4 block at output byte ${op} decoded to ${n} bytes, expected ${want}`);
    }
    ip += c;
    op += want;
  }
}

function lz4Safe(src: Uint8Array, sp: number, send: number, dst: Uint8Array, dp: number, dend: number): number {
  try {
    return lz4DecompressInto(src, sp, send, dst, dp, dend);
  } catch (err) {
    throw new BlobError((err as Error).message);
  }
}
