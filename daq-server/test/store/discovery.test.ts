import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from '../../src/store/index.js';
import { sleep, throwsDaq } from './helpers.js';

test('scan(key), last(), NotFoundError saying the key', () => {
  const st = createStore({ memoryBudget: 1e9 });
  assert.equal(st.last(), undefined);
  const a = st.createScan({});
  const b = st.createScan({});
  assert.equal(st.scan(a.key), a);
  assert.equal(st.last(), b);
  const e = throwsDaq(() => st.scan('scan:99:deadbeef'), 'NotFoundError', /no scan with key "scan:99:deadbeef"/);
  assert.doesNotMatch(e.message, new RegExp(a.key), 'does not list other keys');
});

test('search: exact match on identity fields, since, order, limit', () => {
  const st = createStore({ memoryBudget: 1e9 });
  const s1 = st.createScan({ name: 'ct', session: 'id11', sample: 'lyso' });
  const s2 = st.createScan({ name: 'loopscan', session: 'id11', sample: 'lyso' });
  const s3 = st.createScan({ name: 'ct', session: 'id11', sample: 'thaum' });
  const s4 = st.createScan({ name: 'ct', session: 'id13' });
  assert.deepEqual(st.search({ name: 'ct' }), [s4, s3, s1], 'newest first by default');
  assert.deepEqual(st.search({ name: 'ct', order: 'asc' }), [s1, s3, s4]);
  assert.deepEqual(st.search({ session: 'id11', sample: 'lyso' }), [s2, s1]);
  assert.deepEqual(st.search({ name: 'c' }), [], 'exact match, not substring');
  assert.deepEqual(st.search({ number: 2, session: 'id11' }), [s2]);
  assert.deepEqual(st.search({ since: s2.seq }), [s4, s3]);
  assert.deepEqual(st.search({ since: s2.seq, order: 'asc', limit: 1 }), [s3]);
  assert.deepEqual(st.search({}).length, 4);
  const e = throwsDaq(() => st.search({ nme: 'ct', since: 'x' } as never), 'ParameterError');
  assert.deepEqual(e.fields!.map((f) => f.field).sort(), ['nme', 'since']);
});

test('waitNext: immediate when a newer scan exists, delayed otherwise, undefined on timeout', async () => {
  const st = createStore({ memoryBudget: 1e9 });
  const a = st.createScan({});
  const b = st.createScan({});
  assert.equal(await st.waitNext(0), a, 'the FIRST scan after the seq, not the newest');
  assert.equal(await st.waitNext(a.seq), b);
  const p = st.waitNext(b.seq, 2000);
  let c: unknown;
  setTimeout(() => (c = st.createScan({ name: 'late' })), 5);
  assert.equal(await p, c);
  const t0 = performance.now();
  assert.equal(await st.waitNext(st.lastSeq, 20), undefined);
  assert.ok(performance.now() - t0 >= 15);
  const ac = new AbortController();
  const q = st.waitNext(st.lastSeq, undefined, ac.signal);
  ac.abort();
  assert.equal(await q, undefined);
});

test('no scan is missed between search and wait (search, then waitNext from lastSeq, in a loop)', async () => {
  const st = createStore({ memoryBudget: 1e9 });
  for (let i = 0; i < 3; i++) st.createScan({ name: 'early' });
  // producer creates scans at irregular moments, including right between search and wait
  const producer = (async () => {
    for (let i = 0; i < 30; i++) {
      st.createScan({ name: 'ct' });
      if (i % 3 === 0) await sleep(1);
      else if (i % 3 === 1) await Promise.resolve();
    }
  })();
  const seen: number[] = st.search({ order: 'asc' }).map((s) => s.seq);
  let after = st.lastSeq;
  while (seen.length < 33) {
    const next = await st.waitNext(after, 2000);
    assert.ok(next, 'a scan arrived');
    seen.push(next.seq);
    after = next.seq;
  }
  await producer;
  assert.deepEqual(seen, Array.from({ length: 33 }, (_, i) => i + 1), 'every seq once, in order');
});

test('onScan / onScanState listeners, unsubscribe, and a throwing listener does not break the producer', () => {
  const errors: unknown[] = [];
  const st = createStore({ memoryBudget: 1e9, onListenerError: (e) => errors.push(e) });
  const created: string[] = [];
  const off = st.onScan((s) => created.push(s.key));
  st.onScan(() => {
    throw new Error('listener bug');
  });
  const a = st.createScan({});
  off();
  st.createScan({});
  assert.deepEqual(created, [a.key]);
  assert.equal(errors.length, 2);
});
