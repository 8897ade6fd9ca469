/**
 * LZ4 block codec: round trips, the encoder's end-of-block rules and offset
 * range (checked by parsing its output), hand-made blocks for the decoder
 * (overlapping matches, long lengths, offset 65535) and corrupt input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lz4Compressor, Lz4Error, lz4CompressBlock, lz4CompressBound, lz4DecompressBlock } from '../src/saving/codec/index.js';
import { rng } from './rng.js';

interface Seq {
  lit: number;
  start: number; // output position of the match (after the literals)
  off: number; // 0 for the last sequence
  ml: number;
}

/** Parse a block into its sequences (trusting it is well formed). */
function parse(b: Uint8Array): Seq[] {
  const seqs: Seq[] = [];
  let ip = 0, op = 0;
  for (;;) {
    const t = b[ip++];
    let lit = t >> 4;
    if (lit === 15) for (let x = 255; x === 255; ) lit += (x = b[ip++]);
    ip += lit;
    op += lit;
    if (ip >= b.length) {
      seqs.push({ lit, start: op, off: 0, ml: 0 });
      return seqs;
    }
    const off = b[ip] | (b[ip + 1] << 8);
    ip += 2;
    let ml = (t & 15) + 4;
    if (ml === 19) for (let x = 255; x === 255; ) ml += (x = b[ip++]);
    seqs.push({ lit, start: op, off, ml });
    op += ml;
  }
}

function roundTrip(src: Uint8Array, c = new Lz4Compressor()): Uint8Array {
  const out = new Uint8Array(lz4CompressBound(src.length));
  const n = c.compress(src, 0, src.length, out, 0);
  const block = out.subarray(0, n);
  const back = new Uint8Array(src.length);
  assert.equal(lz4DecompressBlock(block, back), src.length);
  assert.deepEqual(back, src);
  // end-of-block rules (lz4_Block_format.md)
  const seqs = parse(block);
  const last = seqs[seqs.length - 1];
  assert.equal(last.off, 0);
  if (src.length >= 13) assert.ok(last.lit >= 5, `last literals ${last.lit}`);
  else assert.equal(seqs.length, 1);
  for (const s of seqs.slice(0, -1)) {
    assert.ok(s.off >= 1 && s.off <= 65535 && s.off <= s.start, `offset ${s.off} at ${s.start}`);
    assert.ok(s.start <= src.length - 12, `match at ${s.start} of ${src.length}`);
    assert.ok(s.ml >= 4);
  }
  return block;
}

const random = (n: number, seed: number): Uint8Array => {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => (r() * 256) | 0);
};

test('tiny inputs are literals only (and empty input is one zero token)', () => {
  for (let n = 0; n <= 20; n++) {
    const block = roundTrip(new Uint8Array(n).fill(7));
    if (n < 13) assert.equal(block.length, 1 + n);
  }
  const out = new Uint8Array(16);
  assert.equal(lz4CompressBlock(new Uint8Array(0), out), 1);
  assert.equal(out[0], 0);
});

test('runs and short periods compress to overlapping matches', () => {
  for (const period of [1, 2, 3, 4, 5, 7, 16, 31]) {
    const src = Uint8Array.from({ length: 10000 }, (_, i) => (i % period) * 37);
    const block = roundTrip(src);
    assert.ok(block.length < 100, `period ${period}: ${block.length} bytes`);
    const seqs = parse(block);
    assert.ok(seqs.some((s) => s.off > 0 && s.off < s.ml), 'an overlapping match');
  }
});

test('random data stays within the bound and round-trips', () => {
  for (const n of [13, 100, 1000, 8192, 65536, 200000]) {
    const src = random(n, n);
    const block = roundTrip(src);
    assert.ok(block.length <= lz4CompressBound(n));
    assert.ok(block.length <= n + n / 255 + 16);
  }
});

/** 64 random bytes, zeros, the same 64 bytes `dist` later, random tail (only the head's hash slots survive the zeros). */
function farRepeat(dist: number): Uint8Array {
  const head = random(64, 1);
  const src = new Uint8Array(dist + 300);
  src.set(head, 0);
  src.set(head, dist);
  src.set(random(200, 2), dist + 100);
  return src;
}

test('offsets up to 65535 are used, 65536 never', () => {
  for (const dist of [65530, 65535, 65536, 70000]) {
    const seqs = parse(roundTrip(farRepeat(dist)));
    if (dist <= 65535) assert.ok(seqs.some((s) => s.off === dist && s.start === dist), `match at distance ${dist}`);
    else assert.ok(!seqs.some((s) => s.off === dist));
  }
});

