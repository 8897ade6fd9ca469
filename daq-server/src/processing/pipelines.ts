/**
 * Pipelines: named chains of steps (LIMA2's legacy, smx, xpcs, plus azint,
 * pedestal and a free `chain`). A pipeline's parameters are flat, with
 * pyFAI's names (`npt`, `cutoff_pick`, ...): its schema is the union of its
 * steps' parameters, and each step takes the keys its own schema declares.
 */
import { DaqError, type FieldError } from '../protocol/index.js';
import type { JsonSchema } from '../detectors/plugin.js';
import type { ImageSpec } from './types.js';
import type { StepRegistry } from './registry.js';

export const TOPOLOGIES = ['single', 'round_robin', 'partial', 'dynamic'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

export interface StepSpec {
  name: string;
  params: Record<string, unknown>;
}

export interface PipelineDef {
  readonly name: string;
  readonly description: string;
  /** step names in order (before the automatic Jungfrau correction); may depend on params and input */
  steps(params: Record<string, unknown>, input: ImageSpec): string[];
  /** every step this pipeline may use (its schema is the union of theirs) */
  readonly uses: string[];
  /** the pipeline needs frames in order (e.g. XPCS correlation): it runs on one receiver */
  readonly ordered?: boolean;
  /** parameters of the pipeline itself (beside its steps') */
  readonly extra?: Record<string, JsonSchema>;
  /** defaults this pipeline gives its steps' parameters (e.g. Jungfrau output in photons for counting statistics) */
  readonly defaults?: Record<string, unknown>;
}

/** Raw Jungfrau frames ([modules, 512, 1024] uint16) get the correction step at the head of any pipeline. */
export const isRawJungfrau = (input: ImageSpec): boolean =>
  input.dtype === 'uint16' && input.shape.length === 3 && input.shape[1] === 512 && input.shape[2] === 1024;

const JF = 'jungfrau_correction';
const LEGACY = ['mask', 'background', 'flatfield', 'accumulation', 'binning', 'flip', 'rotation', 'roi', 'output_dtype'];

export const PIPELINES: PipelineDef[] = [
  {
    name: 'none',
    description: 'No processing: raw frames are stored as they arrive.',
    uses: [],
    steps: () => [],
  },
  {
    name: 'legacy',
    description: 'LIMA2 legacy: mask, background, flat field, accumulation, binning, flip, rotation, ROI statistics and profiles, output dtype.',
    uses: [JF, ...LEGACY],
    steps: () => LEGACY,
  },
  {
    name: 'azint',
    description: 'Azimuthal integration (powder, SAXS) with pyFAI geometry: I(q) or I(2θ) per frame, optional 2D cake.',
    uses: [JF, 'mask', 'azimuthal_integration'],
    steps: () => ['mask', 'azimuthal_integration'],
  },
  {
    name: 'smx',
    description:
      'Serial crystallography (ESRF ID29): correction, sigma-clipped background per radial bin, sparsification, peak finding, hit decision and veto, accumulated images.',
    uses: [JF, 'mask', 'sigma_clip', 'sparsify', 'peakfinder', 'accumulate_corrected'],
    // Poisson error models need photon counts, not keV; ESRF ID29 clips 3 cycles
    defaults: { output: 'photons', cycle: 3 },
    steps: () => ['mask', 'sigma_clip', 'sparsify', 'peakfinder', 'accumulate_corrected'],
  },
  {
    name: 'xpcs',
    description: 'XPCS: multi-tau intensity autocorrelation g2(q, τ) on q-ring ROIs, updated live; sparse mode for low count rates.',
    uses: [JF, 'mask', 'xpcs'],
    ordered: true,
    defaults: { output: 'photons' },
    steps: () => ['mask', 'xpcs'],
  },
  {
    name: 'pedestal',
    description: 'Jungfrau pedestal mode: accumulate dark frames per gain stage into pedestal maps.',
    uses: ['jungfrau_pedestal'],
    steps: () => ['jungfrau_pedestal'],
  },
  {
    name: 'tomo',
    description:
      'Tomography: flat/dark normalisation, −log, sinograms, centre of rotation (given or from the 0°/180° pair) and filtered back-projection on worker threads; the volume is published slice by slice (`volume`).',
    uses: ['tomo'],
    ordered: true,
    steps: () => ['tomo'],
  },
  {
    name: 'chain',
    description: 'A chain of steps given in order by name in `steps` (built-in or plugin steps); each takes the parameters its schema declares.',
    uses: [],
    extra: {
      steps: {
        type: 'array',
        minItems: 1,
        items: { type: 'string' },
        description: 'Step names, in order.',
      },
    },
    steps: (params) => (params.steps as string[]) ?? [],
  },
];

/** Parameters every pipeline takes: how the receivers run it. */
export const COMMON_SCHEMA: Record<string, JsonSchema> = {
  pipeline: { enum: PIPELINES.map((p) => p.name), default: 'none', description: 'Pipeline name.' },
  nb_receivers: {
    type: 'integer',
    minimum: 1,
    maximum: 64,
    default: 1,
    description: 'Receivers (worker threads) processing frames in parallel.',
  },
  topology: {
    enum: [...TOPOLOGIES],
    description:
      'single: one receiver; round_robin: frame i → receiver i mod N; partial: each receiver corrects some detector modules, then one finishes the frame; dynamic: the next free receiver. Default: single for one receiver, round_robin otherwise.',
  },
  receiver_hosts: {
    oneOf: [
      { const: 'all' },
      { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' }, minItems: 1, maxItems: 64, uniqueItems: true },
    ],
    description:
      'Receiver hosts (daqlab-server --role receiver, registered with this control server) that pull the frames from the detector\'s stream and run the pipeline, or "all" registered ones; nb_receivers is spread over them. Only for detectors that stream over the network (--dectris).',
  },
  max_pending: {
    type: 'integer',
    minimum: 1,
    default: 256,
    description: 'Frames waiting for a free receiver before new frames are dropped (and counted in nb_frames_dropped).',
  },
  publish_every: {
    type: 'integer',
    minimum: 1,
    default: 100,
    description: 'Frames between snapshots of accumulated results (they are also published at the end).',
  },
  keep_frames: {
    type: 'boolean',
    default: true,
    description: 'Put the processed dense frames in the `frame` stream (false: reduced results only).',
  },
};

export function pipeline(name: string): PipelineDef {
  const p = PIPELINES.find((x) => x.name === name);
  if (!p) throw new DaqError('NotFoundError', `unknown pipeline ${JSON.stringify(name)}; known: ${PIPELINES.map((x) => x.name).join(', ')}`);
  return p;
}

/**
 * The schema of one pipeline's `processing` section: common parameters, the
 * pipeline's own, and the union of its steps' parameters. Steps that are not
 * registered (not built in this version) are left out of the union.
 */
export function pipelineSchema(p: PipelineDef, registry: StepRegistry): JsonSchema {
  const properties: Record<string, JsonSchema> = { ...COMMON_SCHEMA, ...(p.extra ?? {}) };
  const stepNames = p.name === 'chain' ? registry.names() : p.uses;
  for (const name of stepNames) {
    if (!registry.has(name)) continue;
    const props = (registry.get(name).schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const [key, schema] of Object.entries(props)) properties[key] ??= schema;
  }
  for (const [key, value] of Object.entries(p.defaults ?? {})) {
    if (properties[key]) properties[key] = { ...properties[key], default: value };
  }
  return {
    type: 'object',
    title: `processing: ${p.name}`,
    description: p.description,
    additionalProperties: false,
    properties: { ...properties, pipeline: { const: p.name, default: p.name } },
    ...(p.name === 'chain' ? { required: ['steps'] } : {}),
  };
}

/** The step chain for validated params: the Jungfrau correction first when the input is raw. */
export function stepSpecs(
  p: PipelineDef,
  params: Record<string, unknown>,
  input: ImageSpec,
  registry: StepRegistry,
): { specs: StepSpec[]; errors: FieldError[] } {
  const errors: FieldError[] = [];
  let names = p.steps(params, input);
  if (isRawJungfrau(input) && p.name !== 'none' && p.name !== 'pedestal' && !names.includes(JF)) names = [JF, ...names];
  const specs: StepSpec[] = [];
  names.forEach((name, k) => {
    if (!registry.has(name)) {
      errors.push({
        field: p.name === 'chain' ? `processing.steps[${k}]` : 'processing.pipeline',
        message: `step ${JSON.stringify(name)} is not available; known steps: ${registry.names().join(', ') || '(none)'}`,
      });
      return;
    }
    const keys = Object.keys((registry.get(name).schema.properties ?? {}) as object);
    specs.push({ name, params: Object.fromEntries(keys.filter((key) => key in params).map((key) => [key, params[key]])) });
  });
  return { specs, errors };
}
