/** flip, rotation, binning: composition identities, hand-computed cases, masks follow the image. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binningStep, flipStep, rotationStep, PixelFlag } from '../../src/processing/steps/index.js';
import type { ImageSpec } from '../../src/processing/types.js';
import { make, problems, ramp, sameArray, spec } from './helpers.js';

type Img = { data: Float32Array; spec: ImageSpec };

function rotate(img: Img, angle: number): Img {
  const h = make(rotationStep, { rotation: angle }, img.spec);
  return { data: (h.run(img.data).image as Float32Array).slice(), spec: h.build.output };
}
function flip(img: Img, horizontal: boolean, vertical: boolean): Img {
  const h = make(flipStep, { flip_horizontal: horizontal, flip_vertical: vertical }, img.spec);
  return { data: (h.run(img.data).image as Float32Array).slice(), spec: h.build.output };
}

const R = 3, C = 5;
const base: Img = { data: ramp(R * C, (k) => k + 1), spec: spec([R, C], 'float32', { pixelSize: [1e-4, 2e-4] }) };

test('rotation 90: numpy.rot90 on a hand example', () => {
  // [[1, 2, 3], [4, 5, 6]] → rot90 (counter-clockwise) → [[3, 6], [2, 5], [1, 4]]
  const small: Img = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), spec: spec([2, 3]) };
  const r = rotate(small, 90);
  assert.deepEqual(r.spec.shape, [3, 2]);
  assert.deepEqual(Array.from(r.data), [3, 6, 2, 5, 1, 4]);
  const r270 = rotate(small, 270);
  assert.deepEqual(Array.from(r270.data), [4, 1, 5, 2, 6, 3]);
  const r180 = rotate(small, 180);
  assert.deepEqual(Array.from(r180.data), [6, 5, 4, 3, 2, 1]);
  const fh = flip(small, true, false);
  assert.deepEqual(Array.from(fh.data), [3, 2, 1, 6, 5, 4]);
  const fv = flip(small, false, true);
  assert.deepEqual(Array.from(fv.data), [4, 5, 6, 1, 2, 3]);
});

test('rotation and flip compositions', () => {
  let img = base;
  for (let k = 0; k < 4; k++) img = rotate(img, 90);
  assert.ok(sameArray(img.data, base.data), 'rot90 four times = identity');
  assert.deepEqual(img.spec.shape, [R, C]);
  assert.ok(sameArray(rotate(rotate(base, 90), 270).data, base.data), 'rot90 then rot270 = identity');
  assert.ok(sameArray(rotate(rotate(base, 90), 90).data, rotate(base, 180).data), 'rot90² = rot180');
  assert.ok(sameArray(rotate(base, 180).data, flip(base, true, true).data), 'rot180 = both flips');
  assert.ok(sameArray(flip(flip(base, true, false), true, false).data, base.data), 'flip twice = identity');
  // rot90 = vertical flip of the transpose (numpy: rot90(m) = flipud(m.T))
  const r = rotate(base, 90);
  for (let i = 0; i < C; i++) for (let j = 0; j < R; j++) assert.equal(r.data[i * R + j], base.data[j * C + (C - 1 - i)]);
  assert.deepEqual(r.spec.pixelSize, [2e-4, 1e-4], 'pixel size swaps with the axes');
  assert.deepEqual(rotate(base, 180).spec.pixelSize, [1e-4, 2e-4]);
});

test('flip/rotation carry ctx.vars.mask along; defaults are no-ops', () => {
  const mask = new Uint8Array(R * C);
  mask[1] = 5; // row 0, col 1
  const h = make(rotationStep, { rotation: 90 }, base.spec);
  const ctx = h.run(base.data, 0, { vars: new Map([['mask', mask]]) });
  const m = ctx.vars.get('mask') as Uint8Array;
  const img = ctx.image as Float32Array;
  // the masked pixel (value 2) lands where the mask does
  const at = img.indexOf(2);
  assert.equal(m[at], 5);
  assert.equal(m.reduce((a, b) => a + b, 0), 5);
  assert.equal(mask[1], 5, 'incoming mask untouched');
  for (const [factory, p] of [[flipStep, {}], [rotationStep, {}]] as const) {
    const noop = make(factory as typeof flipStep, p, base.spec);
    assert.equal(noop.run(base.data).image, base.data);
  }
  assert.equal(problems(rotationStep, { rotation: 90 }, spec([2, 3, 4]))[0].field, 'input');
});

test('binning: block sums, remainder dropped, invalid pixels left out, all-invalid bins NaN', () => {
  const rows = 5, cols = 7;
  const img = ramp(rows * cols, (k) => k);
  const h = make(binningStep, { bin_x: 3, bin_y: 2 }, spec([rows, cols], 'float32', { pixelSize: [1, 1] }));
  assert.deepEqual(h.build.output.shape, [2, 2]);
  assert.deepEqual(h.build.output.pixelSize, [2, 3]);
  const out = h.run(img).image as Float32Array;
  const expect = (I: number, J: number): number => {
    let s = 0;
    for (let a = 0; a < 2; a++) for (let b = 0; b < 3; b++) s += (I * 2 + a) * cols + J * 3 + b;
    return s;
  };
  assert.deepEqual(Array.from(out), [expect(0, 0), expect(0, 1), expect(1, 0), expect(1, 1)]);
  // flat image: every bin = 6 × value; total conserved for divisible shapes
  const flat = make(binningStep, { bin_x: 2, bin_y: 2 }, spec([4, 6])).run(new Float32Array(24).fill(1.5)).image;
  assert.deepEqual(Array.from(flat), new Array(6).fill(6));

  const withNan = new Float32Array(16).fill(1);
  withNan[0] = NaN; // bin (0,0): 3 valid pixels
  const mask = new Uint8Array(16);
  mask[2] = mask[3] = mask[6] = mask[7] = 1; // bin (0,1) fully masked
  const hb = make(binningStep, { bin_x: 2, bin_y: 2 }, spec([4, 4]));
  const ctx = hb.run(withNan, 0, { vars: new Map([['mask', mask]]) });
  const o = ctx.image as Float32Array;
  assert.equal(o[0], 3);
  assert.ok(Number.isNaN(o[1]));
  assert.equal(o[2], 4);
  const bm = ctx.vars.get('mask') as Uint8Array;
  assert.deepEqual(Array.from(bm), [0, PixelFlag.NO_DATA, 0, 0]);
  // uint32 with a dummy: dummies left out
  const u = new Uint32Array(4).fill(2);
  u[1] = 4294967295;
  const hu = make(binningStep, { bin_x: 2, bin_y: 2 }, spec([2, 2], 'uint32', { dummy: 4294967295 }));
  assert.equal(hu.build.output.dtype, 'float32');
  assert.equal(hu.run(u).image[0], 6);
});

test('binning: bad factors are field errors; 1 × 1 is a no-op', () => {
  const p = problems(binningStep, { bin_x: 8, bin_y: 9 }, spec([8, 7]));
  assert.deepEqual(p.map((e) => e.field).sort(), ['bin_x', 'bin_y']);
  assert.match(p.find((e) => e.field === 'bin_y')!.message, /larger than the image height 8/);
  assert.throws(() => make(binningStep, { bin_x: 0 }, spec([8, 7])), /bin_x/);
  const img = ramp(6);
  assert.equal(make(binningStep, {}, spec([2, 3])).run(img).image, img);
});
