/**
 * Bitshuffle + Zstandard chunks (the bitshuffle HDF5 filter 32008 with
 * compression 3, Jungfraujoch's `bszstd` stream compression): the same
 * framing as bslz4 — u64 BE uncompressed bytes, u32 BE block bytes, then per
 * block u32 BE compressed length + one zstd frame of the bitshuffled block —
 * and the elements past the last whole multiple of 8 copied raw at the end.
 *
 * Decoding uses `fzstd` (pure JavaScript, MIT, maintained by the author of
 * fflate): Node 20's zlib has no zstd (it came in Node 22.15), and a pure
 * decoder needs no native build on the beamline's or CI's machine and runs
 * synchronously in the receiver threads. Encoding (only the simulators need
 * it) writes standard zstd frames of RLE and raw blocks: valid for every zstd
 * decoder, compact on the long zero runs bitshuffled detector frames have.
 */
import { decompress as zstdDecompress } from 'fzstd';
import { bitshuffle, bitunshuffle, bshufDefaultBlockSize } from './bslz4.js';

export class BszstdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BszstdError';
  }
}

const u32be = (b: Uint8Array, p: number): number => ((b[p] << 24) >>> 0) + (b[p + 1] << 16) + (b[p + 2] << 8) + b[p + 3];

/** Decode a bitshuffle+zstd chunk of exactly `out.length` bytes of `elemSize`-byte elements into `out`. */
export function bszstdDecompress(chunk: Uint8Array, elemSize: number, out: Uint8Array): void {
  if (chunk.length < 12) throw new BszstdError(`chunk of ${chunk.length} bytes is shorter than its 12-byte header`);
  const total = u32be(chunk, 0) * 0x100000000 + u32be(chunk, 4);
  if (total !== out.length) throw new BszstdError(`chunk declares ${total} bytes, the image is ${out.length}`);
  if (total % elemSize) throw new BszstdError(`${total} bytes is not a whole number of ${elemSize}-byte elements`);
  const blockBytes = u32be(chunk, 8) || bshufDefaultBlockSize(elemSize) * elemSize;
  if (blockBytes % (8 * elemSize)) throw new BszstdError(`block of ${blockBytes} bytes is not a multiple of 8 elements`);
  const n = total / elemSize;
  const shuffledBytes = (n - (n % 8)) * elemSize;
  const shuffled = new Uint8Array(total);
  let ip = 12;
  for (let op = 0; op < shuffledBytes; ) {
    const want = Math.min(blockBytes, shuffledBytes - op);
    if (chunk.length - ip < 4) throw new BszstdError(`truncated at output byte ${op}`);
    const c = u32be(chunk, ip);
    ip += 4;
    if (c > chunk.length - ip) throw new BszstdError(`block at output byte ${op} claims ${c} bytes, ${chunk.length - ip} left`);
    let got: Uint8Array;
    try {
      // a frame declaring more than the block is refused by fzstd (the buffer is the bound)
      got = zstdDecompress(chunk.subarray(ip, ip + c), shuffled.subarray(op, op + want));
    } catch (err) {
      throw new BszstdError(`block at output byte ${op}: ${(err as Error).message}`);
    }
    if (got.length !== want) throw new BszstdError(`block at output byte ${op} decoded to ${got.length} bytes, expected ${want}`);
    if (got.buffer !== shuffled.buffer || got.byteOffset !== shuffled.byteOffset + op) shuffled.set(got, op);
    ip += c;
    op += want;
  }
  const tail = total - shuffledBytes;
  if (chunk.length - ip !== tail) throw new BszstdError(`${chunk.length - ip} bytes after the blocks, expected the ${tail} raw tail bytes`);
  shuffled.set(chunk.subarray(ip), shuffledBytes);
  bitunshuffle(shuffled, out, elemSize, blockBytes / elemSize);
}

/** zstd Block_Maximum_Size */
const ZSTD_BLOCK_MAX = 128 * 1024;
/** a run of one byte at least this long becomes an RLE block */
const RLE_MIN = 32;

/** One zstd frame (RFC 8878) of raw and RLE blocks holding `src`. */
export function zstdStoredFrame(src: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  // magic, frame header: single segment, 4-byte content size, no checksum, no dictionary
  const head = new Uint8Array(9);
  const hv = new DataView(head.buffer);
  hv.setUint32(0, 0xfd2fb528, true);
  head[4] = (2 << 6) | (1 << 5);
  hv.setUint32(5, src.length, true);
  parts.push(head);
  const blocks: { type: 0 | 1; start: number; size: number }[] = [];
  let rawStart = 0;
  const flushRaw = (end: number): void => {
    for (let p = rawStart; p < end; p += ZSTD_BLOCK_MAX) blocks.push({ type: 0, start: p, size: Math.min(ZSTD_BLOCK_MAX, end - p) });
  };
  for (let i = 0; i < src.length; ) {
    let j = i + 1;
    while (j < src.length && src[j] === src[i] && j - i < ZSTD_BLOCK_MAX) j++;
    if (j - i >= RLE_MIN) {
      flushRaw(i);
      blocks.push({ type: 1, start: i, size: j - i });
      rawStart = j;
    }
    i = j;
  }
  flushRaw(src.length);
  if (blocks.length === 0) blocks.push({ type: 0, start: 0, size: 0 });
  blocks.forEach((b, k) => {
    const last = k === blocks.length - 1 ? 1 : 0;
    const header = last | (b.type << 1) | (b.size << 3);
    const h = Uint8Array.of(header & 0xff, (header >>> 8) & 0xff, (header >>> 16) & 0xff);
    parts.push(h, b.type === 1 ? src.subarray(b.start, b.start + 1) : src.subarray(b.start, b.start + b.size));
  });
  return concat(parts);
}

/** A bitshuffle+zstd chunk of `src` (elements of `elemSize` bytes) with the default block size. */
export function bszstdCompress(src: Uint8Array, elemSize: number): Uint8Array {
  const blockElems = bshufDefaultBlockSize(elemSize);
  const blockBytes = blockElems * elemSize;
  const n = src.length / elemSize;
  const shuffled = new Uint8Array(src.length);
  bitshuffle(src, shuffled, elemSize, blockElems);
  const shuffledBytes = (n - (n % 8)) * elemSize;
  const head = new Uint8Array(12);
  const hv = new DataView(head.buffer);
  hv.setUint32(0, Math.floor(src.length / 0x100000000));
  hv.setUint32(4, src.length >>> 0);
  hv.setUint32(8, blockBytes);
  const parts: Uint8Array[] = [head];
  for (let p = 0; p < shuffledBytes; p += blockBytes) {
    const frame = zstdStoredFrame(shuffled.subarray(p, Math.min(p + blockBytes, shuffledBytes)));
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, frame.length);
    parts.push(len, frame);
  }
  parts.push(src.subarray(shuffledBytes));
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
