import assert from 'node:assert/strict';
import { test } from 'node:test';
import { niceTicks, tickLabel } from '../src/liveimage/axes.js';
import { beamCentre, chooseRings, dOfTth, pointAt, poniOf, qOfTth, ringPoints, tthAtPixel, type Poni } from '../src/liveimage/geometry.js';
import { LevelStats } from '../src/liveimage/levels.js';
import { profileLine, roiStat, sampleProfile } from '../src/liveimage/profile.js';
import { Throttle } from '../src/liveimage/throttle.js';
import { ViewTransform } from '../src/liveimage/transform.js';

test('levels: histogram and percentiles of a frame, gaps and NaN left out, buffers reused', () => {
  const data = new Float32Array(10000);
  for (let i = 0; i < data.length; i++) data[i] = i % 1000; // 0..999 uniform
  data[5] = NaN;
  data[7] = 2 ** 32 - 1; // a gap dummy
  const s = new LevelStats(100);
  s.update(data, 2 ** 31);
  assert.equal(s.count, 9998);
  assert.equal(s.lo, 0);
  assert.equal(s.hi, 999);
  assert.ok(Math.abs(s.percentile(50) - 500) <= 2, String(s.percentile(50)));
  const [lo, hi] = s.range(0.1, 99.9);
  assert.ok(lo <= 2 && hi >= 997, `${lo} ${hi}`);
  assert.equal(s.counts.reduce((a, b) => a + b, 0), 9998);
  assert.ok(Math.max(...s.counts) - Math.min(...s.counts) <= 12, 'a uniform frame fills the bins evenly');
  // a 4 Mpx frame is subsampled: bounded work, the same buffers
  const big = new Float32Array(4_000_000).fill(3);
  big[123] = 1e6; // one hot pixel does not move the 99.9th percentile
  const counts = s.counts;
  s.update(big);
  assert.ok(s.count <= s.maxSamples);
  assert.equal(s.counts, counts);
  assert.deepEqual(s.range(0.1, 99.9), [3, 4], 'a flat frame still gets a usable range');
  s.update(new Float32Array([NaN, NaN]));
  assert.deepEqual(s.range(1, 99), [0, 1]);
  assert.ok(Number.isNaN(s.percentile(50)));
});

