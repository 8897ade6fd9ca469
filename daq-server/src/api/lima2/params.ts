/**
 * LIMA2 parameters ↔ daqlab's run description (`prepare`).
 *
 * LIMA2's schemas come from its C++ devices at run time, so the package holds no copy of them;
 * what lima2-client 4.3.2 itself reads or writes fixes the layout published here:
 *  - control and receiver params share one layout (client/shell.py prepares with
 *    `control=acq, receiver=acq`): `acq.nb_frames` (conductor/acquisition_system.py
 *    parse_num_frames), `acq.expo_time` / `acq.latency_time` in integer microseconds and
 *    `acq.trigger_mode` (client/shell.py run_acquisition), `det.nb_prefetch_frames` (shell.py);
 *  - processing params: `class_name` (acquisition_system.py prepare), saving channels
 *    `saving` / `saving_dense` / `saving_sparse` / `saving_fai` ... (common/pipelines.py) with
 *    base_path, filename_prefix, file_exists_policy, nb_frames_per_file, nx_entry_name,
 *    nx_instrument_name, nx_detector_name, nb_dimensions, enabled
 *    (processing/pipeline.py parse_saving_params), filename_rank and include_frame_idx
 *    (processing/legacy.py finalize_params), `frame_idx_enabled` (same), `statistics`
 *    {enabled, rect_rois, arc_rois} and `profiles` {enabled, rois, directions} with ROIs as
 *    {topleft: {x, y}, dimensions: {x, y}} (processing/reduced_data.py RoiParams),
 *    `accumulation` {enabled, nb_frames} (acquisition_system.py), `fai.acc_nb_frames_reset` /
 *    `fai.acc_nb_frames_xfer` (processing/smx.py finalize_params).
 * The remaining fields are daqlab's: `det` takes the detector's own configuration, and `fai`
 * takes daqlab's smx / azint parameters, which already carry pyFAI's names.
 * Whatever daqlab cannot honour is refused with LIMA2's Lima2ParamError naming the field.
 */
import type { JsonSchema } from '../../detectors/plugin.js';
import type { FieldError } from '../../protocol/index.js';
import { COMMON_SCHEMA, pipeline as pipelineDef, pipelineSchema } from '../../processing/pipelines.js';
import type { StepRegistry } from '../../processing/registry.js';
import { CLASSES, classDef, type ClassDef } from './classes.js';
import { paramError, Lima2Error } from './errors.js';
import type { FaiSaving } from './fai-files.js';

export const WHERE = {
  control: 'control params',
  receiver: 'acquisition params for daqlab',
  processing: 'processing params for daqlab',
} as const;

/** What every schema built here depends on: the detector's own configuration schema and the steps. */
export interface SchemaContext {
  detectorSchema: JsonSchema;
  registry: StepRegistry;
  /** default saving folder (the server's first data root) */
  dataRoot: string;
}

const int = (min: number, def: number, description: string, max?: number): JsonSchema => ({
  type: 'integer',
  minimum: min,
  ...(max !== undefined ? { maximum: max } : {}),
  default: def,
  description,
});
const bool = (def: boolean, description: string): JsonSchema => ({ type: 'boolean', default: def, description });
const NAME = '^[A-Za-z0-9_][A-Za-z0-9_.-]*$';

/** control and receiver params (one layout, client/shell.py). */
export function acquisitionParamsSchema(ctx: SchemaContext): JsonSchema {
  const detProps = (ctx.detectorSchema.properties ?? {}) as Record<string, JsonSchema>;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      acq: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          nb_frames: int(0, 1, 'Frames to acquire; 0: until stop.', 1e12),
          expo_time: int(1, 1000, 'Exposure time per frame, microseconds.', 3.6e9),
          latency_time: int(0, 0, 'Dead time between frames, microseconds.', 3.6e9),
          trigger_mode: { enum: ['internal', 'software', 'external'], default: 'internal', description: 'internal, software (one trigger() per nb_frames_per_trigger frames) or external.' },
          nb_frames_per_trigger: int(1, 1, 'Frames per trigger in software and external modes.'),
        },
      },
      det: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'The detector\'s configuration (daqlab detector section) and LIMA2\'s nb_prefetch_frames (accepted, no effect: daqlab sizes its queues itself).',
        properties: { nb_prefetch_frames: int(1, 16, 'Frame buffers prefetched by the receiver (no effect here).'), ...detProps },
      },
    },
  };
}

