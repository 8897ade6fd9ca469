/**
 * Bitshuffle + LZ4 chunks (HDF5 filter 32008): the WebAssembly SIMD kernels
 * against the JavaScript ones and the definition of the bit transposition,
 * round trips of realistic frames and odd sizes on both engines, the chunk
 * framing, corrupt input, cd_values, deflate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BSLZ4_FILTER_ID, Bslz4Error, bshufDefaultBlockSize, bslz4Compress, bslz4Decompress, bslz4FilterCdValues,
  bslz4MaxCompressedSize, bitshuffle, bitunshuffle, createCodec, deflateChunk, inflateChunk, type Codec,
} from '../src/saving/codec/index.js';
import { bitshuffleModule } from '../src/saving/codec/bitshuffle-wasm.js';
import { allFrames, elemSizeOf } from './fixtures/codec-frames.js';
import { rng } from './rng.js';

const random = (n: number, seed: number): Uint8Array => {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => (r() * 256) | 0);
};

const CODECS: Codec[] = [createCodec('wasm'), createCodec('js')];

test('the WebAssembly SIMD module validates on this Node', () => {
  assert.ok(bitshuffleModule());
  assert.equal(CODECS[0].engine, 'wasm');
  assert.equal(CODECS[1].engine, 'js');
});

/** bit b of byte j of element 8k+i → bit i of byte k of row j·8+b (rows of n/8 bytes), per block */
function referenceShuffle(src: Uint8Array, es: number, bs: number): Uint8Array {
  const out = new Uint8Array(src.length);
  const n = src.length / es;
  let i0 = 0;
  const block = (m: number): void => {
    for (let j = 0; j < es; j++) for (let b = 0; b < 8; b++) for (let k = 0; k < m / 8; k++) {
      let v = 0;
      for (let i = 0; i < 8; i++) v |= ((src[(i0 + 8 * k + i) * es + j] >> b) & 1) << i;
      out[i0 * es + (j * 8 + b) * (m / 8) + k] = v;
    }
    i0 += m;
  };
  while (n - i0 >= bs) block(bs);
  if ((n - i0) & ~7) block((n - i0) & ~7);
  out.set(src.subarray(i0 * es), i0 * es);
  return out;
}

test('bitshuffle matches the definition (wasm and js), blocked, with raw leftover elements', () => {
  for (const es of [1, 2, 3, 4, 8, 12]) {
    for (const n of [0, 5, 8, 16, 24, 136, 1000, 1003, bshufDefaultBlockSize(es), bshufDefaultBlockSize(es) * 2 + 77]) {
      const src = random(n * es, n + es);
      const ref = referenceShuffle(src, es, bshufDefaultBlockSize(es));
      for (const c of CODECS) {
        const out = new Uint8Array(src.length);
        c.bitshuffle(src, out, es);
        assert.deepEqual(out, ref, `${c.engine} es ${es} n ${n}`);
        const back = new Uint8Array(src.length);
        c.bitunshuffle(out, back, es);
        assert.deepEqual(back, src, `${c.engine} unshuffle es ${es} n ${n}`);
      }
    }
  }
  // module-level functions and a custom block size
  const src = random(2 * 1000, 1);
  const out = new Uint8Array(src.length);
  bitshuffle(src, out, 2, 64);
  assert.deepEqual(out, referenceShuffle(src, 2, 64));
  const back = new Uint8Array(src.length);
  bitunshuffle(out, back, 2, 64);
  assert.deepEqual(back, src);
});

test('default block size: 8192 bytes / element size, multiple of 8, at least 128', () => {
  assert.deepEqual([1, 2, 3, 4, 8, 16, 64, 100].map(bshufDefaultBlockSize), [8192, 4096, 2728, 2048, 1024, 512, 128, 128]);
});

function roundTrip(c: Codec, src: Uint8Array, es: number, blockSize?: number): number {
  const out = new Uint8Array(bslz4MaxCompressedSize(src.length, es, blockSize));
  const n = c.compress(src, es, out, blockSize);
  assert.ok(n <= out.length);
  const back = new Uint8Array(src.length + 3);
  assert.equal(c.decompress(out.subarray(0, n), es, back), src.length);
  assert.deepEqual(back.subarray(0, src.length), src);
  return n;
}

test('realistic frames round-trip on both engines', () => {
  for (const f of allFrames()) {
    const es = elemSizeOf(f);
    const sizes = CODECS.map((c) => roundTrip(c, f.bytes, es));
    assert.equal(sizes[0], sizes[1], `${f.name}: same bytes from both engines`);
    const ratio = sizes[0] / f.bytes.length;
    if (f.name === 'zeros') assert.ok(ratio < 0.01, `zeros ${ratio}`);
    if (f.name === 'random') assert.ok(ratio < 1.01, `random ${ratio}`);
    if (f.name === 'eiger') assert.ok(ratio < 0.1, `eiger ${ratio}`);
    if (f.name === 'jungfrau') assert.ok(ratio < 0.85, `jungfrau ${ratio}`);
  }
});

test('odd sizes: n mod 8 ≠ 0, less than a block, fewer than 8 elements, empty; elements of 1, 2, 4, 8 bytes; block sizes', () => {
  const r = rng(11);
  for (const es of [1, 2, 3, 4, 8]) {
    for (const n of [0, 1, 7, 8, 9, 15, 17, 100, 1001, 4095, 4097, 8191, 8193, 20003]) {
      const src = Uint8Array.from({ length: n * es }, () => (r() < 0.7 ? 0 : (r() * 256) | 0));
      for (const c of CODECS) {
        roundTrip(c, src, es);
        roundTrip(c, src, es, 8);
        roundTrip(c, src, es, 256);
      }
    }
  }
});

