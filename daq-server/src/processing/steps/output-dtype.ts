/**
 * `output_dtype`: cast the image to uint16, uint32, int32 or float32.
 * Integer targets: values are rounded to the nearest integer and clamped to
 * the type's range; invalid pixels (NaN, the input's dummy, nonzero in
 * `ctx.vars.mask`) become `output_invalid_value` (clamped too), which is
 * also the output's dummy when it is not 0. float32 target: invalid pixels
 * become NaN, unless `output_invalid_value` is not 0 (then that value).
 * With `output_dtype` null (the default) the step does nothing.
 */
import type { DType } from '../../protocol/index.js';
import type { ImageSpec, StepBuild, StepFactory } from '../types.js';
import { INT_RANGE, currentMask, outputBuffer, paramsSchema, size, withDefaults } from './common.js';

export const OUTPUT_DTYPES = ['uint16', 'uint32', 'int32', 'float32'] as const;

export type OutputDtypeParams = {
  output_dtype: (typeof OUTPUT_DTYPES)[number] | null;
  output_invalid_value: number;
};

const schema = paramsSchema('output_dtype', {
  output_dtype: {
    enum: [...OUTPUT_DTYPES, null],
    default: null,
    description: 'Element type of the output image (null: unchanged). Integers are rounded and clamped to the type range.',
  },
  output_invalid_value: {
    type: 'number',
    default: 0,
    description: 'Value given to invalid pixels (NaN, dummy, masked) in integer outputs (float32: NaN unless this is not 0).',
  },
});

export const outputDtypeStep: StepFactory<OutputDtypeParams> = {
  name: 'output_dtype',
  description: 'Cast the image to uint16/uint32/int32 (rounded, clamped) or float32; invalid pixels get output_invalid_value.',
  schema,
  check(raw) {
    const p = withDefaults<OutputDtypeParams>(schema, raw);
    if (p.output_dtype !== null && !(OUTPUT_DTYPES as readonly string[]).includes(p.output_dtype)) {
      return [{ field: 'output_dtype', message: `must be one of ${OUTPUT_DTYPES.join(', ')} or null` }];
    }
    if (typeof p.output_invalid_value !== 'number' || !Number.isFinite(p.output_invalid_value)) {
      return [{ field: 'output_invalid_value', message: 'must be a finite number' }];
    }
    return [];
  },
  create(raw, input: ImageSpec): StepBuild {
    const p = withDefaults<OutputDtypeParams>(schema, raw);
    if (p.output_dtype === null) return { step: { process() {} }, output: input, streams: [] };
    const dtype: DType = p.output_dtype;
    const n = size(input.shape);
    const out = outputBuffer(dtype, n);
    const range = INT_RANGE[dtype];
    const lo = range ? range[0] : -Infinity, hi = range ? range[1] : Infinity;
    const clampRound = (v: number): number => (v < lo ? lo : v > hi ? hi : range ? Math.round(v) : v);
    const bad = range ? clampRound(p.output_invalid_value) : p.output_invalid_value === 0 ? NaN : p.output_invalid_value;
    const dummy = input.dummy ?? null;
    return {
      step: {
        process(ctx) {
          const img = ctx.image;
          const o = out.get();
          const m = currentMask(ctx, n);
          if (range) {
            for (let k = 0; k < n; k++) {
              const v = img[k];
              if (v !== v || v === dummy || (m !== null && m[k] !== 0)) o[k] = bad;
              else o[k] = v <= lo ? lo : v >= hi ? hi : Math.round(v);
            }
          } else {
            for (let k = 0; k < n; k++) {
              const v = img[k];
              o[k] = v !== v || v === dummy || (m !== null && m[k] !== 0) ? bad : v;
            }
          }
          ctx.image = o;
        },
      },
      output: { ...input, dtype, dummy: bad === 0 || Number.isNaN(bad) ? null : bad },
      streams: [],
    };
  },
};
