/**
 * Compression of array items on their way to a client (`compression` of
 * subscribe / stream.read). `bslz4` writes each item as one HDF5 filter-32008
 * chunk — the layout of our saved files — so a browser decodes it with the
 * same codec module and Python with the standard HDF5 plugin.
 *
 * This runs on the main thread: about 5 ms for a 1 Mpx uint16 frame and 13 ms
 * for a 4 Mpx uint32 one here (SIMD WebAssembly bit transposition + JS LZ4).
 * Viewers use it in `latest` mode, so it costs only the frames a screen draws.
 */
import type { Compression, TypedArray } from '../protocol/index.js';
import { bslz4MaxCompressedSize, createCodec, type Codec } from '../saving/codec/index.js';

let codec: Codec | null = null;
/** Reused output buffer: each chunk is copied out at its compressed size. */
let scratch = new Uint8Array(0);

/** One item as a chunk of `compression` (a new buffer the caller owns). */
export function compressItem(item: TypedArray, compression: Exclude<Compression, 'none'>): Uint8Array {
  if (compression !== 'bslz4') throw new Error(`unknown compression ${String(compression)}`);
  codec ??= createCodec();
  const bytes = new Uint8Array(item.buffer, item.byteOffset, item.byteLength);
  const need = bslz4MaxCompressedSize(bytes.byteLength, item.BYTES_PER_ELEMENT);
  if (scratch.byteLength < need) scratch = new Uint8Array(need);
  const n = codec.compress(bytes, item.BYTES_PER_ELEMENT, scratch);
  return scratch.slice(0, n);
}