function savingSchema(ctx: SchemaContext, description: string): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    default: {},
    description,
    properties: {
      enabled: bool(false, 'Save this channel.'),
      base_path: { type: 'string', maxLength: 4096, default: ctx.dataRoot, description: 'Folder of the files, under one of the server\'s data roots.' },
      filename_prefix: { type: 'string', pattern: NAME, maxLength: 200, default: 'lima2', description: 'Files are {prefix}_master.h5 and {prefix}_{rank}_{file:05d}.h5.' },
      filename_suffix: { const: '.h5', default: '.h5', description: 'Only .h5.' },
      start_number: int(0, 0, 'Number of the first data file.', 99999),
      file_exists_policy: { enum: ['abort', 'overwrite'], default: 'abort', description: 'When a file to write exists.' },
      nb_frames_per_file: int(1, 50, 'Frames per data file.', 1000000),
      compression: { enum: ['none', 'zip', 'bshuf_lz4'], default: 'bshuf_lz4', description: 'Chunk compression (zip: deflate; bshuf_lz4: HDF5 filter 32008).' },
      nx_entry_name: { type: 'string', pattern: NAME, maxLength: 64, default: 'entry_0000' },
      nx_instrument_name: { type: 'string', pattern: NAME, maxLength: 64, default: 'instrument' },
      nx_detector_name: { type: 'string', pattern: NAME, maxLength: 64, default: 'detector' },
      nb_dimensions: { enum: ['dim_3d_or_4d'], default: 'dim_3d_or_4d', description: 'daqlab writes 3-D frame datasets ([frames, rows, cols]); dim_4d is not supported.' },
      filename_rank: int(0, 0, 'Set per receiver by LIMA2\'s conductor; daqlab numbers its writers itself.'),
      include_frame_idx: bool(false, 'daqlab always records the frame index of each saved frame (master measurement/frame_index).'),
    },
  };
}

const onOff = (extra: Record<string, JsonSchema>, description: string): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  description,
  properties: { enabled: bool(false, 'Enable.'), ...extra },
});

const point = (description: string): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  required: ['x', 'y'],
  description,
  properties: { x: { type: 'integer', minimum: 0 }, y: { type: 'integer', minimum: 0 } },
});
const RECT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['topleft', 'dimensions'],
  properties: { topleft: point('Top-left pixel (x: column, y: row).'), dimensions: point('Size (x: width, y: height).') },
};

/**
 * LIMA2's arc ROI, as BLISS's lima2 legacy plugin writes it (bliss/controllers/lima2 … `arc_rois`:
 * {center: {x, y}, r1, r2, a1, a2}): centre in pixels (x: column, y: row), radii in pixels, angles in degrees.
 */
const ARC: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['center', 'r1', 'r2', 'a1', 'a2'],
  properties: {
    center: {
      type: 'object',
      additionalProperties: false,
      required: ['x', 'y'],
      properties: { x: { type: 'number', description: 'Centre column.' }, y: { type: 'number', description: 'Centre row.' } },
    },
    r1: { type: 'number', minimum: 0, description: 'Inner radius (pixels).' },
    r2: { type: 'number', minimum: 0, description: 'Outer radius (pixels).' },
    a1: { type: 'number', description: 'Start angle (degrees).' },
    a2: { type: 'number', description: 'End angle (degrees).' },
  },
};

