/** The on-demand background path of sparsify / peakfinder gives the same events as the per-pixel arrays. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FrameContext, ImageSpec, StepEnvironment } from '../../src/processing/types.js';
import { peakfinderStep, sparsifyStep } from '../../src/processing/smx/steps.js';
import { interpolateBackground } from '../../src/processing/smx/background.js';
import * as V from '../../src/processing/smx/vars.js';
import { Rng, makeFrame } from './helpers.js';

const ENV: StepEnvironment = { detector: {}, maps: {} };

function run(image: Float32Array, vars: Record<string, unknown>, rows: number, cols: number, params: Record<string, unknown>) {
  const input: ImageSpec = { dtype: 'float32', shape: [rows, cols] };
  const items: { stream: string; item: unknown }[] = [];
  const ctx: FrameContext = { index: 0, receiver: 0, valid: true, image, vars: new Map(Object.entries(vars)), veto: false, emit: (stream, item) => void items.push({ stream, item }) };
  sparsifyStep.create(params, input, ENV).step.process(ctx);
  peakfinderStep.create(params, input, ENV).step.process(ctx);
  return items;
}

test('on-demand background: sparse frames and peaks identical to the per-pixel path', () => {
  const rows = 300, cols = 340;
  const rng = new Rng(9);
  for (const [seed, params] of [
    [1, {}],
    [2, { noise: 1, cutoff_pick: 3, cutoff_peak: 3, patch_size: 3, connected: 2 }],
    [3, { noise: 0.2, cutoff_pick: 1.5, cutoff_peak: 0, connected: 3 }],
    [4, { noise: 0, cutoff_pick: 0, cutoff_peak: 2, peaks_at_border: true, connected: 1 }],
  ] as const) {
    const spots = Array.from({ length: 60 }, () => ({ row: 2 + rng.uniform() * (rows - 4), col: 2 + rng.uniform() * (cols - 4), photons: 50 + 2000 * rng.uniform() }));
    const f = makeFrame({ rows, cols, background: (r, c) => 0.5 + Math.exp(-(((Math.hypot(r - 150, c - 170) - 90) / 30) ** 2)), norm: (r, c) => 1 / (1 + (r * r + c * c) / 1e6), spots, sigma: 1, seed });
    const radius = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) radius[r * cols + c] = (r + c) % 97 === 0 ? NaN : Math.hypot(r - 150, c - 170);
    const n = 120;
    const radial = Float32Array.from({ length: n }, (_, i) => 0.5 + 2 * i);
    const avg = Float32Array.from({ length: n }, (_, i) => 0.5 + Math.exp(-(((0.5 + 2 * i - 90) / 30) ** 2)) + 0.05 * rng.uniform());
    const std = Float32Array.from({ length: n }, () => 0.5 + 0.4 * rng.uniform());
    avg[7] = 0; // an empty bin
    std[7] = 0;
    const ea = new Float32Array(rows * cols), es = new Float32Array(rows * cols);
    interpolateBackground(radius, radial, avg, std, ea, es);
    const common = { [V.VAR_NORM]: f.norm, [V.VAR_VALID]: f.valid, [V.VAR_BACKGROUND_AVG]: avg, [V.VAR_BACKGROUND_STD]: std };
    const dense = run(f.image, { ...common, [V.VAR_BACKGROUND_PIXEL_AVG]: ea, [V.VAR_BACKGROUND_PIXEL_STD]: es }, rows, cols, params);
    const lazy = run(f.image, { ...common, [V.VAR_RADIAL]: radial, [V.VAR_RADIUS_PIXEL]: radius, [V.VAR_BACKGROUND_ON_DEMAND]: true }, rows, cols, params);
    const nPeaks = dense.filter((x) => x.stream === 'peaks').length;
    assert.ok(nPeaks > 5, `seed ${seed}: ${nPeaks} peaks`);
    assert.deepEqual(lazy, dense, `seed ${seed}`);
  }
});

test('accumulate: the SIMD float32 block gives the scalar sums (odd size, NaN, invalid pixels, more frames than a block)', async () => {
  const { SumImage } = await import('../../src/processing/smx/accumulate.js');
  const size = 1003;
  const rng = new Rng(3);
  const valid = Uint8Array.from({ length: size }, (_, k) => (k % 13 === 0 ? 0 : 1));
  const acc = new SumImage(size), ref = new Float64Array(size);
  for (let f = 0; f < 37; f++) {
    const img = Float32Array.from({ length: size }, () => Math.floor(rng.uniform() * 50));
    img[(f * 7) % size] = NaN;
    img[(f * 11) % size] = Infinity;
    acc.addImage(img, f % 5 === 0 ? null : valid);
    for (let k = 0; k < size; k++) if ((f % 5 === 0 || valid[k]) && Number.isFinite(img[k])) ref[k] += img[k];
    if (f === 20) assert.deepEqual(Array.from(acc.partial()), Array.from(Float32Array.from(ref)));
  }
  assert.deepEqual(Array.from(acc.partial()), Array.from(Float32Array.from(ref)));
  assert.equal(acc.frames, 37);
});
