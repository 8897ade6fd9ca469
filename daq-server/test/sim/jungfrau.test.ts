/** Raw Jungfrau: calibration maps, gain switching, decoding back to photons. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JUNGFRAU_4M, assemble, assemblyMap } from '../../src/detectors/geometry/jungfrau-layout.js';
import type { JungfrauRun } from '../../src/detectors/sim/jungfrau.js';
import { mean, openRun, plugin } from './helpers.js';

const N = 8 * 512 * 1024;
const E = 12.4;

async function maps(config: Record<string, unknown>) {
  const m = await plugin('sim-jungfrau-4m').calibration!(config);
  return { pedestal: m.pedestal.data as Float32Array, gain: m.gain.data as Float32Array, shapes: [m.pedestal.shape, m.gain.shape], dtypes: [m.pedestal.dtype, m.gain.dtype] };
}

/** Photons per raw pixel decoded with the calibration maps (NaN for saturated pixels), and the gain stage histogram. */
function decode(words: Uint16Array, cal: { pedestal: Float32Array; gain: Float32Array }) {
  const photons = new Float64Array(words.length);
  const stages = [0, 0, 0, 0]; // G0, G1, G2, saturated
  for (let p = 0; p < words.length; p++) {
    const w = words[p];
    if (w === 0xc000) {
      photons[p] = NaN;
      stages[3]++;
      continue;
    }
    const code = w >> 14;
    const g = code === 0 ? 0 : code === 1 ? 1 : 2;
    stages[g]++;
    photons[p] = ((w & 0x3fff) - cal.pedestal[g * N + p]) / cal.gain[g * N + p] / E;
  }
  return { photons, stages };
}

test('calibration maps: pedestal and gain [3, 8, 512, 1024] float32, deterministic from the seed', async () => {
  const a = await maps({ seed: 3 });
  assert.deepEqual(a.shapes, [[3, 8, 512, 1024], [3, 8, 512, 1024]]);
  assert.deepEqual(a.dtypes, ['float32', 'float32']);
  const stage = (arr: Float32Array, g: number) => arr.subarray(g * N, (g + 1) * N);
  const g0 = mean(stage(a.gain, 0));
  assert.ok(Math.abs(g0 - 41) < 0.5, `G0 ${g0}`);
  assert.ok(Math.abs(mean(stage(a.gain, 1)) / g0 - 1 / 30) < 0.001);
  assert.ok(Math.abs(mean(stage(a.gain, 2)) / g0 - 1 / 400) < 0.0001);
  assert.ok(Math.abs(mean(stage(a.pedestal, 0)) - 3000) < 5);
  let spread = 0;
  const s0 = stage(a.gain, 0);
  for (let p = 0; p < N; p += 7) spread += (s0[p] - g0) ** 2;
  assert.ok(Math.sqrt(spread / (N / 7)) > 0.5, 'per-pixel gain spread');
  const again = await maps({ seed: 3 });
  assert.deepEqual(again.pedestal.subarray(0, 4096), a.pedestal.subarray(0, 4096));
  const other = await maps({ seed: 4 });
  assert.notDeepEqual(other.pedestal.subarray(0, 4096), a.pedestal.subarray(0, 4096));
});

test('flat: every pixel in G0, decoded photons are integers within noise and match the expectation', async () => {
  const cfg = { scene: 'flat', flat_mean: 2, seed: 5, pool_size: 1 };
  const run = (await openRun('sim-jungfrau-4m', cfg)) as JungfrauRun;
  const words = run.frame(0).data as Uint16Array;
  const cal = await maps(cfg);
  const { photons, stages } = decode(words, cal);
  assert.deepEqual(stages.slice(1), [0, 0, 0], 'dim pixels stay in G0');
  let offInteger = 0, sum = 0;
  for (let p = 0; p < N; p++) {
    if (Math.abs(photons[p] - Math.round(photons[p])) > 0.15) offInteger++;
    sum += photons[p];
  }
  assert.ok(offInteger / N < 1e-3, `${offInteger} pixels not within 0.15 photon of an integer`);
  const expected = run.rawExpectation()!;
  let sumExp = 0;
  for (let p = 0; p < N; p++) sumExp += expected[p];
  assert.ok(Math.abs(sum / sumExp - 1) < 0.005, `decoded ${sum} vs expected ${sumExp}`);
  // double pixels: raw row 255 receives twice the photons of row 254
  let r254 = 0, r255 = 0;
  for (let c = 0; c < 1024; c++) {
    r254 += photons[254 * 1024 + c];
    r255 += photons[255 * 1024 + c];
  }
  assert.ok(r255 / r254 > 1.8 && r255 / r254 < 2.3, `double-row ratio ${r255 / r254}`);
  run.close();
});

