/**
 * The serial-crystallography steps of the `smx` pipeline (after LIMA2's smx
 * pipeline at ESRF ID29): `sparsify`, `peakfinder`, `accumulate_corrected`.
 * They read the background that the sigma-clipping step leaves in
 * `ctx.vars` (names in vars.ts) and the pixel normalisation and mask.
 *
 * Parameters carry pyFAI's names; defaults are the ones ESRF ID29 runs with
 * (noise 0.5, cutoff 4, patch 5, connected 7, min_nb_peaks 20) — pyFAI's own
 * defaults are noise 1, cutoff_pick 3, cutoff_peak 3, patch_size 3 (sparsify)
 * or 5 (peakfinder app), connected 2 or 3.
 *
 * A pipeline's parameters are flat (the union of its steps' schemas): keys the
 * steps share (`noise`) use the same schema object.
 */
import type { JsonSchema } from '../../detectors/plugin.js';
import type { TypedArray } from '../../protocol/index.js';
import type { FrameContext, ImageSpec, Step, StepBuild, StepEnvironment, StepFactory } from '../types.js';
import { BackgroundInterpolator, type NumArray } from './background.js';
import { Sparsifier, BinSparsifier, type PixelInputs } from './sparsify.js';
import { CandidateList, type BinBackground } from './ondemand.js';
import { PeakFinder, isHit, type PeakList } from './peaks.js';
import { SumImage } from './accumulate.js';
import {
  VAR_BACKGROUND_AVG,
  VAR_BACKGROUND_ON_DEMAND,
  VAR_CANDIDATES,
  VAR_BACKGROUND_PIXEL_AVG,
  VAR_BACKGROUND_PIXEL_STD,
  VAR_BACKGROUND_STD,
  VAR_IS_HIT,
  VAR_NORM,
  VAR_PEAKS,
  VAR_RADIAL,
  VAR_RADIUS_PIXEL,
  VAR_VALID,
} from './vars.js';

// ------------------------------------------------------------------ parameters

const NOISE: JsonSchema = {
  type: 'number',
  minimum: 0,
  default: 0.5,
  description:
    "pyFAI `noise`: minimum meaningful signal in normalised units (I/norm, ≈ photons); added quadratically to the background deviation, σ' = √(std² + noise²), and the floor of the sparsification threshold. pyFAI's default is 1; ESRF ID29 uses 0.5–0.6.",
};
const CUTOFF_PICK: JsonSchema = {
  type: 'number',
  minimum: 0,
  default: 4,
  description: "pyFAI `cutoff_pick` (sparsify): keep pixels with I/norm − bg > max(noise, cutoff_pick·σ'). pyFAI's default is 3; ESRF ID29 uses 4.",
};
const CUTOFF_PEAK: JsonSchema = {
  type: 'number',
  minimum: 0,
  default: 4,
  description: "pyFAI `cutoff_peak` (peak finding): a pixel is high when v = I/norm − bg > 0 and v ≥ cutoff_peak·σ'. pyFAI's default is 3; ESRF ID29 uses 4.",
};
const PATCH_SIZE: JsonSchema = {
  type: 'integer',
  minimum: 1,
  maximum: 31,
  default: 5,
  description: 'pyFAI `patch_size`: side of the square neighbourhood (odd) where a peak must be the maximum, whose high pixels are counted and over which it is integrated.',
};
const CONNECTED: JsonSchema = {
  type: 'integer',
  minimum: 1,
  default: 7,
  description: 'pyFAI `connected`: a peak needs at least this many high pixels in its patch (itself included).',
};
const MAX_NUM_PEAKS: JsonSchema = {
  type: 'integer',
  minimum: 1,
  maximum: 100000,
  default: 2048,
  description: 'Most peaks reported per frame (the most intense); nb_peaks and the hit decision count all peaks found.',
};
const MIN_NB_PEAKS: JsonSchema = {
  type: 'integer',
  minimum: 0,
  default: 20,
  description: 'A frame is a hit when nb_peaks ≥ min_nb_peaks (ESRF ID29: 20).',
};
const VETO: JsonSchema = {
  type: 'boolean',
  default: false,
  description: 'Veto non-hits (and incomplete frames): their dense frame is kept out of the `frame` stream; their reduced results are kept.',
};
const PEAKS_AT_BORDER: JsonSchema = {
  type: 'boolean',
  default: false,
  description:
    'Also find peaks closer than patch_size//2 to the image border, with their patch cut by the border. pyFAI (false) never reports them.',
};

