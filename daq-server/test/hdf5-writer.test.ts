import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { H5Writer, lookup3, readChunk } from '../src/saving/hdf5/index.js';
import {
  encodeAttribute,
  encodeDataspace,
  encodeDatatype,
  encodeFilterPipeline,
  encodeFixedArrayLayout,
  encodeHardLink,
  encodeHyperslabSelection,
  encodeVlenStringType,
  normalizeSlab,
} from '../src/saving/hdf5/encode.js';
import { chunkSizeLen } from '../src/saving/hdf5/indexes.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function tmpFile(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'h5w-'));
  return path.join(dir, name);
}

test('lookup3 matches the reference values of hashlittle', () => {
  assert.equal(lookup3(new Uint8Array(0)), 0xdeadbeef);
  assert.equal(lookup3(Buffer.from('Four score and seven years ago')), 0x17770551);
  assert.equal(lookup3(Buffer.from('Four score and seven years ago'), 1), 0xcd628161);
  // every tail length 0..12 and more than one block: stable, different values
  const seen = new Set<number>();
  for (let n = 0; n < 40; n++) seen.add(lookup3(Buffer.alloc(n, 0x61)));
  assert.equal(seen.size, 40);
});

test('lookup3 verifies a superblock written by the HDF5 library', () => {
  // first 44 bytes of a v3 superblock written by h5py/HDF5 2.0, followed by its checksum
  const sb = Buffer.from(
    '894844460d0a1a0a' + '03080800' + '0000000000000000' + 'ffffffffffffffff' + '0018000000000000' + '3000000000000000' + '41898907',
    'hex',
  );
  assert.equal(lookup3(sb.subarray(0, 44)), sb.readUInt32LE(44));
});

test('datatype encodings match the library', () => {
  assert.equal(hex(encodeDatatype('u2')), '100000000200000000001000');
  assert.equal(hex(encodeDatatype('i4')), '100800000400000000002000');
  assert.equal(hex(encodeDatatype('f4')), '11201f00040000000000200017080017' + '7f000000');
  assert.equal(hex(encodeDatatype('f8')), '11203f000800000000004000340b0034ff030000');
  // vlen UTF-8 string with an unsigned char base type (as h5py writes it)
  assert.equal(hex(encodeVlenStringType()), '19010100100000001000000001000000' + '00000800');
});

test('dataspace, link, attribute, layout and filter encodings', () => {
  assert.equal(hex(encodeDataspace([])), '02000000');
  assert.equal(
    hex(encodeDataspace([5, 4], [null, 4])),
    '0202010105000000000000000400000000000000ffffffffffffffff0400000000000000',
  );
  assert.equal(hex(encodeHardLink('v', 0xb3)), '01000176b300000000000000');
  const attr = encodeAttribute('s', encodeVlenStringType(), encodeDataspace([]), Buffer.alloc(16));
  assert.equal(attr.length, 51); // same size as the library's scalar vlen string attribute 's'
  assert.equal(hex(attr.subarray(0, 10)), '03000200140004000073');
  assert.equal(hex(encodeFixedArrayLayout([1, 4], 2, 10, -1)), '040200030101040203' + '0a' + 'ff'.repeat(8));
  assert.equal(hex(encodeFilterPipeline([{ id: 1, cdValues: [4] }])), '0201' + '0100' + '0000' + '0100' + '04000000');
  const bs = encodeFilterPipeline([{ id: 32008, name: 'bitshuffle', cdValues: [0, 3, 2, 0, 2] }]);
  assert.equal(bs.readUInt16LE(2), 32008);
  assert.equal(bs.readUInt16LE(4), 'bitshuffle'.length + 1);
  assert.equal(bs.readUInt16LE(8), 5);
  assert.equal(bs.length, 2 + 8 + 11 + 20);
});

test('hyperslab selection serialization (version 2, regular)', () => {
  const s = encodeHyperslabSelection(normalizeSlab({ start: [1, 0], stride: [3, 1], count: [10, 1], block: [1, 4] }, 2, 't'));
  assert.equal(s.length, 17 + 64);
  assert.equal(s.readUInt32LE(0), 2); // hyperslab
  assert.equal(s.readUInt32LE(4), 2); // version
  assert.equal(s[8], 1); // regular
  assert.equal(s.readUInt32LE(9), 4 + 64);
  assert.equal(s.readUInt32LE(13), 2);
  assert.deepEqual([0, 1, 2, 3].map((k) => Number(s.readBigUInt64LE(17 + 8 * k))), [1, 3, 10, 1]);
  assert.throws(() => normalizeSlab({ start: [0], stride: [1], count: [2], block: [2] }, 1, 't'), /overlap/);
});

