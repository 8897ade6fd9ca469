/**
 * The integration engine against hand-computed values: flat images, a
 * single lit pixel, rings at known angles, solid-angle and polarization
 * factors, units, invalid pixels (NaN, dummy, masks), empty bins, the
 * sparse matrix, the background interpolation, and the two per-frame
 * engines (WebAssembly and JavaScript) against each other for every dtype.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Integrator, SigmaClipper, interpolateBackground, type IntegratorOptions, type RadialUnit } from '../../src/processing/azint/index.js';
import { PyFAIGeometry } from '../../src/detectors/geometry/pyfai-geometry.js';
import type { TypedArray } from '../../src/protocol/index.js';
import { rng, poisson, maxRel } from './helpers.js';

const ROWS = 200, COLS = 240, N = ROWS * COLS, PX = 75e-6;
/** untilted, beam on pixel (80, 100) exactly */
const PONI = { dist: 0.1, poni1: 80.5 * PX, poni2: 100.5 * PX, rot1: 0, rot2: 0, rot3: 0, wavelength: 1e-10 };
const TILTED = { dist: 0.08, poni1: 0.004, poni2: 0.012, rot1: 0.1, rot2: -0.05, rot3: 0.2, wavelength: 1e-10 };
const geo = (poni = PONI): PyFAIGeometry => PyFAIGeometry.forDetector(poni, [ROWS, COLS], [PX, PX]);

test('a flat image gives a constant intensity; sigma is √(v/n) (Poisson) and std 0 (azimuthal)', () => {
  const g = geo(TILTED);
  const flat = new Float32Array(N).fill(7);
  const sa = g.solidAngle();
  const scaled = new Float64Array(N);
  for (let k = 0; k < N; k++) scaled[k] = 7 * sa[k];
  for (const method of ['no', 'bbox'] as const) {
    const plain = new Integrator(g, { npt: 80, method, correctSolidAngle: false, errorModel: 'poisson' });
    const r = plain.integrate1d(flat);
    for (let b = 0; b < 80; b++) {
      assert.ok(r.count[b] > 0, `bin ${b} has pixels`);
      assert.ok(Math.abs(r.intensity[b] - 7) < 1e-5, `${method}: bin ${b} = ${r.intensity[b]}`);
      if (method === 'no') assert.ok(Math.abs(r.sigma![b] - Math.sqrt(7 / r.count[b])) < 1e-6, `${method}: sem of bin ${b}`);
    }
    const az = plain.integrate1d(flat, { errorModel: 'azimuthal' });
    for (let b = 0; b < 80; b++) assert.ok(Math.abs(az.std![b]) < 1e-6, `azimuthal std of a flat image is 0 (bin ${b}: ${az.std![b]})`);
    const withSa = new Integrator(g, { npt: 80, method }).integrate1d(scaled);
    for (let b = 0; b < 80; b++) assert.ok(Math.abs(withSa.intensity[b] - 7) < 1e-5, `${method} solid angle: bin ${b} = ${withSa.intensity[b]}`);
  }
});

test('a single lit pixel lands in the bin of its radial position (no), its extent (bbox)', () => {
  const g = geo();
  const lit = 150 * COLS + 31;
  const img = new Float32Array(N);
  img[lit] = 1000;
  const tth = g.tth()[lit];
  const no = new Integrator(g, { npt: 120, unit: '2th_rad', method: 'no', correctSolidAngle: false });
  const ax = no.radialAxis;
  const expected = Math.trunc((tth - ax.min) / ax.delta);
  const r = no.integrate1d(img);
  for (let b = 0; b < 120; b++) {
    if (b === expected) assert.ok(Math.abs(r.sum_signal[b] - 1000) < 1e-9 && r.intensity[b] > 0, `lit bin ${b}`);
    else assert.equal(r.sum_signal[b], 0, `bin ${b} should be dark`);
  }
  assert.ok(Math.abs(r.intensity[expected] - 1000 / r.count[expected]) < 1e-3);
  assert.ok(r.radial[expected] - ax.delta / 2 <= tth && tth < r.radial[expected] + ax.delta / 2, 'the bin centre is within half a bin of the pixel');
  assert.equal(no.table.bin[lit], expected, 'per-pixel bin index');
  const bb = new Integrator(g, { npt: 120, unit: '2th_rad', method: 'bbox', correctSolidAngle: false });
  const rb = bb.integrate1d(img);
  let total = 0;
  const lit1: number[] = [];
  for (let b = 0; b < 120; b++) {
    total += rb.sum_signal[b];
    if (rb.sum_signal[b] !== 0) lit1.push(b);
  }
  assert.ok(Math.abs(total - 1000) < 1e-3, `bbox conserves the signal (${total})`);
  assert.ok(lit1.length >= 1 && lit1.includes(Math.trunc((tth - bb.radialAxis.min) / bb.radialAxis.delta)), `bbox spreads over ${lit1}`);
});

