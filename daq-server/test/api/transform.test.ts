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
