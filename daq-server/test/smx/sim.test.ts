/**
 * Hit finding on the simulator's serial-crystallography frames (sim-eiger-500k)
 * against its ground truth: hit classification and peak centroids.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulatorPlugins } from '../../src/detectors/sim/index.js';
import type { SimRun } from '../../src/detectors/sim/run.js';
import { PyFAIGeometry, type PoniParameters } from '../../src/detectors/geometry/pyfai-geometry.js';
import { PeakFinder, isHit, type PeakList, type PeakParams } from '../../src/processing/smx/peaks.js';
import { interpolateBackground } from '../../src/processing/smx/background.js';
import { radialBackground } from './helpers.js';

const ESRF: PeakParams = { noise: 0.5, cutoff_peak: 4, patch_size: 5, connected: 7, max_num_peaks: 2048 };
const MIN_NB_PEAKS = 20;

async function openRun(config: Record<string, unknown>): Promise<SimRun> {
  const p = simulatorPlugins().find((x) => x.name === 'sim-eiger-500k')!;
  return (await p.open({ scene: 'serial_crystallography', pool_size: 0, ...config })) as SimRun;
}

/** norm = solid angle × polarization of the run's geometry (what the simulator multiplies its scene by). */
function geometryOf(run: SimRun): { geo: PyFAIGeometry; norm: Float32Array; rows: number; cols: number } {
  const g = run.describe().geometry as PoniParameters & { shape: [number, number]; pixel1: number; pixel2: number };
  const geo = PyFAIGeometry.forDetector(g, g.shape, [g.pixel1, g.pixel2]);
  const sa = geo.solidAngle(), pol = geo.polarization(run.cfg.polarization_factor);
  const norm = new Float32Array(sa.length);
  for (let k = 0; k < norm.length; k++) norm[k] = sa[k] * pol[k];
  return { geo, norm, rows: g.shape[0], cols: g.shape[1] };
}

type Truth = { is_hit: boolean; spots: [number, number, number][] };

interface Score {
  frames: number;
  correct: number;
  hits: number;
  falsePeaks: number;
  checked: number;
  found: number;
  worst: number;
  sumErr: number;
  snrBelow5: number;
  peaks: number;
}

/** Compare one frame's peaks with the truth: classification, and centroids of isolated bright spots away from borders and the beamstop. */
function score(s: Score, peaks: PeakList, truth: Truth, valid: Uint8Array, rows: number, cols: number): void {
  s.frames++;
  if (isHit(peaks.total, MIN_NB_PEAKS) === truth.is_hit) s.correct++;
  if (truth.is_hit) s.hits++;
  else s.falsePeaks += peaks.total;
  s.peaks += peaks.n;
  for (let i = 0; i < peaks.n; i++) if (peaks.snr[i] < 5) s.snrBelow5++;
  const spots = truth.spots;
  for (const [row, col, photons] of spots) {
    if (photons < 400) continue;
    if (spots.some(([r, c]) => (r !== row || c !== col) && Math.hypot(r - row, c - col) < 6)) continue;
    const ri = Math.round(row), ci = Math.round(col);
    if (ri < 3 || ri >= rows - 3 || ci < 3 || ci >= cols - 3) continue;
    let clear = true;
    for (let dr = -3; dr <= 3; dr++) for (let dc = -3; dc <= 3; dc++) if (!valid[(ri + dr) * cols + ci + dc]) clear = false;
    if (!clear) continue;
    s.checked++;
    let best = Infinity;
    for (let i = 0; i < peaks.n; i++) best = Math.min(best, Math.hypot(peaks.x[i] - col, peaks.y[i] - row));
    if (best < 1.5) {
      s.found++;
      s.worst = Math.max(s.worst, best);
      s.sumErr += best;
    }
  }
}

const newScore = (): Score => ({ frames: 0, correct: 0, hits: 0, falsePeaks: 0, checked: 0, found: 0, worst: 0, sumErr: 0, snrBelow5: 0, peaks: 0 });