function withDefaults(schema: JsonSchema, params: Record<string, unknown>): Record<string, unknown> {
  const props = (schema.properties ?? {}) as Record<string, { default?: unknown }>;
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(props)) out[k] = params[k] !== undefined ? params[k] : s.default;
  return out;
}

function imageShape(input: ImageSpec): [number, number] {
  return [input.shape[0], input.shape[1]];
}

function checkImage(input: ImageSpec): { field: string; message: string }[] {
  if (input.shape.length !== 2 || !(input.shape[0] > 0 && input.shape[1] > 0)) {
    return [{ field: 'pipeline', message: `needs a 2D image (assembled, corrected); the image here has shape [${input.shape.join(', ')}]` }];
  }
  return [];
}

function checkPeakParams(p: Record<string, unknown>): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  const patch = p.patch_size as number;
  if (Number.isInteger(patch) && patch % 2 === 0) errors.push({ field: 'patch_size', message: `must be odd (the patch is centred on the pixel), got ${patch}` });
  const connected = p.connected as number;
  if (Number.isInteger(patch) && Number.isInteger(connected) && connected > patch * patch) {
    errors.push({ field: 'connected', message: `must be at most patch_size² = ${patch * patch}, got ${connected}` });
  }
  return errors;
}

// ------------------------------------------------------------------ inputs from ctx.vars

/**
 * A short decimal that reads back as the same float32 (0.7f gives 0.7, not
 * 0.699999988079071): compact JSON, no information lost. Rounds to 6, 7, 8
 * then 9 significant digits (9 always suffice) with arithmetic, no strings.
 */
export function f32(x: number): number {
  if (Number.isInteger(x) || !Number.isFinite(x)) return x;
  const e = Math.floor(Math.log10(Math.abs(x)));
  for (let p = 6; p <= 9; p++) {
    const k = p - 1 - e; // decimals kept
    let y: number;
    if (k >= 0 && k <= 22) {
      const s = POW10[k];
      y = Math.round(x * s) / s;
    } else if (k < 0 && k >= -22) {
      const s = POW10[-k];
      y = Math.round(x / s) * s;
    } else return x;
    if (Math.fround(y) === x) return y;
  }
  return x;
}
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

function f32Array(a: NumArray, integer: boolean): number[] {
  const out = new Array<number>(a.length);
  if (integer) for (let i = 0; i < a.length; i++) out[i] = a[i];
  else for (let i = 0; i < a.length; i++) out[i] = f32(a[i]);
  return out;
}

const isIntegerArray = (a: TypedArray): boolean => !(a instanceof Float32Array || a instanceof Float64Array);

function arrayVar(ctx: FrameContext, name: string, size: number | null, step: string): NumArray | undefined {
  const a = ctx.vars.get(name);
  if (a === undefined || a === null) return undefined;
  if (!ArrayBuffer.isView(a) && !Array.isArray(a)) throw new TypeError(`${step}: ctx.vars ${JSON.stringify(name)} must be an array, got ${typeof a}`);
  const arr = a as unknown as NumArray;
  if (size !== null && arr.length !== size) {
    throw new RangeError(`${step}: ctx.vars ${JSON.stringify(name)} has ${arr.length} elements; the image has ${size} pixels`);
  }
  return arr;
}

/**
 * Gathers one frame's PixelInputs from ctx.vars. Scratch (mask fallback,
 * interpolated background) is allocated on first use and reused.
 */
