/** The Stream2 CBOR decoder on hand-made items: every major type, views not copies, and bad input named. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCbor, CborError, Tagged } from '../../src/detectors/dectris/cbor.js';
import { encode, Tag } from './cbor-encode.js';

test('decodes integers, strings, arrays, maps, floats and simple values', () => {
  const v = { a: 1, b: -500, c: 'héllo', d: [1, 2.5, null, true, false], e: { f: 70000, g: 2 ** 40 } };
  // maps have no prototype (a key "__proto__" is only a key): compare as JSON
  assert.deepEqual(JSON.parse(JSON.stringify(decodeCbor(encode(v)))), v);
  assert.equal(decodeCbor(Uint8Array.from([0xf9, 0x3c, 0x00])), 1); // half float 1.0
  assert.equal(decodeCbor(Uint8Array.from([0xfa, 0x3f, 0xc0, 0x00, 0x00])), 1.5); // single 1.5
  assert.deepEqual(decodeCbor(Uint8Array.from([0x9f, 0x01, 0x02, 0xff])), [1, 2]); // indefinite array
  assert.deepEqual(decodeCbor(Uint8Array.from([0x5f, 0x42, 1, 2, 0x41, 3, 0xff])), Uint8Array.from([1, 2, 3])); // chunked bytes
});

test('byte strings are views into the message, and the self-describe tag is dropped', () => {
  const blob = Uint8Array.from({ length: 1000 }, (_, k) => k & 255);
  const bytes = encode(new Tag(55799, { data: new Tag(69, blob) }));
  const v = decodeCbor(bytes) as { data: Tagged };
  assert.ok(v.data instanceof Tagged && v.data.tag === 69);
  const view = v.data.value as Uint8Array;
  assert.equal(view.buffer, bytes.buffer, 'no copy');
  assert.deepEqual(view, blob);
});

test('bad input throws CborError naming the problem, never reads past the end', () => {
  const cases: [number[], RegExp][] = [
    [[0x5a, 0xff, 0xff, 0xff, 0xff, 1, 2], /truncated/], // byte string longer than the message
    [[0x9b, 0, 0, 0, 0x10, 0, 0, 0, 0], /truncated/], // array of 2^36 items
    [[0x82, 0x01], /truncated/], // array missing an item
    [[0x01, 0x02], /trailing/],
    [[0x1c], /reserved/],
    [[0x63, 0xff, 0xfe, 0xfd], /UTF-8/],
    [[0xff], /break/],
    [[0xbf, 0x01], /truncated/], // indefinite map cut short
  ];
  for (const [bytes, re] of cases) assert.throws(() => decodeCbor(Uint8Array.from(bytes)), (e: Error) => e instanceof CborError && re.test(e.message), `${bytes}`);
  // nesting is bounded: 10000 nested arrays do not overflow the stack
  assert.throws(() => decodeCbor(new Uint8Array(10000).fill(0x81)), /nesting/);
});