function report(label: string, s: Score): void {
  console.log(
    `  ${label}: ${s.correct}/${s.frames} frames classified right (${s.hits} hits), ${s.falsePeaks} peaks on non-hits; ` +
      `isolated spots ≥ 400 photons: ${s.found}/${s.checked} found, centroid error mean ${(s.sumErr / s.found).toFixed(3)} px, worst ${s.worst.toFixed(3)} px; ` +
      `${s.snrBelow5}/${s.peaks} peaks with SNR < 5`,
  );
}

test('simulator hits: ≥ 99 % classified right over 240 frames, centroids within 0.3 px of the truth (background from the noise-free expectation)', async () => {
  const run = await openRun({ hit_rate: 0.5, spots_per_hit: 60, spot_intensity: 1000, seed: 7 });
  const { norm, rows, cols } = geometryOf(run);
  // SimRun.expectation(): the static scene (diffuse background + solvent ring) × solid angle × polarization, 0 in the beamstop shadow
  const expect = run.expectation()!;
  const size = rows * cols;
  const valid = new Uint8Array(size), bgAvg = new Float32Array(size), bgStd = new Float32Array(size);
  for (let k = 0; k < size; k++) {
    valid[k] = expect[k] > 0 ? 1 : 0; // the beamstop is masked
    bgAvg[k] = expect[k] / norm[k];
    bgStd[k] = Math.sqrt(expect[k]) / norm[k]; // Poisson
  }
  const finder = new PeakFinder(rows, cols);
  const s = newScore();
  for (let i = 0; i < 240; i++) {
    const frame = run.frame(i);
    const peaks = finder.find({ image: frame.data, norm, valid, bgAvg, bgStd }, ESRF);
    score(s, peaks, frame.truth as Truth, valid, rows, cols);
  }
  run.close();
  report('expectation background', s);
  assert.ok(s.hits > 80 && s.hits < 160, `${s.hits} hits`);
  assert.ok(s.correct / s.frames >= 0.99, `${s.correct}/${s.frames} classified right`);
  assert.ok(s.falsePeaks <= 2, `${s.falsePeaks} peaks on non-hit frames`);
  assert.ok(s.checked > 1000 && s.found / s.checked >= 0.97, `${s.found}/${s.checked} isolated bright spots found`);
  assert.ok(s.worst < 0.3, `worst centroid error ${s.worst} px`);
  assert.ok(s.snrBelow5 === 0, `${s.snrBelow5} reported peaks have SNR < 5`);
});

test('simulator hits with a background estimated from each frame (per-radius sigma-clipped mean/std, interpolated like pyFAI)', async () => {
  const run = await openRun({ hit_rate: 0.5, spots_per_hit: 60, spot_intensity: 1000, seed: 11 });
  const { geo, norm, rows, cols } = geometryOf(run);
  const expect = run.expectation()!;
  const size = rows * cols;
  const valid = new Uint8Array(size);
  for (let k = 0; k < size; k++) valid[k] = expect[k] > 0 ? 1 : 0;
  const radius = Float32Array.from(geo.r());
  for (let k = 0; k < size; k++) if (!valid[k]) radius[k] = NaN;
  const bgAvg = new Float32Array(size), bgStd = new Float32Array(size);
  const finder = new PeakFinder(rows, cols);
  const s = newScore();
  for (let i = 0; i < 100; i++) {
    const frame = run.frame(i);
    const bins = radialBackground(frame.data, norm, valid, radius, 300);
    interpolateBackground(radius, bins.radial, bins.avg, bins.std, bgAvg, bgStd);
    const peaks = finder.find({ image: frame.data, norm, valid, bgAvg, bgStd }, ESRF);
    score(s, peaks, frame.truth as Truth, valid, rows, cols);
  }
  run.close();
  report('frame-estimated background', s);
  assert.ok(s.correct / s.frames >= 0.99, `${s.correct}/${s.frames} classified right`);
  assert.ok(s.found / s.checked >= 0.97, `${s.found}/${s.checked} isolated bright spots found`);
  assert.ok(s.worst < 0.3, `worst centroid error ${s.worst} px`);
});
