/**
 * The `xpcs` processing step (after LIMA2's xpcs pipeline): q-ring ROIs from
 * the detector geometry, a live multi-tau g2(q, τ) and the fill factor of
 * every frame.
 *
 * Streams:
 *   g2, g2_err   accumulated float64 [n_rings, n_tau]: the snapshot after the
 *                last multiple of `update_every` frames; `finish()` refreshes
 *                it with every frame (the server calls it before the final
 *                `partial()`).
 *   tau          static float64 [n_tau], lags in frames (info: tau_s when the
 *                detector description has `frame_period`).
 *   q            static float64 [n_rings], ring centres (q_min+q_max)/2 in `unit`
 *                (info: edges, mean q and pixels of each ring).
 *   fill_factor  event per valid frame: {frame_idx, fill_factor} (fraction of
 *                the ring pixels that are non-zero).
 *
 * Frame order. The correlator must see the frames in order. With one receiver
 * this step is exact (incomplete frames — ctx.valid false — and skipped
 * indexes are gaps, handled exactly). With R > 1 receivers each instance sees
 * every R-th frame and its g2 is meaningless: the server must instead feed one
 * `MultiTauCorrelator` (or one `XpcsStep` built by `create`) from an in-order
 * stage after merging — `XpcsStep.process` only needs {index, valid, image,
 * emit}. The accumulated streams' `combine` cannot merge per-receiver g2.
 */
import type { ImageSpec, Step, StepBuild, StepEnvironment, StepFactory, FrameContext, StreamDecl } from '../types.js';
import type { TypedArray } from '../../protocol/index.js';
import { RADIAL_UNITS, type RadialUnit } from '../../detectors/geometry/pyfai-geometry.js';
import { MultiTauCorrelator, multiTauLags, multiTauMemoryBytes, type XpcsMode, type XpcsNormalization, type XpcsSnapshot } from './multitau.js';
import { fmtBytes, serverMemoryLimit } from '../limits.js';
import { buildQRings, type FieldError, type PoniInput, type QRings } from './qrings.js';

export interface XpcsParams {
  q_rings: number[][] | null;
  nb_rings: number | null;
  q_range: number[] | null;
  unit: RadialUnit;
  m: number;
  levels: number;
  mode: XpcsMode;
  sparse_threshold: number;
  normalization: XpcsNormalization;
  update_every: number;
  poni: string | PoniInput | null;
  max_memory_mb: number;
}

export const XPCS_DEFAULTS: XpcsParams = {
  q_rings: null,
  nb_rings: 10,
  q_range: null,
  unit: 'q_nm^-1',
  m: 16,
  levels: 12,
  mode: 'auto',
  sparse_threshold: 0.1,
  normalization: 'pixel',
  update_every: 100,
  poni: null,
  max_memory_mb: 4096,
};

const pair = (description: string) => ({
  type: 'array',
  items: { type: 'number' },
  minItems: 2,
  maxItems: 2,
  description,
});

