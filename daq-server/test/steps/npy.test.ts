/** The .npy reader/writer: numpy's own bytes, round trips, and errors that name the file and the problem. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy, parseNpy, readNpy, writeNpy } from '../../src/processing/steps/index.js';

/** assert that fn throws an error whose message matches re */
function throwsMsg(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.match((e as Error).message, re);
    return true;
  });
}

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

/** Written by numpy 2.4 (np.save / write_array). */
const NUMPY = {
  f4_2x3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPgAAAD8AAEA/AACAPwAAoD8=',
  u2_3: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPHUyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAIA//8=',
  b1_1x2: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAA==',
  f8_scalar: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAMQA==',
  f8_v2: 'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAPA/AAAAAAAAAEA=',
  fortran: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=',
  bigendian: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAP4AAAEAAAAA=',
};

test('reads what numpy writes (v1 and v2 headers, float32/float64/uint16/bool, 0-d)', () => {
  const a = parseNpy(b64(NUMPY.f4_2x3), 'a.npy');
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.shape, [2, 3]);
  assert.deepEqual(Array.from(a.data), [0, 0.25, 0.5, 0.75, 1, 1.25]);
  const u = parseNpy(b64(NUMPY.u2_3));
  assert.equal(u.dtype, 'uint16');
  assert.deepEqual(Array.from(u.data), [1, 2, 65535]);
  const b = parseNpy(b64(NUMPY.b1_1x2));
  assert.equal(b.dtype, 'uint8');
  assert.equal(b.descr, '|b1');
  assert.deepEqual(Array.from(b.data), [1, 0]);
  const s = parseNpy(b64(NUMPY.f8_scalar));
  assert.deepEqual(s.shape, []);
  assert.deepEqual(Array.from(s.data), [3.5]);
  const v2 = parseNpy(b64(NUMPY.f8_v2));
  assert.equal(v2.dtype, 'float64');
  assert.deepEqual(Array.from(v2.data), [0, 1, 2]);
});

test('writes the bytes numpy writes', () => {
  assert.deepEqual(encodeNpy(Float32Array.from([0, 0.25, 0.5, 0.75, 1, 1.25]), [2, 3]), b64(NUMPY.f4_2x3));
  assert.deepEqual(encodeNpy(Uint16Array.from([1, 2, 65535]), [3]), b64(NUMPY.u2_3));
});

test('round trips through files; the data start 64-byte aligned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-npy-'));
  try {
    for (const arr of [Float32Array.from([1.5, -2, NaN, 3e30]), Float64Array.from([Math.PI, -0, 1e-300, 7]), Uint16Array.from([0, 1, 0xc000, 0xffff])]) {
      const f = join(dir, `x-${arr.constructor.name}.npy`);
      writeNpy(f, arr, [2, 2]);
      const back = readNpy(f);
      assert.deepEqual(back.shape, [2, 2]);
      assert.equal(back.data.constructor, arr.constructor);
      assert.deepEqual(Array.from(back.data), Array.from(arr));
      assert.equal(encodeNpy(arr, [2, 2]).length % 64, (arr.byteLength % 64));
    }
    // a 4-D calibration-like shape
    const big = new Float32Array(3 * 2 * 4 * 5).map((_, k) => k * 0.5);
    writeNpy(join(dir, 'cal.npy'), big, [3, 2, 4, 5]);
    const c = readNpy(join(dir, 'cal.npy'));
    assert.deepEqual(c.shape, [3, 2, 4, 5]);
    assert.equal(c.data[59], 29.5);
    assert.throws(() => encodeNpy(big, [3, 2, 4]), /shape \[3, 2, 4\] has 24 elements, data has 120/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errors name the file and what is wrong', () => {
  const bytes = b64(NUMPY.f4_2x3);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), /^bad\.npy: not a \.npy file \(the magic string/],
    [Uint8Array.from([...bytes.slice(0, 6), 3, 0, ...bytes.slice(8)]), /^bad\.npy: unsupported \.npy format version 3\.0/],
    [b64(NUMPY.fortran), /^bad\.npy: Fortran-order arrays are not read/],
    [b64(NUMPY.bigendian), /^bad\.npy: unsupported dtype \(big-endian/],
    [bytes.slice(0, bytes.length - 3), /^bad\.npy: truncated data: shape \[2, 3\] <f4 needs 24 bytes, the file has 21/],
    [Uint8Array.from([...bytes, 0, 0, 0, 0]), /^bad\.npy: trailing bytes after the data/],
    [bytes.slice(0, 40), /^bad\.npy: truncated \.npy header/],
  ];
  for (const [b, re] of cases) throwsMsg(() => parseNpy(b, 'bad.npy'), re);
  // header problems
  const header = (dict: string): Uint8Array => {
    const text = dict.padEnd(117, ' ') + '\n';
    const out = new Uint8Array(128 + 8);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0]);
    for (let k = 0; k < text.length; k++) out[10 + k] = text.charCodeAt(k);
    return out;
  };
  throwsMsg(() => parseNpy(header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }"), 'h.npy'), /h\.npy: the \.npy header must have exactly the keys descr, fortran_order, shape/);
  throwsMsg(() => parseNpy(header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }"), 'h.npy'), /h\.npy: unsupported dtype; supported: /);
  throwsMsg(() => parseNpy(header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }"), 'h.npy'), /shape must be a tuple of non-negative integers/);
  throwsMsg(() => parseNpy(header("{'descr': '<f4' 'fortran_order': False}"), 'h.npy'), /h\.npy: bad \.npy header \(expected , or \}/);
  throwsMsg(() => readNpy('/nonexistent/dir/pedestal.npy'), /^\/nonexistent\/dir\/pedestal\.npy: no such file$/);
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-npy-'));
  try {
    const f = join(dir, 'text.npy');
    writeFileSync(f, 'hello, not numpy');
    throwsMsg(() => readNpy(f), new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a \\.npy file`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
