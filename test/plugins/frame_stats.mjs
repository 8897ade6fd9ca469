// A processing-step plugin, as a user would write one: the default export is
// a list of step factories (same interface as the built-in steps, see
// daq-server/src/processing/types.ts). Loaded with `daqlab-server --plugin FILE`.

/** Per-frame sum and maximum, a float32 copy of the image scaled by `gain`, and the running sum image. */
const frameStats = {
  name: 'frame_stats',
  description: 'per-frame sum and maximum; output = image × gain (float32); accumulated sum image',
  schema: {
    type: 'object',
    properties: {
      gain: { type: 'number', default: 1, exclusiveMinimum: 0, description: 'factor applied to the output image' },
      fail_at: { type: ['integer', 'null'], default: null, description: 'throw on this frame (for tests)' },
    },
  },
  check(params, input) {
    return input.shape.length === 2 ? [] : [{ field: 'gain', message: `needs 2D images, got shape ${JSON.stringify(input.shape)}` }];
  },
  create(params, input) {
    const n = input.shape[0] * input.shape[1];
    const acc = new Float64Array(n);
    return {
      output: { dtype: 'float32', shape: input.shape },
      streams: [
        { name: 'frame_stats', kind: 'event', cadence: 'frame', info: { description: 'sum and max per frame' } },
        { name: 'acc_sum', kind: 'array', dtype: 'float64', shape: input.shape, cadence: 'accumulated', combine: 'sum' },
        { name: 'gain', kind: 'array', dtype: 'float64', shape: [1], cadence: 'static' },
      ],
      statics: { gain: Float64Array.of(params.gain) },
      step: {
        process(ctx) {
          if (params.fail_at !== null && ctx.index === params.fail_at) throw new Error(`frame_stats: asked to fail at frame ${ctx.index}`);
          const img = ctx.image;
          const out = new Float32Array(n);
          let sum = 0;
          let max = -Infinity;
          for (let i = 0; i < n; i++) {
            const v = img[i];
            sum += v;
            if (v > max) max = v;
            out[i] = v * params.gain;
            acc[i] += v;
          }
          ctx.emit('frame_stats', { frame_idx: ctx.index, sum, max, receiver: ctx.receiver });
          ctx.image = out;
        },
        partial() {
          return { acc_sum: acc };
        },
      },
    };
  },
};

export default [frameStats];
