/**
 * The chunk-index reader against our own writer: every chunk `writeChunk`
 * placed is listed at its address, size and filter mask (paged and unpaged
 * Fixed Array, multi-level v1 B-tree), unwritten chunks are absent, and a
 * damaged index is an H5FormatError, not a hang. Files from h5py and the
 * VDS: test/test_direct_read.py.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { H5Writer } from '../src/saving/hdf5/index.js';
import { H5File, H5FormatError } from '../src/saving/hdf5/chunk-index-reader.js';

/** where the writer put a chunk */
interface Placed {
  address: number;
  size: number;
  mask: number;
}

const BSLZ4 = [{ id: 32008, cdValues: [0, 4, 2, 0, 2] }];

function tmpFile(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'h5r-')), name);
}

/** write `frames` chunks of [1, 4, 4] u2 (some skipped, some with a filter mask), return what the writer placed */
function writeScan(file: string, maxFrames: number | null, frames: number[], filtered = true): { header: number; placed: Map<number, Placed> } {
  const f = H5Writer.create(file);
  const ds = f.root.chunked('data', { dtype: 'u2', shape: [0, 4, 4], maxShape: [maxFrames, 4, 4], chunk: [1, 4, 4], filters: filtered ? BSLZ4 : [] });
  const placed = new Map<number, Placed>();
  for (const k of frames) {
    const bytes = new Uint8Array(filtered ? 10 + (k % 7) : 32).fill(k & 255);
    const mask = filtered && k % 5 === 0 ? 1 : 0;
    placed.set(k, { ...ds.writeChunk([k, 0, 0], bytes, mask), mask });
  }
  const header = (ds as unknown as { headerAddr: number }).headerAddr;
  f.close();
  return { header, placed };
}

function read(file: string, header: number): ReturnType<H5File['dataset']> {
  const fd = fs.openSync(file, 'r');
  try {
    return new H5File(fd, file).dataset(header);
  } finally {
    fs.closeSync(fd);
  }
}

function assertSame(file: string, header: number, placed: Map<number, Placed>, size?: number): void {
  const info = read(file, header);
  assert.equal(info.layout.kind, 'chunked');
  if (info.layout.kind !== 'chunked') return;
  assert.deepEqual(info.layout.chunk, [1, 4, 4]);
  assert.equal(info.layout.chunks.length, placed.size);
  for (const c of info.layout.chunks) {
    const p = placed.get(c.offset[0]);
    assert.ok(p, `chunk ${c.offset} was never written`);
    assert.deepEqual(c.offset.slice(1), [0, 0]);
    assert.equal(c.address, p.address);
    assert.equal(c.size, size ?? p.size);
    assert.equal(c.filterMask, p.mask);
  }
}

test('Fixed Array, paged (1100 chunks, some never written) and unpaged, filtered and not', () => {
  const frames = Array.from({ length: 1100 }, (_, k) => k).filter((k) => k % 13 !== 3);
  const file = tmpFile('fa.h5');
  const { header, placed } = writeScan(file, 1100, frames);
  assertSame(file, header, placed);
  const small = tmpFile('fa-raw.h5');
  const raw = writeScan(small, 20, [0, 1, 2, 5, 19], false);
  assertSame(small, raw.header, raw.placed, 32);
});

test('version-1 B-tree with several levels (an unlimited first dimension)', () => {
  const frames = Array.from({ length: 3000 }, (_, k) => k).filter((k) => k % 17 !== 1);
  const file = tmpFile('bt.h5');
  const { header, placed } = writeScan(file, null, frames);
  assertSame(file, header, placed);
});

test('damaged indexes are format errors naming the file', () => {
  const file = tmpFile('bad.h5');
  const { header } = writeScan(file, 1100, [0, 1, 2]);
  const good = fs.readFileSync(file);
  const damage = (mutate: (b: Buffer) => Buffer, expected: RegExp): void => {
    fs.writeFileSync(file, mutate(Buffer.from(good)));
    assert.throws(() => read(file, header), (e: unknown) => e instanceof H5FormatError && expected.test(e.message) && e.message.includes(file));
  };
  const fahd = good.indexOf('FAHD');
  damage((b) => ((b[fahd + 8] ^= 1), b), /Fixed Array header.*checksum mismatch/);
  damage((b) => b.subarray(0, good.indexOf('FADB') + 10), /beyond the end of the file/);
  damage((b) => (b.write('XXXX', fahd, 'latin1'), b), /no FAHD signature/);

  const bt = tmpFile('bad-bt.h5');
  const t = writeScan(bt, null, Array.from({ length: 200 }, (_, k) => k));
  const tree = fs.readFileSync(bt);
  // the root (level 1): point its first child at itself → a node of the wrong level (or a cycle)
  let root = -1;
  for (let at = tree.indexOf('TREE'); at >= 0; at = tree.indexOf('TREE', at + 1)) if (tree[at + 5] === 1) root = at;
  assert.ok(root > 0, 'a two-level tree');
  tree.writeBigUInt64LE(BigInt(root), root + 24 + 40);
  fs.writeFileSync(bt, tree);
  assert.throws(() => read(bt, t.header), (e: unknown) => e instanceof H5FormatError && /level|twice/.test(e.message));
});
