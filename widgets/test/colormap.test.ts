import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dummyThreshold, fitBinning, formatValue, lutBytes, normalize, percentileRange } from '../src/colormap.js';

const rgb = (lut: Uint8Array, i: number) => Array.from(lut.subarray(i * 4, i * 4 + 4));

test('colour tables: matplotlib end points, reversal, gray', () => {
  const v = lutBytes('viridis');
  assert.equal(v.length, 1024);
  assert.deepEqual(rgb(v, 0), [0x44, 0x01, 0x54, 255]);
  assert.deepEqual(rgb(v, 255), [0xfd, 0xe7, 0x25, 255]);
  const r = lutBytes('viridis', true);
  assert.deepEqual(rgb(r, 0), rgb(v, 255));
  assert.deepEqual(rgb(r, 255), rgb(v, 0));
  assert.deepEqual(rgb(lutBytes('magma'), 0), [0, 0, 4, 255]);
  assert.deepEqual(rgb(lutBytes('inferno'), 255), [0xfc, 0xff, 0xa4, 255]);
  assert.deepEqual(rgb(lutBytes('gray'), 128), [128, 128, 128, 255]);
  assert.deepEqual(rgb(lutBytes('gray', true), 0), [255, 255, 255, 255]);
});

test('normalize: end points, clipping and the shape of each scale', () => {
  for (const scale of ['linear', 'log', 'sqrt'] as const) {
    assert.equal(normalize(10, 10, 110, scale), 0);
    assert.equal(normalize(110, 10, 110, scale), 1);
    assert.equal(normalize(-5, 10, 110, scale), 0, `${scale} clips below`);
    assert.equal(normalize(1e9, 10, 110, scale), 1, `${scale} clips above`);
  }
  assert.equal(normalize(60, 10, 110, 'linear'), 0.5);
  assert.equal(normalize(35, 10, 110, 'sqrt'), 0.5);
  assert.ok(Math.abs(normalize(10 + Math.expm1(0.5 * Math.log1p(100)), 10, 110, 'log') - 0.5) < 1e-12);
  // log spreads the low end: a tenth of the range is well past a tenth of the colours
  assert.ok(normalize(20, 10, 110, 'log') > 0.5);
  // a degenerate range does not divide by zero
  assert.ok(Number.isFinite(normalize(5, 5, 5, 'log')));
});

test('auto range: percentiles, ignoring gap pixels, flat images', () => {
  const data = new Float32Array(10000);
  for (let i = 0; i < data.length; i++) data[i] = i % 1000; // 0..999 uniform
  const [lo, hi] = percentileRange(data, 1, 99);
  assert.ok(Math.abs(lo - 10) <= 2 && Math.abs(hi - 989) <= 2, `${lo} ${hi}`);
  // 5 % gap pixels at 2^32-1 must not become the top of the range
  const gaps = Float64Array.from(data);
  for (let i = 0; i < gaps.length; i += 20) gaps[i] = 2 ** 32 - 1;
  const [, hiGaps] = percentileRange(gaps, 1, 99.5, dummyThreshold('uint32'));
  assert.ok(hiGaps < 1000, `gap pixels leaked into the range: ${hiGaps}`);
  const [, hiNaive] = percentileRange(gaps, 1, 99.5);
  assert.equal(hiNaive, 2 ** 32 - 1);
  assert.deepEqual(percentileRange(new Float32Array(100).fill(7)), [7, 8]);
  assert.deepEqual(percentileRange(new Float32Array(0)), [0, 1]);
});

test('binning to fit the display', () => {
  assert.equal(fitBinning(2048, 2048, 1024), 2);
  assert.equal(fitBinning(2167, 2070, 1024), 3);
  assert.equal(fitBinning(514, 1030, 1024), 2);
  assert.equal(fitBinning(1024, 1024, 1024), 1);
  assert.equal(fitBinning(100, 100, 1024), 1);
});

test('value formatting', () => {
  assert.equal(formatValue(12), '12');
  assert.equal(formatValue(1.5), '1.50');
  assert.equal(formatValue(4294967295), '4.29e+9');
});
