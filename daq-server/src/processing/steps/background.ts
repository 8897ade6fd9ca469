/**
 * `background`: dark (background) subtraction, out = image − dark, from
 * `dark_file` (.npy) or the `dark` map of the environment; float output
 * (float64 stays float64, anything else → float32). Pixels equal to the
 * input's dummy become NaN. With `background_clamp`, negative results are
 * set to 0. The dark map (float32) is left in `ctx.vars.background`.
 * Without a dark map the step does nothing.
 */
import type { ImageSpec, StepBuild, StepEnvironment, StepFactory } from '../types.js';
import { checkImageMap, fileParam, findMap, floatOut, outputBuffer, paramsSchema, withDefaults } from './common.js';

export type BackgroundParams = {
  dark_file: string | null;
  background_clamp: boolean;
};

const schema = paramsSchema('background', {
  dark_file: fileParam('Dark image .npy file of the image shape; default: the `dark` map, else no subtraction.'),
  background_clamp: { type: 'boolean', default: false, description: 'Clamp the result at 0 (no negative intensities).' },
});

export const backgroundStep: StepFactory<BackgroundParams> = {
  name: 'background',
  description: 'Dark subtraction: image − dark (float output), optionally clamped at 0.',
  schema,
  check(raw, input, env) {
    const p = withDefaults<BackgroundParams>(schema, raw);
    return checkImageMap(env, input, 'dark', 'dark_file', p.dark_file, false);
  },
  create(raw, input: ImageSpec, env: StepEnvironment): StepBuild {
    const p = withDefaults<BackgroundParams>(schema, raw);
    const map = findMap(env, 'dark', p.dark_file);
    if (!map) return { step: { process() {} }, output: input, streams: [] };
    const n = map.data.length;
    const dark = new Float32Array(n);
    for (let k = 0; k < n; k++) dark[k] = map.data[k];
    const dtype = floatOut(input.dtype);
    const out = outputBuffer(dtype, n);
    const dummy = input.dummy ?? null;
    const clamp = p.background_clamp;
    return {
      step: {
        process(ctx) {
          const img = ctx.image;
          const o = out.get();
          if (dummy === null && !clamp) {
            for (let k = 0; k < n; k++) o[k] = img[k] - dark[k];
          } else {
            for (let k = 0; k < n; k++) {
              const v = img[k];
              if (v === dummy) {
                o[k] = NaN;
                continue;
              }
              const d = v - dark[k];
              o[k] = clamp && d < 0 ? 0 : d;
            }
          }
          ctx.image = o;
          ctx.vars.set('background', dark);
        },
      },
      output: { ...input, dtype, dummy: null },
      streams: [],
    };
  },
};
