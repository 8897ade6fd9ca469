/**
 * The steps in real receiver workers (round robin over 2): the final image
 * of a chain is transferred to the main thread every frame, so a step must
 * not write into an image it handed over. Each result must be its own frame.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ReceiverPool } from '../../src/processing/receivers/pool.js';
import type { FrameResult } from '../../src/processing/chain.js';
import type { ImageSpec } from '../../src/processing/types.js';

const PLUGIN = fileURLToPath(new URL('./plugin-fixture.js', import.meta.url));

test('round robin over 2 workers: background → binning → roi; every frame comes back with its own values', async () => {
  const R = 64, C = 48;
  const input: ImageSpec = { dtype: 'float32', shape: [R, C] };
  const dark = new Float32Array(R * C).fill(1);
  const { pool, info } = await ReceiverPool.start(
    {
      specs: [
        { name: 'background', params: {} },
        { name: 'binning', params: { bin_x: 2, bin_y: 4 } },
        { name: 'roi', params: { rois: [{ name: 'all', roi: [0, 0, R / 4, C / 2] }], roi_profiles: false } },
      ],
      input,
      env: { detector: {}, maps: { dark: { dtype: 'float32', shape: [R, C], data: dark } } },
      plugins: [PLUGIN],
    },
    'round_robin',
    2,
    64,
  );
  try {
    assert.deepEqual(info.output.shape, [R / 4, C / 2]);
    const results: FrameResult[] = [];
    const done = new Promise<void>((resolve) => {
      pool.on('result', (r) => {
        results.push(r);
        if (results.length === 12) resolve();
      });
    });
    for (let i = 0; i < 12; i++) pool.submit({ index: i, data: new Float32Array(R * C).fill(i + 1), valid: true });
    await done;
    for (const r of results) {
      const img = r.image as Float32Array;
      assert.equal(img.length, (R / 4) * (C / 2));
      assert.ok(img.every((v) => v === 8 * r.index), `frame ${r.index}: every bin = 8 × (value − dark)`);
      const stats = r.items[0].item as Float64Array;
      assert.equal(stats[0], 8 * r.index * img.length);
    }
  } finally {
    pool.terminate();
  }
});
