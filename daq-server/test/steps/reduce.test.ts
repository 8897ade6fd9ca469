/** roi statistics and profiles, accumulation, output_dtype. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accumulationStep, outputDtypeStep, ROI_COLUMNS, roiStep } from '../../src/processing/steps/index.js';
import { make, problems, ramp, spec } from './helpers.js';

const R = 6, C = 8;

test('roi_stats: sum, mean, std, min, max over valid pixels, by hand', () => {
  const img = ramp(R * C, (k) => k); // value = r·8 + c
  img[1 * C + 2] = NaN; // inside roi a
  const mask = new Uint8Array(R * C);
  mask[2 * C + 3] = 1; // inside roi a, masked
  const rois = [
    { name: 'a', roi: [1, 2, 2, 2] }, // pixels (1,2)=NaN (1,3)=11 (2,2)=18 (2,3)=masked
    { name: 'whole', roi: [0, 0, R, C] },
    { name: 'dead', roi: [1, 2, 1, 1] }, // only the NaN pixel
  ];
  const h = make(roiStep, { rois }, spec([R, C]));
  const decl = h.build.streams.find((s) => s.name === 'roi_stats')!;
  assert.deepEqual(decl.shape, [3, 5]);
  assert.equal(decl.dtype, 'float64');
  assert.deepEqual((decl.info as { columns: string[] }).columns, [...ROI_COLUMNS]);
  assert.deepEqual((decl.info as { rois: unknown[] }).rois, rois);
  h.run(img, 4, { vars: new Map([['mask', mask]]) });
  const s = h.items('roi_stats')[0] as Float64Array;
  // roi a: values 11, 18
  assert.deepEqual(Array.from(s.subarray(0, 5)), [29, 14.5, 3.5, 11, 18]);
  // whole image: 0..47 without 10 (NaN) and 19 (masked)
  const vals = Array.from({ length: 48 }, (_, k) => k).filter((k) => k !== 10 && k !== 19);
  const sum = vals.reduce((a, b) => a + b, 0), mean = sum / vals.length;
  const std = Math.sqrt(vals.reduce((a, v) => a + (v - mean) ** 2, 0) / vals.length);
  assert.equal(s[5], sum);
  assert.ok(Math.abs(s[6] - mean) < 1e-12);
  assert.ok(Math.abs(s[7] - std) < 1e-9);
  assert.deepEqual([s[8], s[9]], [0, 47]);
  // empty: sum 0, the rest NaN
  assert.equal(s[10], 0);
  assert.ok([11, 12, 13, 14].every((k) => Number.isNaN(s[k])));
});

test('roi_stats: std is exact for a large offset (shifted sums); invalid frames give NaN rows and no profile event', () => {
  const img = new Float32Array(R * C).fill(1e6);
  img[0] = 1e6 + 2;
  img[1] = 1e6 - 2;
  const h = make(roiStep, { rois: [{ name: 'x', roi: [0, 0, 1, 4] }] }, spec([R, C]));
  h.run(img, 0);
  const s = h.items('roi_stats')[0] as Float64Array;
  assert.ok(Math.abs(s[2] - Math.sqrt(2)) < 1e-9, `std ${s[2]}`);
  h.run(img, 1, { valid: false });
  const bad = h.items('roi_stats')[1] as Float64Array;
  assert.ok(Array.from(bad).every(Number.isNaN));
  assert.equal(h.items('roi_profiles').length, 1);
});

test('roi_profiles: row and column sums per ROI', () => {
  const img = ramp(R * C, (k) => k);
  img[2 * C + 1] = NaN;
  const h = make(roiStep, { rois: [{ name: 'p', roi: [1, 1, 3, 2] }] }, spec([R, C]));
  h.run(img, 7);
  const ev = h.items('roi_profiles')[0] as { frame_idx: number; profiles: Record<string, { rows: number[]; cols: number[] }> };
  assert.equal(ev.frame_idx, 7);
  // ROI pixels: rows 1..3, cols 1..2 → [[9, 10], [NaN, 18], [25, 26]]
  assert.deepEqual(ev.profiles.p.rows, [19, 18, 51]);
  assert.deepEqual(ev.profiles.p.cols, [34, 54]);
  const off = make(roiStep, { rois: [{ name: 'p', roi: [1, 1, 3, 2] }], roi_profiles: false }, spec([R, C]));
  assert.deepEqual(off.build.streams.map((s) => s.name), ['roi_stats']);
});

test('roi: ROIs outside the image and duplicate names are field errors; no ROI = no stream', () => {
  const p = problems(roiStep, { rois: [{ name: 'ok', roi: [0, 0, 2, 2] }, { name: 'out', roi: [5, 0, 2, 2] }, { name: 'ok', roi: [0, 0, 1, 1] }] }, spec([R, C]));
  assert.deepEqual(p.map((e) => e.field), ['rois[1]', 'rois[2].name']);
  assert.match(p[0].message, /ROI "out" rows 5\.\.6, cols 0\.\.1 is outside the 6 × 8 image/);
  assert.match(p[1].message, /already the name of rois\[0\]/);
  assert.equal(problems(roiStep, { rois: [{ name: 'z', roi: [0, 0, 0, 3] }] }, spec([R, C]))[0].field, 'rois[0]');
  assert.equal(problems(roiStep, { rois: [{ name: 'z', roi: [0, 0, 1, 1] }] }, spec([2, R, C]))[0].field, 'input');
  const none = make(roiStep, {}, spec([R, C]));
  assert.deepEqual(none.build.streams, []);
});

test('accumulation, one receiver: groups ⌊i/N⌋, one item per group with its last frame', () => {
  const n = 4;
  const h = make(accumulationStep, { accumulation_frames: 3 }, spec([2, 2]));
  for (let i = 0; i < 9; i++) {
    const img = new Float32Array(n).fill(i);
    if (i === 4) img[0] = NaN; // left out of group 1 for pixel 0
    h.run(img, i, { valid: i !== 7 });
  }
  const sums = h.items('accumulation') as Float32Array[];
  const info = h.items('accumulation_info') as { group: number; frames: number; complete: boolean; frame_indices: number[] }[];
  assert.deepEqual(h.emitted.filter((e) => e.stream === 'accumulation').map((e) => e.index), [2, 5, 8]);
  assert.deepEqual(info.map((x) => x.group), [0, 1, 2]);
  assert.deepEqual(Array.from(sums[0]), [3, 3, 3, 3]);
  assert.deepEqual(Array.from(sums[1]), [8, 12, 12, 12]);
  assert.deepEqual(Array.from(sums[2]), [14, 14, 14, 14], 'invalid frame 7 skipped');
  assert.deepEqual(info[2].frame_indices, [6, 8]);
  assert.deepEqual([info[0].complete, info[2].complete], [true, false]);
  assert.notEqual(sums[0], sums[1], 'each item is a fresh array');
});

test('accumulation, round-robin over 3 receivers: partial sums add up exactly per group', () => {
  const N = 4, frames = 12, R = 3;
  const receivers = Array.from({ length: R }, () => make(accumulationStep, { accumulation_frames: N, accumulation_dtype: 'float64' }, spec([1, 3])));
  const img = (i: number) => Float32Array.from([i, i * i, 1]);
  for (let i = 0; i < frames; i++) receivers[i % R].run(img(i), i, { receiver: i % R });
  const total = new Map<number, { sum: number[]; frames: number }>();
  for (const h of receivers) {
    const sums = h.items('accumulation') as Float64Array[];
    const info = h.items('accumulation_info') as { group: number; frames: number }[];
    assert.equal(sums.length, info.length);
    sums.forEach((s, k) => {
      const t = total.get(info[k].group) ?? { sum: [0, 0, 0], frames: 0 };
      s.forEach((v, j) => (t.sum[j] += v));
      t.frames += info[k].frames;
      total.set(info[k].group, t);
    });
  }
  assert.deepEqual([...total.keys()].sort(), [0, 1, 2]);
  for (const [g, t] of total) {
    let a = 0, b = 0;
    for (let i = g * N; i < (g + 1) * N; i++) {
      a += i;
      b += i * i;
    }
    assert.deepEqual(t.sum, [a, b, N], `group ${g}`);
    assert.equal(t.frames, N);
  }
  // one item per group and receiver, none left pending (the stride predicts each receiver's last frame of a group)
  assert.deepEqual(receivers.map((h) => h.items('accumulation').length), [3, 3, 3]);
});

test('output_dtype: rounding, clamping, invalid pixels; null is a no-op', () => {
  const img = Float32Array.from([1.4, 1.6, -3, 70000.2, NaN, 42, 2.5]);
  const mask = new Uint8Array(7);
  mask[5] = 1;
  const h = make(outputDtypeStep, { output_dtype: 'uint16', output_invalid_value: 65535 }, spec([1, 7]));
  assert.equal(h.build.output.dtype, 'uint16');
  assert.equal(h.build.output.dummy, 65535);
  const out = h.run(img, 0, { vars: new Map([['mask', mask]]) }).image;
  assert.ok(out instanceof Uint16Array);
  assert.deepEqual(Array.from(out), [1, 2, 0, 65535, 65535, 65535, 3]);
  const i32 = make(outputDtypeStep, { output_dtype: 'int32' }, spec([1, 7])).run(img).image;
  assert.deepEqual(Array.from(i32), [1, 2, -3, 70000, 0, 42, 3]);
  const u32 = make(outputDtypeStep, { output_dtype: 'uint32', output_invalid_value: -5 }, spec([1, 3], 'uint32', { dummy: 4294967295 }));
  assert.deepEqual(Array.from(u32.run(Uint32Array.from([4294967295, 7, 4294967294])).image), [0, 7, 4294967294], 'dummy → invalid value, clamped to 0');
  const f32 = make(outputDtypeStep, { output_dtype: 'float32' }, spec([1, 3], 'uint32', { dummy: 4294967295 })).run(Uint32Array.from([4294967295, 7, 1])).image;
  assert.ok(Number.isNaN(f32[0]));
  assert.equal(f32[1], 7);
  const noop = make(outputDtypeStep, {}, spec([1, 7]));
  assert.equal(noop.run(img).image, img);
});