test('rings at known 2θ peak at the right 2θ, q and r', () => {
  const g = geo();
  const tth = g.tth();
  const t0 = 0.12, w = 0.0015;
  const img = new Float32Array(N);
  for (let k = 0; k < N; k++) img[k] = 10 + 1000 * Math.exp(-0.5 * ((tth[k] - t0) / w) ** 2);
  const expect: Record<string, number> = {
    '2th_deg': (t0 * 180) / Math.PI,
    'q_nm^-1': ((4e-9 * Math.PI) / PONI.wavelength) * Math.sin(t0 / 2),
    'q_A^-1': ((4e-10 * Math.PI) / PONI.wavelength) * Math.sin(t0 / 2),
    r_mm: PONI.dist * Math.tan(t0) * 1000,
  };
  for (const [unit, x0] of Object.entries(expect)) {
    const r = new Integrator(g, { npt: 150, unit: unit as RadialUnit, method: 'bbox', correctSolidAngle: false }).integrate1d(img);
    let best = 0;
    for (let b = 1; b < 150; b++) if (r.intensity[b] > r.intensity[best]) best = b;
    const width = r.radial[1] - r.radial[0];
    assert.ok(Math.abs(r.radial[best] - x0) <= width, `${unit}: peak at ${r.radial[best]}, ring at ${x0} (bin ${width})`);
  }
});

test('solid angle and polarization factors equal their hand values', () => {
  const g = geo();
  const f = 0.8, nf = 2.5;
  const integ = new Integrator(g, { npt: 50, polarizationFactor: f, normalizationFactor: nf });
  const norm = integ.corrections.norm;
  const cos2 = (p1: number, p2: number): number => Math.cos(Math.atan2(Math.hypot(p1, p2), PONI.dist)) ** 2;
  const sa = (p1: number, p2: number): number => (PONI.dist / Math.sqrt(PONI.dist ** 2 + p1 * p1 + p2 * p2)) ** 3;
  // the PONI pixel: solid angle 1, 2θ = 0 → polarization 1
  assert.ok(Math.abs(norm[80 * COLS + 100] - nf) < 1e-6);
  // along the rows (χ = 90°): P = ½(1 + c² + f(1 − c²)); along the columns (χ = 0): ½(1 + c² − f(1 − c²))
  const p1 = 60 * PX, p2 = 110 * PX;
  const c1 = cos2(p1, 0), c2 = cos2(0, p2);
  const hand1 = nf * sa(p1, 0) * 0.5 * (1 + c1 + f * (1 - c1));
  const hand2 = nf * sa(0, p2) * 0.5 * (1 + c2 - f * (1 - c2));
  assert.ok(Math.abs(norm[140 * COLS + 100] / hand1 - 1) < 1e-6, `χ = 90°: ${norm[140 * COLS + 100]} vs ${hand1}`);
  assert.ok(Math.abs(norm[80 * COLS + 210] / hand2 - 1) < 1e-6, `χ = 0°: ${norm[80 * COLS + 210]} vs ${hand2}`);
  // and an integration divides by exactly that
  const img = new Float32Array(N);
  img[140 * COLS + 100] = 123;
  const r = new Integrator(g, { npt: 50, method: 'no', polarizationFactor: f, normalizationFactor: nf }).integrate1d(img);
  const b = integ.table.bin[140 * COLS + 100];
  assert.ok(Math.abs(r.sum_signal[b] - 123) < 1e-9);
  assert.ok(r.sum_normalization[b] > 0);
});

