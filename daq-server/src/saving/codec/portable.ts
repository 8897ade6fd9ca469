/**
 * The codecs that run anywhere JavaScript does (no node: modules): the
 * browser imports them as `@daqlab/daq-server/codec` to decode compressed
 * frames with the same code the server encodes them with.
 */
export { Bslz4Error, bslz4Decompress, bslz4Compress, bslz4MaxCompressedSize, createCodec, type Codec } from './bslz4.js';
