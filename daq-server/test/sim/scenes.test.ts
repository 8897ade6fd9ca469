/** Scenes: powder rings where Bragg puts them, serial crystallography hits and spots, saxs, xpcs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PyFAIGeometry, type PoniParameters } from '../../src/detectors/geometry/pyfai-geometry.js';
import type { SerialScene } from '../../src/detectors/sim/scenes.js';
import type { SimRun } from '../../src/detectors/sim/run.js';
import { openRun } from './helpers.js';

const HC_KEV_ANGSTROM = 12.398419843320026;
const deg = (rad: number): number => (rad * 180) / Math.PI;

function geometryOf(run: SimRun): PyFAIGeometry {
  const g = run.describe().geometry as PoniParameters & { shape: [number, number]; pixel1: number; pixel2: number };
  return PyFAIGeometry.forDetector(g, g.shape, [g.pixel1, g.pixel2]);
}

/** Azimuthal average of `values` in 2θ bins of `width` degrees over pixels where values > 0. */
function radialProfile(values: Float32Array, tth: Float64Array, width: number): Float64Array {
  let max = 0;
  for (let k = 0; k < tth.length; k++) if (tth[k] > max) max = tth[k];
  const n = Math.ceil(deg(max) / width) + 1;
  const sum = new Float64Array(n), cnt = new Float64Array(n);
  for (let k = 0; k < values.length; k++) {
    if (!(values[k] > 0)) continue;
    const b = Math.floor(deg(tth[k]) / width);
    sum[b] += values[k];
    cnt[b]++;
  }
  for (let b = 0; b < n; b++) sum[b] = cnt[b] >= 30 ? sum[b] / cnt[b] : 0;
  return sum;
}

function peaks(profile: Float64Array, width: number, minHeight: number): number[] {
  const out: number[] = [];
  for (let b = 3; b < profile.length - 3; b++) {
    const v = profile[b];
    if (v < minHeight) continue;
    let isMax = true;
    for (let d = -3; d <= 3; d++) if (d !== 0 && profile[b + d] > v) isMax = false;
    if (!isMax) continue;
    // parabolic refinement
    const a = profile[b - 1], c = profile[b + 1];
    const off = a - 2 * v + c !== 0 ? (0.5 * (a - c)) / (a - 2 * v + c) : 0;
    out.push((b + 0.5 + off) * width);
  }
  return out;
}

const braggDeg = (a: number, n: number, energyKeV: number): number => deg(2 * Math.asin(HC_KEV_ANGSTROM / energyKeV / (2 * (a / Math.sqrt(n)))));

test('powder: ring maxima of the expectation match Bragg for CeO2 on the Eiger 4M', async () => {
  const run = await openRun('sim-eiger-4m', { scene: 'powder', calibrant: 'CeO2', pool_size: 1 });
  const tth = geometryOf(run).tth();
  const width = 0.01;
  const found = peaks(radialProfile(run.expectation()!, tth, width), width, 2);
  // fluorite (fcc): 111, 200, 220, 311, 222 → h²+k²+l² = 3, 4, 8, 11, 12
  const expected = [3, 4, 8, 11, 12].map((n) => braggDeg(5.4111, n, 12.4));
  assert.ok(found.length >= 4, `rings found: ${found}`);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(found[i] - expected[i]) < 0.01, `ring ${i}: ${found[i]}° vs Bragg ${expected[i]}°`);
  const described = (run.describe().scene_info as { rings: { tth_deg: number }[] }).rings;
  assert.ok(Math.abs(described[0].tth_deg - expected[0]) < 1e-9);
  run.close();
});

test('powder: LaB6 (simple cubic, all hkl) on the Eiger 500k at 10 keV, and counts follow the rings', async () => {
  const run = await openRun('sim-eiger-500k', { scene: 'powder', calibrant: 'LaB6', energy_kev: 10, pool_size: 1, ring_intensity: 50 });
  const tth = geometryOf(run).tth();
  const width = 0.01;
  const found = peaks(radialProfile(run.expectation()!, tth, width), width, 2);
  const expected = [1, 2, 3].map((n) => braggDeg(4.1569, n, 10));
  assert.ok(found.length >= 2, `rings found: ${found}`);
  for (let i = 0; i < found.length; i++) assert.ok(Math.abs(found[i] - expected[i]) < 0.01, `ring ${i}: ${found[i]} vs ${expected[i]}`);
  // the frame (with noise) has its maxima on the same rings
  const frame = run.frame(0).data;
  const f32 = Float32Array.from(frame, (v) => v + 1e-3);
  const noisy = peaks(radialProfile(f32, tth, 0.02), 0.02, 5);
  assert.ok(Math.abs(noisy[0] - expected[0]) < 0.03, `noisy ring at ${noisy[0]}`);
  run.close();
});

