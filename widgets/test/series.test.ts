import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecimatedSeries, RollingFraction, RunningMean, radialAxisTitle, roiValue } from '../src/series.js';

test('a decimated series never holds more than maxPoints, however many are pushed', () => {
  const s = new DecimatedSeries(100);
  for (let i = 0; i < 100_000; i++) {
    s.push(i, i * 2);
    assert.ok(s.length <= 100, `${s.length} points after ${i + 1} pushes`);
  }
  assert.equal(s.pushed, 100_000);
  assert.ok(s.halvings > 0);
  // x stays sorted, y stays paired with its x, the newest point is always kept, the first one too
  for (let i = 1; i < s.length; i++) assert.ok(s.x[i] > s.x[i - 1]);
  s.x.forEach((x, i) => assert.equal(s.y[i], 2 * x));
  assert.equal(s.x[s.length - 1], 99_999);
  assert.equal(s.x[0], 0);
  // and it still covers the whole run, more densely at the recent end
  assert.ok(s.length >= 50);
  const recentGap = s.x[s.length - 1] - s.x[s.length - 2];
  const oldGap = s.x[1] - s.x[0];
  assert.ok(oldGap > recentGap, `old gap ${oldGap} vs recent gap ${recentGap}`);
});

test('decimation halves the resolution of the older half only', () => {
  const s = new DecimatedSeries(8);
  for (let i = 0; i < 9; i++) s.push(i, i);
  // 9 > 8: the older half (0..3) keeps every other point, the newer half (4..8) is untouched
  assert.deepEqual(s.x, [0, 2, 4, 5, 6, 7, 8]);
  assert.equal(s.halvings, 1);
  s.setMaxPoints(4);
  assert.ok(s.length <= 4);
  assert.equal(s.x[s.length - 1], 8);
  assert.throws(() => new DecimatedSeries(1));
});

test('rolling fraction is over the last `window` values', () => {
  const r = new RollingFraction(4);
  assert.ok(Number.isNaN(r.value));
  assert.equal(r.push(true), 1);
  assert.equal(r.push(false), 0.5);
  assert.equal(r.push(false), 1 / 3);
  assert.equal(r.push(true), 0.5);
  // the window is full: the first `true` falls out
  assert.equal(r.push(false), 0.25);
  assert.equal(r.push(false), 0.25);
  assert.equal(r.push(false), 0.25);
  assert.equal(r.push(false), 0);
  assert.equal(r.count, 4);
  assert.throws(() => new RollingFraction(0));
});

test('rolling fraction agrees with a direct count on a long random sequence', () => {
  const window = 37;
  const r = new RollingFraction(window);
  const seen: boolean[] = [];
  let seed = 12345;
  for (let i = 0; i < 2000; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const hit = seed % 3 === 0;
    seen.push(hit);
    const got = r.push(hit);
    const last = seen.slice(-window);
    assert.ok(Math.abs(got - last.filter(Boolean).length / last.length) < 1e-12, `at ${i}`);
  }
});

test('running mean skips NaN bins and restarts on a new length', () => {
  const m = new RunningMean();
  m.add([1, 2, NaN]);
  m.add([3, 4, 6]);
  assert.deepEqual(m.mean(), [2, 3, 6]);
  assert.equal(m.count, 2);
  m.add([1, 1]);
  assert.deepEqual(m.mean(), [1, 1]);
  assert.equal(m.count, 1);
});

test('axis titles and ROI statistics', () => {
  assert.equal(radialAxisTitle('q_nm^-1'), 'q (nm⁻¹)');
  assert.equal(radialAxisTitle('2th_deg'), '2θ (°)');
  assert.equal(radialAxisTitle('chi_deg'), 'chi (deg)');
  assert.equal(radialAxisTitle(undefined), 'radial');
  const item = [10, 1, 0.5, 0, 2, 20, 2, 1.5, 1, 3]; // 2 ROIs × [sum, mean, std, min, max]
  assert.equal(roiValue(item, 0, 'sum'), 10);
  assert.equal(roiValue(item, 1, 'std'), 1.5);
  assert.equal(roiValue(item, 1, 'max'), 3);
  assert.ok(Number.isNaN(roiValue(item, 2, 'sum')));
});
