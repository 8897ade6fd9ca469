/** Micro-benchmarks: printed, not asserted on time (machines differ). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from '../../src/store/index.js';

test('bench: append 2 MB views, get/slice with 100k items', async () => {
  const st = createStore({ memoryBudget: Infinity });
  const scan = st.createScan({ name: 'bench' });
  const frames = scan.createArrayStream('frames', 'uint16', [1024, 1024]); // 2 MiB items
  // a pool of 64 frames reused round-robin, like a receiver's frame pool
  const pool = new ArrayBuffer(64 * 2 * 2 ** 20);
  const views = Array.from({ length: 64 }, (_, i) => new Uint16Array(pool, i * 2 * 2 ** 20, 2 ** 20));
  const N = 100_000;
  const single: Uint16Array[] = [views[0]!];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    single[0] = views[i & 63]!;
    frames.append(single);
  }
  const t1 = process.hrtime.bigint();
  assert.equal(frames.length, N);
  assert.equal(st.bytes, N * 2 * 2 ** 20 + scan.metaBytes);
  const appendNs = Number(t1 - t0) / N;

  let x = 0;
  const M = 1_000_000;
  const t2 = process.hrtime.bigint();
  for (let i = 0; i < M; i++) x += frames.get((i * 7919) % N).data.length;
  const t3 = process.hrtime.bigint();
  assert.equal(x, M * 2 ** 20);
  const getNs = Number(t3 - t2) / M;

  const t4 = process.hrtime.bigint();
  const sl = frames.slice(0, N);
  const t5 = process.hrtime.bigint();
  assert.equal(sl.items.length, N);

  // contiguous batches of 100 items: 1000 chunks
  const ev = scan.createArrayStream('small', 'float32', [16]);
  const batch = new Float32Array(16 * 100);
  for (let i = 0; i < 1000; i++) ev.append(batch);
  const t6 = process.hrtime.bigint();
  for (let i = 0; i < M; i++) x += ev.get((i * 7919) % 100_000).data.length;
  const t7 = process.hrtime.bigint();

  // the same with a 1 GiB budget: trims (in batches, lowWater 0.9) on the way
  const st2 = createStore({ memoryBudget: 2 ** 30 });
  let trims = 0;
  st2.onTrim(() => trims++);
  const s2 = st2.createScan({});
  const f2 = s2.createArrayStream('frames', 'uint16', [1024, 1024]);
  const reader = f2.cursor();
  let readerGot = 0;
  const t8 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    single[0] = views[i & 63]!;
    f2.append(single);
  }
  const t9 = process.hrtime.bigint();
  assert.ok(st2.bytes <= 2 ** 30);
  assert.ok(trims > 0);
  const r = await reader.read({ block: false, maxCount: 10 });
  if (r.kind === 'data') readerGot = r.batch.items.length;
  assert.equal(readerGot, 10);
  assert.ok(r.kind === 'data' && r.trimmed > 0, 'the reader is told it lost data');
  const appendTrimNs = Number(t9 - t8) / N;

  const perSecond5000 = (appendNs * 5000) / 1e9; // fraction of a core at 5000 appends/s
  console.log(
    `store bench: append (1 view of 2 MiB) ${appendNs.toFixed(0)} ns → ${(perSecond5000 * 100).toFixed(4)}% of a core at 5000/s; ` +
      `get (100k items, views chunks) ${getNs.toFixed(0)} ns; slice(0, 100k) ${(Number(t5 - t4) / 1e6).toFixed(1)} ms; ` +
      `get (1000 contiguous chunks) ${(Number(t7 - t6) / M).toFixed(0)} ns; ` +
      `append under a 1 GiB budget (trimming, ${trims} trim reports) ${appendTrimNs.toFixed(0)} ns`,
  );
});
