import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore, MemoryArrayStream, detachedOwner, VIEWS_PER_CHUNK } from '../../src/store/index.js';
import type { DaqError } from '../../src/protocol/errors.js';
import { throwsDaq } from './helpers.js';

const frames = (shape = [2, 3]) => new MemoryArrayStream('frames', 'uint16', shape, {}, detachedOwner);

/** one item of 6 uint16 filled with `v` */
const item = (v: number) => new Uint16Array(6).fill(v);

test('per-item views are kept by reference: get returns the very same view (no copy)', () => {
  const pool = new ArrayBuffer(6 * 2 * 10);
  const views = Array.from({ length: 10 }, (_, i) => new Uint16Array(pool, i * 12, 6).fill(i));
  const s = frames();
  s.append(views.slice(0, 3));
  s.append(views.slice(3), new Array(7).fill(true));
  assert.equal(s.length, 10);
  for (let i = 0; i < 10; i++) {
    const got = s.get(i);
    assert.equal(got.data, views[i], 'same object');
    assert.equal(got.data.buffer, pool, 'same buffer');
    assert.equal(got.valid, true);
  }
  views[4]![0] = 999; // writes through: proof there is no copy
  assert.equal(s.get(4).data[0], 999);
  assert.equal(s.bytes, 10 * 12);
  assert.equal(s.itemBytes, 12);
});

test('a contiguous batch is one typed array of count items; items are subarray views of it', () => {
  const s = frames();
  const batch = new Uint16Array(6 * 5).map((_, k) => Math.floor(k / 6));
  s.append(batch);
  s.append(item(5)); // one item as one typed array
  s.append(new Uint16Array(6 * 2).fill(6));
  assert.equal(s.length, 8);
  for (let i = 0; i < 5; i++) {
    const { data } = s.get(i);
    assert.equal(data.buffer, batch.buffer);
    assert.equal(data.byteOffset, i * 12);
    assert.equal(data.length, 6);
    assert.deepEqual([...data], new Array(6).fill(i));
  }
  assert.equal(s.get(5).data[0], 5);
  assert.equal(s.get(7).data[0], 6);
  const sl = s.slice(3, 7);
  assert.equal(sl.first, 3);
  assert.deepEqual(sl.items.map((d) => d[0]), [3, 4, 5, 6]);
  assert.equal(sl.items[0]!.buffer, batch.buffer);
});

test('append validation: dtype, item size, valid length; nothing is stored on error', () => {
  const s = frames();
  throwsDaq(() => s.append(new Float32Array(6)), 'ParameterError', /expected Uint16Array \(dtype uint16\), got Float32Array/);
  throwsDaq(() => s.append(new Uint16Array(7)), 'ParameterError', /not a whole number of items of 6 elements/);
  throwsDaq(() => s.append([item(1), new Uint16Array(5)]), 'ParameterError', /item 1: expected a Uint16Array of 6 elements/);
  throwsDaq(() => s.append([item(1)], [true, false]), 'ParameterError', /valid: must be a list of 1 booleans/);
  assert.equal(s.length, 0);
  assert.equal(s.bytes, 0);
  s.append([]);
  assert.equal(s.length, 0);
});

test('per-item validity, in views and contiguous chunks', () => {
  const s = frames();
  s.append([item(0), item(1)]);
  s.append([item(2)], [false]);
  s.append(new Uint16Array(18), [true, false, true]);
  s.append([item(6)]);
  assert.deepEqual(s.slice(0, 7).valid, [true, true, false, true, false, true, true]);
  assert.equal(s.get(2).valid, false);
  assert.equal(s.invalidItems, 2);
});

test('slice follows Python slicing over what is available', () => {
  const s = frames();
  for (let i = 0; i < 10; i++) s.append(item(i));
  const vals = (r: { items: Uint16Array[] | unknown[] }) => (r.items as Uint16Array[]).map((d) => d[0]);
  assert.deepEqual(vals(s.slice(2, 8, 2)), [2, 4, 6]);
  assert.equal(s.slice(2, 8, 2).step, 2);
  assert.deepEqual(vals(s.slice(8, 100)), [8, 9], 'growing stream: what is there');
  assert.deepEqual(vals(s.slice(50, 60)), []);
  assert.deepEqual(vals(s.slice(5, 2)), []);
  assert.deepEqual(vals(s.slice(7)), [7, 8, 9], 'stop omitted: to the end');
  assert.deepEqual(vals(s.slice(7, 2, -2)), [7, 5, 3]);
  throwsDaq(() => s.slice(0, 5, 0), 'ParameterError', /step/);
  s.seal();
  assert.deepEqual(vals(s.slice(-3, 10)), [7, 8, 9]);
  assert.deepEqual(vals(s.slice(-3, -1)), [7, 8]);
  assert.deepEqual(vals(s.slice(0, 10, -1)), []);
  assert.deepEqual(vals(s.slice(-1, null, -3)), [9, 6, 3, 0]);
  assert.deepEqual(vals(s.slice(-100, 2)), [0, 1], 'clamped like Python');
});

