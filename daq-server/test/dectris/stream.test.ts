/** Stream2 and stream v1 messages made by hand → what the receivers hand over, and each kind of bad input named. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStream2 } from '../../src/detectors/dectris/stream2.js';
import { parseStream1 } from '../../src/detectors/dectris/stream1.js';
import { decodeBlob, BlobError } from '../../src/detectors/dectris/blobs.js';
import { StreamError, type SeriesImage } from '../../src/detectors/dectris/messages.js';
import { bslz4Compress, bslz4MaxCompressedSize } from '../../src/saving/codec/index.js';
import { lz4CompressBlock, lz4CompressBound } from '../../src/saving/codec/lz4.js';
import { message, Tag } from './cbor-encode.js';

const ROWS = 37;
const COLS = 53;
const frame16 = (seed: number): Uint16Array => Uint16Array.from({ length: ROWS * COLS }, (_, k) => ((k * 7 + seed) % 300) * (k % 5 === 0 ? 0 : 1));
const bytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function bslz4(a: Uint16Array | Uint32Array): Uint8Array {
  const src = bytes(a);
  const out = new Uint8Array(bslz4MaxCompressedSize(src.length, a.BYTES_PER_ELEMENT));
  return out.subarray(0, bslz4Compress(src, a.BYTES_PER_ELEMENT, out));
}

/** The HDF5 LZ4 filter's framing, with 1000-byte blocks. */
function lz4Hdf5(src: Uint8Array, block = 1000): Uint8Array {
  const parts: number[] = [];
  const u32 = (n: number) => parts.push((n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255);
  u32(0);
  u32(src.length);
  u32(block);
  for (let p = 0; p < src.length; p += block) {
    const chunk = src.subarray(p, Math.min(src.length, p + block));
    const out = new Uint8Array(lz4CompressBound(chunk.length));
    const n = lz4CompressBlock(chunk, out);
    u32(n);
    parts.push(...out.subarray(0, n));
  }
  return Uint8Array.from(parts);
}

const image = (data: unknown, extra: Record<string, unknown> = {}) =>
  message({ type: 'image', series_id: 4, series_unique_id: 'U4', image_id: 3, start_time: [1, 10], stop_time: [3, 10], real_time: [2, 10], data, ...extra });
const array = (inner: unknown, dims = [ROWS, COLS]) => new Tag(40, [dims, inner]);

function decoded(m: SeriesImage, ch = 'threshold_1') {
  const e = m.data[ch];
  return decodeBlob(e.blob, e.encoding, e.dtype, e.shape[0] * e.shape[1]);
}

test('Stream2 start, image (bslz4, lz4, plain, two channels) and end', () => {
  const start = parseStream2(message({ type: 'start', series_id: 4, series_unique_id: 'U4', channels: ['threshold_1', 'threshold_2'], image_size_x: COLS, image_size_y: ROWS, image_dtype: 'uint16', beam_center_x: 12.5, arm_date: new Tag(0, '2026-12-07T10:00:00Z'), pixel_mask: { threshold_1: array(new Tag(70, bytes(new Uint32Array(ROWS * COLS)))) } }));
  assert.equal(start.type, 'start');
  if (start.type !== 'start') return;
  assert.deepEqual(start.image_size, [ROWS, COLS]);
  assert.deepEqual(start.channels, ['threshold_1', 'threshold_2']);
  assert.equal(start.fields.beam_center_x, 12.5);
  assert.equal(start.fields.arm_date, '2026-12-07T10:00:00Z');
  assert.equal(start.pixel_mask.threshold_1.dtype, 'uint32');
  const a = frame16(1);
  const b = frame16(2);
  const m = parseStream2(image({ threshold_1: array(new Tag(69, new Tag(56500, ['bslz4', 2, bslz4(a)]))), threshold_2: array(new Tag(69, new Tag(56500, ['lz4', 2, lz4Hdf5(bytes(b))]))) })) as SeriesImage;
  assert.equal(m.image_id, 3);
  assert.equal(m.stop_time, 0.3);
  assert.deepEqual(decoded(m), a);
  assert.deepEqual(decoded(m, 'threshold_2'), b);
  const plain = parseStream2(image({ threshold_1: array(new Tag(69, bytes(a))) })) as SeriesImage;
  assert.deepEqual(decoded(plain), a);
  const u32 = Uint32Array.from(a, (v) => v * 70000);
  const wide = parseStream2(image({ threshold_1: array(new Tag(70, new Tag(56500, ['bslz4', 4, bslz4(u32)]))) })) as SeriesImage;
  assert.deepEqual(decoded(wide), u32);
  assert.deepEqual(parseStream2(message({ type: 'end', series_id: 4, series_unique_id: 'U4' })), { type: 'end', series_id: 4, series_unique_id: 'U4' });
});

test('Stream2 bad input: garbage, not a map, unknown type, missing ids, unknown tags and compressions, bad dims', () => {
  const named = (bytes: Uint8Array, re: RegExp) => assert.throws(() => parseStream2(bytes), (e: Error) => e instanceof StreamError && re.test(e.message), String(re));
  named(Uint8Array.from([0xd9, 0xd9, 0xf7, 0xbf, 0x61]), /garbage CBOR/);
  named(message([1, 2]), /not a map/);
  named(message({ type: 'preview', series_id: 1 }), /unknown Stream2 message type/);
  named(message({ type: 'image', series_id: 1, data: {} }), /image_id/);
  const bad = (data: unknown) => (parseStream2(image({ threshold_1: data })) as SeriesImage).bad.threshold_1;
  assert.match(bad(array(new Tag(4242, new Uint8Array(4)))), /unknown tag 4242/);
  assert.match(bad(array(new Tag(69, new Tag(99, ['bslz4', 2, new Uint8Array(4)])))), /unknown tag 99 inside/);
  assert.match(bad(array(new Tag(69, new Tag(56500, ['zstd', 2, new Uint8Array(4)])))), /unknown DECTRIS compression "zstd"/);
  assert.match(bad(array(new Tag(69, new Uint8Array(4)), [ROWS])), /dimensions/);
  assert.match(bad('a string'), /expected a typed array/);
});

test('blobs: truncated compressed blocks and wrong declared sizes are BlobErrors, never garbage frames', () => {
  const a = frame16(3);
  const c = bslz4(a);
  const n = ROWS * COLS;
  assert.throws(() => decodeBlob(c.subarray(0, c.length - 20), 'bslz4', 'uint16', n), BlobError);
  assert.throws(() => decodeBlob(c, 'bslz4', 'uint16', n + 8), /declares/);
  assert.throws(() => decodeBlob(new Uint8Array(10), 'none', 'uint16', n), /declares/);
  const l = lz4Hdf5(bytes(a));
  assert.throws(() => decodeBlob(l.subarray(0, l.length - 5), 'lz4-hdf5', 'uint16', n), BlobError);
  assert.throws(() => decodeBlob(l, 'lz4-hdf5', 'uint16', n - 1), /declares/);
  // bslz4 without its 12-byte header (some v1 emitters) decodes the same
  assert.deepEqual(decodeBlob(c.subarray(12), 'bslz4', 'uint16', n), a);
});

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

test('stream v1: header with config and maps, images in lz4< / bs16-lz4< (with and without header) / bs32-lz4<, end', () => {
  const a = frame16(5);
  const raw = new Uint8Array(lz4CompressBound(a.byteLength));
  const lz4 = raw.subarray(0, lz4CompressBlock(bytes(a), raw));
  const u32 = Uint32Array.from(a, (v) => v + 100000);
  const img = (frame: number, encoding: string, blob: Uint8Array, type = 'uint16') => [
    json({ htype: 'dimage-1.0', series: 9, frame, hash: '' }),
    json({ htype: 'dimage_d-1.0', shape: [COLS, ROWS], type, encoding, size: blob.length }),
    blob,
    json({ htype: 'dconfig-1.0', start_time: 0, stop_time: 2e8, real_time: 1e8 }),
  ];
  const mask = new Uint32Array(ROWS * COLS).fill(1);
  const { messages, errors } = parseStream1([
    json({ htype: 'dheader-1.0', series: 9, header_detail: 'all' }),
    json({ x_pixels_in_detector: COLS, y_pixels_in_detector: ROWS, count_time: 0.1 }),
    json({ htype: 'dpixelmask-1.0', shape: [COLS, ROWS], type: 'uint32' }),
    bytes(mask),
    ...img(0, 'lz4<', lz4),
    ...img(1, 'bs16-lz4<', bslz4(a)),
    ...img(2, 'bs16-lz4<', bslz4(a).subarray(12)),
    ...img(3, 'bs32-lz4<', bslz4(u32), 'uint32'),
    json({ htype: 'dseries_end-1.0', series: 9 }),
  ]);
  assert.deepEqual(errors, []);
  assert.deepEqual(messages.map((m) => m.type), ['start', 'image', 'image', 'image', 'image', 'end']);
  const start = messages[0];
  assert.ok(start.type === 'start');
  assert.deepEqual(start.image_size, [ROWS, COLS]);
  assert.equal(start.fields.count_time, 0.1);
  assert.deepEqual(start.pixel_mask.threshold_1.shape, [ROWS, COLS]);
  for (const k of [1, 2, 3]) assert.deepEqual(decoded(messages[k] as SeriesImage), a, `frame ${k - 1}`);
  assert.deepEqual(decoded(messages[4] as SeriesImage), u32);
  assert.equal((messages[1] as SeriesImage).stop_time, 0.2);
});

test('stream v1 bad input: unknown htype, not JSON, truncated image, unknown encoding, wrong size', () => {
  assert.match(parseStream1([json({ htype: 'dnonsense-1.0' })]).errors[0], /unknown htype/);
  assert.match(parseStream1([Uint8Array.from([0xff, 0x00])]).errors[0], /not JSON/);
  assert.match(parseStream1([json({ htype: 'dimage-1.0', series: 1, frame: 0 }), json({ htype: 'dimage_d-1.0', shape: [2, 2], type: 'uint16', encoding: '<' })]).errors[0], /blob missing/);
  const one = (d: Record<string, unknown>, blob = new Uint8Array(8)) => parseStream1([json({ htype: 'dimage-1.0', series: 1, frame: 0 }), json({ htype: 'dimage_d-1.0', ...d }), blob]).messages[0] as SeriesImage;
  assert.match(one({ shape: [2, 2], type: 'uint16', encoding: 'zstd<' }).bad.threshold_1, /unknown encoding/);
  assert.match(one({ shape: [2, 2], type: 'uint16', encoding: '<', size: 99 }).bad.threshold_1, /declares size 99/);
  assert.deepEqual(one({ shape: [2, 2], type: 'uint16', encoding: '<' }).data.threshold_1.shape, [2, 2]);
});
