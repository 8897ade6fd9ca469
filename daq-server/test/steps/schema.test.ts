/** Every step publishes a draft-07 schema with defaults that validates {} and rejects unknown keys; names are unique across steps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate } from '../../src/control/validate.js';
import { DaqError } from '../../src/protocol/index.js';
import { STEP_FACTORIES as LEGACY, registerLegacySteps } from '../../src/processing/steps/index.js';
import { STEP_FACTORIES as JUNGFRAU } from '../../src/processing/jungfrau/index.js';
import type { StepFactory } from '../../src/processing/types.js';

const all = { ...LEGACY, ...JUNGFRAU };

test('registries: the legacy and Jungfrau step names', () => {
  assert.deepEqual(Object.keys(LEGACY), ['mask', 'background', 'flatfield', 'accumulation', 'binning', 'flip', 'rotation', 'roi', 'output_dtype']);
  assert.deepEqual(Object.keys(JUNGFRAU), ['jungfrau_correction', 'jungfrau_pedestal']);
  const names: string[] = [];
  registerLegacySteps((f: StepFactory) => names.push(f.name));
  assert.deepEqual(names, Object.keys(LEGACY));
});

test('schemas: draft-07 objects, no extra keys, a default for every parameter', () => {
  for (const [name, f] of Object.entries(all)) {
    assert.equal(f.name, name);
    assert.ok(f.description.length > 10, `${name} describes itself`);
    const s = f.schema as { $schema: string; type: string; additionalProperties: boolean; properties: Record<string, { default?: unknown; description?: string }> };
    assert.equal(s.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.equal(s.type, 'object');
    assert.equal(s.additionalProperties, false);
    for (const [k, p] of Object.entries(s.properties)) {
      assert.ok('default' in p, `${name}.${k} has a default`);
      assert.ok(p.description, `${name}.${k} has a description`);
    }
    const filled = validate<Record<string, unknown>>(f.schema, {}, name);
    assert.deepEqual(Object.keys(filled).sort(), Object.keys(s.properties).sort());
    assert.throws(() => validate(f.schema, { bogus: 1 }, name), (e: unknown) => e instanceof DaqError && e.fields?.[0].field === 'bogus');
  }
});

test('parameter names: shared only where the meaning is the same (pipelines have one flat namespace)', () => {
  const owners = new Map<string, string[]>();
  for (const f of Object.values(all)) {
    for (const k of Object.keys((f.schema as { properties: object }).properties)) owners.set(k, [...(owners.get(k) ?? []), f.name]);
  }
  const shared = [...owners].filter(([, v]) => v.length > 1);
  // gain_mode and modules mean the same for the correction and the pedestal step, and have identical schemas
  assert.deepEqual(shared.map(([k]) => k).sort(), ['gain_mode', 'modules']);
  for (const [k] of shared) {
    const [a, b] = [JUNGFRAU.jungfrau_correction, JUNGFRAU.jungfrau_pedestal].map((f) => JSON.stringify((f.schema as { properties: Record<string, unknown> }).properties[k]));
    assert.equal(a, b, k);
  }
});
