/**
 * Putting a series back together from several receivers: images out of order, the start after the first
 * images, the end before the last ones (round robin over PULL sockets), missing ids, duplicates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeriesAssembler } from '../../src/detectors/dectris/series.js';
import type { FromReceiver } from '../../src/detectors/dectris/worker-messages.js';

const SHAPE: [number, number] = [2, 3];

function assembler(expected: number) {
  // no receiver threads: the test plays their messages
  const s = new SeriesAssembler('tcp://127.0.0.1:1', 'cbor', 0, { dtype: 'uint16', shape: SHAPE });
  s.arm(expected);
  const feed = (m: FromReceiver) => (s as unknown as { onMessage(m: FromReceiver): void }).onMessage(m);
  return { s, feed };
}

const image = (image_id: number, series_id = 1): FromReceiver => ({
  type: 'image', rank: image_id % 2, series_id, series_unique_id: null, image_id, start_time: null, stop_time: image_id / 10, real_time: null,
  channels: { threshold_1: { data: Uint16Array.from({ length: 6 }, () => image_id), shape: SHAPE, error: null } },
});
const start = (number_of_images = 5): FromReceiver => ({
  type: 'start', rank: 1, pixel_mask: {}, flatfield: {}, countrate: {},
  start: { type: 'start', series_id: 1, series_unique_id: 'U', channels: ['threshold_1'], image_size: SHAPE, image_dtype: 'uint16', fields: { number_of_images }, ignored: {} },
});
const end = (series_id = 1): FromReceiver => ({ type: 'end', rank: 0, end: { type: 'end', series_id, series_unique_id: 'U' } });
const ids = (s: SeriesAssembler) => s.take(100).map((f) => f.index);

test('out-of-order images from two receivers come out in order; an early end waits for the stragglers', async () => {
  const { s, feed } = assembler(5);
  feed(image(1));
  feed(image(0));
  feed(start());
  feed(image(2));
  feed(end());
  assert.deepEqual(ids(s), [0, 1, 2]);
  assert.equal(s.ended, null, 'images 3 and 4 may still come through the other receiver');
  feed(image(4));
  feed(image(3));
  assert.deepEqual(ids(s), [3, 4]);
  assert.deepEqual(s.ended, { fault: null });
  const d = s.describe() as { counters: Record<string, number>; series_unique_id: string; problems: string[]; start_after_first_images: boolean };
  assert.equal(d.series_unique_id, 'U');
  assert.equal(d.counters.missing_image_ids, 0);
  // round robin: images through one receiver before the start through another is normal, not a problem
  assert.deepEqual(d.problems, []);
  assert.equal(d.start_after_first_images, true);
  s.close();
});

test('missing ids are skipped past the reorder window and counted; duplicates and other series are dropped', async () => {
  const { s, feed } = assembler(200);
  feed(start(200));
  feed(image(0));
  feed(image(0));
  feed(image(7, 2));
  for (let k = 2; k < 80; k++) feed(image(k));
  const first = ids(s);
  assert.equal(first[0], 0);
  assert.ok(first.includes(2) && !first.includes(1), 'image 1 was given up once 64 later images waited');
  feed(image(1)); // too late: it is a duplicate of nothing, below the released ones
  feed(end());
  // the series' count is known and not reached: stragglers are waited for 2 s before the missing ones count
  await new Promise((r) => setTimeout(r, 2200));
  assert.deepEqual(s.ended, { fault: null });
  const c = (s.describe() as { counters: Record<string, number> }).counters;
  assert.equal(c.duplicates, 2);
  assert.equal(c.out_of_series, 1);
  assert.equal(c.missing_image_ids, 1 + (200 - 80));
  s.close();
});

test('a failing detector releases what is held and ends the series with the reason', () => {
  const { s, feed } = assembler(5);
  feed(start());
  feed(image(0));
  feed(image(2));
  s.fail('the detector does not answer');
  assert.deepEqual(ids(s), [0, 2]);
  assert.deepEqual(s.ended, { fault: 'the detector does not answer' });
  s.close();
});

test('an end before anything of the series is a late end of another one, not the end of this one', () => {
  const { s, feed } = assembler(2);
  feed(end(0));
  assert.equal(s.ended, null);
  feed(start(2));
  feed(image(0));
  feed(image(1));
  feed(end());
  assert.deepEqual(ids(s), [0, 1]);
  assert.deepEqual(s.ended, { fault: null });
  assert.equal((s.describe() as { counters: Record<string, number> }).counters.out_of_series, 1);
  s.close();
});
