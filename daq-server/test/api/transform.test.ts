import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTransform } from '../../src/api/transform.js';
import { DaqError } from '../../src/protocol/index.js';

test('roi and 2×2 binning sum into 32 bits', () => {
  const item = new Uint16Array(4 * 6).map((_, i) => i * 1000);
  const t = makeTransform('uint16', [4, 6], { roi: [0, 2, 4, 4], binning: 2 });
  assert.deepEqual(t.shape, [2, 2]);
  assert.equal(t.dtype, 'uint32');
  const out = t.apply(item);
  // top-left bin: rows 0-1, cols 2-3 → (2+3+8+9)·1000
  assert.equal(out[0], 22000);
  assert.ok(out instanceof Uint32Array);
  assert.equal(out[3], (16 + 17 + 22 + 23) * 1000);
});

test('identity when no roi or binning is asked', () => {
  const t = makeTransform('float32', [3, 3], { roi: null, binning: 1 });
  const x = new Float32Array(9);
  assert.equal(t.apply(x), x);
});

test('bad roi or binning names the field', () => {
  assert.throws(
    () => makeTransform('uint16', [4, 6], { roi: [0, 0, 5, 2], binning: 1 }),
    (e: unknown) => e instanceof DaqError && e.fields?.[0].field === 'roi',
  );
  assert.throws(
    () => makeTransform('uint16', [4, 6], { roi: null, binning: 8 }),
    (e: unknown) => e instanceof DaqError && e.fields?.[0].field === 'binning',
  );
});

test('binned integer sums saturate: a bin holding a gap dummy (2^32 − 1) stays the dummy, never wraps', () => {
  const DUMMY = 2 ** 32 - 1;
  const item = new Uint32Array([DUMMY, 5, 7, 1, 2, 3, 4, 6]); // 2 × 4
  const out = makeTransform('uint32', [2, 4], { roi: null, binning: 2 }).apply(item);
  assert.deepEqual(Array.from(out), [DUMMY, 7 + 1 + 4 + 6]);
  const signed = makeTransform('int32', [2, 2], { roi: null, binning: 2 }).apply(new Int32Array([-(2 ** 31), -5, 0, 0]));
  assert.equal(signed[0], -(2 ** 31));
});
