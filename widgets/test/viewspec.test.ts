import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseView, sameView, stillServes, visibleRect } from '../src/viewspec.js';
import { FrameMeter } from '../src/meter.js';
import { PeakStore } from '../src/peaks.js';

// EIGER 4M: 2167 × 2070
const R = 2167;
const C = 2070;

test('view: a 4 Mpx frame fitted into a 480 px canvas is asked for whole and binned, never coarser than the screen', () => {
  const s = R / 480; // fitted: 4.5 detector pixels per screen pixel
  const v = visibleRect(C / 2, R / 2, s, 640, 480, R, C);
  assert.deepEqual(v, { r0: 0, c0: 0, r1: R, c1: C });
  const want = chooseView(v, s, R, C, 1024);
  assert.deepEqual(want, { roi: null, binning: 4 });
  // a large canvas: the max_size cap decides (⌈2167 / 1024⌉ = 3)
  assert.deepEqual(chooseView(v, 1.2, R, C, 1024), { roi: null, binning: 3 });
});

test('view: zoomed in, the visible region (with a margin) comes at full resolution', () => {
  const s = 0.5; // two screen pixels per detector pixel
  const v = visibleRect(1000, 800, s, 600, 400, R, C);
  assert.deepEqual(v, { r0: 700, c0: 850, r1: 900, c1: 1150 });
  const want = chooseView(v, s, R, C, 1024);
  assert.equal(want.binning, 1);
  assert.deepEqual(want.roi, [650, 775, 300, 450]);
  // a small pan stays inside the margin: no new request; a large one needs one
  assert.ok(stillServes(want, chooseView(visibleRect(1040, 820, s, 600, 400, R, C), s, R, C, 1024), visibleRect(1040, 820, s, 600, 400, R, C)));
  const far = visibleRect(1500, 800, s, 600, 400, R, C);
  assert.ok(!stillServes(want, chooseView(far, s, R, C, 1024), far));
  // zooming out changes the binning: a new request
  const out = visibleRect(1000, 800, 3, 600, 400, R, C);
  assert.ok(!stillServes(want, chooseView(out, 3, R, C, 1024), out));
  assert.ok(sameView(want, { roi: [650, 775, 300, 450], binning: 1 }));
  assert.ok(!sameView(want, null));
});

test('view: a region at the border is clipped; a tiny region still gets one binned pixel', () => {
  const v = visibleRect(5, 5, 0.05, 100, 100, R, C);
  assert.deepEqual([v.r0, v.c0], [2, 2]);
  const want = chooseView(v, 0.05, R, C, 1024);
  assert.equal(want.binning, 1);
  assert.ok(want.roi![2] >= 1 && want.roi![3] >= 1);
  const edge = chooseView({ r0: R - 3, c0: C - 3, r1: R, c1: C }, 8, R, C, 1024);
  assert.ok(edge.roi![0] + edge.roi![2] <= R && edge.roi![1] + edge.roi![3] <= C);
  assert.ok(edge.binning <= edge.roi![2] && edge.binning <= edge.roi![3]);
});

test('meter: fps over the period and the median latency', () => {
  const m = new FrameMeter();
  for (const lag of [10, 30, 20, 1000]) m.drawn(5000 - lag, 5000);
  m.drawn(undefined, 5000);
  m.busy(10);
  assert.deepEqual(m.take(2), { fps: 2.5, latency: 25, drawMs: 2 });
  assert.ok(Number.isNaN(m.take(1).latency));
});

test('peaks: kept per frame, bounded, bad events ignored', () => {
  const p = new PeakStore(2);
  const ev = (frame: number, x: number, y: number) => ({ index: 0, value: { frame_idx: frame, x, y, intensity: 5 } });
  assert.deepEqual([...p.add([ev(0, 1, 2), ev(0, 3, 4), ev(1, 5, 6), { index: 0, value: { x: 1 } }])], [0, 1]);
  assert.equal(p.get(0).length, 2);
  p.add([ev(2, 0, 0)]);
  assert.equal(p.size, 2);
  assert.equal(p.get(0).length, 0, 'the oldest frame was dropped');
  assert.deepEqual(p.get(2)[0], { x: 0, y: 0, intensity: 5 });
});