class FrameInputs {
  private validScratch: Uint8Array | null = null;
  private bgAvgScratch: Float32Array | null = null;
  private bgStdScratch: Float32Array | null = null;
  private readonly interpolator = new BackgroundInterpolator();

  constructor(
    private readonly step: string,
    readonly size: number,
    private readonly dummy: number | null,
  ) {}

  /** The valid-pixel mask: ctx.vars.valid, else finite and not the dummy (then left in ctx.vars for the next steps). */
  valid(ctx: FrameContext): Uint8Array {
    const v = ctx.vars.get(VAR_VALID);
    if (v !== undefined && v !== null) {
      if (!(v instanceof Uint8Array) || v.length !== this.size) {
        throw new TypeError(`${this.step}: ctx.vars ${JSON.stringify(VAR_VALID)} must be a Uint8Array of ${this.size} elements`);
      }
      return v;
    }
    const out = (this.validScratch ??= new Uint8Array(this.size));
    const img = ctx.image;
    const dummy = this.dummy;
    for (let k = 0; k < out.length; k++) {
      const x = img[k];
      out[k] = x - x === 0 && x !== dummy ? 1 : 0;
    }
    ctx.vars.set(VAR_VALID, out); // later steps of this frame reuse it
    return out;
  }

  /**
   * The per-bin background when the producer allows evaluating it on demand
   * (ctx.vars background_on_demand) and no per-pixel arrays are given; else null.
   */
  onDemand(ctx: FrameContext): { bg: BinBackground; norm: NumArray | null; valid: Uint8Array; cands: CandidateList } | null {
    if (ctx.vars.get(VAR_BACKGROUND_ON_DEMAND) !== true) return null;
    const size = this.size;
    if (ctx.image.length !== size) throw new RangeError(`${this.step}: the image has ${ctx.image.length} pixels, expected ${size}`);
    if (arrayVar(ctx, VAR_BACKGROUND_PIXEL_AVG, size, this.step) !== undefined) return null;
    const binAvg = arrayVar(ctx, VAR_BACKGROUND_AVG, null, this.step);
    const binStd = arrayVar(ctx, VAR_BACKGROUND_STD, null, this.step);
    const radial = arrayVar(ctx, VAR_RADIAL, null, this.step);
    const radius = arrayVar(ctx, VAR_RADIUS_PIXEL, size, this.step);
    if (!binAvg || !binStd || !radial || !radius) return null;
    const table = this.interpolator.table(radius, radial, binAvg, binStd);
    if (!table) return null;
    const norm = arrayVar(ctx, VAR_NORM, size, this.step) ?? null;
    let cands = ctx.vars.get(VAR_CANDIDATES) as CandidateList | undefined;
    if (!(cands instanceof CandidateList)) {
      cands = this.cands;
      cands.image = null; // a new frame
      ctx.vars.set(VAR_CANDIDATES, cands);
    }
    return { bg: { bin: table.bin, weight: table.weight, avg: binAvg, std: binStd }, norm, valid: this.valid(ctx), cands };
  }
  private readonly cands = new CandidateList();

