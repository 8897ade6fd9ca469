/**
 * `mask`: static pixel mask (pyFAI convention: nonzero = masked) from
 * `mask_file` (.npy) or the `mask` map of the environment. Masked pixels
 * become NaN in float images, and `mask_value` (default: the image's dummy,
 * else 0) in integer images. The mask is merged into `ctx.vars.mask`
 * (nonzero = invalid; pixels masked here get PixelFlag.MASKED where the
 * incoming mask had 0). Without a mask the step does nothing.
 */
import type { ImageSpec, StepBuild, StepEnvironment, StepFactory } from '../types.js';
import { PixelFlag, checkImageMap, currentMask, fileParam, findMap, isFloat, outputBuffer, paramsSchema, withDefaults } from './common.js';

export type MaskParams = {
  mask_file: string | null;
  mask_invert: boolean;
  mask_value: number | null;
};

const schema = paramsSchema('mask', {
  mask_file: fileParam('Mask .npy file of the image shape, nonzero = masked (pyFAI convention); default: the `mask` map of the detector, else no mask.'),
  mask_invert: { type: 'boolean', default: false, description: 'The file marks valid pixels with nonzero instead (e.g. a "good pixel" map).' },
  mask_value: {
    type: ['number', 'null'],
    default: null,
    description: 'Value of masked pixels in integer images (default: the image dummy, else 0); float images get NaN.',
  },
});

export const maskStep: StepFactory<MaskParams> = {
  name: 'mask',
  description: 'Static mask: masked pixels become NaN (float) or mask_value/dummy (integers), merged into the mask passed to later steps.',
  schema,
  check(raw, input, env) {
    const p = withDefaults<MaskParams>(schema, raw);
    return checkImageMap(env, input, 'mask', 'mask_file', p.mask_file, false);
  },
  create(raw, input: ImageSpec, env: StepEnvironment): StepBuild {
    const p = withDefaults<MaskParams>(schema, raw);
    const map = findMap(env, 'mask', p.mask_file);
    if (!map) return { step: { process() {} }, output: input, streams: [] };
    const n = map.data.length;
    const masked = new Uint8Array(n);
    let count = 0;
    for (let k = 0; k < n; k++) {
      const m = (map.data[k] !== 0) !== p.mask_invert;
      if (m) {
        masked[k] = PixelFlag.MASKED;
        count++;
      }
    }
    const float = isFloat(input.dtype);
    const fill = float ? NaN : (p.mask_value ?? input.dummy ?? 0);
    const out = outputBuffer(input.dtype, n);
    const merged = new Uint8Array(n);
    // masked pixel indices: the per-frame work is a copy plus a scatter
    const where = new Int32Array(count);
    for (let k = 0, j = 0; k < n; k++) if (masked[k]) where[j++] = k;
    return {
      step: {
        process(ctx) {
          const img = ctx.image;
          const o = out.get();
          (o as Float32Array).set(img as Float32Array);
          for (let j = 0; j < where.length; j++) o[where[j]] = fill;
          ctx.image = o;
          const incoming = currentMask(ctx, n);
          if (!incoming) {
            ctx.vars.set('mask', masked); // read-only for later steps
          } else {
            for (let k = 0; k < n; k++) merged[k] = incoming[k] || masked[k];
            ctx.vars.set('mask', merged);
          }
        },
      },
      // integer images: the fill is the dummy when it is the input's dummy or an explicit mask_value (a default 0 is not: real zeros stay valid)
      output: { ...input, dummy: float ? (input.dummy ?? null) : (p.mask_value ?? input.dummy ?? null) },
      streams: [],
    };
  },
};
