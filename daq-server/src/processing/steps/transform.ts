/**
 * Geometric steps on 2D images: `flip` (horizontal: columns reversed,
 * vertical: rows reversed) and `rotation` (0, 90, 180, 270 degrees
 * counter-clockwise as displayed with row 0 at the top, i.e. numpy.rot90
 * with k = angle / 90). Both keep the dtype and transform `ctx.vars.mask`
 * (and the pixel size, for 90/270) together with the image. At their
 * defaults (no flip, angle 0) they do nothing.
 *
 *   rot90:  out[i, j] = in[j, W − 1 − i]        (out shape W × H)
 *   rot180: out[i, j] = in[H − 1 − i, W − 1 − j]
 *   rot270: out[i, j] = in[H − 1 − j, i]        (out shape W × H)
 */
import type { TypedArray } from '../../protocol/index.js';
import type { ImageSpec, StepBuild, StepFactory } from '../types.js';
import { OutputBuffer, currentMask, need2D, outputBuffer, paramsSchema, withDefaults } from './common.js';

/** A pixel permutation: out[k] = in[src[k]]. */
function applyPerm(src: Int32Array, input: ArrayLike<number>, out: TypedArray | Uint8Array): void {
  for (let k = 0; k < src.length; k++) out[k] = input[src[k]];
}

/** Source index of each output pixel of a flip. */
export function flipPerm(rows: number, cols: number, horizontal: boolean, vertical: boolean): Int32Array {
  const src = new Int32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const si = vertical ? rows - 1 - i : i;
    for (let j = 0; j < cols; j++) src[i * cols + j] = si * cols + (horizontal ? cols - 1 - j : j);
  }
  return src;
}

/** Source index of each output pixel of a counter-clockwise rotation by `angle` (0/90/180/270); output shape [cols, rows] for 90/270. */
export function rotationPerm(rows: number, cols: number, angle: 0 | 90 | 180 | 270): Int32Array {
  const src = new Int32Array(rows * cols);
  if (angle === 90) {
    // out shape [cols, rows]: out[i, j] = in[j, cols − 1 − i]
    for (let i = 0; i < cols; i++) for (let j = 0; j < rows; j++) src[i * rows + j] = j * cols + (cols - 1 - i);
  } else if (angle === 270) {
    // out[i, j] = in[rows − 1 − j, i]
    for (let i = 0; i < cols; i++) for (let j = 0; j < rows; j++) src[i * rows + j] = (rows - 1 - j) * cols + i;
  } else if (angle === 180) {
    const n = rows * cols;
    for (let k = 0; k < n; k++) src[k] = n - 1 - k;
  } else {
    for (let k = 0; k < src.length; k++) src[k] = k;
  }
  return src;
}

/** The Step of a permutation: image and mask permuted into reused buffers. */
function permStep(src: Int32Array, input: ImageSpec, output: ImageSpec): StepBuild {
  const n = src.length;
  const out = outputBuffer(input.dtype, n);
  const mask = new OutputBuffer(() => new Uint8Array(n));
  return {
    step: {
      process(ctx) {
        const o = out.get();
        applyPerm(src, ctx.image, o);
        ctx.image = o;
        const m = currentMask(ctx, n);
        if (m) {
          const mo = mask.get();
          applyPerm(src, m, mo);
          ctx.vars.set('mask', mo);
        }
      },
    },
    output,
    streams: [],
  };
}

export type FlipParams = { flip_horizontal: boolean; flip_vertical: boolean };

const flipSchema = paramsSchema('flip', {
  flip_horizontal: { type: 'boolean', default: false, description: 'Mirror left–right (reverse the columns).' },
  flip_vertical: { type: 'boolean', default: false, description: 'Mirror up–down (reverse the rows).' },
});

export const flipStep: StepFactory<FlipParams> = {
  name: 'flip',
  description: 'Mirror the image horizontally and/or vertically.',
  schema: flipSchema,
  check(raw, input) {
    const p = withDefaults<FlipParams>(flipSchema, raw);
    return p.flip_horizontal || p.flip_vertical ? need2D(input, 'flip') : [];
  },
  create(raw, input) {
    const p = withDefaults<FlipParams>(flipSchema, raw);
    if (!p.flip_horizontal && !p.flip_vertical) return { step: { process() {} }, output: input, streams: [] };
    const [rows, cols] = input.shape;
    return permStep(flipPerm(rows, cols, p.flip_horizontal, p.flip_vertical), input, { ...input });
  },
};

export type RotationParams = { rotation: 0 | 90 | 180 | 270 };

const rotationSchema = paramsSchema('rotation', {
  rotation: {
    enum: [0, 90, 180, 270],
    default: 0,
    description: 'Counter-clockwise rotation in degrees as displayed with row 0 at the top (numpy.rot90 with k = rotation/90).',
  },
});

export const rotationStep: StepFactory<RotationParams> = {
  name: 'rotation',
  description: 'Rotate the image by 0, 90, 180 or 270 degrees counter-clockwise.',
  schema: rotationSchema,
  check(raw, input) {
    const p = withDefaults<RotationParams>(rotationSchema, raw);
    if (![0, 90, 180, 270].includes(p.rotation)) return [{ field: 'rotation', message: `must be 0, 90, 180 or 270, got ${JSON.stringify(p.rotation)}` }];
    return p.rotation ? need2D(input, 'rotation') : [];
  },
  create(raw, input) {
    const p = withDefaults<RotationParams>(rotationSchema, raw);
    if (!p.rotation) return { step: { process() {} }, output: input, streams: [] };
    const [rows, cols] = input.shape;
    const quarter = p.rotation === 90 || p.rotation === 270;
    const output: ImageSpec = quarter
      ? { ...input, shape: [cols, rows], ...(input.pixelSize ? { pixelSize: [input.pixelSize[1], input.pixelSize[0]] } : {}) }
      : { ...input };
    return permStep(rotationPerm(rows, cols, p.rotation), input, output);
  },
};
