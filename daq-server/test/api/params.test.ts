import { test } from 'node:test';
import assert from 'node:assert/strict';
import { int, preview, str } from '../../src/api/params.js';
import { DaqError } from '../../src/protocol/index.js';

const nested = (depth: number): unknown => {
  let v: unknown = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

function fieldError(fn: () => unknown): DaqError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DaqError);
    return err;
  }
  assert.fail('no error');
}

test('a field nested 100,000 deep is a ParameterError naming it, in a short message', () => {
  const err = fieldError(() => str({ detector: nested(100_000) }, 'detector'));
  assert.equal(err.type, 'ParameterError');
  assert.equal(err.fields?.[0].field, 'detector');
  assert.ok(err.message.length < 300, err.message);
});

test('a megabyte string is not echoed back whole', () => {
  const err = fieldError(() => int({ start: 'x'.repeat(1 << 20) }, 'start'));
  assert.equal(err.fields?.[0].field, 'start');
  assert.ok(err.message.length < 300);
});

test('non-finite numbers read as what they are, not null', () => {
  assert.match(fieldError(() => str({ detector: Infinity }, 'detector')).message, /got Infinity/);
  assert.match(fieldError(() => int({ n: -Infinity }, 'n')).message, /got -Infinity/);
});

test('preview keeps small values as JSON and bounds large ones', () => {
  assert.equal(preview([1, 'a', null, { b: true }]), '[1,"a",null,{"b":true}]');
  assert.equal(preview({}), '{}');
  assert.ok(preview(Array.from({ length: 10_000 }, (_, i) => i)).length <= 125);
  assert.ok(preview(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]))).length <= 125);
  assert.match(preview(nested(10)), /\[\[\[\[…\]\]\]\]/);
});