test('axes: nice ticks 1/2/5 × 10^k inside the range, labels with the decimals the step needs', () => {
  assert.deepEqual(niceTicks(0, 1030, 6), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(niceTicks(0, 1030, 5), [0, 500, 1000]);
  assert.deepEqual(niceTicks(12.3, 17.9, 6), [13, 14, 15, 16, 17]);
  assert.deepEqual(niceTicks(0.1, 0.35, 5), [0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
  assert.deepEqual(niceTicks(5, 5), []);
  assert.deepEqual(niceTicks(NaN, 3), []);
  assert.equal(tickLabel(0.15, 0.05), '0.15');
  assert.equal(tickLabel(400, 200), '400');
});

const GEO: Poni = { dist: 0.1, poni1: 0.04, poni2: 0.05, rot1: 0, rot2: 0, rot3: 0, wavelength: 1e-10, pixel1: 1e-4, pixel2: 1e-4 };

test('geometry: beam centre and rings of an untilted detector are the PONI and circles of dist·tan 2θ', () => {
  const c = beamCentre(GEO)!;
  assert.ok(Math.abs(c[0] - 500) < 1e-9 && Math.abs(c[1] - 400) < 1e-9, String(c));
  const tth = (10 * Math.PI) / 180;
  const r = (GEO.dist * Math.tan(tth)) / GEO.pixel1; // pixels
  const pts = ringPoints(GEO, tth, 36);
  for (let k = 0; k < 36; k++) {
    const d = Math.hypot(pts[2 * k] - 500, pts[2 * k + 1] - 400);
    assert.ok(Math.abs(d - r) < 1e-6, `point ${k}: ${d} vs ${r}`);
  }
  assert.ok(Math.abs(tthAtPixel(GEO, 500 + r, 400) - tth) < 1e-12);
  // q and resolution: Bragg's law
  const q = qOfTth(tth, GEO.wavelength);
  assert.ok(Math.abs(dOfTth(tth, GEO.wavelength) - (2 * Math.PI) / q * 10) < 1e-9, 'd[Å] = 2π/q[nm⁻¹]·10');
});

test('geometry: with tilts, every ring point is at its 2θ by the server\'s pyFAI formulas', async () => {
  // the server's implementation (daq-server/src/detectors/geometry), built next to this one
  const url = new URL('../../../daq-server/dist/src/detectors/geometry/pyfai-geometry.js', import.meta.url).href;
  const server = (await import(url)) as { tthAt(g: unknown, d1: number, d2: number): number; chiAt(g: unknown, d1: number, d2: number): number };
  const g: Poni = { ...GEO, rot1: 0.05, rot2: -0.08, rot3: 0.3 };
  for (const deg of [3, 12, 25]) {
    const tth = (deg * Math.PI) / 180;
    for (const chi of [-2.5, -1, 0, 0.7, 2]) {
      const p = pointAt(g, tth, chi)!;
      assert.ok(p, `${deg}° ${chi}`);
      const d1 = p[1] * g.pixel1, d2 = p[0] * g.pixel2;
      assert.ok(Math.abs(server.tthAt(g, d1, d2) - tth) < 1e-9, `2θ at ${p}`);
      assert.ok(Math.abs(server.chiAt(g, d1, d2) - chi) < 1e-9, `χ at ${p}`);
    }
  }
});

test('geometry: rings chosen inside the detector, labelled with q (or 2θ) and resolution; poniOf reads a scan', () => {
  const rings = chooseRings(GEO, 800, 1000, 'q');
  assert.ok(rings.length >= 3, JSON.stringify(rings));
  const max = Math.max(...[[0, 0], [1000, 0], [0, 800], [1000, 800]].map(([x, y]) => tthAtPixel(GEO, x, y)));
  for (const r of rings) {
    assert.ok(r.tth > 0 && r.tth <= max, r.label);
    assert.match(r.label, /^q [\d.]+ nm⁻¹ · [\d.]+ Å$/);
  }
  assert.match(chooseRings({ ...GEO, wavelength: 0 }, 800, 1000, 'q')[0].label, /^2θ [\d.]+°$/);
  const info = { detector_description: { wavelength: 2e-10, geometry: { dist: 0.2, poni1: 0.01, poni2: 0.02, pixel1: 7.5e-5, pixel2: 7.5e-5, rot1: 0 } } };
  assert.deepEqual(poniOf(info), { dist: 0.2, poni1: 0.01, poni2: 0.02, pixel1: 7.5e-5, pixel2: 7.5e-5, rot1: 0, rot2: 0, rot3: 0, wavelength: 2e-10 });
  assert.equal(poniOf({ detector_description: { geometry: { dist: 0.2 } } }), null);
  assert.equal(poniOf({}), null);
});

test('profiles: horizontal/vertical lines, width averaging, binned texels per pixel, masked pixels left out', () => {
  // 4 × 6 frame, value = 10·row + col
  const rows = 4, cols = 6;
  const v = new Float32Array(rows * cols).map((_, i) => 10 * Math.floor(i / cols) + (i % cols));
  const p = { r0: 0, c0: 0, binning: 1, rows, cols };
  const h = sampleProfile(v, p, profileLine('horizontal', 2.7, 1.2, rows, cols, null)!);
  assert.deepEqual(Array.from(h.value), [10, 11, 12, 13, 14, 15]);
  assert.equal(h.position[1], 1.5);
  assert.equal(h.value.length, 6);
  const vert = sampleProfile(v, p, profileLine('vertical', 2.7, 1.2, rows, cols, null)!);
  assert.deepEqual(Array.from(vert.value), [2, 12, 22, 32]);
  const wide = sampleProfile(v, p, [0, 1.5, 6, 1.5], 3); // rows 0..2 averaged
  assert.equal(wide.value[0], 10);
  v[1 * cols + 3] = NaN;
  assert.ok(Number.isNaN(sampleProfile(v, p, [0, 1.5, 6, 1.5]).value[3]));
  // binned 2×: a texel is the sum of 4 pixels, the profile reads per pixel
  const binned = new Float32Array([40, 80, 120, 160]);
  const pb = { r0: 0, c0: 0, binning: 2, rows: 2, cols: 2 };
  assert.deepEqual(Array.from(sampleProfile(binned, pb, [0, 1, 4, 1]).value), [10, 20]);
  assert.ok(sampleProfile(new Float32Array(4_000_000), { r0: 0, c0: 0, binning: 1, rows: 2000, cols: 2000 }, [0, 0, 2000, 2000], 500).value.length <= 4096);
});

test('ROI statistics beside the ROIs: sum, per-pixel mean and max over the drawn texels', () => {
  const rows = 4, cols = 6;
  const v = new Float32Array(rows * cols).map((_, i) => 10 * Math.floor(i / cols) + (i % cols));
  const s = roiStat(v, { r0: 0, c0: 0, binning: 1, rows, cols }, [1, 2, 2, 3]);
  assert.deepEqual(s, { sum: 12 + 13 + 14 + 22 + 23 + 24, pixels: 6, mean: 18, max: 24 });
  const none = roiStat(v, { r0: 0, c0: 0, binning: 1, rows, cols }, [10, 10, 2, 2]);
  assert.equal(none.pixels, 0);
  assert.ok(Number.isNaN(none.mean));
});

test('view transform: fit, screen ↔ detector, zoom about a point keeps it in place', () => {
  const t = new ViewTransform(() => ({ width: 400, height: 200 }));
  t.fullRows = 100;
  t.fullCols = 100;
  t.fit();
  assert.equal(t.s, 0.5);
  assert.deepEqual(t.toScreen(50, 50), [200, 100]);
  const before = t.toImage(300, 50);
  t.zoomAt(300, 50, 0.5);
  const after = t.toImage(300, 50);
  assert.ok(Math.abs(before.x - after.x) < 1e-12 && Math.abs(before.y - after.y) < 1e-12);
  assert.equal(t.userMoved, true);
});

test('throttle: at most one run per interval, and one after the last request', async () => {
  let clock = 0;
  let runs = 0;
  const t = new Throttle(50, () => runs++, () => clock);
  t.request(); // runs at once
  assert.equal(runs, 1);
  clock = 10;
  t.request(); // too soon: due at 50
  t.request(); // already due: nothing more
  assert.equal(runs, 1);
  clock = 50;
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(runs, 2, 'the last request is not dropped');
  t.flush();
  assert.equal(runs, 3);
  t.cancel();
});

test('autoscale on the whole frame: zooming in keeps the levels (rescaled for binning); on the view they follow it', async () => {
  const { AutoLevels, coversFrame } = await import('../src/liveimage/autoscope.js');
  const whole = { r0: 0, c0: 0, binning: 2, rows: 257, cols: 515 }; // a 514 × 1030 frame binned 2× (odd edge dropped)
  const zoomed = { r0: 100, c0: 200, binning: 1, rows: 64, cols: 64 };
  assert.ok(coversFrame(whole, 514, 1030) && coversFrame({ r0: 0, c0: 0, binning: 2, rows: 257, cols: 515 }, 515, 1031));
  assert.ok(!coversFrame(zoomed, 514, 1030) && !coversFrame({ ...whole, rows: 200 }, 514, 1030));
  const a = new AutoLevels();
  assert.deepEqual(a.levels('frame', whole, 514, 1030, [40, 400]), [40, 400]);
  // zoomed on a bright spot: the view's percentiles are much higher, the frame's levels stay (÷ 4: unbinned pixels)
  assert.deepEqual(a.levels('frame', zoomed, 514, 1030, [900, 5000]), [10, 100]);
  assert.deepEqual(a.levels('frame', { ...zoomed, binning: 2 }, 514, 1030, [900, 5000]), [40, 400]);
  // the view's levels when asked for
  assert.deepEqual(a.levels('view', zoomed, 514, 1030, [900, 5000]), [900, 5000]);
  // a new whole frame moves them; before any whole frame, the view's are all there is
  assert.deepEqual(a.levels('frame', whole, 514, 1030, [80, 800]), [80, 800]);
  assert.deepEqual(a.levels('frame', zoomed, 514, 1030, [1, 2]), [20, 200]);
  a.reset();
  assert.deepEqual(a.levels('frame', zoomed, 514, 1030, [1, 2]), [1, 2]);
});

test('autoscale on the whole frame while zoomed: the frame statistics sent with each region move the levels frame by frame', async () => {
  const { AutoLevels } = await import('../src/liveimage/autoscope.js');
  const whole = { r0: 0, c0: 0, binning: 2, rows: 257, cols: 515 };
  const zoomed = { r0: 100, c0: 200, binning: 1, rows: 64, cols: 64 };
  const a = new AutoLevels();
  a.levels('frame', whole, 514, 1030, [40, 400]);
  // each new frame's whole-frame percentiles (per detector pixel), not the last whole frame's
  assert.deepEqual(a.levels('frame', zoomed, 514, 1030, [900, 5000], [0, 9000, 12, 150]), [12, 150]);
  assert.deepEqual(a.levels('frame', zoomed, 514, 1030, [900, 5000], [0, 9000, 30, 170]), [30, 170]);
  // a region drawn binned 2×: texels hold sums of 4 pixels
  assert.deepEqual(a.levels('frame', { ...zoomed, binning: 2 }, 514, 1030, [900, 5000], [0, 9000, 30, 170]), [120, 680]);
  // a flat frame still gets a usable range; the view's scope ignores them
  assert.deepEqual(a.levels('frame', zoomed, 514, 1030, [900, 5000], [7, 7, 7, 7]), [7, 8]);
  assert.deepEqual(a.levels('view', zoomed, 514, 1030, [900, 5000], [0, 9000, 30, 170]), [900, 5000]);
});

test('levels shown rounded: 3 significant digits of their span, outwards', async () => {
  const { roundLevels } = await import('../src/liveimage/levels.js');
  assert.deepEqual(roundLevels([263.111, 5000.4]), [260, 5010]);
  assert.deepEqual(roundLevels([23.6842, 263.111]), [23, 264]);
  assert.deepEqual(roundLevels([0.123456, 0.5]), [0.123, 0.5]);
  assert.deepEqual(roundLevels([-1.23456, 1.23456]), [-1.24, 1.24]);
  assert.deepEqual(roundLevels([5, 5]), [5, 5]); // no span: as they are
  for (const [lo, hi] of [[263.111, 5000.4], [0.0012345, 0.0098765], [1e6 + 0.3, 1.5e6 + 0.7]] as const) {
    const [a, b] = roundLevels([lo, hi]);
    assert.ok(a <= lo && b >= hi && String(a).length <= 8 && String(b).length <= 8, `${a} ${b}`);
  }
});