  pixels(ctx: FrameContext): PixelInputs {
    const size = this.size;
    if (ctx.image.length !== size) throw new RangeError(`${this.step}: the image has ${ctx.image.length} pixels, expected ${size}`);
    const norm = arrayVar(ctx, VAR_NORM, size, this.step) ?? null;
    let bgAvg = arrayVar(ctx, VAR_BACKGROUND_PIXEL_AVG, size, this.step);
    let bgStd = arrayVar(ctx, VAR_BACKGROUND_PIXEL_STD, size, this.step);
    if (bgAvg === undefined || bgStd === undefined) {
      const binAvg = arrayVar(ctx, VAR_BACKGROUND_AVG, null, this.step);
      const binStd = arrayVar(ctx, VAR_BACKGROUND_STD, null, this.step);
      const radial = arrayVar(ctx, VAR_RADIAL, null, this.step);
      const radius = arrayVar(ctx, VAR_RADIUS_PIXEL, size, this.step);
      if (!binAvg || !binStd || !radial || !radius) {
        throw new Error(
          `${this.step}: no background in ctx.vars: needs ${VAR_BACKGROUND_PIXEL_AVG} and ${VAR_BACKGROUND_PIXEL_STD} ` +
            `(or ${VAR_BACKGROUND_AVG}, ${VAR_BACKGROUND_STD}, ${VAR_RADIAL} and ${VAR_RADIUS_PIXEL}); a sigma-clipping step must run before`,
        );
      }
      const avg = (this.bgAvgScratch ??= new Float32Array(size));
      const std = (this.bgStdScratch ??= new Float32Array(size));
      this.interpolator.interpolate(radius, radial, binAvg, binStd, avg, std);
      // later steps of this frame reuse them
      ctx.vars.set(VAR_BACKGROUND_PIXEL_AVG, avg);
      ctx.vars.set(VAR_BACKGROUND_PIXEL_STD, std);
      bgAvg = avg;
      bgStd = std;
    }
    return { image: ctx.image, norm, valid: this.valid(ctx), bgAvg, bgStd };
  }
}

// ------------------------------------------------------------------ sparsify

const SPARSIFY_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  properties: { noise: NOISE, cutoff_pick: CUTOFF_PICK },
};

export const sparsifyStep: StepFactory = {
  name: 'sparsify',
  description:
    "pyFAI sparsification: keep the pixels with I/norm − bg > max(noise, cutoff_pick·√(bg_std² + noise²)) (flat index and value as in the frame), with the frame's background per radial bin, so that the frame can be rebuilt (densify). Event stream `sparse_frame`, one event per frame.",
  schema: SPARSIFY_SCHEMA,
  check: (_params, input) => checkImage(input),
  create(params: Record<string, unknown>, input: ImageSpec): StepBuild {
    const p = withDefaults(SPARSIFY_SCHEMA, params);
    const [rows, cols] = imageShape(input);
    const size = rows * cols;
    const integer = input.dtype !== 'float32' && input.dtype !== 'float64';
    const inputs = new FrameInputs('sparsify', size, input.dummy ?? null);
    let sparsifier: Sparsifier | null = null;
    let binSparsifier: BinSparsifier | null = null;
    const sp = { noise: p.noise as number, cutoff_pick: p.cutoff_pick as number };
    const step: Step = {
      process(ctx: FrameContext): void {
        const binAvg = ctx.vars.get(VAR_BACKGROUND_AVG) as NumArray | undefined;
        const binStd = ctx.vars.get(VAR_BACKGROUND_STD) as NumArray | undefined;
        const bins = {
          background_avg: binAvg ? f32Array(binAvg, false) : [],
          background_std: binStd ? f32Array(binStd, false) : [],
        };
        if (!ctx.valid) {
          ctx.emit('sparse_frame', { frame_idx: ctx.index, index: [], intensity: [], ...bins, invalid: true });
          return;
        }
        const od = inputs.onDemand(ctx);
        const frame = od
          ? (binSparsifier ??= new BinSparsifier(size)).run(ctx.image, od.norm, od.valid, od.bg, sp, od.cands)
          : (sparsifier ??= new Sparsifier(size)).run(inputs.pixels(ctx), sp);
        ctx.emit('sparse_frame', {
          frame_idx: ctx.index,
          index: Array.from(frame.index),
          intensity: f32Array(frame.intensity, integer && isIntegerArray(ctx.image)),
          ...bins,
        });
      },
    };
    return {
      step,
      output: input,
      streams: [
        {
          name: 'sparse_frame',
          kind: 'event',
          cadence: 'frame',
          info: {
            description:
              'One event per frame: pixels above the background (pyFAI sparsify) and the background per radial bin. ' +
              'Dense frame = background_avg interpolated at each pixel radius (× norm for raw units), then intensity at index; masked pixels NaN/dummy.',
            fields: {
              frame_idx: 'frame index in the acquisition',
              index: 'flat pixel indices (row·cols + col), increasing',
              intensity: 'value of those pixels in the frame given to the step (raw units, not divided by norm, like pyFAI)',
              background_avg: 'sigma-clipped background per radial bin, normalised units (I/norm)',
              background_std: 'its standard deviation per radial bin (normalised units)',
              invalid: 'present (true) on incomplete frames: nothing was picked',
            },
            shape: [rows, cols],
            parameters: sp,
            pyfai_layout: 'concatenating events gives pyFAI sparse HDF5 datasets index, intensity, frame_ptr (cumulated lengths), background_avg, background_std',
          },
        },
      ],
    };
  },
};

