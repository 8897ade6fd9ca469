import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compositeAlpha,
  correctOpacity,
  extendRange,
  fromHalf,
  lodFactors,
  packNormalised,
  rampOpacity,
  sliceToScreen,
  streamLod,
  toHalf,
  toTexture,
} from '../src/volume-math.js';

test('LOD factors: the same rule as daqlab.volume.lod_factors', () => {
  assert.deepEqual(lodFactors([64, 64, 64]), [1, 1, 1]);
  assert.deepEqual(lodFactors([512, 512, 512]), [2, 2, 2]);
  assert.deepEqual(lodFactors([2048, 2048, 2048]), [8, 8, 8]);
  assert.deepEqual(lodFactors([1000, 300, 17], 256), [4, 2, 1]);
  assert.deepEqual(lodFactors([300, 96, 130], 64), [5, 2, 3]);
  // the byte budget shrinks the longest side first, until it fits
  const f = lodFactors([256, 256, 256], 256, 2 * 128 ** 3);
  const sizes = [256, 256, 256].map((n, i) => Math.ceil(n / f[i]));
  assert.ok(sizes[0] * sizes[1] * sizes[2] * 2 <= 2 * 128 ** 3);
});

test('stream LOD: one binning for both image axes, every n-th slice along z, remainder dropped', () => {
  assert.deepEqual(streamLod([20, 1024, 1024]), { every: 1, binning: 4, lodShape: [20, 256, 256] });
  assert.deepEqual(streamLod([600, 514, 1030]), { every: 3, binning: 5, lodShape: [200, 102, 206] });
});

test('float16 packing: exact values, rounding, NaN and infinities', () => {
  for (const v of [0, 1, -1, 0.5, 0.25, 2048, 65504, -2, 2 ** -14, 2 ** -24]) assert.equal(fromHalf(toHalf(v)), v, String(v));
  assert.equal(toHalf(1), 0x3c00);
  assert.equal(toHalf(-0.5), 0xb800);
  assert.equal(fromHalf(toHalf(1e6)), Infinity);
  assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
  // relative error below 2^-11 over [1e-4, 1] (what the LOD keeps of normalised values)
  for (let v = 1e-4; v <= 1; v *= 1.37) assert.ok(Math.abs(fromHalf(toHalf(v)) - v) <= v * 2 ** -11, String(v));
  // subnormals round to nearest
  assert.equal(fromHalf(toHalf(3 * 2 ** -25)), 2 * 2 ** -24);
  // the rounding carry moves into the exponent: 2047.9 → 2048
  assert.equal(fromHalf(toHalf(2047.9)), 2048);
});

test('normalised packing of a slab: (v − lo)/(hi − lo), NaN → −1, scale (sums → means)', () => {
  const out = new Uint16Array(5);
  packNormalised(new Float32Array([10, 20, 30, NaN, 15]), 10, 30, out);
  assert.deepEqual(Array.from(out, fromHalf), [0, 0.5, 1, -1, 0.25]);
  packNormalised(new Uint32Array([40, 80, 120, 0, 60]), 10, 30, out, 0, 0.25); // binned 2×2 sums
  assert.deepEqual(Array.from(out, fromHalf), [0, 0.5, 1, -0.5, 0.25]);
  assert.deepEqual(extendRange(new Float32Array([3, NaN, -2, 7]), [Infinity, -Infinity]), [-2, 7]);
  assert.equal(toTexture(25, 10, 30), 0.75);
  assert.equal(toTexture(5, 5, 5), 0); // a flat volume does not divide by zero
});

test('opacity ramp and step correction: independent of the sampling rate', () => {
  assert.equal(rampOpacity(0, 0.8), 0);
  assert.equal(rampOpacity(0.5, 0.8), 0.4);
  assert.equal(rampOpacity(2, 0.8), 0.8);
  assert.equal(rampOpacity(-1, 0.8), 0);
  assert.ok(Math.abs(correctOpacity(0.3, 1) - 0.3) < 1e-12);
  // two half steps absorb what one whole step does
  const half = correctOpacity(0.3, 0.5);
  assert.ok(Math.abs(1 - (1 - half) ** 2 - 0.3) < 1e-12);
  // a uniform slab of 100 voxels: the same opacity sampled at 1 or 2 samples per voxel
  const one = compositeAlpha(new Float32Array(100).fill(0.05), 0.1, 1);
  const two = compositeAlpha(new Float32Array(200).fill(0.05), 0.1, 0.5);
  assert.ok(Math.abs(one - two) < 1e-9, `${one} vs ${two}`);
  assert.ok(one > 0.3 && one < 0.5);
});

test('slice view: voxel centres on screen, fitted and centred, with the pixel aspect', () => {
  // 10 rows × 20 cols into 400 × 300: 20 px a voxel, 50 px margins top and bottom
  assert.deepEqual(sliceToScreen(0, 0, 10, 20, 400, 300), { x: 10, y: 60, scale: 20 });
  assert.deepEqual(sliceToScreen(9, 19, 10, 20, 400, 300), { x: 390, y: 240, scale: 20 });
  // rows twice as tall as columns are wide: 10 rows span 20 column widths → 15 px a column
  const p = sliceToScreen(9, 0, 10, 20, 400, 300, 2);
  assert.equal(p.scale, 15);
  assert.equal(p.y, (9 + 0.5) * 2 * 15);
  assert.equal(p.x, 50 + 7.5);
});