test('chunk size field width follows the library formula', () => {
  assert.equal(chunkSizeLen(1), 2);
  assert.equal(chunkSizeLen(255), 2);
  assert.equal(chunkSizeLen(256), 3);
  assert.equal(chunkSizeLen(40), 2);
  assert.equal(chunkSizeLen(1024 * 1024 * 2), 4);
});

test('superblock and object headers carry valid checksums; EOF never beyond the file', () => {
  const p = tmpFile('a.h5');
  const w = H5Writer.create(p);
  w.root.group('entry', { NX_class: 'NXentry' });
  w.flush();
  const buf = fs.readFileSync(p);
  assert.equal(hex(buf.subarray(0, 8)), '894844460d0a1a0a');
  assert.equal(buf[8], 2);
  assert.equal(lookup3(buf.subarray(0, 44)), buf.readUInt32LE(44));
  const eof = Number(buf.readBigUInt64LE(28));
  assert.ok(eof <= buf.length);
  const rootAddr = Number(buf.readBigUInt64LE(36));
  assert.equal(buf.subarray(rootAddr, rootAddr + 4).toString('latin1'), 'OHDR');
  const flags = buf[rootAddr + 5];
  const sizeBytes = [1, 2, 4, 8][flags & 3];
  const size = buf.readUIntLE(rootAddr + 6, sizeBytes);
  const end = rootAddr + 6 + sizeBytes + size;
  assert.equal(lookup3(buf.subarray(rootAddr, end)), buf.readUInt32LE(end));
  w.close();
  w.close(); // idempotent
});

test('writeChunk writes the given bytes where it says and grows the shape', () => {
  const p = tmpFile('b.h5');
  const w = H5Writer.create(p);
  const ds = w.root.chunked('d', { dtype: 'u2', shape: [0, 2, 2], maxShape: [10, 2, 2], chunk: [1, 2, 2] });
  const bytes = new Uint8Array(new Uint16Array([1, 2, 3, 4]).buffer);
  const loc = ds.writeChunk([3, 0, 0], bytes);
  assert.deepEqual(ds.shape, [4, 2, 2]);
  assert.equal(loc.size, 8);
  w.close();
  const fd = fs.openSync(p, 'r');
  try {
    assert.deepEqual([...readChunk(fd, loc)], [...bytes]);
  } finally {
    fs.closeSync(fd);
  }
});