test('mixed data, reused compressor (hash table entries from earlier inputs are ignored)', () => {
  const c = new Lz4Compressor();
  const r = rng(9);
  for (let k = 0; k < 50; k++) {
    const n = 13 + Math.floor(r() * 20000);
    const src = new Uint8Array(n);
    let i = 0;
    while (i < n) {
      const len = 1 + Math.floor(r() * 300);
      if (r() < 0.5 && i > 10) {
        const off = 1 + Math.floor(r() * Math.min(i, 70000));
        for (let j = 0; j < len && i < n; j++, i++) src[i] = src[i - off];
      } else for (let j = 0; j < len && i < n; j++, i++) src[i] = r() < 0.3 ? 0 : (r() * 256) | 0;
    }
    roundTrip(src, c);
  }
});

test('decoder: hand-made blocks with long lengths and overlapping copies', () => {
  // 20 literals (15 + 5), then a match of offset 1 and length 4 + 15 + 255 + 10 = 284
  const lits = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
  const block = Uint8Array.from([0xff, 5, ...lits, 1, 0, 255, 10, 0x50, 9, 9, 9, 9, 9]);
  const out = new Uint8Array(400);
  const n = lz4DecompressBlock(block, out);
  assert.equal(n, 20 + 284 + 5);
  assert.deepEqual(out.subarray(0, 20), lits);
  assert.ok(out.subarray(20, 304).every((v) => v === 20));
  assert.deepEqual(out.subarray(304, 309), Uint8Array.from([9, 9, 9, 9, 9]));
  // offset 3, length 40: the 3-byte pattern repeats
  const b2 = Uint8Array.from([0x3f, 1, 2, 3, 3, 0, 21, 0x50, 0, 0, 0, 0, 0]);
  const o2 = new Uint8Array(100);
  assert.equal(lz4DecompressBlock(b2, o2), 3 + 40 + 5);
  for (let i = 0; i < 43; i++) assert.equal(o2[i], (i % 3) + 1);
});

test('decoder: offset 65535 reaches back to the first byte', () => {
  const src = farRepeat(65535);
  const block = new Uint8Array(lz4CompressBound(src.length));
  const n = lz4CompressBlock(src, block);
  assert.ok(parse(block.subarray(0, n)).some((s) => s.off === 65535));
  const out = new Uint8Array(src.length);
  assert.equal(lz4DecompressBlock(block.subarray(0, n), out), src.length);
  assert.deepEqual(out, src);
});

test('decoder: corrupt blocks throw Lz4Error, never overrun', () => {
  const bad: [string, number[], number][] = [
    ['empty', [], 10],
    ['truncated literals', [0x50, 1, 2], 10],
    ['truncated literal length', [0xf0], 100],
    ['offset 0', [0x10, 1, 0, 0, 0x00], 100],
    ['offset before start', [0x10, 1, 2, 0, 0x00], 100],
    ['truncated offset', [0x10, 1, 1], 100],
    ['truncated match length', [0x1f, 1, 1, 0], 100],
    ['output too small (literals)', [0x50, 1, 2, 3, 4, 5], 4],
    ['output too small (match)', [0x1f, 1, 1, 0, 200, 0x00], 50],
  ];
  for (const [what, bytes, cap] of bad) {
    assert.throws(() => lz4DecompressBlock(Uint8Array.from(bytes), new Uint8Array(cap)), Lz4Error, what);
  }
  // fuzz: flipped bytes either decode or throw Lz4Error
  const r = rng(4);
  const src = Uint8Array.from({ length: 5000 }, (_, i) => (i % 97 < 50 ? 0 : (r() * 16) | 0));
  const block = new Uint8Array(lz4CompressBound(src.length));
  const n = lz4CompressBlock(src, block);
  for (let k = 0; k < 2000; k++) {
    const b = block.slice(0, n - Math.floor(r() * 3));
    for (let f = 0; f < 3; f++) b[Math.floor(r() * b.length)] = (r() * 256) | 0;
    const out = new Uint8Array(src.length);
    try {
      lz4DecompressBlock(b, out);
    } catch (e) {
      assert.ok(e instanceof Lz4Error, String(e));
    }
  }
});

test('lz4CompressBlock refuses an output smaller than the bound', () => {
  assert.throws(() => lz4CompressBlock(new Uint8Array(100), new Uint8Array(100)), RangeError);
});
