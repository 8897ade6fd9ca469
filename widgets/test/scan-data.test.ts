import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeshImage, PointTable, derivative, energyAxis, normalise, peakStats, plotlyColorscale } from '../src/scan-data.js';

test('a point table shows only the rows every channel has, gaps stay NaN', () => {
  const t = new PointTable(['samy', 'diode']);
  t.set('samy', 0, 0);
  t.set('samy', 1, 0.1);
  t.set('samy', 2, 0.2);
  assert.equal(t.rows, 0);
  t.set('diode', 0, 5);
  t.set('diode', 2, 7); // item 1 not there (yet)
  assert.equal(t.rows, 3);
  assert.deepEqual(t.column('samy'), [0, 0.1, 0.2]);
  assert.ok(Number.isNaN(t.column('diode')[1]));
  t.set('nope', 0, 1); // unknown channels are ignored
  assert.throws(() => t.column('nope'), /no channel nope/);
});

test('normalise divides by the monitor; derivative of a line is its slope', () => {
  assert.deepEqual(normalise([2, 4, 6], [2, 0, 3]).map((v) => (Number.isNaN(v) ? 'NaN' : v)), [1, 'NaN', 2]);
  const x = [0, 1, 2, 3, 4];
  assert.deepEqual(derivative(x, x.map((v) => 3 * v + 1)), [3, 3, 3, 3, 3]);
  assert.ok(Number.isNaN(derivative([1, 1], [0, 5])[0]));
});

test('peak statistics of a sampled Gaussian: peak, cen, fwhm, com', () => {
  const x = Array.from({ length: 201 }, (_, i) => -5 + i * 0.05);
  const mu = 0.73;
  const sigma = 0.4;
  const y = x.map((v) => 10 + 1000 * Math.exp(-((v - mu) ** 2) / (2 * sigma ** 2)));
  const s = peakStats(x, y)!;
  assert.ok(Math.abs(s.peak - mu) <= 0.025, `peak ${s.peak}`);
  assert.ok(Math.abs(s.cen - mu) < 0.01, `cen ${s.cen}`);
  assert.ok(Math.abs(s.fwhm - 2.3548 * sigma) < 0.02, `fwhm ${s.fwhm}`);
  assert.ok(Math.abs(s.com - mu) < 0.01, `com ${s.com}`);
  assert.equal(peakStats([1], [1]), null);
  assert.equal(peakStats([1, 2, 3], [NaN, NaN, 1]), null);
});

test('a mesh image places points fast axis first, back and forth when asked', () => {
  const grid = { axes: [{ axis: 'samx', start: 0, stop: 1, intervals: 2 }, { axis: 'samy', start: -1, stop: 1, intervals: 1 }], backnforth: false };
  const m = new MeshImage(grid);
  assert.equal(m.nx, 3);
  assert.equal(m.ny, 2);
  assert.deepEqual(m.axis(0), [0, 0.5, 1]);
  assert.deepEqual(m.axis(1), [-1, 1]);
  assert.deepEqual(m.cell(4), [1, 1]);
  assert.equal(m.cell(6), null);
  const b = new MeshImage({ ...grid, backnforth: true });
  assert.deepEqual(b.cell(3), [2, 1]);
  assert.deepEqual(b.cell(5), [0, 1]);
  for (let i = 0; i < 4; i++) b.set(i, i);
  assert.equal(b.filled, 4);
  assert.deepEqual(b.rows(), [[0, 1, 2], [null, null, 3]]);
  b.set(99, 1); // outside: ignored
  assert.equal(b.filled, 4);
  assert.throws(() => new MeshImage({ axes: [grid.axes[0]], backnforth: false }), /2-axis mesh/);
});

test('energy axis from the calibration; a colour scale from the LiveImage tables', () => {
  assert.deepEqual(energyAxis(3, { offset: 5, gain: 10, quadratic: 1 }), [5, 16, 29]);
  assert.deepEqual(energyAxis(2, null), [0, 1]);
  const cs = plotlyColorscale('gray');
  assert.equal(cs.length, 11);
  assert.deepEqual(cs[0], [0, 'rgb(0,0,0)']);
  assert.deepEqual(cs[10], [1, 'rgb(255,255,255)']);
});
