/**
 * The published JSON schema of `prepare`: the complete description of a run,
 * validated as a whole before anything starts (LIMA2's answer to
 * initialisation-order bugs). Sections: acquisition, detector, processing,
 * saving, scan. The `detector` section comes from the detector plugin.
 */
import { TRIGGER_MODES } from '../protocol/index.js';
import type { DetectorPlugin, JsonSchema } from '../detectors/plugin.js';
import { PIPELINES, pipelineSchema } from '../processing/pipelines.js';
import type { StepRegistry } from '../processing/registry.js';
import { SAVING_SCHEMA } from '../saving/params.js';

export const ACQUISITION_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'Timing and triggering of the detector.',
  additionalProperties: false,
  default: {},
  properties: {
    nb_frames: {
      type: 'integer',
      minimum: 0,
      maximum: 1e12,
      default: 1,
      description: 'Frames to acquire; 0 = continuous: acquire until stop() (or abort()).',
      errorHint: '0 = continuous: acquire until stop()',
    },
    expo_time: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 3600,
      default: 0.001,
      description: 'Exposure time per frame, seconds.',
    },
    latency_time: {
      type: 'number',
      minimum: 0,
      maximum: 3600,
      default: 0,
      description: 'Dead time between frames, seconds; the frame period is expo_time + latency_time.',
    },
    trigger_mode: {
      enum: [...TRIGGER_MODES],
      default: 'internal',
      description:
        'internal: the detector times itself after start; software: each trigger() acquires nb_frames_per_trigger frames; external: a hardware trigger source does.',
    },
    nb_frames_per_trigger: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'Frames acquired per trigger in software and external trigger modes.',
    },
  },
};

/**
 * The processing section: `pipeline` selects one of the pipelines, whose own
 * schema (common receiver parameters + the union of its steps' parameters)
 * applies through if/then. The server validates the pipeline's schema on its
 * own so that its defaults are filled in and its errors name their fields.
 */
export function processingSchema(registry: StepRegistry): JsonSchema {
  return {
    type: 'object',
    description: 'Online processing pipeline and its parameters (see each pipeline\'s schema).',
    default: {},
    properties: { pipeline: { enum: PIPELINES.map((p) => p.name), default: 'none', description: 'Pipeline name; `none` stores raw frames.' } },
    allOf: PIPELINES.map((p) => ({
      if: { properties: { pipeline: { const: p.name } } },
      then: pipelineSchema(p, registry),
    })),
  };
}

const text = (description: string, maxLength = 256): JsonSchema => ({ type: 'string', maxLength, description });

export const SCAN_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'Identity and metadata of the scan this acquisition fills.',
  additionalProperties: false,
  default: {},
  properties: {
    name: text('Scan name, e.g. "ct" or "loopscan".'),
    number: { type: 'integer', minimum: 0, description: 'Scan number; assigned automatically when absent.' },
    session: text('Session (beamline control session) name.'),
    proposal: text('Proposal (experiment) identifier.'),
    sample: text('Sample name.'),
    dataset: text('Dataset name.'),
    path: text('Where the data of this scan belong (used by saving).', 4096),
    info: { type: 'object', description: 'Free metadata stored in scan.info (at most 64 KiB as JSON, nesting at most 32 levels).' },
  },
};

/** The complete schema of `prepare` params for one detector. */
export function prepareSchema(plugin: DetectorPlugin, registry: StepRegistry): JsonSchema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: `prepare parameters for ${plugin.name}`,
    type: 'object',
    additionalProperties: false,
    properties: {
      acquisition: ACQUISITION_SCHEMA,
      detector: { default: {}, ...plugin.configSchema() },
      processing: processingSchema(registry),
      saving: SAVING_SCHEMA,
      scan: SCAN_SCHEMA,
    },
  };
}