test('every single-index error type, with its extra fields and a message with numbers', () => {
  const st = createStore({ memoryBudget: 1e9 });
  const scan = st.createScan({});
  const s = scan.createArrayStream('frames', 'uint8', [4]);
  for (let i = 0; i < 10; i++) s.append(new Uint8Array(4).fill(i));

  let e: DaqError = throwsDaq(() => s.get(10), 'IndexNotYetThereError', /index 10 .* not there yet: the stream has 10 items so far and is still growing/);
  assert.deepEqual(e.extra, { index: 10, length: 10 });
  assert.match(e.message, new RegExp(`stream 'frames' of scan ${scan.key}`));

  e = throwsDaq(() => s.get(-1), 'IndexNotYetThereError', /negative index -1 .* needs a sealed stream/);
  assert.deepEqual(e.extra, { index: -1, length: 10 });

  s.trimTo(4);
  e = throwsDaq(() => s.get(3), 'IndexNoMoreThereError', /index 3 .* no more there: items below index 4 were trimmed/);
  assert.deepEqual(e.extra, { index: 3, first: 4 });
  e = throwsDaq(() => s.slice(2, 8), 'IndexNoMoreThereError', /index 2/);
  assert.deepEqual(e.extra, { index: 2, first: 4 });
  assert.equal(s.slice(4, 8).items.length, 4, 'a slice starting at first is fine');
  assert.equal(s.slice(2, 2).items.length, 0, 'an empty slice never errors');
  throwsDaq(() => s.slice(9, 0, -3), 'IndexNoMoreThereError', /index 3/); // 9, 6, 3 → 3 is gone

  s.seal();
  e = throwsDaq(() => s.get(10), 'IndexWontBeThereError', /index 10 .* will never be there: the stream is sealed with 10 items \(valid indexes are -10…9\)/);
  assert.deepEqual(e.extra, { index: 10, length: 10 });
  e = throwsDaq(() => s.get(-11), 'IndexWontBeThereError', /index -11/);
  assert.deepEqual(e.extra, { index: -11, length: 10 });
  assert.equal(s.get(-1).data[0], 9, 'negative indexes count from the end once sealed');
  assert.equal(s.get(-6).data[0], 4);
  e = throwsDaq(() => s.get(-7), 'IndexNoMoreThereError');
  assert.deepEqual(e.extra, { index: -7, first: 4 });
  throwsDaq(() => s.get(1.5), 'ParameterError', /index: must be an integer/);
});

test('index → chunk lookup across many chunks (views chunks roll over, contiguous batches interleave)', () => {
  const s = frames([1]);
  let v = 0;
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < VIEWS_PER_CHUNK + 10; i++) s.append([new Uint16Array([v++ % 65536])]);
    const batch = new Uint16Array(100);
    for (let i = 0; i < 100; i++) batch[i] = v++ % 65536;
    s.append(batch);
  }
  assert.equal(s.length, v);
  for (let i = 0; i < v; i += 37) assert.equal(s.get(i).data[0], i % 65536);
  const sl = s.slice(VIEWS_PER_CHUNK - 5, VIEWS_PER_CHUNK + 200, 3);
  sl.items.forEach((d, k) => assert.equal(d[0], (VIEWS_PER_CHUNK - 5 + 3 * k) % 65536));
  s.trimTo(VIEWS_PER_CHUNK + 50);
  assert.equal(s.first, VIEWS_PER_CHUNK + 50);
  assert.equal(s.get(VIEWS_PER_CHUNK + 50).data[0], VIEWS_PER_CHUNK + 50);
  assert.equal(s.get(v - 1).data[0], (v - 1) % 65536);
});

test('trimTo keeps the newest item and accounts bytes', () => {
  const s = frames();
  for (let i = 0; i < 5; i++) s.append(item(i));
  assert.equal(s.trimTo(100), 4 * 12);
  assert.equal(s.first, 4);
  assert.equal(s.bytes, 12);
  assert.equal(s.trimmedItems, 4);
  assert.equal(s.trimmedBytes, 48);
  assert.equal(s.trimTo(2), 0, 'trimming never goes back');
  assert.equal(s.get(4).data[0], 4);
  assert.deepEqual({ items: s.describe().trimmed_items, bytes: s.describe().trimmed_bytes }, { items: 4, bytes: 48 });
});

test('acquisition times travel with their items (views and contiguous chunks); unknown ones are NaN, none at all: absent', () => {
  const s = frames();
  s.append([item(0)]); // no time
  s.append([item(1), item(2)], undefined, [1000.5, 1001.5]);
  s.append(new Uint16Array(12), undefined, [2000, 2001]);
  assert.deepEqual(s.slice(0, 5).times, [NaN, 1000.5, 1001.5, 2000, 2001]);
  assert.equal(s.get(2).time, 1001.5);
  assert.equal(s.get(4).time, 2001);
  assert.equal(frames().slice(0).times, undefined);
  const t = frames();
  t.append([item(0)]);
  assert.equal(t.slice(0, 1).times, undefined);
  assert.equal(t.get(0).time, undefined);
  throwsDaq(() => t.append([item(1)], undefined, [1, 2]), 'ParameterError');
});