test('units: 2th_deg = 2th_rad·180/π, q_A^-1 = q_nm^-1/10, r_mm = 1000·r_m (same bins)', () => {
  const g = geo(TILTED);
  const img = new Float32Array(N).fill(1);
  const pairs: [RadialUnit, RadialUnit, number][] = [['2th_deg', '2th_rad', 180 / Math.PI], ['q_A^-1', 'q_nm^-1', 0.1], ['r_mm', 'r_m', 1000]];
  for (const [a, b, s] of pairs) {
    const ra = new Integrator(g, { npt: 64, unit: a }).integrate1d(img);
    const ax = Float64Array.from(ra.radial);
    const rb = new Integrator(g, { npt: 64, unit: b }).integrate1d(img);
    const scaled = Array.from(rb.radial, (x) => x * s);
    assert.ok(maxRel(ax, scaled).max < 1e-12, `${a} vs ${b}`);
    assert.deepEqual(Array.from(ra.count), Array.from(rb.count), `${a} and ${b} bin the same pixels`);
  }
  assert.throws(() => new Integrator(PyFAIGeometry.forDetector({ ...TILTED, wavelength: null }, [ROWS, COLS], [PX, PX]), { npt: 10, unit: 'q_nm^-1' }), /wavelength/);
});

test('NaN, ±Infinity, dummies (exact and delta, uint32 and float) and frame masks are excluded', () => {
  const g = geo(TILTED);
  const base = new Integrator(g, { npt: 60, correctSolidAngle: false }).integrate1d(new Float32Array(N).fill(10));
  const u = rng(3);
  const bad: number[] = [];
  for (let i = 0; i < 800; i++) bad.push(Math.floor(u() * N));
  const badSet = new Set(bad);
  const u32 = new Uint32Array(N).fill(10);
  for (const k of bad) u32[k] = 4294967295;
  const f32 = new Float32Array(N).fill(10);
  bad.forEach((k, i) => (f32[k] = i % 3 === 0 ? NaN : i % 3 === 1 ? Infinity : -Infinity));
  const fd = new Float32Array(N).fill(10);
  for (const k of bad) fd[k] = -1.7; // within delta 1.5 of −2
  const frameMask = new Uint8Array(N);
  for (const k of bad) frameMask[k] = 1;
  const runs: [string, TypedArray, Partial<IntegratorOptions>, Uint8Array | null][] = [
    ['uint32 dummy', u32, { dummy: 4294967295 }, null],
    ['float NaN/Inf', f32, {}, null],
    ['delta dummy', fd, { dummy: -2, deltaDummy: 1.5 }, null],
    ['frame mask', new Float32Array(N).fill(10), {}, frameMask],
  ];
  for (const method of ['no', 'bbox'] as const) {
    for (const engine of ['wasm', 'js'] as const) {
      for (const [name, img, o, mask] of runs) {
        const integ = new Integrator(g, { npt: 60, method, correctSolidAngle: false, errorModel: 'poisson', engine, ...o });
        const r = integ.integrate1d(img, { mask });
        let removed = 0;
        integ.table.forEach((k, _b, c) => {
          if (badSet.has(k)) removed += c;
        });
        let total = 0, before = 0;
        for (let b = 0; b < 60; b++) {
          assert.ok(Math.abs(r.intensity[b] - 10) < 1e-5, `${method}/${engine}/${name}: bin ${b} = ${r.intensity[b]}`);
          total += r.count[b];
          before += base.count[b];
        }
        assert.ok(removed > 700, 'most bad pixels are in the table');
        assert.ok(Math.abs(before - total - removed) < 1e-6, `${method}/${engine}/${name}: ${before - total} pixels removed, expected ${removed}`);
      }
    }
  }
});