// ------------------------------------------------------------------ peakfinder

const PEAKFINDER_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  properties: {
    noise: NOISE,
    cutoff_peak: CUTOFF_PEAK,
    patch_size: PATCH_SIZE,
    connected: CONNECTED,
    max_num_peaks: MAX_NUM_PEAKS,
    min_nb_peaks: MIN_NB_PEAKS,
    veto: VETO,
    peaks_at_border: PEAKS_AT_BORDER,
  },
};

export const peakfinderStep: StepFactory = {
  name: 'peakfinder',
  description:
    "pyFAI peakfinder (peakfinder8-like): local maxima of v = I/norm − bg with at least `connected` pixels above cutoff_peak·σ' in their patch; " +
    'per peak the centroid, integrated intensity, sigma and SNR (event stream `peaks`), per frame the count and hit decision (`peak_counter`), ' +
    'an accumulated image of the peaks (`acc_peaks`), and optionally a veto on non-hits.',
  schema: PEAKFINDER_SCHEMA,
  check: (params, input) => [...checkImage(input), ...checkPeakParams(withDefaults(PEAKFINDER_SCHEMA, params))],
  create(params: Record<string, unknown>, input: ImageSpec): StepBuild {
    const p = withDefaults(PEAKFINDER_SCHEMA, params);
    const [rows, cols] = imageShape(input);
    const size = rows * cols;
    const inputs = new FrameInputs('peakfinder', size, input.dummy ?? null);
    const pp = {
      noise: p.noise as number,
      cutoff_peak: p.cutoff_peak as number,
      patch_size: p.patch_size as number,
      connected: p.connected as number,
      max_num_peaks: p.max_num_peaks as number,
      peaks_at_border: p.peaks_at_border as boolean,
    };
    const minNbPeaks = p.min_nb_peaks as number;
    const veto = p.veto as boolean;
    let finder: PeakFinder | null = null;
    let acc: SumImage | null = null;
    const step: Step = {
      process(ctx: FrameContext): void {
        if (!ctx.valid) {
          ctx.vars.set(VAR_IS_HIT, false);
          ctx.emit('peak_counter', { frame_idx: ctx.index, receiver: ctx.receiver, nb_peaks: 0, is_hit: false, invalid: true });
          if (veto) ctx.veto = true;
          return;
        }
        const od = inputs.onDemand(ctx);
        finder ??= new PeakFinder(rows, cols);
        const peaks: PeakList = od ? finder.findOnDemand(ctx.image, od.norm, od.valid, od.bg, pp, od.cands) : finder.find(inputs.pixels(ctx), pp);
        const hit = isHit(peaks.total, minNbPeaks);
        for (let i = 0; i < peaks.n; i++) {
          ctx.emit('peaks', {
            frame_idx: ctx.index,
            x: f32(peaks.x[i]),
            y: f32(peaks.y[i]),
            intensity: f32(peaks.intensity[i]),
            sigma: f32(peaks.sigma[i]),
            snr: f32(peaks.snr[i]),
          });
        }
        ctx.emit('peak_counter', {
          frame_idx: ctx.index,
          receiver: ctx.receiver,
          nb_peaks: peaks.total,
          is_hit: hit,
          ...(peaks.total > peaks.n ? { nb_peaks_reported: peaks.n } : {}),
        });
        (acc ??= new SumImage(size)).addPeaks(peaks, cols);
        ctx.vars.set(VAR_PEAKS, peaks);
        ctx.vars.set(VAR_IS_HIT, hit);
        if (veto && !hit) ctx.veto = true;
      },
      partial(): Record<string, TypedArray> {
        return { acc_peaks: acc ? acc.partial() : new Float32Array(size) };
      },
    };
    return {
      step,
      output: input,
      streams: [
        {
          name: 'peaks',
          kind: 'event',
          cadence: 'frame',
          info: {
            description: 'One event per peak, the most intense first (at most max_num_peaks per frame).',
            fields: {
              frame_idx: 'frame index in the acquisition',
              x: 'centroid column, pixel centres at integer coordinates (CXI peakXPosRaw; CrystFEL adds 0.5)',
              y: 'centroid row, pixel centres at integer coordinates (CXI peakYPosRaw)',
              intensity: 'Σ (I/norm − bg) over the patch pixels above the background (normalised units, ≈ photons; CXI peakTotalIntensity)',
              sigma: "√Σ σ'² over the same pixels, σ' = √(bg_std² + noise²)",
              snr: 'intensity / sigma (CXI peakSNR)',
            },
            parameters: { ...pp, min_nb_peaks: minNbPeaks },
          },
        },
        {
          name: 'peak_counter',
          kind: 'event',
          cadence: 'frame',
          info: {
            description: 'One event per frame: number of peaks found and the hit decision (nb_peaks ≥ min_nb_peaks).',
            fields: {
              frame_idx: 'frame index',
              receiver: 'receiver rank that processed it',
              nb_peaks: 'peaks found (all of them, before the max_num_peaks cap)',
              is_hit: 'nb_peaks ≥ min_nb_peaks',
              nb_peaks_reported: 'present when capped: peaks in the `peaks` stream',
              invalid: 'present (true) on incomplete frames: no peak search',
            },
            min_nb_peaks: minNbPeaks,
          },
        },
        {
          name: 'acc_peaks',
          kind: 'array',
          dtype: 'float32',
          shape: [rows, cols],
          cadence: 'accumulated',
          combine: 'sum',
          info: { description: 'Sum over frames of the peak intensities, each added at the pixel nearest its centroid.', units: 'normalised intensity' },
        },
      ],
    };
  },
};

