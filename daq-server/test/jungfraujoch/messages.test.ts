/** Jungfraujoch's messages → what daqlab stores: calibration, metadata, image analysis fields; dataset settings; addresses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStream2 } from '../../src/detectors/dectris/stream2.js';
import type { SeriesImage } from '../../src/detectors/dectris/messages.js';
import { calibrationStreamName } from '../../src/detectors/dectris/series.js';
import { imageResults, ResultCollector } from '../../src/detectors/jungfraujoch/results.js';
import { datasetSettings, refusedField } from '../../src/detectors/jungfraujoch/settings.js';
import { parseJungfraujochAddress, reachable } from '../../src/detectors/jungfraujoch/address.js';
import { DaqError } from '../../src/protocol/index.js';
import { message, Tag } from '../dectris/cbor-encode.js';

const f32 = (a: number[]): Uint8Array => new Uint8Array(Float32Array.from(a).buffer);
const spots = [
  { x: 10.5, y: 20.25, I: 300, indexed: true },
  { x: 1, y: 2, I: 5, indexed: false },
];

test('an image message keeps its analysis fields (spots, counts, typed-array profile) as plain values', () => {
  const pixels = new Int32Array([1, -2, 3, 4]);
  const m = parseStream2(
    message({
      type: 'image', magic_number: 1, series_id: 9, series_unique_id: 'U', image_id: 5, start_time: [0, 1], end_time: [1, 2], real_time: [1, 2],
      data: { default: new Tag(40, [[2, 2], new Tag(78, new Uint8Array(pixels.buffer))]) },
      spots, spot_count: 2, indexing_result: true, indexing_unit_cell: { a: 78, b: 78, c: 37, alpha: 90, beta: 90, gamma: 90 },
      az_int_profile: new Tag(85, f32([1.5, 2.5, 0])),
    }),
  ) as SeriesImage;
  assert.equal(m.stop_time, 0.5, 'Jungfraujoch end_time is the stop time');
  assert.equal(m.data.default.dtype, 'int32');
  assert.deepEqual(m.extras?.az_int_profile, [1.5, 2.5, 0]);
  assert.equal(m.extras?.magic_number, undefined);
  const r = imageResults(5, m.extras ?? {}, 2);
  assert.ok(r);
  assert.deepEqual(r.peaks, [
    { frame_idx: 5, x: 10.5, y: 20.25, intensity: 300, sigma: null, snr: null, indexed: true },
    { frame_idx: 5, x: 1, y: 2, intensity: 5, sigma: null, snr: null, indexed: false },
  ]);
  assert.deepEqual(r.counter, { frame_idx: 5, receiver: 0, nb_peaks: 2, is_hit: true, indexed: true, unit_cell: { a: 78, b: 78, c: 37, alpha: 90, beta: 90, gamma: 90 } });
  assert.deepEqual(Array.from(r.profile ?? []), [1.5, 2.5, 0]);
  assert.equal(imageResults(6, { bkg_estimate: 3 }, 2), null, 'no analysis, no results');
  // the flat x, y, I triples of early Jungfraujoch versions
  assert.deepEqual(imageResults(7, { spots: [1, 2, 30, 4, 5, 60] }, 2)?.peaks.map((p) => [p.x, p.y, p.intensity]), [[1, 2, 30], [4, 5, 60]]);
});

test('calibration messages give one map per name; pedestals keep their name as stream', () => {
  const map = new Tag(40, [[2, 3], new Tag(85, f32([1, 2, 3, 4, 5, 6]))]);
  const c = parseStream2(message({ type: 'calibration', magic_number: 1, series_id: 3, data: { pedestal_G0: map, gain_G1: map, broken: 'x' } }));
  assert.equal(c.type, 'calibration');
  if (c.type !== 'calibration') return;
  assert.deepEqual(Object.keys(c.maps), ['pedestal_G0', 'gain_G1']);
  assert.deepEqual(c.maps.pedestal_G0.shape, [2, 3]);
  assert.match(c.bad.broken, /expected a typed array/);
  assert.equal(calibrationStreamName('pedestal_G0'), 'pedestal_g0');
  assert.equal(calibrationStreamName('gain G1/sc0'), 'calibration_gain_g1_sc0');
  // one map beside its name; none at all is named as bad input
  const one = parseStream2(message({ type: 'calibration', name: 'pedestal_G2', data: map }));
  assert.ok(one.type === 'calibration' && one.maps.pedestal_G2);
  assert.throws(() => parseStream2(message({ type: 'calibration', data: 3 })), /calibration message without maps/);
});

test('metadata messages carry several images; results count once per image, later copies as duplicates', () => {
  const m = parseStream2(message({ type: 'metadata', series_id: 3, images: [{ image_id: 0, spots, spot_count: 2, az_int_profile: new Tag(85, f32([1, 2])) }, { image_id: 1, spot_count: 0, spots: [], az_int_profile: [3, 4] }, 'junk'] }));
  assert.equal(m.type, 'metadata');
  if (m.type !== 'metadata') return;
  assert.equal(m.images.length, 2);
  assert.throws(() => parseStream2(message({ type: 'metadata', series_id: 3 })), /without 'images'/);
  const c = new ResultCollector(1, () => [0.1, 0.2]);
  for (const img of m.images) c.add(img.image_id as number, img);
  assert.equal(c.add(0, m.images[0]), false);
  assert.equal(c.duplicates, 1);
  const out = c.take();
  assert.deepEqual(out.map((r) => r.stream), ['peaks', 'peak_counter', 'radial', 'intensity']);
  const counter = out[1];
  assert.ok(counter.kind === 'event');
  assert.deepEqual(counter.events.map((e) => (e as { is_hit: boolean }).is_hit), [true, false]);
  assert.equal(counter.info.min_nb_peaks, 1);
  const intensity = out[3];
  assert.ok(intensity.kind === 'array');
  assert.deepEqual(intensity.shape, [2]);
  assert.deepEqual(intensity.frames, [0, 1]);
  assert.deepEqual(intensity.items.map((a) => Array.from(a)), [[1, 2], [3, 4]]);
  assert.deepEqual(c.take(), [], 'handed out once');
});

test('the radial bins of an image or metadata message serve when the start message had none (as PSI streamvis reads them)', () => {
  const c = new ResultCollector(1, () => null);
  c.add(0, { spot_count: 1, az_int_profile: [5, 6, 7], az_int_bin_to_q: [0.1, 0.2, 0.3] });
  const radial = c.take().find((r) => r.stream === 'radial');
  assert.ok(radial && radial.kind === 'array');
  assert.deepEqual(Array.from(radial.items[0]).map((v) => Number(v.toFixed(3))), [0.1, 0.2, 0.3]);
});

const acq = { nb_frames: 12, expo_time: 0.0009, latency_time: 0.0001, trigger_mode: 'internal' as const, nb_frames_per_trigger: 1 };
const geometry = { beam_center_x: 100.5, beam_center_y: 200, detector_distance: 0.12, incident_energy: 12400 };

test("prepare → DatasetSettings, in Jungfraujoch's units", () => {
  assert.deepEqual(datasetSettings({ ...geometry, file_prefix: 'x/y', compression: 'bszstd' }, acq, 500, 77), {
    images_per_trigger: 12, ntrigger: 1, image_time_us: 1000, beam_x_pxl: 100.5, beam_y_pxl: 200, detector_distance_mm: 120, incident_energy_keV: 12.4, file_prefix: 'x/y', sample_name: '', compression: 'bszstd', run_number: 77,
  });
  const soft = datasetSettings(geometry, { ...acq, trigger_mode: 'software', nb_frames_per_trigger: 4 }, 500, 1);
  assert.equal(soft.images_per_trigger, 4);
  assert.equal(soft.ntrigger, 3);
});

test('settings Jungfraujoch would refuse are refused first, naming the prepare field', () => {
  const field = (fn: () => unknown): string[] => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof DaqError);
      return (e.fields ?? []).map((x) => x.field);
    }
    return [];
  };
  assert.deepEqual(field(() => datasetSettings(geometry, { ...acq, expo_time: 0.00065 }, 500, 1)), ['acquisition.expo_time']);
  assert.deepEqual(field(() => datasetSettings(geometry, { ...acq, expo_time: 0.2 }, 500, 1)), ['acquisition.expo_time']);
  assert.deepEqual(field(() => datasetSettings(geometry, { ...acq, expo_time: 0.0000005 }, null, 1)), ['acquisition.expo_time']);
  assert.deepEqual(field(() => datasetSettings({ ...geometry, incident_energy: 600_000 }, acq, 500, 1)), ['detector.incident_energy']);
  assert.deepEqual(field(() => datasetSettings(geometry, { ...acq, trigger_mode: 'software', nb_frames_per_trigger: 5 }, 500, 1)), ['acquisition.nb_frames']);
  assert.equal(refusedField('incident_energy_keV: must be a number in [0.001, 500]'), 'detector.incident_energy');
  assert.equal(refusedField('something else'), 'detector');
});

test('--jungfraujoch addresses', () => {
  assert.deepEqual(parseJungfraujochAddress('jf=http://10.0.0.6'), { name: 'jf', url: 'http://10.0.0.6:5232', stream: null, metadata: null });
  assert.deepEqual(parseJungfraujochAddress('jf=http://h:80,stream=tcp://h:5500,metadata=tcp://h:5501'), { name: 'jf', url: 'http://h:80', stream: 'tcp://h:5500', metadata: 'tcp://h:5501' });
  assert.throws(() => parseJungfraujochAddress('jf=http://h/x'), /takes no path/);
  assert.throws(() => parseJungfraujochAddress('jf=http://h,format=cbor'), /unknown option "format"/);
  assert.throws(() => parseJungfraujochAddress('jf=http://h,stream=udp://h'), /stream must be tcp/);
  assert.equal(reachable('tcp://0.0.0.0:5500', 'http://10.0.0.6:5232'), 'tcp://10.0.0.6:5500');
  assert.equal(reachable('tcp://10.1.1.1:5500', 'http://10.0.0.6:5232'), 'tcp://10.1.1.1:5500');
});

test('--jungfraujoch on the command line and in the --config file; a typo fails at start, naming the option', async () => {
  const { parseConfig } = await import('../../src/config.js');
  const { writeFileSync, mkdtempSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const cfg = parseConfig(['--jungfraujoch', 'jf=http://10.0.0.6:5232'], {});
  assert.ok(cfg !== 'help');
  assert.deepEqual(cfg.jungfraujoch, ['jf=http://10.0.0.6:5232']);
  const file = join(mkdtempSync(join(tmpdir(), 'jfcfg-')), 'c.json');
  writeFileSync(file, JSON.stringify({ jungfraujoch: 'a=http://h:1' }));
  const fromFile = parseConfig(['--config', file, '--jungfraujoch', 'b=http://h:2'], {});
  assert.ok(fromFile !== 'help');
  assert.deepEqual(fromFile.jungfraujoch, ['a=http://h:1', 'b=http://h:2']);
  assert.throws(() => parseConfig(['--jungfraujoch', 'jf=ftp://h'], {}), /--jungfraujoch "jf=ftp:\/\/h": the broker URL must be http/);
});
