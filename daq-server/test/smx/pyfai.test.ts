/**
 * Against pyFAI itself: its sparsify and peakfinder exist only as OpenCL
 * kernels (OCL_PeakFinder; no CPU implementation in pyFAI), so this runs
 * test/smx/pyfai_reference.py with the Python of SMX_PYFAI_PYTHON (default
 * <repo>/.venv/bin/python) and fails (never skips) when pyopencl or an OpenCL device
 * (e.g. PoCL on the CPU) is missing there. Both sides get the same frame, the
 * same norm (as pyFAI's `solidangle`) and mask; ours takes pyFAI's
 * sigma-clipped background per bin and its radius map, interpolated per
 * pixel by `interpolateBackground`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PyFAIGeometry } from '../../src/detectors/geometry/pyfai-geometry.js';
import { interpolateBackground } from '../../src/processing/smx/background.js';
import { Sparsifier } from '../../src/processing/smx/sparsify.js';
import { PeakFinder } from '../../src/processing/smx/peaks.js';
import { REPO_ROOT, Rng, TEST_SRC, makeFrame, type Spot } from './helpers.js';

interface PyResult {
  skip?: string;
  pyfai_version: string;
  device: string;
  radial: number[];
  background_avg: number[];
  background_std: number[];
  index: number[];
  intensity: number[];
  peaks: { index: number; x: number; y: number; intensity: number; sigma: number }[];
}

const SETS = [
  // ESRF ID29
  { noise: 0.5, cutoff_pick: 4, cutoff_peak: 4, patch_size: 5, connected: 7 },
  // pyFAI's defaults (sparsify app / OCL_PeakFinder.sparsify)
  { noise: 1, cutoff_pick: 3, cutoff_peak: 3, patch_size: 3, connected: 2 },
];

for (const PARAMS of SETS) {
  test(`sparsify and peakfinder agree with pyFAI OCL_PeakFinder on the same frame and background (${JSON.stringify(PARAMS)})`, (t) => {
    const python = process.env.SMX_PYFAI_PYTHON ?? join(REPO_ROOT, '.venv/bin/python');
    if (!existsSync(python)) return assert.fail(`no Python at ${python}: run scripts/setup.sh`);
    const rows = 300, cols = 320, pixel = 75e-6;
    const poni = { dist: 0.1, poni1: 150.3 * pixel, poni2: 140.7 * pixel, rot1: 0, rot2: 0, rot3: 0, wavelength: 1e-10 };
    const geo = PyFAIGeometry.forDetector(poni, [rows, cols], [pixel, pixel]);
    const sa = geo.solidAngle(), pol = geo.polarization(0.99), r = geo.r();
    const rng = new Rng(31);
    const spots: Spot[] = [];
    for (let i = 0; i < 80; i++) spots.push({ row: rng.uniform() * rows - 0.5, col: rng.uniform() * cols - 0.5, photons: 60 + 2500 * rng.uniform() ** 2 });
    const masked = new Set<number>();
    for (let i = 0; i < 500; i++) masked.add(Math.floor(rng.uniform() * rows * cols));
    const f = makeFrame({
      rows,
      cols,
      // diffuse background and a ring at r = 8 mm, normalised units
      background: (i, j) => 1 + 6 * Math.exp(-(((r[i * cols + j] - 0.008) / 0.0015) ** 2)),
      norm: (i, j) => sa[i * cols + j] * pol[i * cols + j],
      spots,
      sigma: 1,
      seed: 32,
      valid: (i, j) => j !== 200 && i !== 77 && !masked.has(i * cols + j) && Math.hypot(i - 150, j - 140) > 10,
    });
    const dir = mkdtempSync(join(tmpdir(), 'smx-pyfai-'));
    try {
      writeFileSync(join(dir, 'params.json'), JSON.stringify({ shape: [rows, cols], pixel, ...poni, npt: 300, error_model: 'poisson', cutoff_clip: 0, cycle: 3, ...PARAMS }));
      writeFileSync(join(dir, 'image.f32'), new Uint8Array(f.image.buffer));
      writeFileSync(join(dir, 'norm.f32'), new Uint8Array(f.norm.buffer));
      writeFileSync(join(dir, 'mask.u8'), Uint8Array.from(f.valid, (v) => (v ? 0 : 1)));
      const run = spawnSync(python, [join(TEST_SRC, 'pyfai_reference.py'), dir], { encoding: 'utf8', timeout: 600_000 });
      if (run.status !== 0 || !existsSync(join(dir, 'result.json'))) return assert.fail(`pyFAI reference did not run (pyopencl and an OpenCL CPU device, Debian's pocl-opencl-icd, are needed): ${(run.stderr ?? '').trim().split('\n').slice(-1)[0] ?? run.error}`);
      const py = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as PyResult;
      if (py.skip) assert.fail(`pyFAI reference unavailable: ${py.skip}`);
      const radius2d = new Float32Array(readFileSync(join(dir, 'radius2d.f32')).buffer.slice(0));
      const size = rows * cols;
      const bgAvg = new Float32Array(size), bgStd = new Float32Array(size);
      interpolateBackground(radius2d, py.radial, py.background_avg, py.background_std, bgAvg, bgStd);
      const input = { image: f.image, norm: f.norm, valid: f.valid, bgAvg, bgStd };

      // --- sparsify: same pixels, except within float32 rounding of the threshold
      const ours = new Sparsifier(size).run(input, { noise: PARAMS.noise, cutoff_pick: PARAMS.cutoff_pick });
      const mine = new Set(ours.index), theirs = new Set(py.index);
      const margin = (k: number): number => {
        const v = f.image[k] / f.norm[k] - bgAvg[k];
        const thr = Math.max(PARAMS.noise, PARAMS.cutoff_pick * Math.sqrt(bgStd[k] ** 2 + PARAMS.noise ** 2));
        return Math.abs(v - thr) / thr;
      };
      const onlyMine = [...mine].filter((k) => !theirs.has(k)), onlyTheirs = [...theirs].filter((k) => !mine.has(k));
      for (const k of [...onlyMine, ...onlyTheirs]) assert.ok(margin(k) < 1e-4, `pixel ${k} differs with margin ${margin(k)}`);
      assert.ok(onlyMine.length + onlyTheirs.length <= Math.max(2, 1e-3 * mine.size));
      assert.ok(mine.size > 1000, `${mine.size} pixels kept`);
      py.index.forEach((k, i) => {
        if (mine.has(k)) assert.equal(py.intensity[i], f.image[k], 'pyFAI keeps the raw value');
      });

      // --- peaks: same maxima, same centroids, intensities, sigmas
      const peaks = new PeakFinder(rows, cols).find(input, { ...PARAMS, max_num_peaks: 100000 });
      const byIndex = new Map<number, number>();
      for (let i = 0; i < peaks.n; i++) byIndex.set(peaks.index[i], i);
      let matched = 0, worstPos = 0, worstI = 0, worstS = 0;
      const unmatched: number[] = [];
      for (const q of py.peaks) {
        const i = byIndex.get(q.index);
        if (i === undefined) {
          unmatched.push(q.index);
          continue;
        }
        matched++;
        worstPos = Math.max(worstPos, Math.abs(peaks.x[i] - q.x), Math.abs(peaks.y[i] - q.y));
        worstI = Math.max(worstI, Math.abs(peaks.intensity[i] - q.intensity) / q.intensity);
        worstS = Math.max(worstS, Math.abs(peaks.sigma[i] - q.sigma) / q.sigma);
      }
      console.log(
        `  pyFAI ${py.pyfai_version} on ${py.device}: sparse ${mine.size} vs ${theirs.size} pixels (${onlyMine.length}+${onlyTheirs.length} differ); ` +
          `peaks ${peaks.total} vs ${py.peaks.length}, ${matched} matched; worst |Δx|,|Δy| ${worstPos.toExponential(2)} px, ` +
          `intensity ${worstI.toExponential(2)}, sigma ${worstS.toExponential(2)} (relative)`,
      );
      assert.ok(py.peaks.length > 40, `${py.peaks.length} pyFAI peaks`);
      // a pyFAI peak we lack must be a tie (pyFAI reports every equal maximum) — none expected on this frame
      assert.deepEqual(unmatched, []);
      assert.equal(matched, peaks.total);
      assert.ok(worstPos < 2e-3, `centroids differ by ${worstPos} px`);
      assert.ok(worstI < 1e-3, `intensities differ by ${worstI}`);
      assert.ok(worstS < 2e-3, `sigmas differ by ${worstS}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