export const XPCS_SCHEMA = {
  type: 'object',
  title: 'xpcs',
  description:
    'Multi-tau intensity autocorrelation g2(q, τ) in q rings (per-pixel symmetric normalisation), dense or sparse (event) ' +
    'computation, and the fill factor of every frame. Needs the frames in order (one receiver, or the in-order stage).',
  additionalProperties: false,
  properties: {
    q_rings: {
      type: ['array', 'null'],
      items: pair('[q_min, q_max] in `unit`'),
      minItems: 1,
      maxItems: 32767,
      default: XPCS_DEFAULTS.q_rings,
      description: 'Rings as a list of [q_min, q_max) in `unit`; when null, `nb_rings` equal rings over `q_range`.',
    },
    nb_rings: {
      type: ['integer', 'null'],
      minimum: 1,
      maximum: 32767,
      default: XPCS_DEFAULTS.nb_rings,
      description: 'Number of equal-width rings over `q_range` (used when q_rings is null).',
    },
    q_range: {
      type: ['array', 'null'],
      items: { type: 'number' },
      minItems: 2,
      maxItems: 2,
      default: XPCS_DEFAULTS.q_range,
      description: '[q_min, q_max] in `unit` split into nb_rings rings; null: the range of the valid pixels.',
    },
    unit: {
      type: 'string',
      enum: Object.keys(RADIAL_UNITS),
      default: XPCS_DEFAULTS.unit,
      description: 'Radial unit of q_rings / q_range (pyFAI names).',
    },
    m: {
      type: 'integer',
      minimum: 2,
      maximum: 1024,
      multipleOf: 2,
      default: XPCS_DEFAULTS.m,
      description:
        'Lags per multi-tau level: τ = 1..m frames, then m/2 lags per level with steps doubling (m+2..2m by 2, 2m+4..4m by 4, …). ' +
        '16: relative lag spacing ≤ 12.5 % and small coarse-graining bias; memory and time grow with m.',
    },
    levels: {
      type: 'integer',
      minimum: 1,
      maximum: 40,
      default: XPCS_DEFAULTS.levels,
      description: 'Multi-tau levels: the largest lag is m·2^(levels−1) frames (16, 12: 32768). Levels are allocated as frames arrive.',
    },
    mode: {
      type: 'string',
      enum: ['dense', 'sparse', 'auto'],
      default: XPCS_DEFAULTS.mode,
      description: 'dense: every ring pixel every frame; sparse: only non-zero pixels (low count rates); auto: sparse when the fill factor < sparse_threshold. Same g2 in every mode.',
    },
    sparse_threshold: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: XPCS_DEFAULTS.sparse_threshold,
      description: 'auto mode: fill factor (fraction of non-zero ring pixels) below which a frame is processed sparsely.',
    },
    normalization: {
      type: 'string',
      enum: ['pixel', 'ring'],
      default: XPCS_DEFAULTS.normalization,
      description:
        'pixel: g2 = mean over ring pixels of N·Σ I(t)I(t+τ) / (Σ I(t) · Σ I(t+τ)) (symmetric, per pixel; standard); ' +
        'ring: the same ratio of sums over the ring (less biased at very low counts per pixel).',
    },
    update_every: {
      type: 'integer',
      minimum: 1,
      maximum: 100000000,
      default: XPCS_DEFAULTS.update_every,
      description: 'Frames between published g2 snapshots (a snapshot costs about one frame with all levels).',
    },
    poni: {
      description: 'Geometry of the image, when the detector does not describe it (or to override it): {dist, poni1, poni2, rot1, rot2, rot3, wavelength, pixel1, pixel2} (m, rad) or the text of a pyFAI .poni file.',
      default: XPCS_DEFAULTS.poni,
      oneOf: [
        { type: 'null' },
        { type: 'string', minLength: 1 },
        {
          type: 'object',
          additionalProperties: false,
          required: ['dist', 'poni1', 'poni2'],
          properties: {
            dist: { type: 'number', exclusiveMinimum: 0 },
            poni1: { type: 'number' },
            poni2: { type: 'number' },
            rot1: { type: 'number' },
            rot2: { type: 'number' },
            rot3: { type: 'number' },
            wavelength: { type: ['number', 'null'], exclusiveMinimum: 0 },
            pixel1: { type: 'number', exclusiveMinimum: 0 },
            pixel2: { type: 'number', exclusiveMinimum: 0 },
          },
        },
      ],
    },
    max_memory_mb: {
      type: 'number',
      minimum: 1,
      default: XPCS_DEFAULTS.max_memory_mb,
      description: "Refuse ring sets whose correlator state (all levels allocated) and g2 results would exceed this many MiB; it can only lower the server's limit (half the machine memory).",
    },
  },
};

/** Fill the defaults of missing parameters. */
export function xpcsParams(p: Partial<XpcsParams> | Record<string, unknown>): XpcsParams {
  const out = { ...XPCS_DEFAULTS } as Record<string, unknown>;
  for (const [k, v] of Object.entries(p)) if (v !== undefined) out[k] = v;
  return out as unknown as XpcsParams;
}

/**
 * Memory of the correlator with every level allocated, and of its published results (g2 and g2_err:
 * the snapshot, the copy `partial()` hands on, and the item being encoded) against the ceiling:
 * max_memory_mb, which can only lower the server's limit. The sizes that set it are named.
 */
