import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { deeperThan, leadingId, textDeeperThan, userJsonProblem } from '../../src/api/json-bounds.js';
import { requestProblem } from '../../src/api/origin.js';
import { makeTransform } from '../../src/api/transform.js';
import { MAX_JSON_DEPTH } from '../../src/protocol/index.js';

const nest = (n: number): unknown => {
  let v: unknown = [];
  for (let i = 1; i < n; i++) v = [v];
  return v;
};

test('depth is measured without recursion, objects and arrays alike', () => {
  assert.equal(deeperThan(nest(32), 32), false);
  assert.equal(deeperThan(nest(33), 32), true);
  assert.equal(deeperThan({ a: { b: [1, { c: 2 }] } }, 4), false);
  assert.equal(deeperThan({ a: { b: [1, { c: {} }] } }, 4), true);
  assert.equal(deeperThan(nest(200_000), 64), true); // a recursive walk would overflow the stack
  assert.equal(deeperThan('text', 0), false);
});

test('user JSON problems name the field', () => {
  assert.deepEqual(userJsonProblem({ x: nest(MAX_JSON_DEPTH) }, 'scan.info')?.field, 'scan.info');
  assert.match(userJsonProblem('x'.repeat(100), 'scan.info', 10)!.message, /bytes as JSON/);
  assert.equal(userJsonProblem({ ok: 1 }, 'scan.info'), null);
});

const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;

test('origins: none, loopback and allowed pass; others are refused', () => {
  const policy = { bound: '127.0.0.1', allowOrigins: ['https://hub.example.org'] };
  assert.equal(requestProblem(req({ host: '127.0.0.1:8765' }), policy), null);
  assert.equal(requestProblem(req({ host: '127.0.0.1:8765', origin: 'http://localhost:8888' }), policy), null);
  assert.equal(requestProblem(req({ host: 'hub.example.org', origin: 'https://hub.example.org' }), policy), null);
  assert.match(requestProblem(req({ host: '127.0.0.1:8765', origin: 'http://evil.example' }), policy)!, /origin/);
  assert.match(requestProblem(req({ host: '127.0.0.1:8765', origin: 'https://hub.example.org:444' }), policy)!, /origin/);
  assert.match(requestProblem(req({ host: '127.0.0.1:8765', origin: 'null' }), policy)!, /origin/);
  assert.match(requestProblem(req({ host: 'evil.example:8765' }), policy)!, /host/);
  assert.match(requestProblem(req({ host: 'evil@127.0.0.1' }), policy)!, /host/);
  // bound beyond loopback (with a token): Host is not checked, Origin still is
  const open = { bound: '0.0.0.0', allowOrigins: [] };
  assert.equal(requestProblem(req({ host: 'beamline-pc:8765' }), open), null);
  assert.match(requestProblem(req({ host: 'beamline-pc:8765', origin: 'http://evil.example' }), open)!, /origin/);
});

test('a plain ROI copies whole rows and matches the pixel-wise result', () => {
  const item = new Uint32Array(2 * 5 * 7).map((_, i) => i);
  const t = makeTransform('uint32', [2, 5, 7], { roi: [1, 2, 3, 4], binning: 1 });
  const out = t.apply(item);
  assert.deepEqual(t.shape, [2, 3, 4]);
  for (let p = 0; p < 2; p++)
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) assert.equal(out[(p * 3 + r) * 4 + c], item[p * 35 + (1 + r) * 7 + 2 + c]);
});

test('the depth of JSON text is found before parsing it, brackets in strings aside', () => {
  const text = (n: number) => `{"id":3,"x":${'['.repeat(n)}${']'.repeat(n)}}`;
  assert.equal(textDeeperThan(text(63), 64), false); // the object is one level
  assert.equal(textDeeperThan(text(64), 64), true);
  assert.equal(textDeeperThan('{"s":"[[[[[[[[[[\\"[[[[[["}', 2), false);
  assert.equal(textDeeperThan(text(524_256), 64), true);
  assert.equal(leadingId(text(100)), 3);
  assert.equal(leadingId('{ "id" : "req-1", "op": "hello"}'), 'req-1');
  assert.equal(leadingId('{"op":"hello","id":1}'), null);
});
