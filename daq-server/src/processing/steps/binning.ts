/**
 * `binning`: sum of `bin_y` rows × `bin_x` columns per output pixel. The
 * output has ⌊rows / bin_y⌋ × ⌊cols / bin_x⌋ pixels (a remainder of rows or
 * columns at the bottom/right is dropped) and is float (float64 stays
 * float64, else float32). Invalid input pixels (NaN, dummy, nonzero in
 * `ctx.vars.mask`) are left out of the sums; a bin with no valid pixel is
 * NaN and flagged NO_DATA in the binned `ctx.vars.mask` the step sets (when
 * a mask came in). The pixel size is multiplied by the factors. At 1 × 1
 * the step does nothing.
 */
import type { ImageSpec, StepBuild, StepFactory } from '../types.js';
import { OutputBuffer, PixelFlag, currentMask, floatOut, need2D, outputBuffer, paramsSchema, withDefaults } from './common.js';

export type BinningParams = { bin_x: number; bin_y: number };

const schema = paramsSchema('binning', {
  bin_x: { type: 'integer', minimum: 1, default: 1, description: 'Columns summed per output pixel.' },
  bin_y: { type: 'integer', minimum: 1, default: 1, description: 'Rows summed per output pixel.' },
});

export const binningStep: StepFactory<BinningParams> = {
  name: 'binning',
  description: 'Sum bin_y × bin_x blocks of pixels (remainder rows/columns dropped); invalid pixels are left out.',
  schema,
  check(raw, input) {
    const p = withDefaults<BinningParams>(schema, raw);
    const errors: { field: string; message: string }[] = [];
    for (const f of ['bin_x', 'bin_y'] as const) {
      if (!Number.isInteger(p[f]) || p[f] < 1) errors.push({ field: f, message: `must be an integer ≥ 1, got ${JSON.stringify(p[f])}` });
    }
    if (errors.length || (p.bin_x === 1 && p.bin_y === 1)) return errors;
    const d = need2D(input, 'binning');
    if (d.length) return d;
    const [rows, cols] = input.shape;
    if (p.bin_y > rows) errors.push({ field: 'bin_y', message: `${p.bin_y} is larger than the image height ${rows}` });
    if (p.bin_x > cols) errors.push({ field: 'bin_x', message: `${p.bin_x} is larger than the image width ${cols}` });
    return errors;
  },
  create(raw, input: ImageSpec): StepBuild {
    const p = withDefaults<BinningParams>(schema, raw);
    const bx = p.bin_x, by = p.bin_y;
    if (bx === 1 && by === 1) return { step: { process() {} }, output: input, streams: [] };
    const [rows, cols] = input.shape;
    const orows = Math.floor(rows / by), ocols = Math.floor(cols / bx);
    const no = orows * ocols;
    const dtype = floatOut(input.dtype);
    const out = outputBuffer(dtype, no);
    const outMask = new OutputBuffer(() => new Uint8Array(no));
    const counts = new Uint32Array(ocols);
    const acc = new Float64Array(ocols);
    const dummy = input.dummy ?? null;
    const n = rows * cols;
    return {
      step: {
        process(ctx) {
          const img = ctx.image;
          const o = out.get();
          const m = currentMask(ctx, n);
          const om = m ? outMask.get() : null;
          for (let I = 0; I < orows; I++) {
            counts.fill(0);
            acc.fill(0);
            const ob = I * ocols;
            for (let a = 0; a < by; a++) {
              const rb = (I * by + a) * cols;
              for (let J = 0; J < ocols; J++) {
                let s = 0, c = 0;
                const cb = rb + J * bx;
                for (let b = 0; b < bx; b++) {
                  const k = cb + b;
                  const v = img[k];
                  if (v !== v || v === dummy || (m !== null && m[k] !== 0)) continue;
                  s += v;
                  c++;
                }
                acc[J] += s;
                counts[J] += c;
              }
            }
            for (let J = 0; J < ocols; J++) {
              const empty = counts[J] === 0;
              o[ob + J] = empty ? NaN : acc[J];
              if (om) om[ob + J] = empty ? PixelFlag.NO_DATA : 0;
            }
          }
          ctx.image = o;
          if (om) ctx.vars.set('mask', om);
        },
      },
      output: {
        ...input,
        dtype,
        shape: [orows, ocols],
        dummy: null,
        ...(input.pixelSize ? { pixelSize: [input.pixelSize[0] * by, input.pixelSize[1] * bx] as [number, number] } : {}),
      },
      streams: [],
    };
  },
};