test('dark: pedestal + electronic noise in the forced gain stage', async () => {
  const cal = await maps({ seed: 0 });
  for (const [dark_gain, code, sigmaAdu] of [['G0', 0, 12], ['G1', 1, 3], ['G2', 3, 2]] as const) {
    const run = await openRun('sim-jungfrau-4m', { scene: 'dark', dark_gain, pool_size: 0 });
    const words = run.frame(0).data as Uint16Array;
    const g = code === 3 ? 2 : code;
    let s = 0, s2 = 0;
    for (let p = 0; p < N; p++) {
      assert.equal(words[p] >> 14, code);
      const d = (words[p] & 0x3fff) - cal.pedestal[g * N + p];
      s += d;
      s2 += d * d;
    }
    const m = s / N, sd = Math.sqrt(s2 / N - m * m);
    assert.ok(Math.abs(m) < 0.05, `${dark_gain}: mean residual ${m}`);
    assert.ok(Math.abs(sd - Math.sqrt(sigmaAdu ** 2 + 1 / 12)) < 0.1 * sigmaAdu, `${dark_gain}: noise ${sd} ADU`);
    run.close();
  }
});

test('serial crystallography: bright spots switch to G1/G2 and decode back to the drawn photons', async () => {
  const cfg = { scene: 'serial_crystallography', hit_rate: 1, spots_per_hit: 40, spot_intensity: 20000, seed: 2, pool_size: 0 };
  const run = (await openRun('sim-jungfrau-4m', cfg)) as JungfrauRun;
  const f = run.frame(0);
  const { photons, stages } = decode(f.data as Uint16Array, await maps(cfg));
  assert.ok(stages[0] / N > 0.99, 'most pixels G0');
  assert.ok(stages[1] > 20, `G1 pixels: ${stages[1]}`);
  assert.ok(stages[2] > 5, `G2 pixels: ${stages[2]}`);
  // assemble the decoded photons and compare each spot's integrated photons with the truth
  const map = assemblyMap(JUNGFRAU_4M);
  const [rows, cols] = JUNGFRAU_4M.imageShape;
  const img = new Float64Array(rows * cols);
  assemble(photons, img, map, NaN);
  const bg = run.expectation()!;
  const truth = f.truth as { is_hit: boolean; spots: [number, number, number][] };
  assert.equal(truth.is_hit, true);
  let checked = 0, switched = 0;
  for (const [r, c, n] of truth.spots) {
    const ri = Math.round(r), ci = Math.round(c);
    const rawCentre = map.rawIndex[ri * cols + ci];
    assert.ok(rawCentre >= 0, 'spot centres are on real pixels');
    if (n > 3000 && (f.data[rawCentre] >> 14) !== 0) switched++;
    if (ri < 4 || ri >= rows - 4 || ci < 4 || ci >= cols - 4) continue;
    let sum = 0, back = 0, ok = true;
    for (let dr = -4; dr <= 4; dr++) {
      for (let dc = -4; dc <= 4; dc++) {
        const k = (ri + dr) * cols + ci + dc;
        if (map.rawIndex[k] < 0 || Number.isNaN(img[k])) ok = false;
        sum += img[k];
        back += bg[k];
      }
    }
    // neighbouring spots would add their photons: skip crowded ones
    if (!ok || truth.spots.some(([r2, c2]) => (r2 !== r || c2 !== c) && Math.abs(r2 - r) < 10 && Math.abs(c2 - c) < 10)) continue;
    const tol = 6 * Math.sqrt(n + back) + 0.02 * n + 5;
    assert.ok(Math.abs(sum - back - n) < tol, `spot (${r}, ${c}): decoded ${sum - back} photons, truth ${n}`);
    checked++;
  }
  assert.ok(checked >= 20, `${checked} spots checked`);
  assert.ok(switched >= 10, `${switched} bright spot centres out of G0`);
  run.close();
});

test('saturation: pixels beyond the G2 range read 0xC000', async () => {
  const run = await openRun('sim-jungfrau-4m', { scene: 'serial_crystallography', hit_rate: 1, spot_intensity: 5e6, spots_per_hit: 20, pool_size: 0 });
  const words = run.frame(0).data as Uint16Array;
  let saturated = 0;
  for (let p = 0; p < N; p++) if (words[p] === 0xc000) saturated++;
  assert.ok(saturated > 5, `saturated pixels: ${saturated}`);
  run.close();
});