/** daqlab's own pipeline parameters (pyFAI names) that `fai` takes: all but how receivers run. */
function faiProperties(pipeline: 'smx' | 'azint' | 'xpcs', registry: StepRegistry): Record<string, JsonSchema> {
  const props = { ...((pipelineSchema(pipelineDef(pipeline), registry).properties ?? {}) as Record<string, JsonSchema>) };
  for (const key of [...Object.keys(COMMON_SCHEMA), 'pipeline']) delete props[key];
  return props;
}

/** The processing params schema of one class. */
export function processingSchema(cls: ClassDef, ctx: SchemaContext): JsonSchema {
  const properties: Record<string, JsonSchema> = {
    class_name: { const: cls.name, default: cls.name, description: 'Processing class.' },
    frame_idx_enabled: bool(false, 'Set by LIMA2\'s conductor in dynamic dispatch; daqlab always keeps frame indexes.'),
  };
  if (cls.name === 'LimaProcessingLegacy') {
    Object.assign(properties, {
      mask: onOff({ path: { type: 'string', maxLength: 4096, default: '' } }, 'Mask file (.npy, .h5, .edf; non-zero = masked).'),
      background: onOff({ path: { type: 'string', maxLength: 4096, default: '' } }, 'Dark/background image file subtracted from each frame.'),
      flatfield: onOff({ path: { type: 'string', maxLength: 4096, default: '' } }, 'Flat-field image file each frame is divided by.'),
      accumulation: onOff({ nb_frames: int(1, 1, 'Frames summed into one.') }, 'Sum consecutive frames.'),
      statistics: onOff(
        {
          rect_rois: { type: 'array', maxItems: 64, default: [], items: RECT, description: 'Rectangular ROIs: avg, std, min, max, sum per frame (reduced data roi_stats).' },
          arc_rois: { type: 'array', maxItems: 64, default: [], items: ARC, description: 'Arc ROIs: avg, std, min, max, sum per frame (reduced data roi_stats, after the rectangles, as LIMA2 orders them).' },
        },
        'ROI statistics.',
      ),
      profiles: onOff(
        {
          rois: { type: 'array', maxItems: 64, default: [], items: RECT },
          directions: { type: 'array', maxItems: 64, default: [], items: { enum: ['vertical', 'horizontal'] } },
        },
        "ROI profiles: per line of each ROI (vertical: its rows, horizontal: its columns) avg, std, min, max, sum per frame (reduced data roi_profile, one channel per ROI).",
      ),
      // sections BLISS's lima2 legacy plugin reads and writes (bliss/controllers/lima2/processings/legacy.py, common.py):
      // accepted, with no effect on daqlab's own queues
      fifo: { type: 'object', additionalProperties: false, default: {}, properties: { nb_fifo_frames: int(1, 100, 'No effect here.') } },
      buffers: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Receiver buffer depths: no effect here (daqlab keeps results in its store, within --memory-budget).',
        properties: Object.fromEntries(['nb_frames_buffer', 'nb_input_frames_buffer', 'nb_roi_statistics_buffer', 'nb_roi_profiles_buffer', 'nb_frame_idx_buffer'].map((k) => [k, int(1, 100, 'No effect here.')])),
      },
      max_countrate_protection: onOff(
        {
          max_countrate: int(0, 100000, 'Counts per second per pixel.'),
          pixel_capacity_override: { type: 'array', default: [] },
          abort_on_protection: bool(true, 'Abort when triggered.'),
          command: { type: 'string', maxLength: 4096, default: '' },
          args: { type: 'array', items: { type: 'string' }, default: [] },
        },
        'Count rate protection: not supported by daqlab; must stay disabled.',
      ),
      saving: savingSchema(ctx, 'Saving of the processed frames (source `frame`).'),
    });
  } else if (cls.name === 'LimaProcessingSmx') {
    Object.assign(properties, {
      fai: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Background, sparsification and peak finding (pyFAI names, daqlab\'s smx pipeline).',
        properties: {
          ...faiProperties('smx', ctx.registry),
          acc_nb_frames_reset: int(0, 0, 'Accumulation reset period (frames); 0: never (daqlab accumulates over the whole scan).', 0),
          acc_nb_frames_xfer: int(0, 0, 'Accumulation publication period (frames); daqlab publishes every publish_every frames.', 0),
        },
      },
      saving_dense: savingSchema(ctx, 'Saving of the dense frames (source `frame`).'),
      saving_sparse: savingSchema(ctx, 'Saving of the sparse frames and peaks into {prefix}_sparse.h5 beside the dense files; needs saving_dense\'s folder and prefix.'),
      saving_accumulation_corrected: onOff({}, 'Not supported (daqlab keeps the accumulated images in the scan\'s streams and master file): must stay disabled.'),
      saving_accumulation_peak: onOff({}, 'Not supported: must stay disabled.'),
    });
  } else if (cls.name === 'LimaProcessingXpcs') {
    Object.assign(properties, {
      xpcs: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Multi-tau correlation on q rings (daqlab\'s xpcs pipeline and its parameter names).',
        properties: faiProperties('xpcs', ctx.registry),
      },
      saving_dense: savingSchema(ctx, 'Saving of the frames (source `frame`).'),
      saving_sparse: onOff({}, 'Saving of sparse frames: not supported by daqlab\'s xpcs (its sparse mode is internal); must stay disabled.'),
    });
  } else {
    Object.assign(properties, {
      fai: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Azimuthal integration (pyFAI names, daqlab\'s azint pipeline).',
        properties: faiProperties('azint', ctx.registry),
      },
      saving_dense: savingSchema(ctx, 'Saving of the frames (source `frame`).'),
      saving_fai: savingSchema(ctx, 'Saving of the integrated curves (source `fai_averint`) as their own file series {prefix}_0_{file:05d}.h5, written when the scan ends; its prefix must differ from saving_dense\'s.'),
    });
  }
  return { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', additionalProperties: false, required: ['class_name'], properties };
}

