/** The tomography scan table: the layout parameters, the detector's `tomo_scan`, and the checks on both. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTomoFrames, resolveTomoFrames, TomoFrames } from '../../src/processing/tomo/scan.js';
import { TomographyScene } from '../../src/detectors/sim/tomo-scene.js';

const NONE = { nb_darks: null, nb_flats: null, nb_projections: null, angle_range: null };

test('the regular layout: darks, flats, then projections from 0° to the range, both ends included', () => {
  const f = TomoFrames.regular(2, 3, 5, 180);
  assert.deepEqual(Array.from(f.imageKey), [2, 2, 1, 1, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual(f.angles, [0, 45, 90, 135, 180]);
  assert.deepEqual([f.darks, f.flats, f.projections, f.firstProjection()], [2, 3, 5, 5]);
  assert.deepEqual([f.kind(1), f.kind(4), f.kind(7), f.kind(10), f.projection[7]], [2, 1, 0, -1, 2]);
  assert.deepEqual(checkTomoFrames(f), []);
});

test("the detector's table is used as it is; parameters override it field by field", () => {
  const desc = { tomo_scan: { image_key: [2, 1, 0, 3, 0, 0], rotation_angle: [0, 0, 0, 45, 90, 180], source: 'NXtomo /entry/tomo of x_master.h5' } };
  const { frames } = resolveTomoFrames(NONE, desc);
  assert.ok(frames);
  assert.deepEqual(frames.angles, [0, 90, 180]);
  assert.deepEqual(Array.from(frames.projection), [-1, -1, 0, -1, 1, 2]);
  const over = resolveTomoFrames({ ...NONE, nb_darks: 4 }, desc).frames!;
  assert.deepEqual([over.darks, over.flats, over.projections, over.angles[2]], [4, 1, 3, 180]);
  assert.deepEqual(resolveTomoFrames(NONE, {}).missing, ['nb_darks', 'nb_flats', 'nb_projections', 'angle_range']);
});

test('a malformed table or darks and flats after the projections are refused, naming the field', () => {
  const bad = resolveTomoFrames(NONE, { tomo_scan: { image_key: [2, 1, 0], rotation_angle: [0, 0] } });
  assert.equal(bad.frames, null);
  assert.equal(bad.errors[0].field, 'tomo_scan.rotation_angle');
  assert.match(bad.errors[0].message, /2 angles for 3 image keys/);
  assert.equal(resolveTomoFrames(NONE, { tomo_scan: { image_key: 'x', rotation_angle: [] } }).errors[0].field, 'tomo_scan.image_key');
  const late = resolveTomoFrames(NONE, { tomo_scan: { image_key: [1, 0, 0, 1], rotation_angle: [0, 0, 90, 0], source: 'S' } }).frames!;
  const errors = checkTomoFrames(late);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].field, 'tomo_scan.image_key');
  assert.match(errors[0].message, /frame 3 is a flat field after the first projection \(frame 1\) \(image_key of S\)/);
  const few = checkTomoFrames(TomoFrames.regular(1, 0, 1, 180));
  assert.deepEqual(few.map((e) => e.field), ['nb_flats', 'nb_projections']);
});

test("the tomography simulator publishes its scan as tomo_scan, the regular layout's table", () => {
  const cfg = { tomo_darks: 3, tomo_flats: 2, tomo_projections: 7, tomo_angle_range: 180, tomo_cor_offset: 0, tomo_phantom: 'shepp-logan', tomo_mu: 1, seed: 1, flat_mean: 1e4 };
  const scene = new TomographyScene({ cfg, spec: { imageShape: [16, 16] } } as never);
  const table = scene.detectorMetadata().tomo_scan as { image_key: number[]; rotation_angle: number[] };
  const regular = TomoFrames.regular(3, 2, 7, 180);
  assert.deepEqual(table.image_key, Array.from(regular.imageKey));
  assert.deepEqual(table.rotation_angle, Array.from(regular.rotationAngle));
});