test('empty bins get 0 (or `empty`); a static mask and unusable flat pixels are left out', () => {
  const g = geo();
  const img = new Float32Array(N).fill(5);
  const integ = new Integrator(g, { npt: 40, unit: 'r_mm', radialRange: [0, 100], correctSolidAngle: false, errorModel: 'poisson' });
  const r = integ.integrate1d(img);
  const last = r.intensity[39];
  assert.equal(last, 0, 'bins beyond the detector are empty');
  assert.equal(r.sigma![39], 0);
  assert.equal(r.count[39], 0);
  const r2 = new Integrator(g, { npt: 40, unit: 'r_mm', radialRange: [0, 100], correctSolidAngle: false, empty: -1 }).integrate1d(img);
  assert.equal(r2.intensity[39], -1);
  // mask half the detector and zero the flat of a quarter: still 5 everywhere, fewer pixels
  const mask = new Uint8Array(N);
  const flat = new Float32Array(N).fill(1);
  for (let k = 0; k < N; k++) {
    if (k % COLS < COLS / 2) mask[k] = 1;
    if (Math.floor(k / COLS) < ROWS / 4) flat[k] = 0;
  }
  const m = new Integrator(g, { npt: 40, mask, flat, correctSolidAngle: false }).integrate1d(img);
  let counted = 0;
  for (let b = 0; b < 40; b++) {
    counted += m.count[b];
    if (m.count[b] > 0) assert.ok(Math.abs(m.intensity[b] - 5) < 1e-5);
  }
  assert.ok(Math.abs(counted - (N / 2) * 0.75) < 1e-6, `${counted} pixels integrated`);
});

test('the sparse matrix: every pixel’s coefficients sum to 1; rows (bins) are in pixel order', () => {
  const g = geo();
  const integ = new Integrator(g, { npt: 1500, method: 'bbox' });
  assert.ok(integ.table.list.pix.length > 0, 'some pixels near the beam span more than 2 bins (general entry list)');
  const sum = new Float64Array(N);
  integ.table.forEach((k, _b, c) => (sum[k] += c));
  for (let k = 0; k < N; k++) if (integ.table.bin[k] !== -1) assert.ok(Math.abs(sum[k] - 1) < 1e-6, `pixel ${k}: ${sum[k]}`);
  const { indptr, indices, data } = integ.csr();
  assert.equal(indptr[1500], integ.table.nnz);
  for (let b = 0; b < 1500; b++) for (let j = indptr[b] + 1; j < indptr[b + 1]; j++) assert.ok(indices[j] > indices[j - 1]);
  assert.ok(data.every((c) => c > 0 && c <= 1));
});

