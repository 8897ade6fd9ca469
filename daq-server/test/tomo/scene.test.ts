/** The tomography scene of the simulators: scan layout, frame kinds, ROI shape, photons, refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DaqError } from '../../src/protocol/index.js';
import { mean, openRun } from '../sim/helpers.js';

test('tomography scan: darks, flats then projections, tagged, at the ROI shape', async () => {
  const run = await openRun('sim-tomo-camera', { frame_shape: [32, 48], tomo_projections: 7, tomo_darks: 2, tomo_flats: 3, seed: 4 });
  assert.deepEqual(run.shape, [32, 48]);
  const rx = run.receiver(0, 1);
  const kinds = Array.from({ length: 12 }, (_, i) => rx.receive(i).truth);
  assert.deepEqual(kinds.map((t) => t!.image_key), [2, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(kinds.slice(5).map((t) => t!.rotation_angle), [0, 30, 60, 90, 120, 150, 180]);
  const dark = rx.receive(0).data, flat = rx.receive(2).data, proj = rx.receive(8).data;
  assert.ok(Math.abs(mean(dark) - 100) < 1, `dark ≈ camera offset: ${mean(dark)}`);
  assert.ok(mean(flat) > 8000 + 100 && mean(flat) < 10000 + 100, `flat: ${mean(flat)}`);
  assert.ok(mean(proj) < mean(flat) * 0.95, 'the sample absorbs');
  // corner pixels see no sample: projection ≈ flat there
  assert.ok(Math.abs(proj[0] - flat[0]) < 6 * Math.sqrt(flat[0]));
  const d = run.describe().scene_info as { tomo: Record<string, unknown> };
  assert.equal(d.tomo.nb_frames, 12);
  assert.equal(d.tomo.center_of_rotation, 23.5);
  run.close();
});

test('tomography refusals name the field', async () => {
  const fields = async (cfg: Record<string, unknown>, det = 'sim-tomo-camera'): Promise<string[]> => {
    try {
      (await openRun(det, cfg)).close();
      return [];
    } catch (err) {
      assert.ok(err instanceof DaqError);
      return (err.fields ?? []).map((f) => f.field);
    }
  };
  assert.deepEqual(await fields({ pool_size: 10 }), ['detector.pool_size']);
  assert.deepEqual(await fields({ tomo_cor_offset: 100 }), ['detector.tomo_cor_offset']);
  assert.deepEqual(await fields({ scene: 'tomography' }, 'sim-jungfrau-4m'), ['detector.scene']);
  assert.deepEqual(await fields({ scene: 'tomography', pool_size: 0 }, 'sim-eiger-500k'), []);
});
