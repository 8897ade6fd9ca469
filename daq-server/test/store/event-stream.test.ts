import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEventStream, detachedOwner, EVENT_OVERHEAD, EVENTS_PER_CHUNK } from '../../src/store/index.js';
import { throwsDaq } from './helpers.js';

test('event stream: append, get, slice, same read errors as arrays', () => {
  const s = new MemoryEventStream('log', {}, detachedOwner);
  const e0 = { peaks: [1, 2] };
  s.append([e0, 'two', 3]);
  s.append([null]);
  assert.equal(s.length, 4);
  assert.equal(s.get(0), e0, 'kept by reference');
  assert.deepEqual(s.slice(1, 10).items, ['two', 3, null]);
  assert.deepEqual(s.slice(0, 4, 2), { first: 0, items: [e0, 3], step: 2 });
  assert.equal(s.bytes, JSON.stringify(e0).length + 5 + 1 + 4 + 4 * EVENT_OVERHEAD);
  throwsDaq(() => s.get(4), 'IndexNotYetThereError');
  throwsDaq(() => s.get(-1), 'IndexNotYetThereError', /needs a sealed stream/);
  throwsDaq(() => s.append([1n as unknown]), 'ParameterError', /events\[0\]: not JSON-serialisable/);
  throwsDaq(() => s.append([undefined]), 'ParameterError', /events\[0\]/);
  assert.equal(s.length, 4);
  s.trimTo(2);
  throwsDaq(() => s.get(1), 'IndexNoMoreThereError');
  assert.equal(s.bytes, 1 + 4 + 2 * EVENT_OVERHEAD);
  s.seal();
  assert.equal(s.get(-1), null);
  throwsDaq(() => s.get(4), 'IndexWontBeThereError');
});

test('event stream over many chunks: trimIndexFor and trimTo free the right bytes', () => {
  const s = new MemoryEventStream('log', {}, detachedOwner);
  const n = EVENTS_PER_CHUNK * 2 + 7;
  for (let i = 0; i < n; i += 100) s.append(Array.from({ length: Math.min(100, n - i) }, (_, k) => i + k));
  assert.equal(s.length, n);
  assert.equal(s.get(EVENTS_PER_CHUNK + 3), EVENTS_PER_CHUNK + 3);
  const before = s.bytes;
  const idx = s.trimIndexFor(10 * (1 + EVENT_OVERHEAD)); // events 0..9 are 1 char each
  assert.equal(idx, 10);
  const freed = s.trimTo(EVENTS_PER_CHUNK + 1);
  assert.equal(s.bytes, before - freed);
  assert.equal(s.get(EVENTS_PER_CHUNK + 1), EVENTS_PER_CHUNK + 1);
  assert.equal(s.get(n - 1), n - 1);
});
