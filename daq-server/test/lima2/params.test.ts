/** LIMA2 parameters ↔ daqlab prepare (api/lima2/params.ts): defaults, mapping both ways, field names in errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StepRegistry } from '../../src/processing/registry.js';
import { validate } from '../../src/control/validate.js';
import { DaqError, type FieldError } from '../../src/protocol/index.js';
import type { JsonSchema } from '../../src/detectors/plugin.js';
import { CLASSES, Lima2Error, LIMA2_CODES, acquisitionParamsSchema, defaultsOf, fromLima2, lima2Field, processingSchema, toLima2, toLima2Body } from '../../src/api/lima2/index.js';
import { parseLima2Spec } from '../../src/api/lima2/spec.js';

const ctx = {
  detectorSchema: { type: 'object', properties: { scene: { enum: ['powder', 'flat'], default: 'powder' }, seed: { type: 'integer', default: 0 } } } as JsonSchema,
  registry: new StepRegistry(),
  dataRoot: '/data',
};
const check = (schema: JsonSchema, value: unknown): FieldError[] => {
  try {
    validate(schema, value, 'test');
    return [];
  } catch (err) {
    if (err instanceof DaqError && err.fields) return err.fields;
    throw err;
  }
};
const defaults = (className: string) => ({
  control: defaultsOf(acquisitionParamsSchema(ctx)) as Record<string, any>,
  processing: defaultsOf(processingSchema(CLASSES.find((c) => c.name === className)!, ctx)) as Record<string, any>,
});
const thrown = (fn: () => unknown): Lima2Error => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof Lima2Error, String(err));
    return err;
  }
  assert.fail('did not throw');
};

test('defaults: times in microseconds, the detector section under det, saving keys the conductor reads', () => {
  const { control, processing } = defaults('LimaProcessingLegacy');
  assert.deepEqual(control.acq, { nb_frames: 1, expo_time: 1000, latency_time: 0, trigger_mode: 'internal', nb_frames_per_trigger: 1 });
  assert.deepEqual(control.det, { nb_prefetch_frames: 16, scene: 'powder', seed: 0 });
  assert.equal(processing.class_name, 'LimaProcessingLegacy');
  assert.equal(processing.saving.base_path, '/data');
  assert.equal(processing.saving.nb_dimensions, 'dim_3d_or_4d');
  // what BLISS's lima2 legacy plugin reads from the defaults (bliss/controllers/lima2/processings/legacy.py, common.py)
  assert.equal(processing.fifo.nb_fifo_frames, 100);
  assert.deepEqual(Object.keys(processing.buffers).sort(), ['nb_frame_idx_buffer', 'nb_frames_buffer', 'nb_input_frames_buffer', 'nb_roi_profiles_buffer', 'nb_roi_statistics_buffer']);
  assert.equal(processing.max_countrate_protection.enabled, false);
  for (const k of ['mask', 'flatfield', 'background']) assert.deepEqual(processing[k], { enabled: false, path: '' });
  assert.deepEqual(defaults('LimaProcessingSmx').processing.fai.acc_nb_frames_reset, 0);
  assert.equal(typeof defaults('LimaProcessingFai').processing.fai.npt, 'number');
  assert.deepEqual(defaults('LimaProcessingFai').processing.saving_fai.enabled, false);
});

test('legacy: ROIs, files, accumulation and saving become daqlab prepare, and back', () => {
  const { control, processing } = defaults('LimaProcessingLegacy');
  control.acq = { ...control.acq, nb_frames: 7, expo_time: 2500, latency_time: 500, trigger_mode: 'software' };
  control.det.scene = 'flat';
  processing.statistics = { enabled: true, rect_rois: [{ topleft: { x: 10, y: 20 }, dimensions: { x: 30, y: 40 } }], arc_rois: [] };
  processing.mask = { enabled: true, path: '/data/mask.npy' };
  processing.accumulation = { enabled: true, nb_frames: 4 };
  processing.saving = { ...processing.saving, enabled: true, base_path: '/data/x', filename_prefix: 'run1', compression: 'zip', nb_frames_per_file: 9 };
  const m = fromLima2({ control, receiver: structuredClone(control), processing }, ctx, check);
  assert.deepEqual(m.prepare.acquisition, { nb_frames: 7, expo_time: 0.0025, latency_time: 0.0005, trigger_mode: 'software', nb_frames_per_trigger: 1 });
  assert.deepEqual(m.prepare.detector, { scene: 'flat', seed: 0 });
  const p = m.prepare.processing as Record<string, unknown>;
  assert.equal(p.pipeline, 'legacy');
  assert.deepEqual(p.rois, [{ name: 'roi0', roi: [20, 10, 40, 30] }]);
  assert.equal(p.mask_file, '/data/mask.npy');
  assert.equal(p.accumulation_frames, 4);
  const s = m.prepare.saving as Record<string, unknown>;
  assert.equal(s.prefix, 'run1');
  assert.equal(s.compression, 'gzip');
  assert.equal(s.nb_frames_per_file, 9);
  assert.equal(m.savingChannel, 'saving');
  assert.deepEqual(m.rois, ['roi0']);
  // and back: what both describe comes out as it went in
  const back = toLima2(m.prepare, 'LimaProcessingLegacy');
  assert.deepEqual(back.control.acq, control.acq);
  assert.deepEqual(back.processing.statistics, processing.statistics);
  assert.deepEqual(back.processing.mask, processing.mask);
  assert.deepEqual(back.processing.accumulation, processing.accumulation);
  const bs = back.processing.saving as Record<string, unknown>;
  for (const k of ['enabled', 'base_path', 'filename_prefix', 'compression', 'nb_frames_per_file', 'nx_entry_name']) assert.deepEqual(bs[k], processing.saving[k], k);
});

test('smx and Fai: fai takes daqlab\'s pipeline parameters with pyFAI names', () => {
  const smx = defaults('LimaProcessingSmx');
  smx.processing.fai = { ...smx.processing.fai, npt: 300, min_nb_peaks: 8 };
  smx.processing.saving_dense = { ...smx.processing.saving_dense, enabled: true };
  smx.processing.saving_sparse = { ...smx.processing.saving_sparse, enabled: true };
  const m = fromLima2({ control: smx.control, receiver: smx.control, processing: smx.processing }, ctx, check);
  assert.equal((m.prepare.processing as Record<string, unknown>).pipeline, 'smx');
  assert.equal((m.prepare.processing as Record<string, unknown>).npt, 300);
  assert.equal('acc_nb_frames_reset' in (m.prepare.processing as object), false);
  assert.equal((m.prepare.saving as Record<string, unknown>).save_sparse, true);
  assert.equal(toLima2(m.prepare, 'LimaProcessingSmx').processing.fai && (toLima2(m.prepare, 'LimaProcessingSmx').processing.fai as Record<string, unknown>).npt, 300);
  const fai = defaults('LimaProcessingFai');
  fai.processing.fai.unit = '2th_deg';
  const f = fromLima2({ control: fai.control, receiver: fai.control, processing: fai.processing }, ctx, check);
  assert.equal((f.prepare.processing as Record<string, unknown>).pipeline, 'azint');
  assert.equal((f.prepare.processing as Record<string, unknown>).unit, '2th_deg');
  assert.equal(f.fai, null);
});

test('Xpcs: the xpcs section takes daqlab\'s xpcs parameters', () => {
  const x = defaults('LimaProcessingXpcs');
  x.processing.xpcs.nb_rings = 5;
  const m = fromLima2({ control: x.control, receiver: x.control, processing: x.processing }, ctx, check);
  assert.equal((m.prepare.processing as Record<string, unknown>).pipeline, 'xpcs');
  assert.equal((m.prepare.processing as Record<string, unknown>).nb_rings, 5);
  assert.deepEqual(lima2Field('processing.nb_rings', m), ['processing params for daqlab', '$.xpcs.nb_rings']);
  assert.equal((toLima2(m.prepare, 'LimaProcessingXpcs').processing.xpcs as Record<string, unknown>).nb_rings, 5);
  const e = thrown(() => fromLima2({ control: x.control, receiver: x.control, processing: { ...x.processing, saving_sparse: { enabled: true } } }, ctx, check));
  assert.equal(e.payload.path, '$.saving_sparse.enabled');
});

test('what daqlab cannot honour is refused with Lima2ParamError naming the LIMA2 field', () => {
  const { control, processing } = defaults('LimaProcessingLegacy');
  const bad = (c: unknown, p: unknown, r: unknown = c) => thrown(() => fromLima2({ control: c, receiver: r, processing: p }, ctx, check));
  let e = bad({ ...control, acq: { ...control.acq, expo_time: 0.01 } }, processing);
  assert.equal(e.type, 'Lima2ParamError');
  assert.deepEqual([e.payload.where, e.payload.path], ['control params', '$.acq.expo_time']);
  const rect = { topleft: { x: 0, y: 0 }, dimensions: { x: 4, y: 4 } };
  // ROI profiles are taken (the roi step's line_profiles); LIMA2 zips rois and directions strictly
  const mapped = fromLima2({ control, receiver: control, processing: { ...processing, profiles: { enabled: true, rois: [rect], directions: ['vertical'] } } }, ctx, check);
  assert.deepEqual(mapped.profiles, [4]);
  e = bad(control, { ...processing, profiles: { enabled: true, rois: [rect], directions: [] } });
  assert.deepEqual([e.payload.where, e.payload.path], ['processing params for daqlab', '$.profiles.directions']);
  // BLISS enables profiles (and statistics) by default, with no ROIs: that is accepted
  fromLima2({ control, receiver: control, processing: { ...processing, profiles: { enabled: true, rois: [], directions: [] } } }, ctx, check);
  e = bad(control, { ...processing, max_countrate_protection: { ...processing.max_countrate_protection, enabled: true } });
  assert.equal(e.payload.path, '$.max_countrate_protection.enabled');
  // an arc ROI needs its centre, radii and angles (BLISS's lima2 plugin writes all five)
  e = bad(control, { ...processing, statistics: { enabled: true, rect_rois: [], arc_rois: [{}] } });
  assert.match(String(e.payload.path), /^\$\.statistics\.arc_rois/);
  e = bad(control, processing, { ...control, acq: { ...control.acq, nb_frames: 3 } });
  assert.deepEqual([e.payload.where, e.payload.path], ['acquisition params for daqlab', '$.acq.nb_frames']);
  e = bad(control, { ...processing, class_name: 'LimaProcessingXyz' });
  assert.equal(e.type, 'Lima2NotFound');
  e = thrown(() => fromLima2({ control, processing }, ctx, check));
  assert.equal(e.type, 'Lima2ValueError');
  assert.match(e.message, /missing key 'receiver'/);
  // the payload is what the client's exception takes: code 70 → Lima2ParamError(message, where=, path=, schema=)
  const body = toLima2Body(bad(control, { ...processing, saving: { ...processing.saving, nb_dimensions: 'dim_4d' } }));
  assert.equal(body.code, LIMA2_CODES.Lima2ParamError);
  assert.deepEqual(Object.keys(body.payload).sort(), ['path', 'schema', 'where']);
  assert.deepEqual((body.payload.schema as { enum: string[] }).enum, ['dim_3d_or_4d']);
});

test('daqlab fields map back to the LIMA2 parameter they came from', () => {
  const { control, processing } = defaults('LimaProcessingLegacy');
  processing.saving.enabled = true;
  const m = fromLima2({ control, receiver: control, processing }, ctx, check);
  assert.deepEqual(lima2Field('processing.rois.1.roi', m), ['processing params for daqlab', '$.statistics.rect_rois[1]']);
  assert.deepEqual(lima2Field('processing.rois[1]', m), ['processing params for daqlab', '$.statistics.rect_rois[1]']);
  assert.deepEqual(lima2Field('saving.prefix', m), ['processing params for daqlab', '$.saving.filename_prefix']);
  assert.deepEqual(lima2Field('detector.scene', m), ['control params', '$.det.scene']);
  assert.deepEqual(lima2Field('acquisition.expo_time', m), ['control params', '$.acq.expo_time']);
  const smx = defaults('LimaProcessingSmx');
  const s = fromLima2({ control, receiver: control, processing: smx.processing }, ctx, check);
  assert.deepEqual(lima2Field('processing.npt', s), ['processing params for daqlab', '$.fai.npt']);
});

test('--lima2 NAME[:PORT]', () => {
  assert.deepEqual(parseLima2Spec('sim-eiger-500k'), { detector: 'sim-eiger-500k', port: 58712 });
  assert.deepEqual(parseLima2Spec('det:0'), { detector: 'det', port: 0 });
  assert.throws(() => parseLima2Spec('det:70000'), /--lima2: expected NAME\[:PORT\]/);
  assert.throws(() => parseLima2Spec(':80'), /--lima2/);
});

test('--lima2 and the config file\'s "lima2"', async () => {
  const { parseConfig } = await import('../../src/config.js');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'lima2-cfg-'));
  const file = join(dir, 'cfg.json');
  writeFileSync(file, JSON.stringify({ lima2: 'sim-camera:58800' }));
  const cfg = parseConfig(['--config', file, '--lima2', 'sim-eiger-500k', '--state-dir', dir], {});
  assert.ok(cfg !== 'help');
  assert.deepEqual(cfg.lima2, ['sim-camera:58800', 'sim-eiger-500k']);
  assert.throws(() => parseConfig(['--lima2', 'x:123456', '--state-dir', dir], {}), /--lima2: expected NAME\[:PORT\]/);
});

test('saving_fai: file names, places, and an existing first file under "abort"', async () => {
  const { faiFileClash, faiFileName, faiPlace } = await import('../../src/api/lima2/fai-files.js');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'lima2-fai-'));
  const p = { base_path: dir, filename_prefix: 'curves', start_number: 2, nb_frames_per_file: 4, file_exists_policy: 'abort' as const, nx_entry_name: 'e', nx_instrument_name: 'i', nx_detector_name: 'd' };
  assert.equal(faiFileName(p, 1), join(dir, 'curves_0_00003.h5'));
  assert.deepEqual(faiPlace(p, 9), { path: join(dir, 'curves_0_00004.h5'), index: 1 });
  assert.equal(await faiFileClash(p), null);
  writeFileSync(faiFileName(p, 0), '');
  assert.equal(await faiFileClash(p), faiFileName(p, 0));
  assert.equal(await faiFileClash({ ...p, file_exists_policy: 'overwrite' }), null);
});
