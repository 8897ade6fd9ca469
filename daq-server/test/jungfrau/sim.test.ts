/**
 * Jungfrau correction and pedestal mode against the simulated Jungfrau 4M:
 * corrected frames give back the simulated photons within the simulated
 * noise, G1/G2 pixels decode like the simulator's own decoder, saturation
 * is flagged, dark frames give back the simulated pedestals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JUNGFRAU_4M, assemblyMap } from '../../src/detectors/geometry/jungfrau-layout.js';
import { jfEnergy } from '../../src/detectors/sim/jungfrau.js';
import { jungfrauCorrectionStep, jungfrauPedestalStep, pedestalFromSums } from '../../src/processing/jungfrau/index.js';
import { PixelFlag, writeNpy } from '../../src/processing/steps/index.js';
import type { ImageSpec } from '../../src/processing/types.js';
import { make } from '../steps/helpers.js';
import { N4M, meanStd, simulate } from './helpers.js';

const RAW: ImageSpec = { dtype: 'uint16', shape: [8, 512, 1024], pixelSize: [75e-6, 75e-6] };
const MAP = assemblyMap(JUNGFRAU_4M);
const [ROWS, COLS] = JUNGFRAU_4M.imageShape;
const E = 12.4;

test('flat scene: corrected photons = the simulated expectation within Poisson + electronic noise', async () => {
  const { run, env } = await simulate({ scene: 'flat', flat_mean: 2, seed: 5, pool_size: 1 });
  assert.equal(env.detector.energy_kev, E);
  const h = make(jungfrauCorrectionStep, { output: 'photons' }, RAW, env);
  assert.deepEqual(h.build.output.shape, [ROWS, COLS]);
  assert.equal(h.build.output.dtype, 'float32');
  const ctx = h.run(run.frame(0).data);
  const img = ctx.image as Float32Array;
  const lam = run.expectation()!;
  assert.equal(img.length, lam.length);
  const single: number[] = [], halves: number[] = [];
  let lamSum = 0, imgSum = 0, lamSingle = 0;
  for (let k = 0; k < img.length; k++) {
    if (MAP.rawIndex[k] < 0) {
      assert.ok(Number.isNaN(img[k]), 'gaps are NaN');
      continue;
    }
    const r = img[k] - lam[k];
    lamSum += lam[k];
    imgSum += img[k];
    if (MAP.weight[k] === 1) {
      single.push(r);
      lamSingle += lam[k];
    } else if (MAP.weight[k] === 0.5) halves.push(r);
  }
  const s = meanStd(single);
  const lamMean = lamSingle / s.n;
  const sigmaE = 12 / (41 * E); // electronic noise in photons (G0)
  const expected = Math.sqrt(lamMean + sigmaE ** 2);
  assert.ok(Math.abs(s.mean) < 5 * expected / Math.sqrt(s.n), `mean residual ${s.mean} photons`);
  assert.ok(Math.abs(s.std / expected - 1) < 0.01, `residual spread ${s.std}, expected ${expected}`);
  // double pixels: each half carries half the counts of a pixel seeing 2λ → spread √(λ/2)
  const hh = meanStd(halves);
  assert.ok(Math.abs(hh.mean) < 0.01, `double-pixel halves: mean residual ${hh.mean}`);
  assert.ok(Math.abs(hh.std / Math.sqrt(lamMean / 2 + sigmaE ** 2 / 4) - 1) < 0.03, `double-pixel halves spread ${hh.std}`);
  // photons are conserved by the split
  assert.ok(Math.abs(imgSum / lamSum - 1) < 5 / Math.sqrt(lamSum), `total ${imgSum} vs ${lamSum}`);
  const flags = ctx.vars.get('mask') as Uint8Array;
  assert.equal(ctx.vars.get('jungfrau_flags'), flags);
  let bad = 0;
  for (let k = 0; k < flags.length; k++) if (flags[k] && flags[k] !== PixelFlag.GAP) bad++;
  assert.equal(bad, 0, 'dim flat frame: nothing flagged');
  run.close();
});

test('bright spots: G1 and G2 pixels decode like the simulator, and spots integrate to the drawn photons', async () => {
  const cfg = { scene: 'serial_crystallography', hit_rate: 1, spots_per_hit: 40, spot_intensity: 20000, seed: 2, pool_size: 0 };
  const { run, env, pedestal, gain } = await simulate(cfg);
  const frame = run.frame(0);
  const words = frame.data as Uint16Array;
  const raw = make(jungfrauCorrectionStep, { assemble: false }, RAW, env).run(words).image as Float32Array;
  const stages = [0, 0, 0];
  let worst = 0;
  for (let p = 0; p < N4M; p++) {
    const w = words[p];
    const code = w >>> 14;
    const g = code === 0 ? 0 : code === 1 ? 1 : 2;
    stages[g]++;
    if (g === 0 || w === 0xc000 || (w & 0x3fff) === 0x3fff) continue;
    const e = jfEnergy(w, p, { pedestal, gain });
    const tol = 1.2e-7 * ((w & 0x3fff) + pedestal[g * N4M + p]) / gain[g * N4M + p] + 1e-6;
    worst = Math.max(worst, Math.abs(raw[p] - e) / tol);
  }
  assert.ok(stages[1] > 20, `G1 pixels: ${stages[1]}`);
  assert.ok(stages[2] > 5, `G2 pixels: ${stages[2]}`);
  assert.ok(worst <= 1, `G1/G2 energies off by ${worst} × the float32 bound`);

  const img = make(jungfrauCorrectionStep, { output: 'photons' }, RAW, env).run(words).image as Float32Array;
  const bg = run.expectation()!;
  const truth = frame.truth as { spots: [number, number, number][] };
  let checked = 0, switched = 0;
  for (const [r, c, n] of truth.spots) {
    const ri = Math.round(r), ci = Math.round(c);
    if (ri < 4 || ri >= ROWS - 4 || ci < 4 || ci >= COLS - 4) continue;
    if (truth.spots.some(([r2, c2]) => (r2 !== r || c2 !== c) && Math.abs(r2 - r) < 10 && Math.abs(c2 - c) < 10)) continue;
    let sum = 0, back = 0, ok = true, out = false;
    for (let dr = -4; dr <= 4; dr++) {
      for (let dc = -4; dc <= 4; dc++) {
        const k = (ri + dr) * COLS + ci + dc;
        if (MAP.rawIndex[k] < 0 || Number.isNaN(img[k])) ok = false;
        else if (words[MAP.rawIndex[k]] >>> 14) out = true;
        sum += img[k];
        back += bg[k];
      }
    }
    if (!ok) continue;
    if (out) switched++;
    const tol = 6 * Math.sqrt(n + back) + 0.02 * n + 5;
    assert.ok(Math.abs(sum - back - n) < tol, `spot (${r}, ${c}): ${sum - back} photons, truth ${n}`);
    checked++;
  }
  assert.ok(checked >= 20, `${checked} spots checked`);
  assert.ok(switched >= 10, `${switched} spots with pixels out of G0`);
  run.close();
});

test('saturated pixels are flagged 2 and set to invalid_value, at every image pixel they cover', async () => {
  const { run, env } = await simulate({ scene: 'serial_crystallography', hit_rate: 1, spot_intensity: 5e6, spots_per_hit: 20, pool_size: 0 });
  const words = run.frame(0).data as Uint16Array;
  const h = make(jungfrauCorrectionStep, { invalid_value: -1 }, RAW, env);
  assert.equal(h.build.output.dummy, -1);
  const ctx = h.run(words);
  const img = ctx.image as Float32Array;
  const mask = ctx.vars.get('mask') as Uint8Array;
  let saturated = 0;
  for (let p = 0; p < N4M; p++) if (words[p] === 0xc000 || words[p] === 0xffff) saturated++;
  assert.ok(saturated > 5, `saturated raw pixels: ${saturated}`);
  let flaggedRaw = 0, flaggedImg = 0;
  for (let k = 0; k < img.length; k++) {
    const i = MAP.rawIndex[k];
    if (i < 0) continue;
    const sat = words[i] === 0xc000 || words[i] === 0xffff;
    assert.equal(mask[k], sat ? PixelFlag.SATURATED : 0, `image pixel ${k}`);
    if (sat) {
      assert.equal(img[k], -1);
      flaggedImg++;
      if (MAP.imageIndex[i] === k) flaggedRaw++;
    }
  }
  assert.equal(flaggedRaw, saturated);
  assert.ok(flaggedImg >= saturated);
  run.close();
});

test('pedestal mode: dark frames per forced gain give back the simulated pedestals within σ/√N; receivers combine exactly', async () => {
  const K = 4;
  const sigma = [12, 3, 2];
  const receivers = [0, 1].map(() => make(jungfrauPedestalStep, {}, RAW));
  const single = make(jungfrauPedestalStep, {}, RAW);
  const decl = single.build.streams;
  assert.deepEqual(decl.map((d) => [d.name, d.cadence, d.combine, d.dtype, d.shape]), [
    ['pedestal_sum', 'accumulated', 'sum', 'float64', [3, 8, 512, 1024]],
    ['pedestal_count', 'accumulated', 'sum', 'uint32', [3, 8, 512, 1024]],
  ]);
  let cal: Float32Array | null = null;
  let darkG0: Uint16Array | null = null;
  let index = 0;
  for (const dark_gain of ['G0', 'G1', 'G2']) {
    const { run, pedestal } = await simulate({ scene: 'dark', dark_gain, pool_size: 0, seed: 3 });
    cal = pedestal;
    for (let f = 0; f < K; f++) {
      const words = run.frame(f).data as Uint16Array;
      receivers[index % 2].run(words, index);
      single.run(words, index);
      index++;
    }
    if (dark_gain === 'G0') darkG0 = run.frame(K + 3).data as Uint16Array; // a later dark frame, not in the pedestal
    run.close();
  }
  // an incomplete frame is not used
  single.run(new Uint16Array(N4M), index, { valid: false });
  const parts = receivers.map((h) => h.build.step.partial!());
  const sum = parts[0].pedestal_sum.map((v, k) => v + parts[1].pedestal_sum[k]);
  const count = parts[0].pedestal_count.map((v, k) => v + parts[1].pedestal_count[k]);
  const whole = single.build.step.partial!();
  assert.deepEqual(count, whole.pedestal_count, 'counts of two receivers add up to those of one');
  assert.deepEqual(sum, whole.pedestal_sum, 'sums of two receivers add up exactly to those of one');
  const ped = pedestalFromSums(sum, count);
  for (let g = 0; g < 3; g++) {
    const res = new Float64Array(N4M);
    for (let p = 0; p < N4M; p++) {
      assert.equal(count[g * N4M + p], K);
      res[p] = ped[g * N4M + p] - cal![g * N4M + p];
    }
    const s = meanStd(res);
    const expected = Math.sqrt(sigma[g] ** 2 + 1 / 12) / Math.sqrt(K); // noise and ADC rounding, averaged over K frames
    assert.ok(Math.abs(s.mean) < 5 * expected / Math.sqrt(N4M), `G${g}: mean residual ${s.mean} ADU`);
    assert.ok(Math.abs(s.std / expected - 1) < 0.02, `G${g}: residual spread ${s.std} ADU, expected ${expected}`);
  }

  // the pedestals, saved as .npy, calibrate the correction of a new dark frame (env without maps)
  const dir = mkdtempSync(join(tmpdir(), 'daqlab-jf-'));
  try {
    const sim = await simulate({ scene: 'dark', seed: 3, pool_size: 1 });
    sim.run.close();
    const gain = sim.gain;
    writeNpy(join(dir, 'pedestal.npy'), ped, [3, 8, 512, 1024]);
    writeNpy(join(dir, 'gain.npy'), gain, [3, 8, 512, 1024]);
    const h = make(jungfrauCorrectionStep, { pedestal_file: join(dir, 'pedestal.npy'), gain_file: join(dir, 'gain.npy'), assemble: false }, RAW);
    const kev = h.run(darkG0!).image as Float32Array;
    const s = meanStd(kev);
    // σ of a dark pixel in keV: 12 ADU / 41 ADU/keV, plus the pedestal's own σ/√K
    const expected = (Math.sqrt(12 ** 2 + 1 / 12) / 41) * Math.sqrt(1 + 1 / K);
    assert.ok(Math.abs(s.mean) < 0.005, `dark frame mean ${s.mean} keV`);
    assert.ok(Math.abs(s.std / expected - 1) < 0.05, `dark frame spread ${s.std} keV, expected ≈ ${expected}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('timing: correction + assembly of a 4M frame (printed, not asserted)', async () => {
  const { run, env } = await simulate({ scene: 'serial_crystallography', seed: 1, pool_size: 1 });
  const words = run.frame(0).data as Uint16Array;
  const h = make(jungfrauCorrectionStep, { output: 'photons' }, RAW, env);
  const times: number[] = [];
  for (let i = 0; i < 25; i++) {
    const t = performance.now();
    h.run(words, i);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const src = new Uint8Array(words.buffer, words.byteOffset, words.byteLength), dst = new Uint8Array(words.byteLength);
  const mc: number[] = [];
  for (let i = 0; i < 25; i++) {
    const t = performance.now();
    dst.set(src);
    mc.push(performance.now() - t);
  }
  mc.sort((a, b) => a - b);
  console.log(
    `jungfrau_correction (photons, assembled 2164×2068) per 4M frame: best ${times[0].toFixed(2)} ms, median ${times[12].toFixed(2)} ms; ` +
      `memcpy of the 8 MiB raw frame: median ${mc[12].toFixed(2)} ms`,
  );
  run.close();
});