/** The value a schema's defaults make (what jsonschema_default gives the conductor's clients). */
export function defaultsOf(schema: JsonSchema): unknown {
  const s = schema as { type?: unknown; properties?: Record<string, JsonSchema>; default?: unknown; const?: unknown };
  if (s.properties && (s.type === 'object' || s.type === undefined)) {
    const out: Record<string, unknown> = {};
    for (const [k, sub] of Object.entries(s.properties)) {
      const v = defaultsOf(sub);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  if (s.default !== undefined) return structuredClone(s.default);
  if (s.const !== undefined) return s.const;
  return undefined;
}

/** The sub-schema at a JSON path ($.a.b[0].c), for Lima2ParamError's `schema`. */
export function subschema(schema: JsonSchema, path: string): JsonSchema {
  let s = schema as { properties?: Record<string, JsonSchema>; items?: JsonSchema };
  for (const part of path.replace(/^\$\.?/, '').split(/\.|\[\d+\]/).filter(Boolean)) {
    const next = s.properties?.[part] ?? s.items;
    if (!next) break;
    s = next as typeof s;
  }
  if (s.items && path.endsWith(']')) s = s.items as typeof s;
  return s as JsonSchema;
}

/** daqlab's dotted field (`processing.rois.0.roi`, `processing.rois[0]`) as its parts. */
const parts = (field: string): string[] => field.replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean);
const jsonPath = (segs: string[]): string => '$' + segs.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('');

/** LIMA2 parameters, mapped. */
export interface Mapped {
  cls: ClassDef;
  /** daqlab prepare parameters */
  prepare: Record<string, unknown>;
  /** LIMA2's params after defaults (what /pipeline/{uuid} and the master's metadata record) */
  lima2: { control: Record<string, unknown>; receiver: Record<string, unknown>; processing: Record<string, unknown> };
  /** the processing key whose saving parameters daqlab's `saving` section came from (null: not saving) */
  savingChannel: string | null;
  /** ROI names in rect_rois order (roi_stats channel k = ROI k) */
  rois: string[];
  /** LIMA2 ROI profiles (roi_profile channel k = profile k): lines per profile, in order */
  profiles: number[];
  /** saving_fai, when enabled (the Fai class's curves as their own files, fai-files.ts) */
  fai: FaiSaving | null;
}

type Validate = (schema: JsonSchema, value: unknown) => FieldError[];

const SAVING_KEYS: Record<string, string> = { prefix: 'filename_prefix' };
const COMPRESSION: Record<string, string> = { none: 'none', zip: 'gzip', bshuf_lz4: 'bslz4' };

function refuse(where: string, path: string, message: string, schema: JsonSchema): never {
  throw paramError(message, where, path, subschema(schema, path));
}

/** Validate one parameter set against its schema (filling defaults); the first problem becomes a Lima2ParamError. */
function check(schema: JsonSchema, value: unknown, where: string, validate: Validate): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) refuse(where, '$', `${where} must be a JSON object`, schema);
  const errors = validate(schema, value);
  if (errors.length) {
    const path = jsonPath(parts(errors[0].field === '(params)' ? '' : errors[0].field));
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more: ${errors.slice(1, 4).map((e) => `${jsonPath(parts(e.field))}: ${e.message}`).join('; ')})` : '';
    refuse(where, path, `${errors[0].message}${more}`, schema);
  }
  return value as Record<string, unknown>;
}

/**
 * LIMA2's {control, receiver, processing} → daqlab prepare. Throws Lima2Error: ParamError naming
 * the field for what does not fit the schemas or cannot be honoured, NotFound for an unknown class.
 */
export function fromLima2(body: { control?: unknown; receiver?: unknown; processing?: unknown; masterfile_metadata?: unknown }, ctx: SchemaContext, validate: Validate): Mapped {
  for (const key of ['control', 'receiver', 'processing'] as const) {
    // acquisition.py prepare: "Params JSON is missing key '...'"
    if (body[key] === undefined) throw new Lima2Error('Lima2ValueError', `Params JSON is missing key '${key}'.`);
  }
  const proc = body.processing as Record<string, unknown> | null;
  const className = typeof proc === 'object' && proc !== null ? proc.class_name : undefined;
  const cls = typeof className === 'string' ? classDef(className) : undefined;
  if (!cls) {
    // webservice/pipeline.py: "No such pipeline class"
    throw new Lima2Error('Lima2NotFound', `No such pipeline class: ${JSON.stringify(className ?? null)} (at processing params $.class_name).\nTry one of ${CLASSES.map((c) => c.name).join(', ')}.`);
  }
  const acqSchema = acquisitionParamsSchema(ctx);
  const procSchema = processingSchema(cls, ctx);
  const control = check(acqSchema, structuredClone(body.control), WHERE.control, validate);
  const receiver = check(acqSchema, structuredClone(body.receiver), WHERE.receiver, validate);
  const processing = check(procSchema, structuredClone(proc), WHERE.processing, validate);
  const cAcq = control.acq as Record<string, unknown>;
  const rAcq = receiver.acq as Record<string, unknown>;
  for (const key of Object.keys(cAcq)) {
    if (JSON.stringify(cAcq[key]) !== JSON.stringify(rAcq[key])) {
      refuse(WHERE.receiver, `$.acq.${key}`, `receiver params say ${JSON.stringify(rAcq[key])} but control params ${JSON.stringify(cAcq[key])}: daqlab runs one acquisition, they must agree`, acqSchema);
    }
  }
  const { nb_prefetch_frames: _prefetch, ...detector } = control.det as Record<string, unknown>;
  const refuseP = (path: string, message: string): never => refuse(WHERE.processing, path, message, procSchema);

  const daq: Record<string, unknown> = { pipeline: cls.pipeline };
  const rois: string[] = [];
  const profiles: number[] = [];
  if (cls.name === 'LimaProcessingLegacy') {
    const files: [string, string][] = [['mask', 'mask_file'], ['background', 'dark_file'], ['flatfield', 'flat_file']];
    for (const [key, target] of files) {
      const sec = processing[key] as { enabled: boolean; path: string };
      if (!sec.enabled) continue;
      if (!sec.path) refuseP(`$.${key}.path`, `${key} is enabled: give the file's path`);
      daq[target] = sec.path;
    }
    const accu = processing.accumulation as { enabled: boolean; nb_frames: number };
    if (accu.enabled && accu.nb_frames > 1) daq.accumulation_frames = accu.nb_frames;
    const stats = processing.statistics as {
      enabled: boolean;
      rect_rois: { topleft: { x: number; y: number }; dimensions: { x: number; y: number } }[];
      arc_rois: { center: { x: number; y: number }; r1: number; r2: number; a1: number; a2: number }[];
    };
    if (stats.enabled) {
      // roi_stats channels: the rectangles, then the arcs (lima2 conductor/processing/reduced_data.py RoiParams)
      const rects = stats.rect_rois.map((r, k) => ({ name: `roi${k}`, roi: [r.topleft.y, r.topleft.x, r.dimensions.y, r.dimensions.x] }));
      const arcs = (stats.arc_rois ?? []).map((a, k) => ({ name: `roi${rects.length + k}`, arc: [a.center.y, a.center.x, a.r1, a.r2, a.a1, a.a2] }));
      daq.rois = [...rects, ...arcs];
      rois.push(...rects.map((r) => r.name), ...arcs.map((r) => r.name));
    }
    daq.roi_profiles = false;
    const profileParams = processing.profiles as { enabled: boolean; rois: { topleft: { x: number; y: number }; dimensions: { x: number; y: number } }[]; directions: ('vertical' | 'horizontal')[] };
    if (profileParams.enabled && profileParams.rois.length) {
      // reduced_data.py RoiParams zips rois and directions strictly: one direction per ROI
      if (profileParams.directions.length !== profileParams.rois.length) {
        refuseP('$.profiles.directions', `one direction per profile ROI: ${profileParams.rois.length} rois, ${profileParams.directions.length} directions`);
      }
      daq.line_profiles = profileParams.rois.map((r, k) => ({ name: `profile${k}`, roi: [r.topleft.y, r.topleft.x, r.dimensions.y, r.dimensions.x], direction: profileParams.directions[k] }));
      profiles.push(...profileParams.rois.map((r, k) => (profileParams.directions[k] === 'vertical' ? r.dimensions.y : r.dimensions.x)));
    }
    if ((processing.max_countrate_protection as { enabled: boolean }).enabled) {
      refuseP('$.max_countrate_protection.enabled', 'count rate protection is not supported by daqlab: must be false');
    }
  } else {
    const section = (cls.name === 'LimaProcessingXpcs' ? processing.xpcs : processing.fai) as Record<string, unknown>;
    for (const [k, v] of Object.entries(section)) if (!k.startsWith('acc_nb_frames_')) daq[k] = v;
    for (const key of ['saving_accumulation_corrected', 'saving_accumulation_peak', ...(cls.name === 'LimaProcessingXpcs' ? ['saving_sparse'] : [])]) {
      if ((processing[key] as { enabled?: boolean } | undefined)?.enabled) refuseP(`$.${key}.enabled`, `saving of ${key.replace('saving_', '')} is not supported by daqlab: must be false`);
    }
  }

  // daqlab saves one scan: the frame channel's saving, plus the sparse file for smx
  const frameChannel = cls.frameSources.frame.savingChannel!;
  const main = processing[frameChannel] as Record<string, unknown>;
  const sparse = cls.name === 'LimaProcessingSmx' ? (processing.saving_sparse as Record<string, unknown>) : null;
  let savingChannel: string | null = null;
  let saving: Record<string, unknown> = { enabled: false };
  const from = main.enabled ? main : sparse?.enabled ? sparse : null;
  if (from) {
    savingChannel = main.enabled ? frameChannel : 'saving_sparse';
    if (sparse?.enabled && main.enabled) {
      for (const key of ['base_path', 'filename_prefix']) {
        if (sparse[key] !== main[key]) refuseP(`$.saving_sparse.${key}`, `daqlab writes the sparse file beside the dense files ({prefix}_sparse.h5): must equal saving_dense.${key} (${JSON.stringify(main[key])})`);
      }
    }
    saving = {
      enabled: true,
      base_path: from.base_path,
      prefix: from.filename_prefix,
      start_number: from.start_number,
      nb_frames_per_file: from.nb_frames_per_file,
      compression: COMPRESSION[from.compression as string],
      file_exists_policy: from.file_exists_policy,
      nx_entry_name: from.nx_entry_name,
      nx_instrument_name: from.nx_instrument_name,
      nx_detector_name: from.nx_detector_name,
      save_frames: Boolean(main.enabled),
      save_sparse: Boolean(sparse?.enabled),
    };
  }
  let fai: FaiSaving | null = null;
  const faiSaving = processing.saving_fai as (FaiSaving & { enabled: boolean }) | undefined;
  if (cls.name === 'LimaProcessingFai' && faiSaving?.enabled) {
    if (main.enabled && main.base_path === faiSaving.base_path && main.filename_prefix === faiSaving.filename_prefix) {
      refuseP('$.saving_fai.filename_prefix', `the curves get their own file series: must differ from saving_dense.filename_prefix (${JSON.stringify(main.filename_prefix)})`);
    }
    const { enabled: _e, ...rest } = faiSaving;
    fai = rest;
  }
  const prepare = {
    acquisition: {
      nb_frames: cAcq.nb_frames,
      expo_time: (cAcq.expo_time as number) / 1e6,
      latency_time: (cAcq.latency_time as number) / 1e6,
      trigger_mode: cAcq.trigger_mode,
      nb_frames_per_trigger: cAcq.nb_frames_per_trigger,
    },
    detector,
    processing: daq,
    saving,
    scan: { name: 'lima2' },
  };
  return { cls, prepare, lima2: { control, receiver, processing }, savingChannel, rois, profiles, fai };
}

