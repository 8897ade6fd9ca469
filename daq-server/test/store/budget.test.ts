import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore, type TrimReport } from '../../src/store/index.js';
import type { MemoryScan, MemoryScanStore } from '../../src/store/index.js';
import { throwsDaq } from './helpers.js';

const KB = 1024;

/** a scan with one 'frames' stream of `n` items of 1 KiB */
function scanWith(st: MemoryScanStore, n: number, name = 'frames'): MemoryScan {
  const s = st.createScan({});
  const a = s.createArrayStream(name, 'uint8', [KB]);
  for (let i = 0; i < n; i++) a.append(new Uint8Array(KB).fill(i % 256));
  return s;
}

const sumBytes = (st: MemoryScanStore) => st.search({}).reduce((n, s) => n + s.bytes, 0);

test('bytes are tracked store-wide; under budget nothing is trimmed', () => {
  const st = createStore({ memoryBudget: 100 * KB });
  const s = scanWith(st, 10);
  s.createEventStream('ev').append([{ a: 1 }]);
  assert.equal(st.bytes, sumBytes(st));
  assert.equal(st.bytes, 10 * KB + s.stream('ev').bytes);
  assert.deepEqual(st.enforceBudget(), []);
});

test('closed scans are trimmed first, oldest scan first, oldest items first; reports carry byte counts', () => {
  const trims: TrimReport[] = [];
  const st = createStore({ memoryBudget: 100 * KB, lowWater: 1 });
  st.onTrim((r) => trims.push(r));
  const old = scanWith(st, 30);
  old.close();
  const newer = scanWith(st, 30);
  newer.close();
  const running = scanWith(st, 30);
  running.setState('STARTED');
  assert.equal(st.bytes, 90 * KB);
  assert.equal(trims.length, 0);
  // a batch of 15 more items in the running scan: 105 KiB > 100 KiB → trim 5 KiB from the OLDEST closed scan
  const frames = running.stream('frames');
  if (frames.kind !== 'array') throw new Error('array expected');
  frames.append(new Uint8Array(15 * KB));
  assert.deepEqual(trims, [{ key: old.key, stream: 'frames', trimmed_to: 5, bytes: 5 * KB }]);
  assert.equal(st.bytes, 100 * KB);
  assert.equal(old.stream('frames').first, 5);
  assert.equal(newer.stream('frames').first, 0, 'the newer closed scan is untouched');
  assert.equal(frames.first, 0, 'the running scan is untouched');
  // reading trimmed indexes: IndexNoMoreThereError
  const e = throwsDaq(() => old.stream('frames').get(4), 'IndexNoMoreThereError');
  assert.deepEqual(e.extra, { index: 4, first: 5 });
  // the trim is visible in describe()
  const d = old.stream('frames').describe();
  assert.equal(d.trimmed_items, 5);
  assert.equal(d.trimmed_bytes, 5 * KB);
  assert.equal(d.first, 5);
});

test('STOPPED before running; running scans only when closed/stopped ones are exhausted; newest items never trimmed', () => {
  const trims: TrimReport[] = [];
  const st = createStore({ memoryBudget: 50 * KB, lowWater: 1 });
  st.onTrim((r) => trims.push(r));
  const running = scanWith(st, 10); // oldest, but running
  running.setState('STARTED');
  const stopped = scanWith(st, 10);
  stopped.setState('STOPPED');
  const closed = scanWith(st, 10);
  closed.close();
  const other = scanWith(st, 20); // CREATED: running tier
  assert.equal(st.bytes, 50 * KB);
  assert.equal(trims.length, 0);
  const f = other.stream('frames');
  if (f.kind !== 'array') throw new Error();
  // +25 KiB: closed gives 9 (keeps its newest), stopped gives 9, then the OLDEST running scan 7
  for (let i = 0; i < 25; i++) f.append(new Uint8Array(KB));
  assert.equal(st.bytes, 50 * KB);
  const byKey = (k: string) => trims.filter((t) => t.key === k).reduce((n, t) => n + t.bytes, 0) / KB;
  assert.equal(byKey(closed.key), 9);
  assert.equal(byKey(stopped.key), 9);
  assert.equal(byKey(running.key), 7);
  assert.equal(byKey(other.key), 0);
  assert.equal(closed.stream('frames').first, 9, 'the newest item of a stream stays');
  const order = trims.map((t) => t.key);
  const lastOf = (k: string) => order.lastIndexOf(k);
  assert.ok(order.indexOf(running.key) > lastOf(stopped.key), 'running trimmed only after stopped');
  assert.ok(order.indexOf(stopped.key) > lastOf(closed.key), 'stopped trimmed only after closed');
  // over budget with only newest items left: the store stays over and says so by its bytes
  const st2 = createStore({ memoryBudget: 2 * KB, lowWater: 1 });
  scanWith(st2, 1).close();
  scanWith(st2, 1).close();
  scanWith(st2, 1);
  assert.equal(st2.bytes, 3 * KB);
  assert.deepEqual(st2.enforceBudget(), []);
});

test('lowWater: over budget, trims down to lowWater × budget in one batch', () => {
  const trims: TrimReport[] = [];
  const st = createStore({ memoryBudget: 100 * KB }); // lowWater 0.9
  st.onTrim((r) => trims.push(r));
  const c = scanWith(st, 50);
  c.close();
  const r = scanWith(st, 51); // 101 KiB → down to 90 KiB
  assert.equal(trims.length, 1);
  assert.equal(trims[0]!.bytes, 11 * KB);
  assert.equal(st.bytes, 90 * KB);
  assert.equal(r.stream('frames').first, 0);
});

test('a cursor on a trimmed stream reports the gap; a group skips trimmed items', async () => {
  const st = createStore({ memoryBudget: 20 * KB, lowWater: 1 });
  const s = scanWith(st, 10);
  const f = s.stream('frames');
  if (f.kind !== 'array') throw new Error();
  const c = f.cursor();
  s.setState('STOPPED');
  scanWith(st, 15); // 25 KiB: trims 5 from the stopped scan
  assert.equal(f.first, 5);
  const r = await c.read({ maxCount: 1 });
  assert.ok(r.kind === 'data');
  assert.equal(r.batch.first, 5);
  assert.equal(r.trimmed, 5);
  assert.deepEqual(r.gaps, [{ from: 0, to: 5 }]);
  assert.equal(r.batch.items[0]![0], 5, 'item 5 holds its own data');
});

test('events count towards the budget too', () => {
  const st = createStore({ memoryBudget: 10 * KB, lowWater: 1 });
  const trims: TrimReport[] = [];
  st.onTrim((r) => trims.push(r));
  const s = st.createScan({});
  const ev = s.createEventStream('ev');
  s.close();
  throwsDaq(() => ev.append([1]), 'StateError');
  const s2 = st.createScan({});
  const ev2 = s2.createEventStream('ev');
  for (let i = 0; i < 200; i++) ev2.append([{ i, text: 'x'.repeat(100) }]);
  assert.ok(st.bytes <= 10 * KB);
  assert.ok(trims.length > 0 && trims.every((t) => t.key === s2.key && t.bytes > 0));
  assert.equal(st.bytes, ev2.bytes);
  assert.equal(ev2.trimmedBytes, trims.reduce((n, t) => n + t.bytes, 0));
});
