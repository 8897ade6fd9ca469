import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compiledSchemas, validate } from '../../src/control/validate.js';
import { pipeline, pipelineSchema } from '../../src/processing/pipelines.js';
import { StepRegistry } from '../../src/processing/registry.js';
import { ACQUISITION_SCHEMA, SCAN_SCHEMA } from '../../src/control/schema.js';
import { DaqError } from '../../src/protocol/index.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: { acquisition: ACQUISITION_SCHEMA, scan: SCAN_SCHEMA },
};

test('defaults are filled in', () => {
  const v = validate<{ acquisition: Record<string, unknown> }>(schema, { acquisition: {} }, 'prepare');
  assert.deepEqual(v.acquisition, { nb_frames: 1, expo_time: 0.001, latency_time: 0, trigger_mode: 'internal', nb_frames_per_trigger: 1 });
});

test('every bad field is reported by its dotted name, in one error', () => {
  try {
    validate(schema, { acquisition: { nb_frames: -1, expo_time: 'fast', trigger_mode: 'sometimes', bogus: 1 }, scan: { number: 1.5 }, extra: {} }, 'prepare');
    assert.fail('no error');
  } catch (err) {
    assert.ok(err instanceof DaqError);
    assert.equal(err.type, 'ParameterError');
    const fields = Object.fromEntries(err.fields!.map((f) => [f.field, f.message]));
    assert.match(fields['acquisition.nb_frames'], />= 0/);
    assert.match(fields['acquisition.expo_time'], /number/);
    assert.match(fields['acquisition.trigger_mode'], /internal/);
    assert.equal(fields['acquisition.bogus'], 'unknown field');
    assert.match(fields['scan.number'], /integer/);
    assert.equal(fields['extra'], 'unknown field');
    assert.match(err.message, /acquisition\.nb_frames/);
  }
});

test('a schema built afresh for every prepare is compiled once (not once per prepare, on the event loop)', () => {
  const registry = new StepRegistry();
  const azint = pipeline('azint');
  validate(pipelineSchema(azint, registry), { pipeline: 'azint' }, 'processing');
  const before = compiledSchemas();
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) validate(pipelineSchema(azint, registry), { pipeline: 'azint' }, 'processing');
  assert.equal(compiledSchemas(), before);
  // compiling this schema takes 20-70 ms; 50 validations of the cached one take a few ms
  assert.ok(performance.now() - t0 < 500, `${(performance.now() - t0).toFixed(0)} ms for 50 validations`);
});
