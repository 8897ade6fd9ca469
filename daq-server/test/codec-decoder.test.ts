/**
 * The WebAssembly bslz4 decoder (bslz4-decoder.ts, lz4-wasm.ts) on chunks
 * written by hdf5plugin (the C bitshuffle + LZ4 of the HDF5 filter, read back
 * with h5py's read_direct_chunk) and checked by dectris-compression, both
 * from the main .venv: element sizes 1/2/4/8, partial last blocks and raw
 * trailing elements, incompressible and constant frames; the LZ4 kernel on
 * overlapping matches; corrupt chunks → Bslz4Error, never a write outside
 * `out`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Bslz4Error, createCodec } from '../src/saving/codec/index.js';
import { instantiateBitshuffle } from '../src/saving/codec/bitshuffle-wasm.js';
import { lz4DecompressInto } from '../src/saving/codec/lz4.js';
import { rng } from './rng.js';

const PYTHON = resolve(import.meta.dirname, '../../../.venv/bin/python');

// name, dtype, shape, content: each written by hdf5plugin.Bitshuffle(lz4) as one chunk
const FIXTURES = String.raw`
import sys, h5py, hdf5plugin, numpy as np
from dectris.compression import decompress
out = sys.argv[1]
r = np.random.default_rng(7)
cases = {
  'u8_poisson_10007': r.poisson(3, 10007).astype('u1'),
  'u16_jungfrau_512x1024': r.poisson(100, (512, 1024)).astype('u2'),
  'u16_partial_4099': r.poisson(20, 4099).astype('u2'),
  'u32_eiger_300x257': np.where(r.random((300, 257)) < 0.05, r.poisson(2, (300, 257)), 0).astype('u4'),
  'u32_tiny_5': np.arange(5, dtype='u4'),
  'u16_random_incompressible_70001': r.integers(0, 65536, 70001).astype('u2'),
  'u16_zeros_65536': np.zeros(65536, 'u2'),
  'u64_ramp_3001': (np.arange(3001, dtype='u8') * 0x0101010101),
  'i32_negative_9000': r.integers(-1000, 1000, 9000).astype('i4'),
}
with h5py.File(out + '/f.h5', 'w') as f:
  for name, a in cases.items():
    f.create_dataset(name, data=a, chunks=a.shape, **hdf5plugin.Bitshuffle(nelems=0, cname='lz4'))
with h5py.File(out + '/f.h5', 'r') as f:
  for name, a in cases.items():
    _, chunk = f[name].id.read_direct_chunk((0,) * a.ndim)
    # the reference decoder agrees with the data
    back = np.frombuffer(decompress(chunk, 'bslz4', elem_size=a.itemsize), a.dtype)
    assert np.array_equal(back, a.ravel()), name
    open(f'{out}/{name}.{a.itemsize}.chunk', 'wb').write(chunk)
    open(f'{out}/{name}.{a.itemsize}.raw', 'wb').write(a.tobytes())
`;

interface Fixture {
  name: string;
  es: number;
  chunk: Uint8Array;
  raw: Uint8Array;
}

let cached: Fixture[] | undefined;
function fixtures(): Fixture[] {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'bslz4-fixtures-'));
  try {
    execFileSync(PYTHON, ['-c', FIXTURES, dir], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 120_000 });
    cached = readdirSync(dir)
      .filter((f) => f.endsWith('.chunk'))
      .sort()
      .map((f) => {
        const [name, es] = f.split('.');
        return {
          name,
          es: Number(es),
          chunk: new Uint8Array(readFileSync(join(dir, f))),
          raw: new Uint8Array(readFileSync(join(dir, `${name}.${es}.raw`))),
        };
      });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(cached.length, 9);
  return cached;
}

test('hdf5plugin chunks decode exactly, into out and as a view, for element sizes 1, 2, 4, 8', () => {
  const codec = createCodec();
  assert.equal(codec.engine, 'wasm');
  const legacy = createCodec('wasm', { lz4: 'js' });
  for (const f of fixtures()) {
    // out larger than the frame: the bytes after it stay untouched
    const out = new Uint8Array(f.raw.length + 64).fill(0xa5);
    assert.equal(codec.decompress(f.chunk, f.es, out), f.raw.length, f.name);
    assert.deepEqual(out.subarray(0, f.raw.length), f.raw, f.name);
    assert.ok(out.subarray(f.raw.length).every((b) => b === 0xa5), `${f.name}: wrote past the frame`);
    assert.deepEqual(codec.decompressView(f.chunk, f.es), f.raw, `${f.name} (view)`);
    const ref = new Uint8Array(f.raw.length);
    legacy.decompress(f.chunk, f.es, ref);
    assert.deepEqual(ref, f.raw, `${f.name} (previous decoder)`);
  }
});

test('one codec decodes chunks of growing and shrinking sizes in turn (buffer reuse)', () => {
  const codec = createCodec();
  const fs = fixtures();
  for (const f of [...fs, ...fs.reverse()]) assert.deepEqual(codec.decompressView(f.chunk, f.es), f.raw, f.name);
});

test('corrupt hdf5plugin chunks: Bslz4Error or the right length, never a write outside out', () => {
  const codec = createCodec();
  const r = rng(11);
  for (const f of fixtures()) {
    const out = new Uint8Array(f.raw.length + 64);
    const tries: Uint8Array[] = [];
    for (const cut of [12, 13, 16, 17, f.chunk.length >> 1, f.chunk.length - 1]) if (cut < f.chunk.length) tries.push(f.chunk.subarray(0, cut));
    for (let t = 0; t < 30; t++) {
      const bad = f.chunk.slice();
      const p = 12 + Math.floor(r() * (bad.length - 12));
      bad[p] ^= 1 + Math.floor(r() * 255);
      tries.push(bad);
    }
    for (const bad of tries) {
      out.fill(0x5a);
      try {
        assert.equal(codec.decompress(bad, f.es, out), f.raw.length);
      } catch (e) {
        assert.ok(e instanceof Bslz4Error, `${f.name}: ${(e as Error).name}: ${(e as Error).message}`);
      }
      assert.ok(out.subarray(f.raw.length).every((b) => b === 0x5a), `${f.name}: wrote past the frame`);
    }
    // the codec still decodes good chunks afterwards
    assert.deepEqual(codec.decompressView(f.chunk, f.es), f.raw);
  }
});

test('a header claiming a huge frame or block is refused before any allocation', () => {
  const codec = createCodec();
  const chunk = new Uint8Array(16);
  new DataView(chunk.buffer).setUint32(0, 0x100); // 2^40 bytes
  assert.throws(() => codec.decompressView(chunk, 2), Bslz4Error);
  const big = new Uint8Array(16);
  new DataView(big.buffer).setUint32(4, 1024);
  new DataView(big.buffer).setUint32(8, 0x40000000); // 1 GiB blocks
  assert.throws(() => codec.decompressView(big, 2), Bslz4Error);
});

/** an LZ4 block of literals `lit`, then one match (offset, length), then 5 literal bytes */
function lz4Block(lit: number[], offset: number, len: number): Uint8Array {
  const b: number[] = [];
  const l = lit.length, m = len - 4;
  b.push((Math.min(l, 15) << 4) | Math.min(m, 15));
  if (l >= 15) {
    let x = l - 15;
    for (; x >= 255; x -= 255) b.push(255);
    b.push(x);
  }
  b.push(...lit, offset & 255, offset >> 8);
  if (m >= 15) {
    let x = m - 15;
    for (; x >= 255; x -= 255) b.push(255);
    b.push(x);
  }
  b.push(5 << 4, 1, 2, 3, 4, 5);
  return Uint8Array.from(b);
}

