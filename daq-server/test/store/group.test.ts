import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryEventStream, detachedOwner } from '../../src/store/index.js';
import type { CursorResult, EventItems, GroupMember } from '../../src/store/index.js';
import { throwsDaq } from './helpers.js';

const events = (n = 0) => {
  const s = new MemoryEventStream('ev', {}, detachedOwner);
  if (n) s.append(Array.from({ length: n }, (_, i) => i));
  return s;
};

const indexes = (r: CursorResult<EventItems>): number[] => {
  assert.equal(r.kind, 'data');
  if (r.kind !== 'data') return [];
  return r.batch.items.map((_, k) => r.batch.first + k);
};

test('two members get disjoint items covering everything, then end', async () => {
  const s = events();
  const g = s.group('workers');
  assert.equal(s.group('workers'), g, 'same group for the same name');
  const a = g.join('a');
  const b = g.join('b');
  assert.equal(g.join('a'), a);
  const got: Record<string, number[]> = { a: [], b: [] };
  const work = async (m: GroupMember<EventItems>) => {
    for (;;) {
      const r = await m.next({ maxCount: 3, timeout: 2000 });
      if (r.kind === 'end') return;
      assert.equal(r.kind, 'data');
      const ix = indexes(r);
      got[m.id]!.push(...ix);
      assert.deepEqual(r.batch.items, ix, 'items are the events at those indexes');
      await new Promise((res) => setImmediate(res));
      m.ack(ix);
    }
  };
  const done = Promise.all([work(a), work(b)]);
  for (let i = 0; i < 100; i += 10) {
    s.append(Array.from({ length: 10 }, (_, k) => i + k));
    await new Promise((res) => setTimeout(res, 1));
  }
  s.seal();
  await done;
  const all = [...got.a!, ...got.b!].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: 100 }, (_, i) => i), 'each item exactly once');
  assert.ok(got.a!.length > 0 && got.b!.length > 0, 'both members worked');
  assert.deepEqual(g.pending(), { a: [], b: [] });
});

test('ack / nack / pending; nacked items are redelivered before new ones', async () => {
  const s = events(6);
  const g = s.group('g');
  const a = g.join('a');
  const b = g.join('b');
  assert.deepEqual(indexes(await a.next({ maxCount: 2 })), [0, 1]);
  assert.deepEqual(indexes(await b.next({ maxCount: 2 })), [2, 3]);
  assert.deepEqual(g.pending(), { a: [0, 1], b: [2, 3] });
  assert.equal(a.ack([0, 99]), 1, 'unknown indexes are ignored');
  assert.equal(b.nack([2]), 1);
  assert.deepEqual(g.pending(), { a: [1], b: [3] });
  assert.deepEqual(indexes(await a.next({ maxCount: 10 })), [2], 'the redelivered item first (3 is pending, so the run stops)');
  assert.deepEqual(indexes(await a.next({ maxCount: 10 })), [4, 5]);
  assert.deepEqual(await b.next({ block: false }), { kind: 'none' });
  throwsDaq(() => a.ack([-1]), 'ParameterError');
});

test('leave gives unacked items to the other members; a left member cannot read', async () => {
  const s = events(4);
  const g = s.group('g');
  const a = g.join('a');
  const b = g.join('b');
  assert.deepEqual(indexes(await a.next({ maxCount: 3 })), [0, 1, 2]);
  a.ack([1]);
  const waiting = b.next({ maxCount: 10, timeout: 2000 }); // gets 3 at once
  assert.deepEqual(indexes(await waiting), [3]);
  const p = b.next({ maxCount: 10, timeout: 2000 });
  a.leave();
  assert.equal(a.joined, false);
  assert.deepEqual(indexes(await p), [0], 'woken by leave: 0 (2 is not consecutive)');
  assert.deepEqual(indexes(await b.next({ maxCount: 10 })), [2]);
  await assert.rejects(a.next(), (e: Error) => e.name === 'StateError');
  assert.deepEqual(g.pending(), { b: [0, 2, 3] });
  const a2 = g.join('a');
  assert.notEqual(a2, a, 'rejoining makes a new member');
});

test('end only when sealed, all delivered and all acknowledged', async () => {
  const s = events(2);
  const g = s.group('g');
  const a = g.join('a');
  const b = g.join('b');
  assert.deepEqual(indexes(await a.next({ maxCount: 2 })), [0, 1]);
  s.seal();
  assert.deepEqual(await b.next({ block: false }), { kind: 'none' }, 'a still holds 0 and 1');
  const pb = b.next({ timeout: 2000 });
  a.nack([1]);
  assert.deepEqual(indexes(await pb), [1]);
  const pEnd = b.next({ timeout: 2000 });
  a.ack([0]);
  b.ack([1]);
  assert.deepEqual(await pEnd, { kind: 'end' });
  assert.deepEqual(await a.next(), { kind: 'end' });
});

test('blocking next: times out with none, resolves on append', async () => {
  const s = events();
  const m = s.group('g').join('m');
  assert.deepEqual(await m.next({ timeout: 10 }), { kind: 'none' });
  const p = m.next({ timeout: 2000 });
  setTimeout(() => s.append(['x']), 5);
  const r = await p;
  assert.ok(r.kind === 'data' && r.batch.items[0] === 'x');
  await assert.rejects(m.next({ lastOnly: true }), (e: Error) => e.name === 'ParameterError');
});

test('items trimmed before delivery (new or nacked) are reported once as gaps', async () => {
  const s = events(10);
  const g = s.group('g');
  const a = g.join('a');
  assert.deepEqual(indexes(await a.next({ maxCount: 2 })), [0, 1]);
  a.nack([0, 1]);
  s.trimTo(5);
  const r = await a.next({ maxCount: 2 });
  assert.ok(r.kind === 'data');
  assert.equal(r.batch.first, 5);
  assert.equal(r.trimmed, 5);
  assert.deepEqual(r.gaps, [{ from: 0, to: 5 }]);
  const r2 = await a.next();
  assert.ok(r2.kind === 'data' && r2.trimmed === 0 && r2.gaps === undefined);
});