/**
 * daqlab's field errors (from its own prepare) as LIMA2 paths: which LIMA2 parameter became
 * that daqlab field. Returns [where, path].
 */
export function lima2Field(field: string, m: Mapped): [string, string] {
  const [section, key, ...rest] = parts(field);
  if (section === 'acquisition') return [WHERE.control, jsonPath(['acq', ...(key ? [key] : []), ...rest])];
  if (section === 'detector') return [WHERE.control, jsonPath(['det', ...(key ? [key] : []), ...rest])];
  if (section === 'saving') return [WHERE.processing, jsonPath([m.savingChannel ?? 'saving', ...(key ? [SAVING_KEYS[key] ?? key] : [])])];
  if (section === 'processing') {
    if (m.cls.name !== 'LimaProcessingLegacy') return [WHERE.processing, jsonPath([m.cls.name === 'LimaProcessingXpcs' ? 'xpcs' : 'fai', ...(key ? [key] : []), ...rest])];
    const legacy: Record<string, string[]> = {
      rois: ['statistics', 'rect_rois'],
      line_profiles: ['profiles', 'rois'],
      mask_file: ['mask', 'path'],
      dark_file: ['background', 'path'],
      flat_file: ['flatfield', 'path'],
      accumulation_frames: ['accumulation', 'nb_frames'],
    };
    return [WHERE.processing, jsonPath([...(legacy[key] ?? [key]), ...(key === 'rois' || key === 'line_profiles' ? rest.slice(0, 1) : rest)])];
  }
  return [WHERE.processing, jsonPath(parts(field))];
}