function memoryProblems(params: XpcsParams, rings: QRings): FieldError[] {
  let np = 0;
  for (const c of rings.counts) np += c;
  const nTau = params.m + (params.levels - 1) * (params.m / 2);
  const correlator = multiTauMemoryBytes(np, params.m, params.levels);
  const results = 3 * 2 * 8 * rings.nRings * nTau;
  const bytes = correlator + results;
  const server = serverMemoryLimit();
  const asked = params.max_memory_mb * 2 ** 20;
  const limit = Math.min(asked, server);
  if (bytes <= limit) return [];
  const ringField = params.q_rings ? 'q_rings' : 'nb_rings';
  const what =
    `m = ${params.m}, levels = ${params.levels} over ${rings.nRings} rings of ${np} pixels need ${fmtBytes(bytes)} ` +
    `(correlator ${fmtBytes(correlator)}, g2 results ${fmtBytes(results)}), more than the limit of ${fmtBytes(limit)}`;
  const byServer = asked >= server;
  const why = byServer ? ` (the server's limit, half the machine memory${asked > server ? `; max_memory_mb ${params.max_memory_mb} cannot raise it` : ''})` : ' (max_memory_mb)';
  const message = `${what}${why}: use a smaller m or fewer levels, or fewer or narrower rings`;
  const fields = [ringField, 'm', 'levels', ...(byServer && asked > server ? ['max_memory_mb'] : [])];
  return fields.map((field) => ({ field, message }));
}

type Built = { rings: QRings; errors: FieldError[] } | { rings: null; errors: FieldError[] };

function build(params: XpcsParams, input: ImageSpec, env: StepEnvironment): Built {
  const errors: FieldError[] = [];
  if (!Number.isInteger(params.m) || params.m < 2 || params.m % 2 !== 0) errors.push({ field: 'm', message: `must be an even integer ≥ 2 (got ${params.m})` });
  if (!Number.isInteger(params.levels) || params.levels < 1 || params.levels > 40) errors.push({ field: 'levels', message: 'must be an integer in 1..40' });
  if (!Number.isInteger(params.update_every) || params.update_every < 1) errors.push({ field: 'update_every', message: 'must be a positive integer' });
  const rings = buildQRings(params, input, env);
  if ('errors' in rings) return { rings: null, errors: [...errors, ...rings.errors] };
  if (errors.length === 0) errors.push(...memoryProblems(params, rings));
  return { rings, errors };
}

/** The step inside one receiver (or the in-order stage). */
export class XpcsStep implements Step {
  readonly correlator: MultiTauCorrelator;
  private last: XpcsSnapshot | null = null;
  private sinceSnapshot = 0;

  constructor(
    readonly rings: QRings,
    readonly params: XpcsParams,
    dummy: number | null,
  ) {
    this.correlator = new MultiTauCorrelator(rings.labels, rings.nRings, params.m, params.levels, {
      mode: params.mode,
      sparseThreshold: params.sparse_threshold,
      normalization: params.normalization,
      dummy,
    });
  }

  process(ctx: FrameContext): void {
    if (!ctx.valid) {
      // an incomplete frame is a gap of the time series: its pixels are not used
      this.correlator.ingest(ctx.index, null);
    } else {
      const r = this.correlator.ingest(ctx.index, ctx.image);
      ctx.emit('fill_factor', { frame_idx: ctx.index, fill_factor: r.fill_factor });
    }
    if (++this.sinceSnapshot >= this.params.update_every) this.refresh();
  }

  /** Recompute the published snapshot from every frame so far. */
  refresh(): XpcsSnapshot {
    this.sinceSnapshot = 0;
    return (this.last = this.correlator.snapshot());
  }

  /** End of the acquisition: the final g2 (call before the last `partial()`). */
  finish(): XpcsSnapshot {
    return this.sinceSnapshot > 0 || !this.last ? this.refresh() : this.last;
  }

  /** The latest snapshot (NaN before the first one). */
  snapshot(): XpcsSnapshot | null {
    return this.last;
  }

  partial(): Record<string, TypedArray> {
    if (!this.last) {
      const n = this.rings.nRings * this.correlator.nTau;
      return { g2: new Float64Array(n).fill(NaN), g2_err: new Float64Array(n).fill(NaN) };
    }
    return { g2: this.last.g2.slice(), g2_err: this.last.g2_err.slice() };
  }
}