test('create never writes through a link: exclusive, and overwrite replaces the entry, not the target', () => {
  const p = tmpFile('link.h5');
  const victim = path.join(path.dirname(p), 'victim.txt');
  fs.writeFileSync(victim, 'victim');
  fs.symlinkSync(victim, p);
  assert.throws(() => H5Writer.create(p), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
  const dangling = p + '.dangling';
  fs.symlinkSync(path.join(path.dirname(p), 'nowhere'), dangling);
  assert.throws(() => H5Writer.create(dangling), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
  assert.equal(fs.existsSync(path.join(path.dirname(p), 'nowhere')), false);
  H5Writer.create(p, { overwrite: true }).close();
  assert.equal(fs.readFileSync(victim, 'utf8'), 'victim');
  assert.equal(fs.lstatSync(p).isSymbolicLink(), false);
  // a hard link to an existing file: overwrite makes a new file, the other name keeps the old content
  const other = p + '.other';
  fs.writeFileSync(other, 'other');
  fs.rmSync(p);
  fs.linkSync(other, p);
  H5Writer.create(p, { overwrite: true }).close();
  assert.equal(fs.readFileSync(other, 'utf8'), 'other');
  assert.notEqual(fs.statSync(p).ino, fs.statSync(other).ino);
  const dir = p + '.dir';
  fs.mkdirSync(dir);
  assert.throws(() => H5Writer.create(dir, { overwrite: true }), (e: NodeJS.ErrnoException) => e.code === 'EISDIR');
});

test('error cases: EEXIST, names, duplicates, maxShape, chunk size, closed', () => {
  const p = tmpFile('c.h5');
  const w = H5Writer.create(p);
  assert.throws(() => H5Writer.create(p), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
  H5Writer.create(p + '.2').close();
  H5Writer.create(p + '.2', { overwrite: true }).close();

  const g = w.root.group('entry');
  assert.throws(() => w.root.group('entry'), /'\/entry' already exists/);
  assert.throws(() => g.dataset('a/b', [1]), /must not contain '\/'/);
  assert.throws(() => g.group(''), /non-empty/);
  g.dataset('x', [1, 2]);
  assert.throws(() => g.softLink('x', '/entry'), /'\/entry\/x' already exists/);
  assert.throws(() => g.dataset('bad', [1, 2, 3], { shape: [2, 2] }), /does not hold 3 elements/);

  const ds = g.chunked('frames', { dtype: 'u2', shape: [0, 2, 2], maxShape: [3, 2, 2], chunk: [1, 2, 2] });
  const chunk = new Uint8Array(8);
  ds.writeChunk([2, 0, 0], chunk);
  assert.throws(() => ds.writeChunk([3, 0, 0], chunk), /beyond maxShape/);
  assert.throws(() => ds.writeChunk([0, 1, 0], chunk), /not a multiple of the chunk shape/);
  assert.throws(() => ds.writeChunk([0, 0, 0], new Uint8Array(7)), /must be 8 bytes/);
  assert.throws(() => ds.resize([4, 2, 2]), /cannot resize/);
  assert.throws(() => ds.append(new Uint16Array(4)), /whole rows|beyond maxShape/);
  assert.throws(
    () => g.chunked('z', { dtype: 'u2', shape: [0, 2], maxShape: [null, 2], chunk: [1, 2], filters: [{ id: 1, cdValues: [1] }] }).append(new Uint16Array(2)),
    /only for datasets without filters/,
  );
  assert.throws(
    () =>
      g.virtual('v', {
        dtype: 'u2',
        shape: [4],
        sources: [{ file: 'x.h5', dataset: '/d', src: { start: [0], count: [3] }, dst: { start: [0], count: [4] } }],
      }),
    /src selects 3 elements but dst 4/,
  );
  assert.throws(
    () =>
      g.virtual('v', {
        dtype: 'u2',
        shape: [4],
        sources: [{ file: 'x.h5', dataset: '/d', src: { start: [0], count: [2] }, dst: { start: [3], count: [2] } }],
      }),
    /beyond 4/,
  );
  w.close();
  assert.throws(() => g.group('late'), /closed/);
  assert.throws(() => ds.writeChunk([0, 0, 0], chunk), /closed/);
});

test('append fills chunks of whole rows and keeps partial chunks across flushes', () => {
  const p = tmpFile('d.h5');
  const w = H5Writer.create(p);
  const t = w.root.chunked('t', { dtype: 'f8', shape: [0, 2], maxShape: [null, 2], chunk: [3, 2] });
  t.append(new Float64Array([0, 1, 2, 3]));
  w.flush();
  t.append(new Float64Array([4, 5, 6, 7, 8, 9, 10, 11]));
  assert.deepEqual(t.shape, [6, 2]);
  w.close();
  const sizeAfter = fs.statSync(p).size;
  // two chunks of 48 bytes + metadata; the partial chunk was completed in place
  assert.ok(sizeAfter < 20_000);
});

test('flush cost does not grow with chunks already flushed (fixed array pages, B-tree nodes)', () => {
  const p = tmpFile('e.h5');
  const w = H5Writer.create(p);
  const ds = w.root.chunked('d', { dtype: 'u1', shape: [0, 4], maxShape: [null, 4], chunk: [1, 4] });
  const fa = w.root.chunked('f', { dtype: 'u1', shape: [0, 4], maxShape: [100_000, 4], chunk: [1, 4] });
  const row = new Uint8Array(4);
  const timeFlush = (): number => {
    const t0 = process.hrtime.bigint();
    w.flush();
    return Number(process.hrtime.bigint() - t0);
  };
  for (let i = 0; i < 50_000; i++) {
    ds.writeChunk([i, 0], row);
    fa.writeChunk([i, 0], row);
  }
  w.flush();
  ds.writeChunk([50_000, 0], row);
  fa.writeChunk([50_000, 0], row);
  const before = fs.statSync(p).size;
  const dt = timeFlush();
  const grown = fs.statSync(p).size - before;
  assert.ok(grown < 10_000, `a flush after one chunk added ${grown} bytes`);
  assert.ok(dt < 50e6, `flush took ${dt / 1e6} ms`);
  w.close();
});
