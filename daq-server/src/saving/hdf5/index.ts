export { lookup3 } from './checksum.js';
export type { H5Dtype, TypedArray, Filter, Hyperslab } from './encode.js';
export { H5Writer, readChunk, openExclusive, removeEntry } from './writer.js';
export type { AttrValue, VirtualSource, ChunkLocation, H5Group, H5Dataset, H5ChunkedDataset } from './writer.js';
