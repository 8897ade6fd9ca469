import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameTally, acquisitionFrame } from '../src/frame-join.js';
import { PeakStore } from '../src/peaks.js';

// an smx scan that dropped frames 2–4: items 0,1,2,3 of `frame` are acquisition frames 0,1,5,6
const FRAMES = [0, 1, 5, 6];
const peakEvents = [0, 1, 2, 3, 4, 5, 6].map((f) => ({ index: f, frame: f, value: { frame_idx: f, x: 10 * f, y: 1, intensity: 5 } }));

test('the peaks drawn over a shown item are those of its acquisition frame, not of its position', () => {
  const peaks = new PeakStore();
  peaks.add(peakEvents);
  const shown = { index: 2, frame: FRAMES[2] }; // item 2 of the frame stream
  const drawn = peaks.get(acquisitionFrame(shown));
  assert.deepEqual(drawn.map((p) => p.x), [50], 'frame 5 peaks over item 2');
  assert.notDeepEqual(drawn, peaks.get(shown.index));
});

test("an item's frame: the header's, else an event's frame_idx, else (older servers) its index", () => {
  assert.equal(acquisitionFrame({ index: 3, frame: 9 }), 9);
  assert.equal(acquisitionFrame({ index: 3, value: { frame_idx: 8 } }), 8);
  assert.equal(acquisitionFrame({ index: 3, frame: 9, value: { frame_idx: 8 } }), 9);
  assert.equal(acquisitionFrame({ index: 3 }), 3);
  assert.equal(acquisitionFrame({ index: 3, value: { frame_idx: 'x' } }), 3);
});

test('the "N frames" of a chart counts its x axis (acquisition frames), and says how many were analysed', () => {
  const t = new FrameTally();
  FRAMES.forEach((f, k) => t.push(f, k % 2 === 0));
  assert.equal(t.span, 7, 'the x axis runs over frames 0…6');
  assert.equal(t.analysed, 4);
  assert.equal(t.hits, 2);
  assert.equal(t.missing, 3);
  assert.equal(t.framesText(), '7 frames, 4 analysed');
  const all = new FrameTally();
  [0, 1, 2].forEach((f) => all.push(f, true));
  assert.equal(all.framesText(), '3 frames');
});
