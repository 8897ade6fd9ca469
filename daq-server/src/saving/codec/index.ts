/**
 * Chunk codecs for the HDF5 writer: bitshuffle + LZ4 (filter 32008, the
 * DECTRIS/hdf5plugin "bslz4") with WebAssembly SIMD bit transposition and a
 * JavaScript LZ4, and deflate (filter 1). See README.md.
 */
export {
  BSLZ4_FILTER_ID,
  BSHUF_H5_COMPRESS_LZ4,
  BSHUF_VERSION,
  Bslz4Error,
  bshufDefaultBlockSize,
  bslz4MaxCompressedSize,
  bslz4Compress,
  bslz4Decompress,
  bslz4FilterCdValues,
  bitshuffle,
  bitunshuffle,
  createCodec,
  defaultCodec,
  type Codec,
} from './bslz4.js';
export { DEFLATE_FILTER_ID, deflateChunk, inflateChunk } from './deflate.js';
export { Lz4Compressor, Lz4Error, lz4CompressBlock, lz4CompressBound, lz4DecompressBlock } from './lz4.js';
