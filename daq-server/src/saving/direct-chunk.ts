/**
 * Direct chunk write: a frame the detector sent as bitshuffle + LZ4 goes into
 * the HDF5 file as the detector compressed it, no decode + re-encode. The
 * DECTRIS Stream2 `bslz4` blob is the HDF5 filter 32008 chunk itself (12-byte
 * header: u64 BE uncompressed bytes, u32 BE block size in bytes; then the
 * blocks). The filter's decoder (bitshuffle's bshuf_h5filter, in hdf5plugin)
 * takes the element size from the dataset's cd_values[2] and the block size
 * from each chunk's header, so any block size the detector chose reads back;
 * only the element size and the total must agree with the dataset. Stream v1
 * emitters that leave the header out get it prepended (their block size is
 * bitshuffle's default, which is what a 0 in the header means).
 */
import { bshufDefaultBlockSize } from './codec/bslz4.js';
import type { Compression } from './params.js';

/** A frame's bytes as compressed by the detector, in the framing of the HDF5 filter it names. */
export interface CompressedChunk {
  /** HDF5 filter 32008 with LZ4 (cd_values[4] = 2) */
  codec: 'bslz4';
  /** bytes per pixel the chunk was shuffled with */
  elemSize: number;
  /** the whole chunk, header included */
  bytes: Uint8Array;
}

export const BSLZ4_HEADER_BYTES = 12;
const BLOCKED_MULT = 8;

export interface Bslz4Header {
  /** uncompressed bytes of the chunk */
  total: number;
  /** block size in bytes as stored (0: bitshuffle's default) */
  blockBytes: number;
}

const u32 = (b: Uint8Array, p: number): number => ((b[p] << 24) >>> 0) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3];

/** The chunk's header, or null when it is not a bitshuffle/LZ4 header for `elemSize`-byte pixels. */
export function readBslz4Header(chunk: Uint8Array, elemSize: number): Bslz4Header | null {
  if (chunk.length < BSLZ4_HEADER_BYTES) return null;
  const hi = u32(chunk, 0);
  if (hi >= 0x200000) return null;
  const total = hi * 0x100000000 + u32(chunk, 4);
  const blockBytes = u32(chunk, 8);
  if (total % elemSize) return null;
  // the decoder's own rule: a block is a multiple of 8 elements (0 stands for the default)
  if (blockBytes % elemSize || (blockBytes / elemSize) % BLOCKED_MULT) return null;
  return { total, blockBytes };
}

/**
 * The filter-32008 chunk of a detector blob that decoded to `frameBytes` bytes of `elemSize`-byte pixels:
 * the blob itself when it carries the header, else a copy with the header bitshuffle's default implies.
 * Null when the blob cannot be written as it is (its header disagrees with the frame).
 */
export function bslz4ChunkOf(blob: Uint8Array, elemSize: number, frameBytes: number, hasHeader: boolean): Uint8Array | null {
  if (hasHeader) {
    const h = readBslz4Header(blob, elemSize);
    return h && h.total === frameBytes ? blob : null;
  }
  const out = new Uint8Array(BSLZ4_HEADER_BYTES + blob.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, Math.floor(frameBytes / 0x100000000));
  v.setUint32(4, frameBytes >>> 0);
  v.setUint32(8, bshufDefaultBlockSize(elemSize) * elemSize);
  out.set(blob, BSLZ4_HEADER_BYTES);
  return out;
}

/**
 * The bytes to write as the frame's chunk without re-encoding, or null to take the usual path:
 * the saving compression must be the detector's (bslz4), for pixels of the same size, of the whole frame.
 */
export function directChunk(chunk: CompressedChunk | null | undefined, compression: Compression, elemSize: number, frameBytes: number): Uint8Array | null {
  if (!chunk || compression !== 'bslz4' || chunk.codec !== 'bslz4' || chunk.elemSize !== elemSize) return null;
  const h = readBslz4Header(chunk.bytes, elemSize);
  return h && h.total === frameBytes ? chunk.bytes : null;
}

/**
 * Whether a filter-32008 chunk is whole, read from its block lengths alone (no decompression): every block
 * bitshuffle writes for the header's total — full blocks, then the last partial one rounded down to 8 elements —
 * each a u32 BE length and that many bytes, then the < 8 leftover elements raw, ending exactly at the chunk's end.
 * A truncated or padded chunk fails; a block whose LZ4 bytes are corrupt inside passes (only a decode sees it).
 */
export function bslz4BlocksIntact(chunk: Uint8Array, elemSize: number): boolean {
  const h = readBslz4Header(chunk, elemSize);
  if (!h) return false;
  const elems = h.total / elemSize;
  const blockElems = h.blockBytes ? h.blockBytes / elemSize : bshufDefaultBlockSize(elemSize);
  const lastElems = (elems % blockElems) - ((elems % blockElems) % BLOCKED_MULT);
  const blocks = Math.floor(elems / blockElems) + (lastElems > 0 ? 1 : 0);
  let p = BSLZ4_HEADER_BYTES;
  for (let b = 0; b < blocks; b++) {
    if (p + 4 > chunk.length) return false;
    p += 4 + u32(chunk, p);
  }
  return p + (elems % BLOCKED_MULT) * elemSize === chunk.length;
}
