/** smx step factories: schemas, events, veto, invalid frames, accumulated partials, the vars contract. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import type { TypedArray } from '../../src/protocol/index.js';
import type { FrameContext, ImageSpec, StepEnvironment } from '../../src/processing/types.js';
import { accumulateCorrectedStep, f32, peakfinderStep, smxSteps, sparsifyStep } from '../../src/processing/smx/steps.js';
import { densify, interpolateBackground } from '../../src/processing/smx/background.js';
import { combineSum } from '../../src/processing/smx/accumulate.js';
import * as V from '../../src/processing/smx/vars.js';
import { Rng, makeFrame, type SyntheticFrame } from './helpers.js';

const ENV: StepEnvironment = { detector: {}, maps: {} };
const ROWS = 64, COLS = 80;
const INPUT: ImageSpec = { dtype: 'float32', shape: [ROWS, COLS] };

function ctxOf(index: number, f: SyntheticFrame, opts: { valid?: boolean; vars?: Record<string, unknown>; receiver?: number } = {}) {
  const items: { stream: string; item: Record<string, unknown> | TypedArray }[] = [];
  const vars = new Map<string, unknown>(
    Object.entries(
      opts.vars ?? {
        [V.VAR_NORM]: f.norm,
        [V.VAR_VALID]: f.valid,
        [V.VAR_BACKGROUND_PIXEL_AVG]: f.bgAvg,
        [V.VAR_BACKGROUND_PIXEL_STD]: f.bgStd,
        [V.VAR_BACKGROUND_AVG]: new Float32Array([0.5, 0.5]),
        [V.VAR_BACKGROUND_STD]: new Float32Array([0.7, 0.7]),
      },
    ),
  );
  const ctx: FrameContext = {
    index,
    receiver: opts.receiver ?? 0,
    valid: opts.valid ?? true,
    image: f.image,
    vars,
    veto: false,
    emit(stream, item) {
      items.push({ stream, item });
    },
  };
  return { ctx, items, events: (s: string) => items.filter((i) => i.stream === s).map((i) => i.item as Record<string, any>) };
}

const frameWith = (nSpots: number, seed: number): SyntheticFrame =>
  makeFrame({
    rows: ROWS,
    cols: COLS,
    background: () => 0.5,
    spots: Array.from({ length: nSpots }, (_, i) => ({ row: 8 + 12 * Math.floor(i / 6) + 0.3, col: 8 + 12 * (i % 6) + 0.2, photons: 1000 + 100 * i })),
    sigma: 1,
    seed,
  });

test('schemas are draft-07 with defaults (ESRF ID29 values) and validate', () => {
  const ajv = new Ajv({ useDefaults: true, strict: false });
  const names = smxSteps().map((s) => s.name);
  assert.deepEqual(names, ['sparsify', 'peakfinder', 'accumulate_corrected']);
  const params: Record<string, unknown> = {};
  assert.ok(ajv.validate(peakfinderStep.schema, params));
  assert.deepEqual(params, { noise: 0.5, cutoff_peak: 4, patch_size: 5, connected: 7, max_num_peaks: 2048, min_nb_peaks: 20, veto: false, peaks_at_border: false });
  const sp: Record<string, unknown> = {};
  assert.ok(ajv.validate(sparsifyStep.schema, sp));
  assert.deepEqual(sp, { noise: 0.5, cutoff_pick: 4 });
  assert.equal(ajv.validate(peakfinderStep.schema, { noise: -1 }), false);
  assert.equal(ajv.validate(peakfinderStep.schema, { unknown_key: 1 }), false);
  // shared keys share one schema (the pipeline schema is the flat union)
  assert.equal((sparsifyStep.schema.properties as any).noise, (peakfinderStep.schema.properties as any).noise);
  // checks a schema cannot express
  assert.deepEqual(peakfinderStep.check!({ patch_size: 4 }, INPUT, ENV).map((e) => e.field), ['patch_size']);
  assert.deepEqual(peakfinderStep.check!({ patch_size: 3, connected: 10 }, INPUT, ENV).map((e) => e.field), ['connected']);
  assert.equal(peakfinderStep.check!({}, INPUT, ENV).length, 0);
  assert.equal(sparsifyStep.check!({}, { dtype: 'uint16', shape: [8, 512, 1024] }, ENV).length, 1);
  // streams
  const pf = peakfinderStep.create({}, INPUT, ENV);
  assert.deepEqual(pf.streams.map((s) => [s.name, s.kind, s.cadence, s.combine]), [
    ['peaks', 'event', 'frame', undefined],
    ['peak_counter', 'event', 'frame', undefined],
    ['acc_peaks', 'array', 'accumulated', 'sum'],
  ]);
  assert.deepEqual(pf.streams[2].shape, [ROWS, COLS]);
  assert.deepEqual(pf.output, INPUT);
});

test('sparsify step: one JSON event per frame, densifiable; invalid frames give an empty flagged event', () => {
  const f = frameWith(12, 1);
  const step = sparsifyStep.create({ noise: 0.5, cutoff_pick: 3 }, INPUT, ENV).step;
  const { ctx, events } = ctxOf(7, f);
  step.process(ctx);
  const [ev] = events('sparse_frame');
  assert.equal(ev.frame_idx, 7);
  assert.ok(Array.isArray(ev.index) && ev.index.length > 12 * 7 && ev.index.length === ev.intensity.length);
  assert.deepEqual(ev.background_avg, [0.5, 0.5]);
  assert.deepEqual(JSON.parse(JSON.stringify(ev)), ev, 'JSON-able');
  const dense = densify({ index: ev.index, intensity: ev.intensity }, f.bgAvg, { norm: f.norm });
  for (const k of ev.index as number[]) assert.equal(dense[k], f.image[k]);
  const bad = ctxOf(8, f, { valid: false });
  step.process(bad.ctx);
  assert.deepEqual(bad.events('sparse_frame')[0], { frame_idx: 8, index: [], intensity: [], background_avg: [0.5, 0.5], background_std: [0.7, 0.7], invalid: true });
});

test('peakfinder step: peaks and peak_counter events, hit decision, veto of non-hits, invalid frames, acc_peaks partial', () => {
  const build = peakfinderStep.create({ min_nb_peaks: 10, veto: true }, INPUT, ENV);
  const step = build.step;
  const hit = frameWith(20, 2);
  const a = ctxOf(3, hit, { receiver: 2 });
  step.process(a.ctx);
  const peaks = a.events('peaks');
  assert.equal(peaks.length, 20);
  assert.deepEqual(Object.keys(peaks[0]).sort(), ['frame_idx', 'intensity', 'sigma', 'snr', 'x', 'y']);
  for (let i = 1; i < peaks.length; i++) assert.ok(peaks[i].intensity <= peaks[i - 1].intensity);
  assert.deepEqual(a.events('peak_counter'), [{ frame_idx: 3, receiver: 2, nb_peaks: 20, is_hit: true }]);
  assert.equal(a.ctx.veto, false);
  assert.equal(a.ctx.vars.get(V.VAR_IS_HIT), true);
  assert.equal((a.ctx.vars.get(V.VAR_PEAKS) as { total: number }).total, 20);

  const miss = frameWith(5, 3);
  const b = ctxOf(4, miss);
  step.process(b.ctx);
  assert.deepEqual(b.events('peak_counter'), [{ frame_idx: 4, receiver: 0, nb_peaks: 5, is_hit: false }]);
  assert.equal(b.ctx.veto, true, 'non-hit vetoed');

  const c = ctxOf(5, hit, { valid: false });
  step.process(c.ctx);
  assert.deepEqual(c.events('peak_counter'), [{ frame_idx: 5, receiver: 0, nb_peaks: 0, is_hit: false, invalid: true }]);
  assert.equal(c.events('peaks').length, 0);
  assert.equal(c.ctx.veto, true);

  // without veto nothing is vetoed
  const keep = peakfinderStep.create({ min_nb_peaks: 10 }, INPUT, ENV).step;
  const d = ctxOf(6, miss);
  keep.process(d.ctx);
  assert.equal(d.ctx.veto, false);

  // acc_peaks: the 20 + 5 peaks of frames 3 and 4 at their nearest pixels (frame 4's spots are frame 3's first five)
  const acc = step.partial!().acc_peaks as Float32Array;
  assert.equal(acc.length, ROWS * COLS);
  let n = 0, total = 0;
  for (const x of acc) {
    if (x !== 0) n++;
    total += x;
  }
  const expected = [...peaks, ...b.events('peaks')].reduce((s, p) => s + p.intensity, 0);
  assert.equal(n, 20);
  assert.ok(Math.abs(total - expected) < 1e-3 * expected);
  const p0 = peaks[0];
  assert.ok(acc[Math.round(p0.y) * COLS + Math.round(p0.x)] >= p0.intensity * 0.999);
});

test('the cap: nb_peaks counts all peaks, events hold max_num_peaks', () => {
  const step = peakfinderStep.create({ max_num_peaks: 4, min_nb_peaks: 10 }, INPUT, ENV).step;
  const { ctx, events } = ctxOf(0, frameWith(15, 4));
  step.process(ctx);
  assert.equal(events('peaks').length, 4);
  assert.deepEqual(events('peak_counter'), [{ frame_idx: 0, receiver: 0, nb_peaks: 15, is_hit: true, nb_peaks_reported: 4 }]);
});

test('vars contract: per-bin background + radius_pixel is interpolated (and shared with the next step); missing background is an error', () => {
  const f = frameWith(12, 5);
  // a radial background: bins over the radius from the image centre
  const radius = new Float32Array(ROWS * COLS);
  for (let r = 0; r < ROWS; r++) for (let c = 0; c < COLS; c++) radius[r * COLS + c] = Math.hypot(r - 32, c - 40);
  const radial = Float32Array.from({ length: 60 }, (_, i) => 0.5 + i);
  const avg = new Float32Array(60).fill(0.5), std = new Float32Array(60).fill(Math.SQRT1_2);
  const vars = { [V.VAR_BACKGROUND_AVG]: avg, [V.VAR_BACKGROUND_STD]: std, [V.VAR_RADIAL]: radial, [V.VAR_RADIUS_PIXEL]: radius, [V.VAR_NORM]: f.norm };
  const sp = sparsifyStep.create({}, INPUT, ENV).step;
  const pf = peakfinderStep.create({ min_nb_peaks: 12 }, INPUT, ENV).step;
  const x = ctxOf(0, f, { vars });
  sp.process(x.ctx);
  const shared = x.ctx.vars.get(V.VAR_BACKGROUND_PIXEL_AVG);
  assert.ok(shared instanceof Float32Array);
  pf.process(x.ctx);
  assert.equal(x.ctx.vars.get(V.VAR_BACKGROUND_PIXEL_AVG), shared, 'the peak finder reuses the interpolated background');
  assert.deepEqual(x.events('peak_counter'), [{ frame_idx: 0, receiver: 0, nb_peaks: 12, is_hit: true }]);
  // same result as with the explicit per-pixel arrays
  const ea = new Float32Array(ROWS * COLS), es = new Float32Array(ROWS * COLS);
  interpolateBackground(radius, radial, avg, std, ea, es);
  const y = ctxOf(0, f, { vars: { [V.VAR_BACKGROUND_PIXEL_AVG]: ea, [V.VAR_BACKGROUND_PIXEL_STD]: es, [V.VAR_NORM]: f.norm } });
  sparsifyStep.create({}, INPUT, ENV).step.process(y.ctx);
  assert.deepEqual(y.events('sparse_frame')[0].index, x.events('sparse_frame')[0].index);
  // the mask falls back to finite, non-dummy pixels
  const z = ctxOf(0, f, { vars: { [V.VAR_BACKGROUND_PIXEL_AVG]: ea, [V.VAR_BACKGROUND_PIXEL_STD]: es, [V.VAR_NORM]: f.norm } });
  f.image[0] = NaN;
  sparsifyStep.create({}, INPUT, ENV).step.process(z.ctx);
  assert.ok(!(z.events('sparse_frame')[0].index as number[]).includes(0));
  // nothing to work with
  const none = ctxOf(0, f, { vars: {} });
  assert.throws(() => sparsifyStep.create({}, INPUT, ENV).step.process(none.ctx), /background_pixel_avg/);
  const wrong = ctxOf(0, f, { vars: { [V.VAR_BACKGROUND_PIXEL_AVG]: new Float32Array(5), [V.VAR_BACKGROUND_PIXEL_STD]: es } });
  assert.throws(() => peakfinderStep.create({}, INPUT, ENV).step.process(wrong.ctx), /5 elements/);
});

test('accumulate_corrected: sums valid frames over usable pixels; receivers combine by sum', () => {
  const frames = [frameWith(3, 10), frameWith(3, 11), frameWith(3, 12), frameWith(3, 13)];
  frames[1].valid[5] = 0;
  const recv = [accumulateCorrectedStep.create({}, INPUT, ENV).step, accumulateCorrectedStep.create({}, INPUT, ENV).step];
  frames.forEach((f, i) => recv[i % 2].process(ctxOf(i, f, { valid: i !== 2 }).ctx));
  const total = combineSum(recv.map((s) => s.partial!().acc_corrected as Float32Array));
  for (const k of [0, 5, 100, 2000]) {
    let s = 0;
    frames.forEach((f, i) => {
      if (i !== 2 && f.valid[k]) s += f.image[k];
    });
    assert.equal(total[k], s);
  }
  const decl = accumulateCorrectedStep.create({}, INPUT, ENV).streams[0];
  assert.deepEqual([decl.name, decl.kind, decl.cadence, decl.combine, decl.dtype], ['acc_corrected', 'array', 'accumulated', 'sum', 'float32']);
});

test('uint32 frames with a dummy: gap pixels (dummy) never picked nor accumulated when no mask is given', () => {
  const f = frameWith(6, 20);
  const img = Uint32Array.from(f.image);
  const dummy = 4294967295;
  for (let c = 0; c < COLS; c++) img[30 * COLS + c] = dummy;
  const spec: ImageSpec = { dtype: 'uint32', shape: [ROWS, COLS], dummy };
  const x = ctxOf(0, { ...f, image: img as unknown as Float32Array }, { vars: { [V.VAR_BACKGROUND_PIXEL_AVG]: f.bgAvg, [V.VAR_BACKGROUND_PIXEL_STD]: f.bgStd } });
  sparsifyStep.create({}, spec, ENV).step.process(x.ctx);
  const idx = x.events('sparse_frame')[0].index as number[];
  assert.ok(idx.length > 0 && idx.every((k) => Math.floor(k / COLS) !== 30));
  const acc = accumulateCorrectedStep.create({}, spec, ENV).step;
  acc.process(x.ctx);
  const sum = acc.partial!().acc_corrected as Float32Array;
  assert.equal(sum[30 * COLS + 3], 0);
  assert.equal(sum[31 * COLS + 3], img[31 * COLS + 3]);
});

test('f32: the shortest decimal that is the same float32 (compact JSON)', () => {
  assert.equal(f32(Math.fround(0.7)), 0.7);
  assert.equal(f32(Math.fround(1 / 3)), 0.33333334);
  assert.equal(f32(12), 12);
  const rng = new Rng(9);
  for (let i = 0; i < 20000; i++) {
    const x = Math.fround((rng.uniform() - 0.5) * 10 ** (rng.uniform() * 16 - 8));
    const y = f32(x);
    assert.equal(Math.fround(y), x);
    assert.ok(String(y).replace(/^-?0?\.?0*|e.*$|\./g, '').length <= 9, `${x} → ${y}`);
  }
});