test('WebAssembly and JavaScript engines give the same sums for every dtype, error model, with dark, dummies and masks', () => {
  const g = geo();
  const u = rng(17);
  const raw = new Float64Array(N);
  for (let k = 0; k < N; k++) raw[k] = poisson(40, u);
  const dark = new Float32Array(N);
  for (let k = 0; k < N; k++) dark[k] = u() * 2;
  const frameMask = new Uint8Array(N);
  for (let k = 0; k < N; k += 53) frameMask[k] = 1;
  const make: Record<string, () => TypedArray> = {
    uint8: () => Uint8Array.from(raw, (v, k) => (k % 71 === 0 ? 255 : v)),
    int8: () => Int8Array.from(raw, (v, k) => (k % 71 === 0 ? -128 : v - 40)),
    uint16: () => Uint16Array.from(raw, (v, k) => (k % 71 === 0 ? 65535 : v)),
    int16: () => Int16Array.from(raw, (v, k) => (k % 71 === 0 ? -1 : v)),
    uint32: () => Uint32Array.from(raw, (v, k) => (k % 71 === 0 ? 4294967295 : v)),
    int32: () => Int32Array.from(raw, (v, k) => (k % 71 === 0 ? -1 : v)),
    float32: () => Float32Array.from(raw, (v, k) => (k % 71 === 0 ? -2.2 : k % 89 === 0 ? NaN : v)),
    float64: () => Float64Array.from(raw, (v, k) => (k % 71 === 0 ? -2.2 : k % 89 === 0 ? Infinity : v)),
  };
  const dummies: Record<string, [number, number | null]> = {
    uint8: [255, null], int8: [-128, null], uint16: [65535, null], int16: [-1, null], uint32: [4294967295, null], int32: [-1, null], float32: [-2, 0.5], float64: [-2, 0.5],
  };
  for (const [dtype, mk] of Object.entries(make)) {
    const img = mk();
    // 80 bins: bbox splits most pixels over 2 bins (the pair path); 700 bins: over more (the entry lists)
    for (const [method, npt] of [['no', 700], ['bbox', 80], ['bbox', 700]] as const) {
      for (const withDark of [false, true]) {
        const o: IntegratorOptions = { npt, method, dummy: dummies[dtype][0], deltaDummy: dummies[dtype][1], dark: withDark ? dark : null };
        const w = new Integrator(g, { ...o, engine: 'wasm' });
        const j = new Integrator(g, { ...o, engine: 'js' });
        if (method === 'bbox' && npt === 80) assert.ok(w.table.frac !== null && w.table.nnz > 1.5 * N * 0.9, 'pairs of bins');
        if (method === 'bbox' && npt === 700) assert.ok(w.table.list.pix.length > N / 2, 'entry lists');
        for (const mask of [null, frameMask]) {
          for (const em of [null, 'poisson', 'azimuthal'] as const) {
            const a = w.integrate1d(img, { errorModel: em, mask });
            const sa = Float64Array.from(a.sum_signal), va = Float64Array.from(a.sum_variance), ca = Float64Array.from(a.count), ia = Float32Array.from(a.intensity);
            const b = j.integrate1d(img, { errorModel: em, mask });
            const what = `${dtype}/${method}/${npt}/dark ${withDark}/mask ${!!mask}/${em}`;
            for (let k = 0; k < npt; k++) {
              assert.ok(Math.abs(sa[k] - b.sum_signal[k]) <= 1e-9 * (1 + Math.abs(b.sum_signal[k])), `${what}: S[${k}] ${sa[k]} vs ${b.sum_signal[k]}`);
              assert.ok(Math.abs(va[k] - b.sum_variance[k]) <= 1e-9 * (1 + Math.abs(b.sum_variance[k])), `${what}: V[${k}]`);
              assert.ok(Math.abs(ca[k] - b.count[k]) <= 1e-9 * (1 + b.count[k]), `${what}: C[${k}]`);
              assert.ok(Math.abs(ia[k] - b.intensity[k]) <= 1e-6 * (1 + Math.abs(b.intensity[k])), `${what}: I[${k}]`);
            }
          }
        }
      }
    }
  }
});