/** daqlab prepare → LIMA2 params (the inverse of fromLima2 for what both describe). */
export function toLima2(prepare: Record<string, any>, className: string): Mapped['lima2'] {
  const cls = classDef(className);
  if (!cls) throw new Lima2Error('Lima2NotFound', `No such pipeline class: ${JSON.stringify(className)}`);
  const a = prepare.acquisition ?? {};
  const acq = {
    acq: {
      nb_frames: a.nb_frames,
      expo_time: Math.round(a.expo_time * 1e6),
      latency_time: Math.round((a.latency_time ?? 0) * 1e6),
      trigger_mode: a.trigger_mode ?? 'internal',
      nb_frames_per_trigger: a.nb_frames_per_trigger ?? 1,
    },
    det: { ...(prepare.detector ?? {}) },
  };
  const p = prepare.processing ?? {};
  const s = prepare.saving ?? {};
  const inverse = Object.fromEntries(Object.entries(COMPRESSION).map(([k, v]) => [v, k]));
  const savingOf = (enabled: boolean): Record<string, unknown> =>
    enabled
      ? {
          enabled: true,
          base_path: s.base_path,
          filename_prefix: s.prefix,
          start_number: s.start_number,
          nb_frames_per_file: s.nb_frames_per_file,
          compression: inverse[s.compression] ?? s.compression,
          file_exists_policy: s.file_exists_policy,
          nx_entry_name: s.nx_entry_name,
          nx_instrument_name: s.nx_instrument_name,
          nx_detector_name: s.nx_detector_name,
        }
      : { enabled: false };
  const processing: Record<string, unknown> = { class_name: cls.name };
  if (cls.name === 'LimaProcessingLegacy') {
    const rois = (p.rois ?? []) as { roi?: number[]; arc?: number[] }[];
    processing.statistics = {
      enabled: rois.length > 0,
      rect_rois: rois.filter((r) => r.roi).map(({ roi }) => ({ topleft: { x: roi![1], y: roi![0] }, dimensions: { x: roi![3], y: roi![2] } })),
      arc_rois: rois.filter((r) => r.arc).map(({ arc }) => ({ center: { x: arc![1], y: arc![0] }, r1: arc![2], r2: arc![3], a1: arc![4], a2: arc![5] })),
    };
    const lines = (p.line_profiles ?? []) as { roi: number[]; direction: string }[];
    processing.profiles = {
      enabled: lines.length > 0,
      rois: lines.map(({ roi: [row, col, h, w] }) => ({ topleft: { x: col, y: row }, dimensions: { x: w, y: h } })),
      directions: lines.map((l) => l.direction),
    };
    for (const [key, source] of [['mask', 'mask_file'], ['background', 'dark_file'], ['flatfield', 'flat_file']]) {
      processing[key] = p[source] ? { enabled: true, path: p[source] } : { enabled: false };
    }
    processing.accumulation = p.accumulation_frames > 1 ? { enabled: true, nb_frames: p.accumulation_frames } : { enabled: false };
    processing.saving = savingOf(Boolean(s.enabled && s.save_frames !== false));
  } else {
    const skip = new Set([...Object.keys(COMMON_SCHEMA), 'pipeline']);
    processing[cls.name === 'LimaProcessingXpcs' ? 'xpcs' : 'fai'] = Object.fromEntries(Object.entries(p).filter(([k]) => !skip.has(k)));
    processing.saving_dense = savingOf(Boolean(s.enabled && s.save_frames !== false));
    if (cls.name === 'LimaProcessingFai') processing.saving_fai = { enabled: false };
    if (cls.name === 'LimaProcessingSmx') processing.saving_sparse = savingOf(Boolean(s.enabled && s.save_sparse));
  }
  return { control: acq, receiver: structuredClone(acq), processing };
}
