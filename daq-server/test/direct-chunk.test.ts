/**
 * Direct chunk write: the filter-32008 framing of detector blobs (header read,
 * header prepended for headerless stream v1 blobs), when a detector chunk may
 * be written as it is, and a writer's file series writing detector chunks
 * byte for byte (read back at the address it reports) and re-encoding those
 * that do not fit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bslz4Compress, bslz4Decompress, bslz4MaxCompressedSize, bshufDefaultBlockSize } from '../src/saving/codec/index.js';
import { BSLZ4_HEADER_BYTES, bslz4BlocksIntact, bslz4ChunkOf, directChunk, readBslz4Header, type CompressedChunk } from '../src/saving/direct-chunk.js';
import { FrameSeries } from '../src/saving/frame-series.js';
import type { SeriesConfig } from '../src/saving/messages.js';
import { rng } from './rng.js';

const ROWS = 64;
const COLS = 48;

function frame(seed: number, T: Uint16ArrayConstructor | Uint32ArrayConstructor = Uint16Array): Uint16Array | Uint32Array {
  const r = rng(seed);
  const f = new T(ROWS * COLS);
  for (let i = 0; i < f.length; i++) f[i] = r() < 0.1 ? (r() * 4000) | 0 : (r() * 4) | 0;
  return f;
}

/** What a detector sends: the bslz4 chunk of `f`, with the block size (elements) it chose. */
function compress(f: Uint16Array | Uint32Array, blockSize = 0): Uint8Array {
  const raw = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  const out = new Uint8Array(bslz4MaxCompressedSize(raw.length, f.BYTES_PER_ELEMENT, blockSize));
  return out.slice(0, bslz4Compress(raw, f.BYTES_PER_ELEMENT, out, blockSize));
}

test('the header of a chunk: total and block size, refused for the wrong pixel size or a broken block', () => {
  const f = frame(1);
  const c = compress(f, 256);
  assert.deepEqual(readBslz4Header(c, 2), { total: ROWS * COLS * 2, blockBytes: 512 });
  assert.deepEqual(readBslz4Header(compress(f), 2), { total: ROWS * COLS * 2, blockBytes: bshufDefaultBlockSize(2) * 2 });
  assert.equal(readBslz4Header(compress(f, 8), 4), null, '16-byte blocks are 4 pixels of 4 bytes: no bitshuffle block');
  assert.equal(readBslz4Header(compress(Uint16Array.from({ length: 7 }, (_, i) => i)), 4), null, '14 bytes are no 4-byte pixels');
  assert.equal(readBslz4Header(c.subarray(0, 11), 2), null);
  const odd = c.slice();
  new DataView(odd.buffer).setUint32(8, 6); // 3 elements: not a multiple of 8
  assert.equal(readBslz4Header(odd, 2), null);
  const huge = c.slice();
  new DataView(huge.buffer).setUint32(0, 0x200000);
  assert.equal(readBslz4Header(huge, 2), null);
});

test('a chunk is whole by its block lengths: truncated or padded chunks are not, whatever the block size and leftover', () => {
  for (const [n, block] of [[ROWS * COLS, 0], [ROWS * COLS, 256], [ROWS * COLS + 5, 64], [1003, 0]] as const) {
    const f = Uint16Array.from({ length: n }, (_, i) => (i * 7) % 13);
    const c = compress(f, block);
    assert.equal(bslz4BlocksIntact(c, 2), true, `${n} elements, block ${block}`);
    assert.equal(bslz4BlocksIntact(c.subarray(0, c.length - 1), 2), false, 'one byte short');
    assert.equal(bslz4BlocksIntact(c.subarray(0, Math.floor(c.length / 2)), 2), false, 'half');
    const padded = new Uint8Array(c.length + 1);
    padded.set(c);
    assert.equal(bslz4BlocksIntact(padded, 2), false, 'one byte more');
  }
});

