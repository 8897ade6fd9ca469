import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore, SCAN_OVERHEAD_BYTES, STREAM_OVERHEAD_BYTES, type EvictReport, type TrimReport } from '../../src/store/index.js';
import type { MemoryScan, MemoryScanStore } from '../../src/store/index.js';
import { throwsDaq } from './helpers.js';

const KB = 1024;
/** metadata a scan with one stream and empty infos counts against the budget ('{}' twice) */
const META = SCAN_OVERHEAD_BYTES + STREAM_OVERHEAD_BYTES + 4;

/** a scan with one 'frames' stream of `n` items of 1 KiB */
function scanWith(st: MemoryScanStore, n: number, name = 'frames'): MemoryScan {
  const s = st.createScan({});
  const a = s.createArrayStream(name, 'uint8', [KB]);
  for (let i = 0; i < n; i++) a.append(new Uint8Array(KB).fill(i % 256));
  return s;
}

const sumBytes = (st: MemoryScanStore) => st.search({}).reduce((n, s) => n + s.bytes + s.metaBytes, 0);

test('bytes are tracked store-wide; under budget nothing is trimmed', () => {
  const st = createStore({ memoryBudget: 100 * KB });
  const s = scanWith(st, 10);
  s.createEventStream('ev').append([{ a: 1 }]);
  assert.equal(st.bytes, sumBytes(st));
  assert.equal(st.bytes, 10 * KB + s.stream('ev').bytes + META + STREAM_OVERHEAD_BYTES + 2);
  assert.deepEqual(st.enforceBudget(), []);
});