test('serial crystallography: hit fraction ≈ hit_rate, spots per hit ≈ spots_per_hit', async () => {
  const run = await openRun('sim-eiger-500k', { scene: 'serial_crystallography', hit_rate: 0.3, spots_per_hit: 20, pool_size: 0 });
  const scene = run.scene as SerialScene;
  const N = 20000;
  let hits = 0, spots = 0;
  for (let i = 0; i < N; i++) {
    const t = scene.spots(i).truth as { is_hit: boolean; spots: unknown[] };
    assert.equal(t.is_hit, scene.isHit(i));
    if (t.is_hit) {
      hits++;
      spots += t.spots.length;
    } else assert.equal(t.spots.length, 0);
  }
  assert.ok(Math.abs(hits / N - 0.3) < 0.015, `hit fraction ${hits / N}`);
  assert.ok(Math.abs(spots / hits - 20) < 0.5, `spots per hit ${spots / hits}`);
  run.close();
});

test('serial crystallography: truth spots are bright in the frame, non-hits have none', async () => {
  const run = await openRun('sim-eiger-500k', { scene: 'serial_crystallography', hit_rate: 0.5, spot_intensity: 3000, pool_size: 0 });
  const [rows, cols] = [514, 1030];
  let checked = 0, hitFrames = 0;
  for (let i = 0; i < 16; i++) {
    const f = run.frame(i);
    const truth = f.truth as { is_hit: boolean; spots: [number, number, number][] };
    assert.deepEqual(truth, (run.scene as SerialScene).spots(i).truth);
    let max = 0;
    for (let k = 0; k < f.data.length; k++) if (f.data[k] > max) max = f.data[k];
    if (!truth.is_hit) {
      assert.ok(max < 25, `non-hit frame ${i} has a pixel of ${max}`);
      continue;
    }
    hitFrames++;
    for (const [r, c, photons] of truth.spots) {
      assert.ok(r >= -0.5 && r < rows - 0.5 && c >= -0.5 && c < cols - 0.5);
      if (photons < 500) continue;
      const v = f.data[Math.round(r) * cols + Math.round(c)];
      assert.ok(v >= 0.05 * photons, `frame ${i} spot at (${r}, ${c}) of ${photons} photons: centre pixel ${v}`);
      checked++;
    }
  }
  assert.ok(hitFrames >= 4 && checked >= 50, `${hitFrames} hits, ${checked} spots checked`);
  assert.equal(run.describe().ground_truth, true);
  run.close();
});

test('saxs: beamstop shadow is empty and the first sphere minimum is at qR ≈ 4.49', async () => {
  const run = await openRun('sim-eiger-500k', { scene: 'saxs', sphere_radius: 1.5, polydispersity: 0.02, background: 0, pool_size: 1 });
  const g = geometryOf(run);
  const exp = run.expectation()!;
  const tth = g.tth(), q = g.q(), sa = g.solidAngle(), pol = g.polarization(0.99);
  const bs = Math.atan(0.0015 / 0.08);
  const frame = run.frame(0).data;
  let inside = 0;
  for (let k = 0; k < exp.length; k++) {
    if (tth[k] < bs) {
      inside++;
      assert.equal(exp[k], 0);
      assert.equal(frame[k], 0);
    }
  }
  assert.ok(inside > 1000);
  // minimum of I(q) (corrected for solid angle and polarization) between 2 and 4 nm⁻¹
  const bins = new Float64Array(200), cnt = new Float64Array(200);
  for (let k = 0; k < exp.length; k++) {
    if (q[k] < 2 || q[k] >= 4 || exp[k] === 0) continue;
    const b = Math.floor((q[k] - 2) / 0.01);
    bins[b] += exp[k] / (sa[k] * pol[k]);
    cnt[b]++;
  }
  let best = -1;
  for (let b = 0; b < 200; b++) if (cnt[b] > 0 && (best < 0 || bins[b] / cnt[b] < bins[best] / cnt[best])) best = b;
  const qmin = 2 + (best + 0.5) * 0.01;
  assert.ok(Math.abs(qmin - 4.4934 / 1.5) < 0.05, `minimum at q = ${qmin}`);
  run.close();
});

test('xpcs: speckle decorrelates over correlation_frames', async () => {
  const run = await openRun('sim-eiger-500k', { scene: 'xpcs', xpcs_intensity: 3000, contrast: 0.8, correlation_frames: 10, pool_size: 0 });
  const exp = run.expectation()!;
  const frames = [0, 1, 4, 40].map((i) => run.frame(i).data);
  // correlation of the fluctuations around the mean expectation, pixel by pixel
  const corr = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
    let cab = 0, caa = 0, cbb = 0;
    for (let k = 0; k < a.length; k++) {
      if (!(exp[k] > 50)) continue;
      const x = a[k] / exp[k] - 1, y = b[k] / exp[k] - 1;
      cab += x * y;
      caa += x * x;
      cbb += y * y;
    }
    return cab / Math.sqrt(caa * cbb);
  };
  const c1 = corr(frames[0], frames[1]), c4 = corr(frames[0], frames[2]), c40 = corr(frames[0], frames[3]);
  assert.ok(c1 > 0.8, `lag 1: ${c1}`);
  assert.ok(c4 < c1 && c4 > 0.2, `lag 4: ${c4}`);
  assert.ok(Math.abs(c40) < 0.1, `lag 40: ${c40}`);
  assert.deepEqual(run.frame(3).truth, { speckle_key: 0, speckle_mix: 0.3 });
  run.close();
});
