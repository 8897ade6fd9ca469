import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryArrayStream, MemoryEventStream, detachedOwner } from '../../src/store/index.js';
import { sleep, throwsDaq } from './helpers.js';

const events = () => new MemoryEventStream('ev', {}, detachedOwner);

test('waitFor: immediate when there, resolves on append, false on seal, false on timeout; no leftover waiters', async () => {
  const s = events();
  s.append([0]);
  assert.equal(await s.waitFor(0), true);
  const p = s.waitFor(2, 5000);
  s.append([1]);
  await sleep(1);
  assert.equal(s.changed.waiting, 1, 'still waiting for index 2');
  setTimeout(() => s.append([2]), 5);
  assert.equal(await p, true);
  assert.equal(s.changed.waiting, 0);

  const t0 = performance.now();
  assert.equal(await s.waitFor(10, 30), false);
  assert.ok(performance.now() - t0 >= 25, 'waited for the timeout');
  assert.equal(s.changed.waiting, 0, 'timer path cleaned up');

  const q = s.waitFor(10); // no timeout
  setTimeout(() => s.seal(), 5);
  assert.equal(await q, false, 'seal without the index');
  assert.equal(await s.waitFor(2), true, 'sealed but there');
  assert.equal(await s.waitFor(3), false, 'sealed: immediate false');
});

test('waitFor can be aborted', async () => {
  const s = events();
  const ac = new AbortController();
  const p = s.waitFor(0, undefined, ac.signal);
  ac.abort();
  assert.equal(await p, false);
  assert.equal(s.changed.waiting, 0);
});

test('cursor: blocking read resolves when data arrives; timeout returns none; end after seal', async () => {
  const s = events();
  const c = s.cursor();
  const t0 = performance.now();
  assert.deepEqual(await c.read({ timeout: 20 }), { kind: 'none' });
  assert.ok(performance.now() - t0 >= 15);
  assert.deepEqual(await c.read({ block: false }), { kind: 'none' });

  const p = c.read();
  setTimeout(() => s.append(['a', 'b']), 5);
  const r = await p;
  assert.equal(r.kind, 'data');
  if (r.kind !== 'data') return;
  assert.deepEqual(r.batch.items, ['a', 'b']);
  assert.equal(r.batch.first, 0);
  assert.equal(r.skipped, 0);
  assert.equal(r.trimmed, 0);
  assert.equal(c.position, 2);

  s.append(['c', 'd', 'e']);
  const r2 = await c.read({ maxCount: 2 });
  assert.ok(r2.kind === 'data');
  assert.deepEqual(r2.batch.items, ['c', 'd']);
  const p3 = c.read();
  s.seal();
  const r3 = await p3;
  assert.ok(r3.kind === 'data' && r3.batch.items[0] === 'e');
  assert.deepEqual(await c.read(), { kind: 'end' });
  assert.deepEqual(await c.read({ block: false }), { kind: 'end' });

  // a cursor blocked on a stream that gets sealed sees end
  const s2 = events();
  const c2 = s2.cursor();
  const p4 = c2.read({ timeout: 5000 });
  setTimeout(() => s2.seal(), 5);
  assert.deepEqual(await p4, { kind: 'end' });
});

test('cursors are independent', async () => {
  const s = events();
  s.append([1, 2, 3]);
  const a = s.cursor();
  const b = s.cursor(1);
  const ra = await a.read({ maxCount: 1 });
  const rb = await b.read();
  assert.ok(ra.kind === 'data' && rb.kind === 'data');
  assert.deepEqual(ra.batch.items, [1]);
  assert.deepEqual(rb.batch.items, [2, 3]);
  assert.equal(a.position, 1);
  assert.equal(b.position, 3);
  const c = s.cursor(-1);
  assert.equal(c.position, 2, 'negative start counts from the current end');
});

test('cursor lastOnly skips to the newest item and counts what it skipped', async () => {
  const s = new MemoryArrayStream('f', 'uint8', [1], {}, detachedOwner);
  const c = s.cursor();
  for (let i = 0; i < 10; i++) s.append(new Uint8Array([i]));
  const r = await c.read({ lastOnly: true });
  assert.ok(r.kind === 'data');
  assert.equal(r.batch.first, 9);
  assert.equal(r.batch.items[0]![0], 9);
  assert.equal(r.skipped, 9);
  assert.equal(r.trimmed, 0, 'skipped on purpose, not trimmed');
  assert.equal(r.gaps, undefined);
  s.append(new Uint8Array([10]));
  const r2 = await c.read({ lastOnly: true });
  assert.ok(r2.kind === 'data' && r2.skipped === 0 && r2.batch.first === 10);
  const p = c.read({ lastOnly: true, timeout: 1000 });
  s.append([new Uint8Array([11]), new Uint8Array([12])]);
  const r3 = await p;
  assert.ok(r3.kind === 'data' && r3.batch.first === 12 && r3.skipped === 1);
});

test('cursor reports a trimmed position distinctly (trimmed count and gap), then resumes at first', async () => {
  const s = events();
  s.append([0, 1, 2, 3, 4, 5, 6, 7]);
  const c = s.cursor();
  const r0 = await c.read({ maxCount: 2 });
  assert.ok(r0.kind === 'data');
  s.trimTo(5);
  const r = await c.read({ maxCount: 2 });
  assert.ok(r.kind === 'data');
  assert.equal(r.batch.first, 5);
  assert.deepEqual(r.batch.items, [5, 6]);
  assert.equal(r.skipped, 3);
  assert.equal(r.trimmed, 3);
  assert.deepEqual(r.gaps, [{ from: 2, to: 5 }]);
  // trimmed + lastOnly: both counted, only the trimmed part is a gap
  s.append([8, 9, 10]);
  s.trimTo(9);
  const r2 = await c.read({ lastOnly: true });
  assert.ok(r2.kind === 'data');
  assert.equal(r2.batch.first, 10);
  assert.equal(r2.skipped, 3); // 7, 8 trimmed; 9 skipped by lastOnly
  assert.equal(r2.trimmed, 2);
  assert.deepEqual(r2.gaps, [{ from: 7, to: 9 }]);
});

test('cursor with stop: ends there; a range trimmed up to stop is reported as a gap before end', async () => {
  const s = events();
  s.append([0, 1, 2, 3, 4, 5]);
  const c = s.cursor(0, 3);
  const r = await c.read();
  assert.ok(r.kind === 'data');
  assert.deepEqual(r.batch.items, [0, 1, 2]);
  assert.deepEqual(await c.read(), { kind: 'end' });
  const c2 = s.cursor(1, 3);
  s.trimTo(4);
  const r2 = await c2.read();
  assert.ok(r2.kind === 'data');
  assert.equal(r2.batch.items.length, 0);
  assert.deepEqual(r2.gaps, [{ from: 1, to: 3 }]);
  assert.deepEqual(await c2.read(), { kind: 'end' });
});

test('blocking cursor read can be aborted; bad options are ParameterErrors', async () => {
  const s = events();
  const c = s.cursor();
  const ac = new AbortController();
  const p = c.read({ signal: ac.signal });
  setTimeout(() => ac.abort(), 5);
  assert.deepEqual(await p, { kind: 'none' });
  assert.equal(s.changed.waiting, 0);
  await assert.rejects(c.read({ maxCount: 0 }), (e: Error) => e.name === 'ParameterError');
  await assert.rejects(c.read({ timeout: -1 }), (e: Error) => e.name === 'ParameterError');
  throwsDaq(() => s.cursor(0.5), 'ParameterError');
});