test('closed scans are trimmed first, oldest scan first, oldest items first; reports carry byte counts', () => {
  const trims: TrimReport[] = [];
  const st = createStore({ memoryBudget: 100 * KB + 3 * META, lowWater: 1 });
  st.onTrim((r) => trims.push(r));
  const old = scanWith(st, 30);
  old.close();
  const newer = scanWith(st, 30);
  newer.close();
  const running = scanWith(st, 30);
  running.setState('STARTED');
  assert.equal(st.bytes, 90 * KB + 3 * META);
  assert.equal(trims.length, 0);
  // a batch of 15 more items in the running scan: 105 KiB > 100 KiB → trim 5 KiB from the OLDEST closed scan
  const frames = running.stream('frames');
  if (frames.kind !== 'array') throw new Error('array expected');
  frames.append(new Uint8Array(15 * KB));
  assert.deepEqual(trims, [{ key: old.key, stream: 'frames', trimmed_to: 5, bytes: 5 * KB }]);
  assert.equal(st.bytes, 100 * KB + 3 * META);
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

test('STOPPED after CLOSED; then whole CLOSED scans are evicted before running scans are trimmed; a trim keeps the newest item', () => {
  const trims: TrimReport[] = [];
  const evictions: EvictReport[] = [];
  const st = createStore({ memoryBudget: 50 * KB + 4 * META, lowWater: 1 });
  st.onTrim((r) => trims.push(r));
  st.onEvict((r) => evictions.push(r));
  const running = scanWith(st, 10); // oldest, but running
  running.setState('STARTED');
  const stopped = scanWith(st, 10);
  stopped.setState('STOPPED');
  const closed = scanWith(st, 10);
  closed.close();
  const other = scanWith(st, 20); // CREATED: running tier
  assert.equal(st.bytes, 50 * KB + 4 * META);
  assert.equal(trims.length, 0);
  const f = other.stream('frames');
  if (f.kind !== 'array') throw new Error();
  // +25 KiB: closed gives 9 (keeps its newest), stopped gives 9, the closed scan is evicted (1 more), then the OLDEST running scan
  for (let i = 0; i < 25; i++) f.append(new Uint8Array(KB));
  assert.ok(st.bytes <= st.memoryBudget);
  const byKey = (k: string) => trims.filter((t) => t.key === k).reduce((n, t) => n + t.bytes, 0) / KB;
  assert.equal(byKey(closed.key), 9);
  assert.equal(byKey(stopped.key), 9);
  assert.ok(byKey(running.key) >= 5 && byKey(running.key) <= 7, `${byKey(running.key)}`);
  assert.equal(byKey(other.key), 0);
  assert.deepEqual(evictions.map((e) => [e.key, e.dropped, e.files]), [[closed.key, false, false]]);
  assert.equal(closed.stream('frames').first, 10, 'evicted: every item went');
  assert.equal(stopped.stream('frames').first, 9, 'the newest item of a trimmed stream stays');
  assert.equal(stopped.evicted, null, 'only CLOSED scans are evicted');
  const order = trims.map((t) => t.key);
  const lastOf = (k: string) => order.lastIndexOf(k);
  assert.ok(order.indexOf(running.key) > lastOf(stopped.key), 'running trimmed only after stopped');
  assert.ok(order.indexOf(stopped.key) > lastOf(closed.key), 'stopped trimmed only after closed');
  // over budget with only newest items of running scans left: the store stays over and says so by its bytes
  const st2 = createStore({ memoryBudget: 2 * KB + 3 * META, lowWater: 1 });
  scanWith(st2, 1).setState('STOPPED');
  scanWith(st2, 1).setState('STARTED');
  scanWith(st2, 1);
  assert.equal(st2.bytes, 3 * KB + 3 * META);
  assert.deepEqual(st2.enforceBudget(), []);
});

test('lowWater: over budget, trims down to lowWater × budget in one batch', () => {
  const trims: TrimReport[] = [];
  const st = createStore({ memoryBudget: 100 * KB }); // lowWater 0.9
  st.onTrim((r) => trims.push(r));
  const c = scanWith(st, 50);
  c.setState('STOPPED');
  const r = scanWith(st, 51); // 101 KiB + metadata → down to 90 KiB
  assert.equal(trims.length, 1);
  assert.ok(trims[0]!.bytes >= 10 * KB, 'one batch of at least (1 − lowWater) × budget');
  assert.ok(st.bytes <= st.memoryBudget, `${st.bytes}`);
  assert.equal(r.stream('frames').first, 0);
});

test('a cursor on a trimmed stream reports the gap; a group skips trimmed items', async () => {
  const st = createStore({ memoryBudget: 20 * KB + 2 * META, lowWater: 1 });
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
  const st = createStore({ memoryBudget: 10 * KB + 2 * META, lowWater: 1 });
  const trims: TrimReport[] = [];
  st.onTrim((r) => trims.push(r));
  const s = st.createScan({});
  const ev = s.createEventStream('ev');
  s.close();
  throwsDaq(() => ev.append([1]), 'StateError');
  const s2 = st.createScan({});
  const ev2 = s2.createEventStream('ev');
  for (let i = 0; i < 200; i++) ev2.append([{ i, text: 'x'.repeat(100) }]);
  assert.ok(st.bytes <= st.memoryBudget);
  assert.ok(trims.length > 0 && trims.every((t) => t.key === s2.key && t.bytes > 0));
  assert.equal(st.bytes, ev2.bytes + s.metaBytes + s2.metaBytes);
  assert.equal(ev2.trimmedBytes, trims.reduce((n, t) => n + t.bytes, 0));
});

test('scan metadata counts: scans with large infos are evicted once closed, then dropped, and lookups say why', () => {
  const st = createStore({ memoryBudget: 2048 * KB });
  const evictions: EvictReport[] = [];
  st.onEvict((r) => evictions.push(r));
  const big = { blob: 'x'.repeat(256 * KB) };
  const keys: string[] = [];
  for (let i = 0; i < 50; i++) {
    const s = st.createScan({}, big);
    keys.push(s.key);
    s.close();
    assert.ok(st.bytes <= st.memoryBudget, `scan ${i}: ${st.bytes} bytes held`);
  }
  assert.ok(evictions.length > 0 && evictions.every((e) => e.bytes > 0));
  const oldest = st.search({ order: 'asc' })[0]!;
  if (oldest.key === keys[0]) {
    assert.ok((oldest as MemoryScan).evicted, 'the oldest scan was evicted');
    assert.equal(oldest.info.blob, undefined, 'its info was dropped');
  } else {
    throwsDaq(() => st.scan(keys[0]!), 'NotFoundError', /dropped from the listing .* memory budget/);
  }
  // a running scan is never evicted, whatever its size
  const running = st.createScan({}, big);
  running.setState('STARTED');
  for (let i = 0; i < 20; i++) st.createScan({}, big).close();
  assert.equal((running as MemoryScan).evicted, null);
  assert.equal(running.info.blob, big.blob);
});

test('an evicted scan: every item goes (the newest too); reads say why, or come from the backing (saved files)', () => {
  const st = createStore({ memoryBudget: 64 * KB, lowWater: 1 });
  const evictions: EvictReport[] = [];
  st.onEvict((r) => evictions.push(r));
  const saved = scanWith(st, 8);
  const savedFrames = saved.stream('frames');
  if (savedFrames.kind !== 'array') throw new Error();
  const files = Array.from({ length: 8 }, (_, i) => new Uint8Array(KB).fill(i));
  savedFrames.setBacking({ readablePrefix: () => 8, read: (i) => ({ data: files[i]!, valid: true }) });
  saved.close();
  const lost = scanWith(st, 8);
  lost.createEventStream('ev').append([{ a: 1 }]);
  lost.close();
  scanWith(st, 58); // with the closed scans' newest items and metadata, over 64 KiB: both closed scans must go whole
  assert.ok(st.bytes <= st.memoryBudget);
  assert.deepEqual(
    evictions.map((e) => [e.key, e.files, e.dropped]),
    [
      [saved.key, true, false],
      [lost.key, false, false],
    ],
  );
  assert.equal(saved.bytes, 0);
  assert.equal(lost.bytes, 0);
  // frames saved to files read back from them
  assert.equal(savedFrames.get(7).data[0], 7);
  assert.equal(savedFrames.slice(0).items.length, 8);
  // no files: the reads say the scan was evicted, and why
  throwsDaq(() => lost.stream('frames').get(7), 'IndexNoMoreThereError', /evicted from memory \(to keep the store under its memory budget/);
  throwsDaq(() => lost.stream('ev').get(0), 'IndexNoMoreThereError', /evicted/);
  assert.deepEqual(Object.keys(lost.info), ['evicted']);
  assert.equal((lost.info.evicted as { files: boolean }).files, false);
  assert.equal(st.scan(lost.key), lost, 'still listed');
});
