/**
 * Items of per-frame streams say which acquisition frame they come from (issue 14): item
 * positions and frame indexes differ once frames are dropped, so readers join on the index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryArrayStream, MemoryEventStream, detachedOwner, EVENTS_PER_CHUNK } from '../../src/store/index.js';
import { headerFrames, perItemHeader } from '../../src/protocol/index.js';
import { throwsDaq } from './helpers.js';

const frames = () => new MemoryArrayStream('frame', 'uint16', [2, 3], {}, detachedOwner);
const item = (v: number) => new Uint16Array(6).fill(v);

test('array items keep their acquisition frame index through views chunks, contiguous chunks, get and stepped slices', () => {
  const s = frames();
  s.append([item(0)]); // an item from no single frame (an accumulated image, say)
  s.append([item(1), item(2)], undefined, undefined, [3, 7]);
  s.append(new Uint16Array(12), [true, false], [1, 2], [8, 11]);
  assert.deepEqual(s.slice(0, 5).frames, [NaN, 3, 7, 8, 11]);
  assert.deepEqual(s.slice(1, 5, 2).frames, [3, 8]);
  assert.equal(s.get(2).frame, 7);
  assert.equal(s.get(4).frame, 11);
  assert.equal(s.get(0).frame, NaN);
  assert.equal(s.readRun(3, 2).frames![1], 11);
  const none = frames();
  none.append([item(0), item(1)]);
  assert.equal(none.slice(0).frames, undefined, 'streams without frame indexes read none');
  assert.equal('frame' in none.get(0), false);
});

test('frame indexes stay aligned with their items after trims and a group read', async () => {
  const s = frames();
  for (let i = 0; i < 10; i++) s.append([item(i)], undefined, undefined, [2 * i]);
  s.trimTo(6);
  assert.deepEqual(s.slice(6, 10).frames, [12, 14, 16, 18]);
  assert.equal(s.get(7).frame, 14);
  const res = await s.group('g').join('m').next({ maxCount: 3, block: false });
  assert.equal(res.kind, 'data');
  if (res.kind === 'data') assert.deepEqual(res.batch.frames, [12, 14, 16]);
  const c = await s.cursor(0).read({ block: false });
  assert.equal(c.kind, 'data');
  if (c.kind === 'data') assert.deepEqual(c.batch.frames, [12, 14, 16, 18]);
});

test('items trimmed from memory and read back from the saved files keep their frame index', () => {
  const s = frames();
  for (let i = 0; i < 6; i++) s.append([item(i)], undefined, undefined, [10 + 3 * i]);
  s.setBacking({ readablePrefix: () => 6, read: (i) => ({ data: item(i), valid: true, frame: 10 + 3 * i }) });
  s.trimTo(4);
  assert.deepEqual(s.slice(0, 6).frames, [10, 13, 16, 19, 22, 25]);
  assert.equal(s.get(1).frame, 13);
});

test('event items keep their frame index across chunk boundaries and trims; events without one read none', () => {
  const e = new MemoryEventStream('peaks', {}, detachedOwner);
  const n = EVENTS_PER_CHUNK + 10;
  e.append(Array.from({ length: n }, (_, k) => ({ k })), Array.from({ length: n }, (_, k) => 1000 + k));
  e.append([{ accumulated: true }]);
  assert.deepEqual(e.slice(EVENTS_PER_CHUNK - 1, EVENTS_PER_CHUNK + 2).frames, [1000 + EVENTS_PER_CHUNK - 1, 1000 + EVENTS_PER_CHUNK, 1000 + EVENTS_PER_CHUNK + 1]);
  assert.deepEqual(e.slice(n - 1, n + 1).frames, [1000 + n - 1, NaN]);
  e.trimTo(EVENTS_PER_CHUNK + 5);
  assert.deepEqual(e.slice(EVENTS_PER_CHUNK + 5, EVENTS_PER_CHUNK + 7).frames, [1000 + EVENTS_PER_CHUNK + 5, 1000 + EVENTS_PER_CHUNK + 6]);
  const plain = new MemoryEventStream('log', {}, detachedOwner);
  plain.append([1, 2]);
  assert.deepEqual(plain.slice(0, 2), { first: 0, items: [1, 2], step: 1 });
});

test('bad frame indexes are a ParameterError naming `frames`, and nothing is appended', () => {
  const s = frames();
  for (const bad of [[1], [1, -1], [1, 2.5], [1, NaN], 'x'] as unknown[]) {
    const err = throwsDaq(() => s.append([item(0), item(1)], undefined, undefined, bad as number[]), 'ParameterError');
    assert.equal(err.fields?.[0]?.field, 'frames');
  }
  assert.equal(s.length, 0);
  const e = new MemoryEventStream('peaks', {}, detachedOwner);
  throwsDaq(() => e.append([{}], [-3]), 'ParameterError', /frames/);
  assert.equal(e.length, 0);
});

test('data headers: `frames` per item, null where an item has none, absent when none has one', () => {
  assert.deepEqual(headerFrames([3, NaN, 5]), [3, null, 5]);
  assert.equal(headerFrames([NaN, NaN]), undefined);
  assert.equal(headerFrames(undefined), undefined);
  assert.deepEqual(perItemHeader(1, 2, [NaN, 1.23456, NaN], [0, 7, 9]), { times: [1.235, null], frames: [7, 9] });
  assert.deepEqual(perItemHeader(0, 2, undefined, undefined), {});
});
