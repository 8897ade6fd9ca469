/**
 * The simulated detector's CBOR encoder against RFC 8949 Appendix A and
 * RFC 8746, and its frame encodings against our own decoders (the Python
 * tests decode with cbor2 and dectris-compression).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Encoded, Float, Tagged, encode, encodeSelfDescribed, multiDimArray, typedArray } from '../../src/detector-sim/cbor.js';
import { encodeFrame, lz4H5 } from '../../src/detector-sim/frames.js';
import { bslz4Decompress } from '../../src/saving/codec/bslz4.js';
import { lz4DecompressBlock } from '../../src/saving/codec/lz4.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('RFC 8949 Appendix A examples', () => {
  const cases: [Parameters<typeof encode>[0], string][] = [
    [0, '00'],
    [23, '17'],
    [24, '1818'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [18446744073709551615n, '1bffffffffffffffff'],
    [-1, '20'],
    [-1000, '3903e7'],
    [1.1, 'fb3ff199999999999a'],
    [-4.1, 'fbc010666666666666'],
    [new Float(1), 'fb3ff0000000000000'],
    [false, 'f4'],
    [true, 'f5'],
    [null, 'f6'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    ['ü', '62c3bc'],
    [new Uint8Array([1, 2, 3, 4]), '4401020304'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
    [new Tagged(0, '2013-03-21T20:04:00Z'), 'c074323031332d30332d32315432303a30343a30305a'],
  ];
  for (const [v, want] of cases) assert.equal(hex(encode(v)), want, JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? String(x) : x)));
});

test('maps keep insertion order and leave undefined out; big byte strings are not truncated', () => {
  // {"type": "end", "series_id": 3}: two entries, `type` first
  assert.equal(hex(encode({ type: 'end', skipped: undefined, series_id: 3 })), 'a264747970656365' + '6e64' + '69' + Buffer.from('series_id').toString('hex') + '03');
  const big = new Uint8Array(70000).map((_, k) => k & 0xff);
  const e = encode([big, 1]);
  assert.equal(hex(e.subarray(0, 6)), '825a00011170');
  assert.deepEqual(e.subarray(6, 6 + big.length), big);
  assert.equal(e[e.length - 1], 0x01);
  assert.equal(hex(encode([new Encoded(new Uint8Array([0xf6])), 2])), '82f602');
});

test('self-described Stream2 items, RFC 8746 typed and multi-dimensional arrays, tag 56500', () => {
  assert.equal(hex(encodeSelfDescribed({ a: 1 })), 'd9d9f7a1616101');
  assert.equal(hex(encode(typedArray(new Uint16Array([1, 0x0203])))), 'd8454401000302');
  assert.equal(hex(encode(typedArray(new Uint32Array([1])))), 'd8464401000000');
  assert.equal(hex(encode(typedArray(new Float32Array([1])))), 'd8554400' + '00803f');
  assert.equal(hex(encode(multiDimArray([1, 2], typedArray(new Uint16Array([7, 8]))))), 'd82882820102d84544' + '07000800');
  const compressed = new Tagged(56500, ['bslz4', 4, new Uint8Array([9])]);
  assert.equal(hex(encode(compressed)), 'd9dcb4836562736c7a34044109');
});

test('frames encode losslessly in every compression and both stream forms', () => {
  const frame = new Uint32Array(10007).map((_, k) => (k * 2654435761) % 50);
  frame[3] = 0xffffffff;
  const bytes = new Uint8Array(frame.buffer);
  const bs = encodeFrame(bytes, 4, 'bslz4');
  const out = new Uint8Array(bytes.length);
  assert.equal(bslz4Decompress(bs.stream2, 4, out), bytes.length);
  assert.deepEqual(out, bytes);
  assert.equal(bs.legacy, bs.stream2);
  const lz = encodeFrame(bytes, 4, 'lz4');
  out.fill(0);
  assert.equal(lz4DecompressBlock(lz.legacy, out), bytes.length);
  assert.deepEqual(out, bytes);
  assert.deepEqual(unframe(lz.stream2), bytes);
  const raw = encodeFrame(bytes, 4, 'none');
  assert.deepEqual(raw.stream2, bytes);
  assert.match(raw.md5, /^[0-9a-f]{32}$/);
  // HDF5 LZ4 framing over several blocks (1 MiB each), incompressible blocks stored raw
  const large = new Uint8Array(2.5 * (1 << 20)).map((_, k) => (k * 7919) >>> 3);
  assert.deepEqual(unframe(lz4H5(large)), large);
});

/** Read the HDF5 LZ4 filter framing (u64 BE size, u32 BE block, u32 BE length + block ...). */
function unframe(src: Uint8Array): Uint8Array {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const size = Number(dv.getBigUint64(0));
  const block = dv.getUint32(8);
  const out = new Uint8Array(size);
  let p = 12;
  for (let o = 0; o < size; o += block) {
    const n = dv.getUint32(p);
    const want = Math.min(block, size - o);
    const body = src.subarray(p + 4, p + 4 + n);
    if (n === want) out.set(body, o);
    else assert.equal(lz4DecompressBlock(body, out.subarray(o, o + want)), want);
    p += 4 + n;
  }
  assert.equal(p, src.length);
  return out;
}