test('chunk framing: header, per-block sizes, trailing raw elements', () => {
  const es = 2, n = 4096 + 1000 + 5; // one full block, a partial block of 1000, 5 raw elements
  const src = random(n * es, 3);
  const out = new Uint8Array(bslz4MaxCompressedSize(src.length, es));
  const len = bslz4Compress(src, es, out);
  const dv = new DataView(out.buffer, 0, len);
  assert.equal(dv.getBigUint64(0), BigInt(src.length));
  assert.equal(dv.getUint32(8), 4096 * es);
  const b0 = dv.getUint32(12);
  const b1 = dv.getUint32(16 + b0);
  assert.equal(16 + b0 + 4 + b1 + 5 * es, len);
  assert.deepEqual(out.subarray(len - 10, len), src.subarray(src.length - 10));
  // random data: each block stays about its size (+ LZ4 overhead)
  assert.ok(b0 <= 8192 + 8192 / 255 + 16);
});

test('a chunk with block size 0 in its header decodes with the default block size (as bitshuffle does)', () => {
  const src = random(2 * 5000, 4);
  const out = new Uint8Array(bslz4MaxCompressedSize(src.length, 2));
  const len = bslz4Compress(src, 2, out);
  out.fill(0, 8, 12);
  const back = new Uint8Array(src.length);
  bslz4Decompress(out.subarray(0, len), 2, back);
  assert.deepEqual(back, src);
});

test('bad arguments and corrupt chunks throw clear errors', () => {
  const src = random(2 * 3000, 5);
  const out = new Uint8Array(bslz4MaxCompressedSize(src.length, 2));
  const len = bslz4Compress(src, 2, out);
  const chunk = out.slice(0, len);
  const back = new Uint8Array(src.length);
  assert.throws(() => bslz4Compress(src, 2, new Uint8Array(100)), RangeError);
  assert.throws(() => bslz4Compress(src.subarray(1), 2, out), RangeError);
  assert.throws(() => bslz4Compress(src, 2, out, 12), RangeError);
  assert.throws(() => bslz4Compress(src, 0, out), RangeError);
  assert.throws(() => bslz4Decompress(chunk, 2, new Uint8Array(100)), RangeError);
  assert.throws(() => bslz4Decompress(chunk.subarray(0, 11), 2, back), Bslz4Error);
  assert.throws(() => bslz4Decompress(chunk.subarray(0, len - 1), 2, back), Bslz4Error);
  assert.throws(() => bslz4Decompress(chunk.subarray(0, 100), 2, back), Bslz4Error);
  const badBlock = chunk.slice();
  badBlock[11] = 3; // block bytes not a multiple of 8 elements
  assert.throws(() => bslz4Decompress(badBlock, 2, back), Bslz4Error);
  const badSize = chunk.slice();
  badSize[14] ^= 0x40; // first block's compressed size
  assert.throws(() => bslz4Decompress(badSize, 2, back), Bslz4Error);
  const odd = chunk.slice();
  odd[7] ^= 1; // uncompressed size not a multiple of the element size
  assert.throws(() => bslz4Decompress(odd, 2, back), Bslz4Error);
  // fuzz: never anything but Bslz4Error / RangeError, never writes past `out`
  const r = rng(6);
  const zsrc = Uint8Array.from({ length: 2 * 3000 }, (_, i) => (i % 50 < 30 ? 0 : (r() * 8) | 0));
  const zout = new Uint8Array(bslz4MaxCompressedSize(zsrc.length, 2));
  const zlen = bslz4Compress(zsrc, 2, zout);
  const big = new Uint8Array(zsrc.length + 64);
  for (let k = 0; k < 3000; k++) {
    const b = zout.slice(0, zlen - Math.floor(r() * 4));
    for (let f = 0; f < 2; f++) b[12 + Math.floor(r() * (b.length - 12))] = (r() * 256) | 0;
    big.fill(0xee);
    try {
      bslz4Decompress(b, 2, big.subarray(0, zsrc.length));
    } catch (e) {
      assert.ok(e instanceof Bslz4Error || e instanceof RangeError, String(e));
    }
    assert.ok(big.subarray(zsrc.length).every((v) => v === 0xee));
  }
});

test('cd_values as hdf5plugin stores them: [0, 4, elemSize, blockSize, 2]', () => {
  assert.equal(BSLZ4_FILTER_ID, 32008);
  assert.deepEqual(bslz4FilterCdValues(2), [0, 4, 2, 0, 2]);
  assert.deepEqual(bslz4FilterCdValues(4, 1024), [0, 4, 4, 1024, 2]);
  assert.throws(() => bslz4FilterCdValues(4, 1001), RangeError);
});

test('deflate chunks are zlib streams', () => {
  const src = allFrames()[0].bytes;
  const z = deflateChunk(src, 4);
  assert.equal(z[0] & 0x0f, 8); // CM = deflate
  assert.equal(((z[0] << 8) | z[1]) % 31, 0); // FCHECK
  assert.deepEqual(new Uint8Array(inflateChunk(z)), src);
  assert.throws(() => deflateChunk(src, 10), RangeError);
});
