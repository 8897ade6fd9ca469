/** Bitshuffle + zstd: a chunk compressed by hdf5plugin (real zstd) decodes; our RLE/raw frames round-trip; bad chunks are named. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decompress as fzstd } from 'fzstd';
import { bszstdCompress, bszstdDecompress, BszstdError, zstdStoredFrame } from '../../src/saving/codec/bszstd.js';
import { decodeBlob, BlobError } from '../../src/detectors/dectris/blobs.js';
import { BSZSTD_ARRAY, BSZSTD_CHUNK } from './bszstd-fixture.js';

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

test('a chunk hdf5plugin compressed with Bitshuffle(cname=zstd) decodes to its array', () => {
  const chunk = b64(BSZSTD_CHUNK);
  const want = b64(BSZSTD_ARRAY);
  const out = new Uint8Array(want.length);
  bszstdDecompress(chunk, 2, out);
  assert.deepEqual(out, want);
  // through the receivers' blob decoding, as a Stream2 `bszstd` image
  assert.deepEqual(decodeBlob(chunk, 'bszstd', 'uint16', 37 * 53), new Uint16Array(want.buffer, want.byteOffset, 37 * 53));
});

test('our stored zstd frames (RLE and raw blocks) are standard: fzstd reads them', () => {
  const src = new Uint8Array(300_000);
  for (let k = 0; k < src.length; k++) src[k] = k % 1000 < 700 ? 0 : (k * 31) & 255;
  const frame = zstdStoredFrame(src);
  assert.ok(frame.length < src.length / 2, `${frame.length} bytes: the zero runs are RLE blocks`);
  assert.deepEqual(fzstd(frame), src);
  assert.deepEqual(fzstd(zstdStoredFrame(new Uint8Array(0))), new Uint8Array(0));
});

test('bitshuffle + zstd round-trips int32 frames with a tail of fewer than 8 elements', () => {
  for (const n of [1, 7, 8, 4099, 514 * 1030 + 3]) {
    const a = Int32Array.from({ length: n }, (_, k) => (k % 13 === 0 ? -(2 ** 31) : (k * 2654435761) % 5000) - 100);
    const bytes = new Uint8Array(a.buffer);
    const out = new Uint8Array(bytes.length);
    bszstdDecompress(bszstdCompress(bytes, 4), 4, out);
    assert.deepEqual(out, bytes, `${n} elements`);
  }
});

test('truncated blocks, a wrong declared size and trailing bytes are named', () => {
  const chunk = b64(BSZSTD_CHUNK);
  const out = new Uint8Array(37 * 53 * 2);
  assert.throws(() => bszstdDecompress(chunk.subarray(0, 200), 2, out), (e: Error) => e instanceof BszstdError && /claims \d+ bytes/.test(e.message));
  assert.throws(() => bszstdDecompress(chunk, 2, new Uint8Array(out.length + 2)), /declares 3922 bytes, the image is 3924/);
  assert.throws(() => bszstdDecompress(chunk.subarray(0, 8), 2, out), /shorter than its 12-byte header/);
  const bad = chunk.slice();
  bad[20] ^= 0xff; // inside the zstd frame header
  assert.throws(() => decodeBlob(bad, 'bszstd', 'uint16', 37 * 53), (e: Error) => e instanceof BlobError && e.message.startsWith('bszstd:'));
});