export const xpcsStep: StepFactory<XpcsParams> = {
  name: 'xpcs',
  description:
    'XPCS: multi-tau intensity autocorrelation g2(q, τ) in q rings from the detector geometry, per-pixel symmetric ' +
    'normalisation, dense or sparse computation, fill factor per frame. Needs frames in order (one receiver or the in-order stage).',
  schema: XPCS_SCHEMA,

  check(params, input, env) {
    return build(xpcsParams(params), input, env).errors;
  },

  create(rawParams, input, env): StepBuild & { step: XpcsStep } {
    const params = xpcsParams(rawParams);
    const b = build(params, input, env);
    if (b.errors.length || !b.rings) {
      throw new RangeError(`xpcs: ${b.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    }
    const rings = b.rings;
    const step = new XpcsStep(rings, params, input.dummy ?? null);
    const tau = multiTauLags(params.m, params.levels);
    const nTau = tau.length;
    const period = typeof env.detector?.frame_period === 'number' && env.detector.frame_period > 0 ? env.detector.frame_period : null;
    const tauInfo: Record<string, unknown> = {
      unit: 'frames',
      description: `multi-tau lags: 1..${params.m}, then ${params.m / 2} per level with doubling steps, up to ${tau[nTau - 1]} frames`,
      m: params.m,
      levels: params.levels,
    };
    if (period !== null) {
      tauInfo.frame_period_s = period;
      tauInfo.tau_s = Array.from(tau, (t) => t * period);
    }
    const g2Info = {
      axes: ['q', 'tau'],
      // the axes' units: q in the rings' unit (the `q` stream's values), tau in frame periods (the `tau` stream's)
      axes_units: [rings.unit, 'frames'],
      unit: '',
      normalization:
        params.normalization === 'pixel'
          ? 'per pixel symmetric: g2_p(τ) = N·Σ_t I(t)I(t+τ) / (Σ_t I(t) · Σ_t I(t+τ)) over the N valid pairs, averaged over the ring pixels'
          : 'ring symmetric: g2(τ) = N·Σ_p Σ_t I(t)I(t+τ) / (Σ_p Σ_t I(t) · Σ_p Σ_t I(t+τ))',
      tau_frames: Array.from(tau),
      q_centres: Array.from(rings.centres),
      q_unit: rings.unit,
      update_every: params.update_every,
      nan: 'no pair at this lag yet (or no pixel with photons)',
      ordering: 'exact only when every frame passes through one step instance in order (one receiver or the in-order stage); per-receiver results do not combine',
    };
    const streams: StreamDecl[] = [
      { name: 'g2', kind: 'array', dtype: 'float64', shape: [rings.nRings, nTau], cadence: 'accumulated', combine: 'sum', info: g2Info },
      {
        name: 'g2_err',
        kind: 'array',
        dtype: 'float64',
        shape: [rings.nRings, nTau],
        cadence: 'accumulated',
        combine: 'sum',
        info: { axes: ['q', 'tau'], axes_units: [rings.unit, 'frames'], description: 'standard error of g2: std of the per-pixel g2 over the ring / √pixels' },
      },
      { name: 'tau', kind: 'array', dtype: 'float64', shape: [nTau], cadence: 'static', info: tauInfo },
      {
        name: 'q',
        kind: 'array',
        dtype: 'float64',
        shape: [rings.nRings],
        cadence: 'static',
        info: {
          unit: rings.unit,
          description: 'ring centres (q_min + q_max) / 2',
          edges: rings.edges,
          mean_q: Array.from(rings.meanQ),
          pixels: Array.from(rings.counts),
        },
      },
      {
        name: 'fill_factor',
        kind: 'event',
        cadence: 'frame',
        info: {
          columns: { frame_idx: 'frame index', fill_factor: 'fraction of the ring pixels with a non-zero value' },
          sparse_threshold: params.mode === 'auto' ? params.sparse_threshold : null,
        },
      },
    ];
    return {
      step,
      output: { ...input },
      streams,
      statics: { tau: tau.slice(), q: rings.centres.slice() },
    };
  },
};
