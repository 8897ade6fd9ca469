/**
 * `flatfield`: out = image / flat', with flat' = flat / ⟨flat⟩ when
 * `flat_normalize` (the mean over the usable flat pixels: finite and > 0),
 * else flat' = flat. The flat comes from `flat_file` (.npy) or the `flat`
 * map. Pixels whose flat is not usable (≤ 0, NaN, ±∞) and input dummies
 * become NaN. Float output (float64 stays float64, else float32). The
 * division is precomputed: the per-frame work is one multiply per pixel.
 * Without a flat the step does nothing.
 */
import type { ImageSpec, StepBuild, StepEnvironment, StepFactory } from '../types.js';
import { checkImageMap, fileParam, findMap, floatOut, outputBuffer, paramsSchema, withDefaults } from './common.js';

export type FlatfieldParams = {
  flat_file: string | null;
  flat_normalize: boolean;
};

const schema = paramsSchema('flatfield', {
  flat_file: fileParam('Flat-field .npy file of the image shape; default: the `flat` map, else no correction.'),
  flat_normalize: { type: 'boolean', default: true, description: 'Normalise the flat to a mean of 1 over its usable pixels before dividing.' },
});

export const flatfieldStep: StepFactory<FlatfieldParams> = {
  name: 'flatfield',
  description: 'Flat-field correction: image divided by the (normalised) flat.',
  schema,
  check(raw, input, env) {
    const p = withDefaults<FlatfieldParams>(schema, raw);
    const problems = checkImageMap(env, input, 'flat', 'flat_file', p.flat_file, false);
    if (problems.length) return problems;
    const map = findMap(env, 'flat', p.flat_file);
    if (map) {
      let usable = 0;
      for (let k = 0; k < map.data.length; k++) if (map.data[k] > 0 && Number.isFinite(map.data[k])) usable++;
      if (usable === 0) return [{ field: 'flat_file', message: `${map.origin} has no usable pixel (finite and > 0)` }];
    }
    return [];
  },
  create(raw, input: ImageSpec, env: StepEnvironment): StepBuild {
    const p = withDefaults<FlatfieldParams>(schema, raw);
    const map = findMap(env, 'flat', p.flat_file);
    if (!map) return { step: { process() {} }, output: input, streams: [] };
    const n = map.data.length;
    const inv = new Float32Array(n);
    let sum = 0, usable = 0;
    for (let k = 0; k < n; k++) {
      const f = map.data[k];
      if (f > 0 && Number.isFinite(f)) {
        sum += f;
        usable++;
      }
    }
    const norm = p.flat_normalize && usable > 0 ? sum / usable : 1;
    for (let k = 0; k < n; k++) {
      const f = map.data[k];
      inv[k] = f > 0 && Number.isFinite(f) ? norm / f : NaN;
    }
    const dtype = floatOut(input.dtype);
    const out = outputBuffer(dtype, n);
    const dummy = input.dummy ?? null;
    return {
      step: {
        process(ctx) {
          const img = ctx.image;
          const o = out.get();
          if (dummy === null) {
            for (let k = 0; k < n; k++) o[k] = img[k] * inv[k];
          } else {
            for (let k = 0; k < n; k++) {
              const v = img[k];
              o[k] = v === dummy ? NaN : v * inv[k];
            }
          }
          ctx.image = o;
        },
      },
      output: { ...input, dtype, dummy: null },
      streams: [],
    };
  },
};
