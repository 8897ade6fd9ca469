/**
 * Cross-checks against pyFAI (the project venv's pyFAI, run through
 * test/azint/pyfai_ref.py; a missing python or pyFAI fails these tests):
 * per-pixel geometry arrays, the CSR matrix, integrate1d_ng in three units
 * with both splitting methods and error models on several geometries
 * (including tilted detectors), corrections and dummies, integrate2d_ng,
 * and sigma_clip_ng on powder and Bragg frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Integrator, SigmaClipper, deltaArray, type IntegratorOptions, type RadialUnit } from '../../src/processing/azint/index.js';
import { geometryOf, runPyfai, powderImage, braggImage, maxRel, readF64, readF32, readI32, rng, type Setup } from './helpers.js';

const SHAPE: [number, number] = [500, 600];
const PIXEL: [number, number] = [75e-6, 75e-6];
const SETUPS: Record<string, Setup> = {
  straight: { shape: SHAPE, pixel: PIXEL, poni: { dist: 0.12, poni1: 250.3 * 75e-6, poni2: 300.7 * 75e-6, rot1: 0, rot2: 0, rot3: 0, wavelength: 1e-10 } },
  tilted: { shape: SHAPE, pixel: PIXEL, poni: { dist: 0.1, poni1: 0.02, poni2: 0.025, rot1: 0.05, rot2: -0.03, rot3: 0.1, wavelength: 1e-10 } },
  // beam off the detector, strong tilt
  oblique: { shape: SHAPE, pixel: PIXEL, poni: { dist: 0.15, poni1: -0.005, poni2: 0.05, rot1: -0.2, rot2: 0.12, rot3: -0.3, wavelength: 0.8e-10 } },
};
const UNITS: RadialUnit[] = ['2th_deg', 'q_nm^-1', 'r_mm'];
const num = (x: unknown): number[] => x as number[];

test('per-pixel centres, half-extents and solid angle agree with pyFAI', () => {
  for (const [name, setup] of Object.entries(SETUPS)) {
    const g = geometryOf(setup);
    const out = runPyfai((dir) => ({
      setup,
      arrays: {},
      ops: [
        {
          id: 'a',
          kind: 'arrays',
          out: {
            'center:2th_rad': `${dir}/c_tth`,
            'center:chi_rad': `${dir}/c_chi`,
            'delta:2th_rad': `${dir}/d_tth`,
            'delta:q_nm^-1': `${dir}/d_q`,
            'delta:r_m': `${dir}/d_r`,
            'delta:chi_rad': `${dir}/d_chi`,
            solid_angle: `${dir}/sa`,
          },
        },
      ],
    }));
    try {
      const f = out.results.a as Record<string, string>;
      assert.ok(maxRel(g.tth(), readF64(f['center:2th_rad'])).max < 1e-12, `${name}: 2θ`);
      assert.ok(maxRel(g.chi(), readF64(f['center:chi_rad'])).max < 1e-9, `${name}: χ`);
      for (const [key, base] of [['delta:2th_rad', 'tth'], ['delta:q_nm^-1', 'q'], ['delta:r_m', 'r'], ['delta:chi_rad', 'chi']] as const) {
        const d = maxRel(deltaArray(g, base), readF64(f[key]));
        assert.ok(d.max < 1e-9, `${name}: ${key} differs by ${d.max} at ${d.at}`);
      }
      assert.ok(maxRel(g.solidAngle(), readF64(f.solid_angle)).max < 1e-6, `${name}: solid angle`);
    } finally {
      out.cleanup();
    }
  }
});

test('the bbox CSR matrix is pyFAI’s (same rows, pixels, coefficients)', () => {
  const setup = SETUPS.tilted;
  const g = geometryOf(setup);
  const img = new Float32Array(SHAPE[0] * SHAPE[1]).fill(1);
  for (const unit of ['q_nm^-1', '2th_deg'] as RadialUnit[]) {
    const out = runPyfai((dir) => ({ setup, arrays: { img }, ops: [{ id: 'm', kind: 'csr', image: 'img', npt: 250, unit, method: ['bbox', 'csr', 'cython'], out: `${dir}/m` }] }));
    try {
      const ours = new Integrator(g, { npt: 250, unit, method: 'bbox' }).csr();
      const indptr = readI32(`${out.dir}/m.indptr`), indices = readI32(`${out.dir}/m.indices`), data = readF32(`${out.dir}/m.data`);
      assert.equal(ours.indices.length, indices.length, `${unit}: nnz`);
      assert.deepEqual(Array.from(ours.indptr), Array.from(indptr), `${unit}: rows`);
      assert.deepEqual(Array.from(ours.indices), Array.from(indices), `${unit}: pixel indices`);
      // first coefficient of a pair is pyFAI's float32; the second is 1 − it (pyFAI rounds it separately)
      let worst = 0;
      for (let j = 0; j < data.length; j++) worst = Math.max(worst, Math.abs(ours.data[j] - data[j]));
      assert.ok(worst < 1e-6, `${unit}: coefficients differ by ${worst}`);
    } finally {
      out.cleanup();
    }
  }
});

test('integrate1d agrees with pyFAI integrate1d_ng: 3 geometries × 3 units × no/bbox × error models', () => {
  for (const [name, setup] of Object.entries(SETUPS)) {
    const g = geometryOf(setup);
    const img = powderImage(g, { seed: 11 });
    const ops: Record<string, unknown>[] = [];
    for (const unit of UNITS) {
      for (const m of ['no', 'bbox']) {
        for (const em of [null, 'poisson', 'azimuthal']) {
          ops.push({ id: `${unit}/${m}/${em}`, kind: 'integrate1d', image: 'img', npt: 300, unit, method: [m, 'csr', 'cython'], error_model: em });
        }
      }
    }
    const out = runPyfai({ setup, arrays: { img }, ops });
    try {
      for (const unit of UNITS) {
        for (const m of ['no', 'bbox'] as const) {
          const integ = new Integrator(g, { npt: 300, unit, method: m });
          for (const em of [null, 'poisson', 'azimuthal'] as const) {
            const id = `${unit}/${m}/${em}`;
            const p = out.results[id];
            const r = integ.integrate1d(img, { errorModel: em });
            const count = num(p.count);
            const big = (i: number): boolean => count[i] >= 100;
            assert.ok(count.filter((c) => c >= 100).length > 100, `${name} ${id}: enough well-filled bins to compare`);
            const rad = maxRel(r.radial, num(p.radial));
            assert.ok(rad.max < 1e-6, `${name} ${id}: radial differs by ${rad.max}`);
            const I = maxRel(r.intensity, num(p.intensity), big);
            assert.ok(I.max < 1e-3, `${name} ${id}: intensity differs by ${I.max} at bin ${I.at}`);
            const C = maxRel(r.count, count, big);
            assert.ok(C.max < 1e-5, `${name} ${id}: count differs by ${C.max}`);
            if (em) {
              const s = maxRel(r.sigma!, num(p.sigma), big);
              assert.ok(s.max < 1e-3, `${name} ${id}: sigma differs by ${s.max} at bin ${s.at}`);
              const sd = maxRel(r.std!, num(p.std), big);
              assert.ok(sd.max < 1e-3, `${name} ${id}: std differs by ${sd.max}`);
            } else {
              assert.equal(r.sigma, null);
            }
          }
        }
      }
    } finally {
      out.cleanup();
    }
  }
});

test('integrate1d with mask, dark, flat, polarization, normalization, ranges and dummies agrees with pyFAI', () => {
  const setup = SETUPS.tilted;
  const g = geometryOf(setup);
  const n = SHAPE[0] * SHAPE[1];
  const img = powderImage(g, { seed: 5 });
  const u = rng(9);
  const mask = new Int8Array(n);
  for (let k = 0; k < n; k++) if (u() < 0.02 || k % SHAPE[1] < 12) mask[k] = 1;
  const dark = new Float32Array(n);
  const flat = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    dark[k] = 3 * u();
    flat[k] = 0.85 + 0.3 * u();
  }
  flat[4321] = 0; // unusable pixel
  // Eiger-like uint32 frame with gap rows at the dummy, and a float frame with NaN and −2 dummies
  const u32 = new Uint32Array(n);
  for (let k = 0; k < n; k++) u32[k] = img[k];
  for (let r = 200; r < 237; r++) u32.fill(4294967295, r * SHAPE[1], (r + 1) * SHAPE[1]);
  const f32 = Float32Array.from(img);
  for (let k = 0; k < n; k += 97) f32[k] = -2;
  for (let k = 5; k < n; k += 301) f32[k] = NaN;
  type Case = { id: string; py: Record<string, unknown>; ours: Partial<IntegratorOptions>; image: 'img' | 'u32' | 'f32' };
  const cases: Case[] = [];
  for (const m of ['no', 'bbox'] as const) {
    const M = [m, 'csr', 'cython'];
    cases.push(
      { id: `${m}/corrections`, image: 'img', py: { unit: 'r_mm', method: M, mask: 'mask', dark: 'dark', flat: 'flat', polarization_factor: 0.9, normalization_factor: 3.5, error_model: 'poisson' }, ours: { unit: 'r_mm', method: m, mask, dark, flat, polarizationFactor: 0.9, normalizationFactor: 3.5, errorModel: 'poisson' } },
      { id: `${m}/no-solid-angle`, image: 'img', py: { unit: 'q_A^-1', method: M, correctSolidAngle: false, error_model: 'azimuthal' }, ours: { unit: 'q_A^-1', method: m, correctSolidAngle: false, errorModel: 'azimuthal' } },
      { id: `${m}/radial-range`, image: 'img', py: { unit: '2th_deg', method: M, radial_range: [3, 12], error_model: 'poisson' }, ours: { unit: '2th_deg', method: m, radialRange: [3, 12], errorModel: 'poisson' } },
      { id: `${m}/azimuth-range`, image: 'img', py: { unit: 'q_nm^-1', method: M, azimuth_range: [-100, 30], error_model: 'poisson' }, ours: { unit: 'q_nm^-1', method: m, azimuthRange: [-100, 30], errorModel: 'poisson' } },
      { id: `${m}/uint32-dummy`, image: 'u32', py: { unit: 'q_nm^-1', method: M, dummy: 4294967295, error_model: 'poisson' }, ours: { unit: 'q_nm^-1', method: m, dummy: 4294967295, errorModel: 'poisson' } },
      { id: `${m}/delta-dummy`, image: 'f32', py: { unit: '2th_rad', method: M, dummy: -2, delta_dummy: 1.5, error_model: 'azimuthal' }, ours: { unit: '2th_rad', method: m, dummy: -2, deltaDummy: 1.5, errorModel: 'azimuthal' } },
    );
  }
  const out = runPyfai({ setup, arrays: { img, u32, f32, mask, dark, flat }, ops: cases.map((c) => ({ id: c.id, kind: 'integrate1d', image: c.image, npt: 200, ...c.py })) });
  try {
    const images = { img, u32, f32 };
    for (const c of cases) {
      const integ = new Integrator(g, { npt: 200, ...c.ours });
      const r = integ.integrate1d(images[c.image]);
      const p = out.results[c.id];
      const count = num(p.count);
      const big = (i: number): boolean => count[i] >= 100;
      assert.ok(maxRel(r.radial, num(p.radial)).max < 1e-6, `${c.id}: radial`);
      const I = maxRel(r.intensity, num(p.intensity), big);
      assert.ok(I.max < 1e-3, `${c.id}: intensity differs by ${I.max} at ${I.at}`);
      // every bin, empty ones included (0 in both)
      const all = maxRel(r.intensity, num(p.intensity), (i) => count[i] > 0 || num(p.intensity)[i] === 0);
      assert.ok(all.max < 1e-3, `${c.id}: intensity (all bins) differs by ${all.max} at ${all.at}`);
      assert.ok(maxRel(r.count, count).max < 1e-5, `${c.id}: count`);
      const s = maxRel(r.sigma!, num(p.sigma), big);
      assert.ok(s.max < 1e-3, `${c.id}: sigma differs by ${s.max}`);
    }
  } finally {
    out.cleanup();
  }
});

test('integrate2d agrees with pyFAI integrate2d_ng (no and bbox, with and without ranges)', () => {
  const setup = SETUPS.tilted;
  const g = geometryOf(setup);
  const img = powderImage(g, { seed: 3 });
  const cases = [
    { id: 'no', py: { npt_rad: 100, npt_azim: 36, unit: '2th_deg', method: ['no', 'csr', 'cython'], error_model: 'poisson' }, ours: { npt: 100, nptAzim: 36, unit: '2th_deg' as RadialUnit, method: 'no' as const, errorModel: 'poisson' as const } },
    { id: 'bbox', py: { npt_rad: 100, npt_azim: 36, unit: '2th_deg', method: ['bbox', 'csr', 'cython'], error_model: 'poisson' }, ours: { npt: 100, nptAzim: 36, unit: '2th_deg' as RadialUnit, method: 'bbox' as const, errorModel: 'poisson' as const } },
    { id: 'bbox-ranges', py: { npt_rad: 80, npt_azim: 20, unit: 'q_nm^-1', method: ['bbox', 'csr', 'cython'], azimuth_range: [-60, 120], radial_range: [5, 25] }, ours: { npt: 80, nptAzim: 20, unit: 'q_nm^-1' as RadialUnit, method: 'bbox' as const, azimuthRange: [-60, 120] as [number, number], radialRange: [5, 25] as [number, number] } },
    { id: 'no-r', py: { npt_rad: 64, npt_azim: 90, unit: 'r_mm', method: ['no', 'csr', 'cython'] }, ours: { npt: 64, nptAzim: 90, unit: 'r_mm' as RadialUnit, method: 'no' as const } },
  ];
  const out = runPyfai({ setup, arrays: { img }, ops: cases.map((c) => ({ id: c.id, kind: 'integrate2d', image: 'img', ...c.py })) });
  try {
    for (const c of cases) {
      const r = new Integrator(g, c.ours).integrate2d(img);
      const p = out.results[c.id];
      assert.ok(maxRel(r.radial, num(p.radial)).max < 1e-6, `${c.id}: radial`);
      assert.ok(maxRel(r.azimuthal!, num(p.azimuthal)).max < 1e-6, `${c.id}: azimuthal`);
      const count = num(p.count);
      assert.equal(r.intensity.length, count.length, `${c.id}: [npt_azim][npt] layout`);
      const I = maxRel(r.intensity, num(p.intensity), (i) => count[i] >= 20);
      assert.ok(I.max < 1e-4, `${c.id}: intensity differs by ${I.max} at ${I.at}`);
      assert.ok(maxRel(r.intensity, num(p.intensity)).max < 1e-4, `${c.id}: intensity, every bin`);
      assert.ok(maxRel(r.count, count).max < 1e-5, `${c.id}: count`);
      if (p.sigma) assert.ok(maxRel(r.sigma!, num(p.sigma), (i) => count[i] >= 20).max < 1e-4, `${c.id}: sigma`);
    }
  } finally {
    out.cleanup();
  }
});

test('sigma clipping agrees with pyFAI sigma_clip_ng on powder and Bragg frames', () => {
  const setup = SETUPS.tilted;
  const g = geometryOf(setup);
  const images = { powder: powderImage(g, { seed: 21 }), bragg: braggImage(g, { seed: 22, spots: 200 }) };
  type C = { id: string; image: keyof typeof images; m: 'no' | 'bbox'; em: 'poisson' | 'azimuthal'; cycle: number; cutoff: number; unit: RadialUnit };
  const cases: C[] = [];
  for (const image of ['powder', 'bragg'] as const) {
    for (const m of ['no', 'bbox'] as const) {
      for (const em of ['poisson', 'azimuthal'] as const) cases.push({ id: `${image}/${m}/${em}`, image, m, em, cycle: 5, cutoff: 0, unit: 'r_mm' });
    }
    cases.push({ id: `${image}/no/poisson/thres3`, image, m: 'no', em: 'poisson', cycle: 3, cutoff: 3, unit: 'q_nm^-1' });
  }
  const out = runPyfai({
    setup,
    arrays: images,
    ops: cases.map((c) => ({ id: c.id, kind: 'sigma_clip', image: c.image, npt: 200, unit: c.unit, method: [c.m, 'csr', 'cython'], error_model: c.em, thres: c.cutoff, max_iter: c.cycle })),
  });
  try {
    for (const c of cases) {
      const integ = new Integrator(g, { npt: 200, unit: c.unit, method: c.m });
      const r = new SigmaClipper(integ, { cycle: c.cycle, cutoff: c.cutoff, errorModel: c.em }).clip(images[c.image]);
      const p = out.results[c.id];
      const count = num(p.count);
      const enough = (i: number): boolean => count[i] >= 50;
      assert.ok(count.filter((x) => x >= 50).length > 100, `${c.id}: enough bins to compare`);
      assert.ok(maxRel(r.radial, num(p.radial)).max < 1e-6, `${c.id}: radial`);
      const a = maxRel(r.average, num(p.intensity), enough);
      assert.ok(a.max < 0.01, `${c.id}: background average differs by ${a.max} at ${a.at}`);
      const s = maxRel(r.std, num(p.std), enough);
      assert.ok(s.max < 0.01, `${c.id}: background std differs by ${s.max} at ${s.at}`);
      // in practice the agreement is at float32 precision
      assert.ok(a.max < 1e-5 && s.max < 1e-5, `${c.id}: expected float32-level agreement, got avg ${a.max}, std ${s.max}`);
      assert.ok(maxRel(r.count, count, enough).max < 1e-5, `${c.id}: kept pixels`);
    }
  } finally {
    out.cleanup();
  }
});