// ------------------------------------------------------------------ accumulate_corrected

const ACCUMULATE_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  properties: {},
};

export const accumulateCorrectedStep: StepFactory = {
  name: 'accumulate_corrected',
  description: 'Sum of the corrected frames (valid frames, usable pixels), accumulated per receiver and combined by sum: `acc_corrected`.',
  schema: ACCUMULATE_SCHEMA,
  check: (_params, input) => checkImage(input),
  create(_params: Record<string, unknown>, input: ImageSpec, _env?: StepEnvironment): StepBuild {
    const [rows, cols] = imageShape(input);
    const size = rows * cols;
    const inputs = new FrameInputs('accumulate_corrected', size, input.dummy ?? null);
    let acc: SumImage | null = null;
    const step: Step = {
      process(ctx: FrameContext): void {
        if (!ctx.valid) return;
        if (ctx.image.length !== size) throw new RangeError(`accumulate_corrected: the image has ${ctx.image.length} pixels, expected ${size}`);
        (acc ??= new SumImage(size)).addImage(ctx.image, inputs.valid(ctx));
      },
      partial(): Record<string, TypedArray> {
        return { acc_corrected: acc ? acc.partial() : new Float32Array(size) };
      },
    };
    return {
      step,
      output: input,
      streams: [
        {
          name: 'acc_corrected',
          kind: 'array',
          dtype: 'float32',
          shape: [rows, cols],
          cadence: 'accumulated',
          combine: 'sum',
          info: { description: 'Sum of the corrected frames over the valid frames (masked pixels add 0).', units: 'as the corrected frame' },
        },
      ],
    };
  },
};

/** The smx step factories, for the step registry. */
export function smxSteps(): StepFactory[] {
  return [sparsifyStep, peakfinderStep, accumulateCorrectedStep];
}