test('lz4dec: overlapping and long matches of every offset up to 40 agree with the JS decoder', () => {
  const k = instantiateBitshuffle(1 << 20)!;
  const mem = new Uint8Array(k.memory.buffer);
  const IN = 0, OUT = 65536;
  for (let off = 1; off <= 40; off++) {
    for (const len of [4, 5, 15, 16, 17, 18, 19, 31, 33, 270, 1000]) {
      const lit = Array.from({ length: Math.max(off, 3) }, (_, i) => (i * 37 + off) & 255);
      const blk = lz4Block(lit, off, len);
      const ref = new Uint8Array(lit.length + len + 5);
      const n = lz4DecompressInto(blk, 0, blk.length, ref, 0, ref.length);
      mem.set(blk, IN);
      const d = k.lz4dec(IN, IN + blk.length, OUT, OUT + ref.length);
      assert.equal(d, n, `offset ${off} length ${len}`);
      assert.deepEqual(mem.subarray(OUT, OUT + n), ref, `offset ${off} length ${len}`);
      // one byte less room: an error, not an overrun
      assert.ok(k.lz4dec(IN, IN + blk.length, OUT, OUT + ref.length - 1) < 0);
    }
  }
  // offset past the start of the output, offset 0
  const bad = lz4Block([1, 2, 3], 4, 10);
  mem.set(bad, IN);
  assert.equal(k.lz4dec(IN, IN + bad.length, OUT, OUT + 100), -6);
  const zero = lz4Block([1, 2, 3], 0, 10);
  mem.set(zero, IN);
  assert.equal(k.lz4dec(IN, IN + zero.length, OUT, OUT + 100), -6);
});

test('unbits16 (16 columns a step) equals unbits for every row length up to 1040 elements and 1-8 rows', () => {
  const k = instantiateBitshuffle(1 << 20)!;
  const mem = new Uint8Array(k.memory.buffer);
  const r = rng(5);
  const SRC = 0, A = 65536, B = 2 * 65536;
  for (let n = 8; n <= 1040; n += 8) {
    for (const rows of [1, 2, 4, 8]) {
      for (let p = 0; p < n * rows + 256; p++) mem[SRC + p] = (r() * 256) | 0;
      k.unbits(SRC, A, n, rows);
      k.unbits16(SRC, B, n, rows);
      assert.deepEqual(mem.subarray(B, B + n * rows), mem.subarray(A, A + n * rows), `n ${n} rows ${rows}`);
    }
  }
});