test('sigma clipping removes outliers from a flat background; interpolateBackground is linear between bin centres', () => {
  const g = geo(TILTED);
  const img = new Float32Array(N).fill(100);
  const u = rng(8);
  const spots = new Set<number>();
  for (let i = 0; i < 300; i++) {
    const k = Math.floor(u() * N);
    img[k] = 5000;
    spots.add(k);
  }
  const integ = new Integrator(g, { npt: 50, unit: 'r_mm', method: 'no', correctSolidAngle: false });
  const plain = integ.integrate1d(img);
  const r = new SigmaClipper(integ, { cycle: 5, errorModel: 'azimuthal' }).clip(img);
  let biased = 0;
  for (let b = 0; b < 50; b++) {
    if (plain.intensity[b] > 100.5) biased++;
    assert.ok(Math.abs(r.average[b] - 100) < 1e-4, `bin ${b}: background ${r.average[b]}`);
    assert.ok(Math.abs(r.std[b]) < 1e-4, `bin ${b}: std ${r.std[b]}`);
  }
  assert.ok(biased > 10, 'the plain average is biased by the spots');
  let flagged = 0;
  for (const k of spots) if (r.state[k] === 1) flagged++;
  assert.equal(flagged, spots.size, 'every spot pixel is discarded');
  // interpolation: a background equal to the bin centre interpolates to each pixel's own position (inside the range)
  const avg = Float32Array.from(integ.radial);
  const std = new Float32Array(50).fill(2);
  const outA = new Float32Array(N), outS = new Float32Array(N);
  interpolateBackground(integ, avg, std, outA, outS);
  const pos = integ.pixelRadial();
  const lo = integ.radial[0], hi = integ.radial[49];
  for (let k = 0; k < N; k += 7) {
    const expected = Math.min(hi, Math.max(lo, pos[k]));
    assert.ok(Math.abs(outA[k] - expected) < 1e-4 * hi, `pixel ${k}: ${outA[k]} vs ${expected}`);
    assert.equal(outS[k], 2);
  }
  const masked = new Uint8Array(N);
  masked[12345] = 1;
  const im = new Integrator(g, { npt: 50, unit: 'r_mm', method: 'no', mask: masked });
  interpolateBackground(im, avg, std, outA, outS);
  assert.ok(Number.isNaN(outA[12345]) && Number.isNaN(outS[12345]) && Number.isNaN(im.pixelRadial()[12345]));
  assert.ok(!Number.isNaN(outA[12346]));
});

test('sigma clipping: WebAssembly and JavaScript passes agree (background, counts, per-pixel states)', () => {
  const g = geo(TILTED);
  const u = rng(23);
  const raw = new Float64Array(N);
  for (let k = 0; k < N; k++) raw[k] = poisson(30, u) + (u() < 0.003 ? 2000 : 0);
  const dark = new Float32Array(N);
  for (let k = 0; k < N; k++) dark[k] = u();
  const frameMask = new Uint8Array(N);
  for (let k = 0; k < N; k += 61) frameMask[k] = 1;
  const staticMask = new Uint8Array(N);
  staticMask.fill(1, 0, 3 * COLS);
  const images: [TypedArray, number, number | null][] = [
    [Uint32Array.from(raw, (v, k) => (k % 97 === 0 ? 4294967295 : v)), 4294967295, null],
    [Float32Array.from(raw, (v, k) => (k % 97 === 0 ? NaN : k % 89 === 0 ? -2.1 : v)), -2, 0.5],
    [Uint16Array.from(raw, (v, k) => (k % 97 === 0 ? 65535 : v)), 65535, null],
  ];
  for (const [img, dummy, delta] of images) {
    for (const em of ['poisson', 'azimuthal'] as const) {
      for (const withDark of [false, true]) {
        for (const mask of [null, frameMask]) {
          // a radial range leaves valid pixels out of the table (state 3)
          const o: IntegratorOptions = { npt: 90, unit: 'q_nm^-1', method: 'no', dummy, deltaDummy: delta, dark: withDark ? dark : null, mask: staticMask, radialRange: [2, 40] };
          const w = new SigmaClipper(new Integrator(g, { ...o, engine: 'wasm' }), { errorModel: em, cycle: 4 }).clip(img, mask);
          const avg = Float32Array.from(w.average), std = Float32Array.from(w.std), cnt = Float64Array.from(w.count), st = Uint8Array.from(w.state);
          const j = new SigmaClipper(new Integrator(g, { ...o, engine: 'js' }), { errorModel: em, cycle: 4 }).clip(img, mask);
          const what = `${img.constructor.name}/${em}/dark ${withDark}/mask ${!!mask}`;
          assert.ok(maxRel(avg, j.average).max < 1e-6, `${what}: average`);
          assert.ok(maxRel(std, j.std).max < 1e-5, `${what}: std`);
          assert.ok(maxRel(cnt, j.count).max < 1e-12, `${what}: count`);
          assert.deepEqual(st, j.state, `${what}: states`);
          const seen = new Set(st);
          for (const code of [0, 1, 2, 3, 4]) assert.ok(seen.has(code), `${what}: state ${code} occurs`);
        }
      }
    }
  }
});
