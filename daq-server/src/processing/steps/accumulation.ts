/**
 * `accumulation`: sums of `accumulation_frames` = N consecutive frames.
 *
 * Grouping is by frame index: frame i belongs to group g = ⌊i / N⌋, frames
 * gN … gN + N − 1, whatever receiver processes it. Each receiver sums the
 * valid frames of a group it gets (invalid frames are skipped; per pixel,
 * NaN / dummy / masked values are left out, and a pixel without any valid
 * value in the group is NaN) and emits that partial sum:
 *   - `accumulation` (array, image shape, `accumulation_dtype`): the sum;
 *   - `accumulation_info` (event, emitted with it, so item k of both streams
 *     go together): {group, first_frame, last_frame, receiver, frames,
 *     frame_indices, complete} — `frames`: valid frames in this sum;
 *     `complete`: this one item covers all N frames of the group, valid.
 *
 * When a receiver emits: when it processes the last frame of the group it
 * will get (predicted from the stride between its last two frames: 1 for a
 * single receiver, R in round-robin over R receivers), or, if a prediction
 * was wrong, when a frame of a later group arrives (the pending partial is
 * emitted with it). So:
 *   - single receiver: exactly one item per group, the full sum, emitted with
 *     the group's last frame;
 *   - round-robin over R receivers: one partial item per group and receiver
 *     (N/R frames each when R divides N);
 *   - any dispatch: the full sum of group g = Σ of the `accumulation` items
 *     whose info has group g (exact: the partials are disjoint and cover
 *     every valid frame of the group that arrived), and Σ `frames` tells how
 *     many frames it holds. A mispredicted group may give a receiver two
 *     items for one group; summing by group stays exact.
 *   - a trailing group cut short by the end of the acquisition is emitted
 *     only when the prediction says the receiver has had its last frame of
 *     it (the step has no end-of-acquisition hook): with a frame count that
 *     is a multiple of N every frame is in some emitted item.
 * The step passes the image on unchanged. With accumulation_frames 0 (the
 * default) it does nothing.
 */
import type { TypedArray } from '../../protocol/index.js';
import type { ImageSpec, StepBuild, StepFactory } from '../types.js';
import { currentMask, paramsSchema, size, withDefaults } from './common.js';

export type AccumulationParams = { accumulation_frames: number; accumulation_dtype: 'float32' | 'float64' };

const schema = paramsSchema('accumulation', {
  accumulation_frames: {
    type: 'integer',
    minimum: 0,
    maximum: 1000000,
    default: 0,
    description: 'N: frames per accumulated sum, grouped by frame index ⌊i/N⌋ (0: no accumulation).',
  },
  accumulation_dtype: { enum: ['float32', 'float64'], default: 'float32', description: 'Element type of the published sums.' },
});

export const accumulationStep: StepFactory<AccumulationParams> = {
  name: 'accumulation',
  description: 'Sum N consecutive frames (groups ⌊i/N⌋); each receiver publishes its partial sum of a group with the frames it holds.',
  schema,
  check(raw) {
    const p = withDefaults<AccumulationParams>(schema, raw);
    if (!Number.isInteger(p.accumulation_frames) || p.accumulation_frames < 0) {
      return [{ field: 'accumulation_frames', message: `must be an integer ≥ 0, got ${JSON.stringify(p.accumulation_frames)}` }];
    }
    return [];
  },
  create(raw, input: ImageSpec): StepBuild {
    const p = withDefaults<AccumulationParams>(schema, raw);
    const N = p.accumulation_frames;
    if (!N) return { step: { process() {} }, output: input, streams: [] };
    const n = size(input.shape);
    const sum = new Float64Array(n);
    const cnt = new Uint32Array(n);
    const dummy = input.dummy ?? null;
    const Out = p.accumulation_dtype === 'float64' ? Float64Array : Float32Array;
    let group = -1; // open group, −1: none
    let indices: number[] = [];
    let lastIndex = -1, stride = 1;

    const reset = (): void => {
      sum.fill(0);
      cnt.fill(0);
      indices = [];
    };
    const emit = (ctx: Parameters<StepBuild['step']['process']>[0]): void => {
      const out: TypedArray = new Out(n);
      for (let k = 0; k < n; k++) out[k] = cnt[k] ? sum[k] : NaN;
      const first = group * N;
      ctx.emit('accumulation', out);
      ctx.emit('accumulation_info', {
        group,
        first_frame: first,
        last_frame: first + N - 1,
        receiver: ctx.receiver,
        frames: indices.length,
        frame_indices: indices,
        complete: indices.length === N,
      });
      group = -1;
      reset();
    };

    return {
      step: {
        process(ctx) {
          const i = ctx.index;
          const g = Math.floor(i / N);
          if (lastIndex >= 0 && i > lastIndex) stride = i - lastIndex;
          lastIndex = i;
          if (group >= 0 && g !== group) emit(ctx); // a frame of another group: the open partial is complete here
          if (group < 0) {
            group = g;
            reset();
          }
          if (ctx.valid) {
            const img = ctx.image;
            const m = currentMask(ctx, n);
            for (let k = 0; k < n; k++) {
              const v = img[k];
              if (v !== v || v === dummy || (m !== null && m[k] !== 0)) continue;
              sum[k] += v;
              cnt[k]++;
            }
            indices.push(i);
          }
          // the next frame this receiver expects is i + stride: emit when it is past the group
          if (i + stride > (g + 1) * N - 1) emit(ctx);
        },
      },
      output: input,
      streams: [
        {
          name: 'accumulation',
          kind: 'array',
          dtype: p.accumulation_dtype,
          shape: [...input.shape],
          cadence: 'frame',
          info: {
            frames_per_group: N,
            description: 'partial sums of frame groups ⌊i/N⌋ per receiver; the full sum of a group = Σ of the items of that group (see accumulation_info)',
          },
        },
        {
          name: 'accumulation_info',
          kind: 'event',
          cadence: 'frame',
          info: { frames_per_group: N, description: 'one event per accumulation item: {group, first_frame, last_frame, receiver, frames, frame_indices, complete}' },
        },
      ],
    };
  },
};
