/**
 * The HDF5 deflate filter (id 1, H5Z_FILTER_DEFLATE): each chunk is one
 * zlib stream (RFC 1950: 2-byte header, raw deflate, Adler-32), which is
 * what node:zlib deflateSync/inflateSync produce and read. cd_values = [level].
 */
import { deflateSync, inflateSync } from 'node:zlib';

export const DEFLATE_FILTER_ID = 1;

export function deflateChunk(src: Uint8Array, level: number): Uint8Array {
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`deflateChunk: level ${level} is not in 0..9`);
  return deflateSync(src, { level });
}

export function inflateChunk(src: Uint8Array): Uint8Array {
  return inflateSync(src);
}
