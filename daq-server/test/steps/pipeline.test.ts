/**
 * The steps inside the server's own machinery: the `legacy` and `pedestal`
 * pipelines planned (flat parameters, one schema) and built as a StepChain
 * with a registry holding these steps, on simulated frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StepRegistry } from '../../src/processing/registry.js';
import { StepChain } from '../../src/processing/chain.js';
import { planProcessing } from '../../src/processing/setup.js';
import { STEP_FACTORIES as LEGACY } from '../../src/processing/steps/index.js';
import { STEP_FACTORIES as JUNGFRAU, pedestalFromSums } from '../../src/processing/jungfrau/index.js';
import type { ImageSpec } from '../../src/processing/types.js';
import { simulate } from '../jungfrau/helpers.js';

const registry = (): StepRegistry => new StepRegistry([...Object.values(LEGACY), ...Object.values(JUNGFRAU)]);
const RAW: ImageSpec = { dtype: 'uint16', shape: [8, 512, 1024], pixelSize: [75e-6, 75e-6] };

test('legacy pipeline on raw Jungfrau: correction first, then binning, rotation, ROI statistics, cast', async () => {
  const reg = registry();
  const section = {
    pipeline: 'legacy',
    output: 'photons',
    bin_x: 2,
    bin_y: 2,
    rotation: 90,
    rois: [{ name: 'all', roi: [0, 0, 1034, 1082] }, { name: 'corner', roi: [0, 0, 10, 10] }],
    output_dtype: 'uint32',
    output_invalid_value: 4294967295,
  };
  const { plan, errors } = planProcessing(section, RAW, reg);
  assert.deepEqual(errors, []);
  assert.deepEqual(plan!.specs.map((s) => s.name), ['jungfrau_correction', ...Object.keys(LEGACY)]);
  const { run, env } = await simulate({ scene: 'flat', flat_mean: 3, seed: 11, pool_size: 1 });
  const built = StepChain.build(plan!.specs, RAW, env, reg);
  assert.deepEqual(built.errors, []);
  const chain = built.chain!;
  assert.deepEqual(chain.output.shape, [1034, 1082], 'binned 2 × 2 then rotated');
  assert.equal(chain.output.dtype, 'uint32');
  assert.equal(chain.output.dummy, 4294967295);
  assert.deepEqual(chain.streams.map((s) => s.name), ['roi_stats', 'roi_profiles']);
  const r = chain.run(0, 0, run.frame(0).data, true);
  const img = r.image as Uint32Array;
  assert.equal(img.length, 1034 * 1082);
  // 2 × 2 bins of ~3 photons; bins touching a gap lose pixels, bins fully in a gap are invalid
  let valid = 0, sum = 0, invalid = 0;
  for (const v of img) {
    if (v === 4294967295) invalid++;
    else {
      valid++;
      sum += v;
    }
  }
  assert.ok(invalid > 0 && invalid < 0.06 * img.length, `${invalid} invalid bins`);
  assert.ok(Math.abs(sum / valid - 12) < 0.3, `mean bin ${sum / valid}`);
  const stats = r.items.find((x) => x.stream === 'roi_stats')!.item as Float64Array;
  assert.equal(stats.length, 10);
  assert.ok(Math.abs(stats[1] - 12) < 0.3, `ROI mean ${stats[1]}`);
  run.close();
});

test('legacy pipeline: a ROI outside the image fails planning-time checks with the processing.rois[i] field', () => {
  const reg = registry();
  const input: ImageSpec = { dtype: 'float32', shape: [100, 200] };
  const { plan } = planProcessing({ pipeline: 'legacy', rois: [{ name: 'a', roi: [0, 0, 5, 5] }, { name: 'b', roi: [90, 190, 20, 20] }] }, input, reg);
  const built = StepChain.build(plan!.specs, input, { detector: {}, maps: {} }, reg);
  assert.equal(built.chain, null);
  assert.equal(built.errors[0].field, 'processing.rois[1]');
  assert.match(built.errors[0].message, /outside the 100 × 200 image \(step roi\)/);
  // unknown parameters are rejected by the pipeline schema
  const bad = planProcessing({ pipeline: 'legacy', clamp: true }, input, reg);
  assert.deepEqual(bad.errors.map((e) => e.field), ['processing.clamp']);
});

test('pedestal pipeline: two chains (receivers) on interleaved dark frames, partials summed = pedestals', async () => {
  const reg = registry();
  const { plan, errors } = planProcessing({ pipeline: 'pedestal' }, RAW, reg);
  assert.deepEqual(errors, []);
  assert.deepEqual(plan!.specs.map((s) => s.name), ['jungfrau_pedestal']);
  const { run, pedestal } = await simulate({ scene: 'dark', dark_gain: 'G1', pool_size: 0, seed: 4 });
  const chains = [0, 1].map(() => StepChain.build(plan!.specs, RAW, { detector: {}, maps: {} }, reg).chain!);
  for (let i = 0; i < 4; i++) chains[i % 2].run(i, i % 2, run.frame(i).data, true);
  const parts = chains.map((c) => c.partials());
  const sum = parts[0].pedestal_sum.map((v, k) => v + parts[1].pedestal_sum[k]);
  const count = parts[0].pedestal_count.map((v, k) => v + parts[1].pedestal_count[k]);
  const ped = pedestalFromSums(sum, count);
  const N = 8 * 512 * 1024;
  let s2 = 0;
  for (let p = 0; p < N; p++) s2 += (ped[N + p] - pedestal[N + p]) ** 2;
  const rms = Math.sqrt(s2 / N);
  const expected = Math.sqrt(9 + 1 / 12) / 2; // σ(G1) = 3 ADU, 4 frames
  assert.ok(Math.abs(rms / expected - 1) < 0.03, `G1 pedestal rms error ${rms} ADU, expected ${expected}`);
  assert.ok(Number.isNaN(ped[0]), 'no G0 frames: G0 pedestal unknown');
  run.close();
});
