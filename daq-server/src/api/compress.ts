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
/**
 * The last few chunks, by `key` (scan/stream/index/view): viewers of one stream (a notebook's
 * LiveImage and the live monitor, two users) ask for the same newest frame, which is then compressed
 * once. Keyed by index, not by memory: stores are append-only, while frame memory may be recycled.
 */
const recent = new Map<string, Uint8Array>();
const RECENT = 4;

/** One item as a chunk of `compression` (shared: the caller must not modify it). */
export function compressItem(item: TypedArray, compression: Exclude<Compression, 'none'>, key?: string): Uint8Array {
  if (compression !== 'bslz4') throw new Error(`unknown compression ${String(compression)}`);
  const known = key === undefined ? undefined : recent.get(key);
  if (known) return known;
  codec ??= createCodec();
  const bytes = new Uint8Array(item.buffer, item.byteOffset, item.byteLength);
  const need = bslz4MaxCompressedSize(bytes.byteLength, item.BYTES_PER_ELEMENT);
  if (scratch.byteLength < need) scratch = new Uint8Array(need);
  const n = codec.compress(bytes, item.BYTES_PER_ELEMENT, scratch);
  const chunk = scratch.slice(0, n);
  if (key !== undefined) {
    recent.set(key, chunk);
    if (recent.size > RECENT) recent.delete(recent.keys().next().value as string);
  }
  return chunk;
}