test('a blob with its header is the chunk itself; a headerless one gets the default-block header and decodes equal', () => {
  const f = frame(2);
  const c = compress(f);
  assert.equal(bslz4ChunkOf(c, 2, f.byteLength, true), c);
  assert.equal(bslz4ChunkOf(c, 2, f.byteLength + 2, true), null, 'a header that disagrees with the frame is not written');
  const headerless = c.subarray(BSLZ4_HEADER_BYTES);
  const chunk = bslz4ChunkOf(headerless, 2, f.byteLength, false)!;
  assert.deepEqual(chunk, c, 'the prepended header is the one the default block size gives');
  const back = new Uint16Array(f.length);
  bslz4Decompress(chunk, 2, new Uint8Array(back.buffer));
  assert.deepEqual(back, f);
});

test('a detector chunk is written as it is only under bslz4 saving, for pixels of its size, for the whole frame', () => {
  const f = frame(3);
  const chunk: CompressedChunk = { codec: 'bslz4', elemSize: 2, bytes: compress(f, 64) };
  assert.equal(directChunk(chunk, 'bslz4', 2, f.byteLength), chunk.bytes);
  assert.equal(directChunk(chunk, 'gzip', 2, f.byteLength), null);
  assert.equal(directChunk(chunk, 'none', 2, f.byteLength), null);
  assert.equal(directChunk(chunk, 'bslz4', 4, f.byteLength), null);
  const small: CompressedChunk = { codec: 'bslz4', elemSize: 4, bytes: compress(f, 8) };
  assert.equal(directChunk(small, 'bslz4', 4, f.byteLength), null, 'blocks of 8 two-byte pixels are no blocks of 4-byte pixels');
  assert.equal(directChunk(chunk, 'bslz4', 2, f.byteLength * 2), null);
  assert.equal(directChunk(null, 'bslz4', 2, f.byteLength), null);
  assert.equal(directChunk(undefined, 'bslz4', 2, f.byteLength), null);
});

test('a file series writes detector chunks byte for byte and re-encodes the ones that do not fit', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dchunk-'));
  try {
    const cfg: SeriesConfig = {
      folder: dir, prefix: 'd', rank: 0, startNumber: 0, nbFramesPerFile: 10, dtype: 'uint32', shape: [ROWS, COLS],
      compression: 'bslz4', compressionLevel: 1, policy: 'abort', flushInterval: 1,
      entry: 'entry', instrument: 'instrument', detector: 'detector', entryAttrs: {},
    };
    let file = '';
    const series = new FrameSeries(cfg, (p) => (file = p));
    const frames = [0, 1, 2, 3].map((k) => frame(10 + k, Uint32Array) as Uint32Array);
    // frames 0 and 1: a detector's chunks (its own block sizes); 2: a chunk of 2-byte pixels (not this dataset's); 3: none
    const chunks: (CompressedChunk | undefined)[] = [
      { codec: 'bslz4', elemSize: 4, bytes: compress(frames[0], 128) },
      { codec: 'bslz4', elemSize: 4, bytes: compress(frames[1]) },
      { codec: 'bslz4', elemSize: 2, bytes: compress(Uint16Array.from(frames[2])) },
      undefined,
    ];
    const saved = frames.map((f, k) => series.write(k, f, chunks[k]));
    series.close();
    assert.equal(series.direct, 2);
    const bytes = fs.readFileSync(file);
    for (let k = 0; k < frames.length; k++) {
      const stored = bytes.subarray(saved[k].address, saved[k].address + saved[k].size);
      if (k < 2) assert.deepEqual(new Uint8Array(stored), chunks[k]!.bytes, `frame ${k} is the detector's chunk`);
      else assert.notDeepEqual(new Uint8Array(stored), chunks[k]?.bytes, `frame ${k} was encoded here`);
      const back = new Uint32Array(ROWS * COLS);
      bslz4Decompress(stored, 4, new Uint8Array(back.buffer));
      assert.deepEqual(back, frames[k], `frame ${k} decodes equal`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
