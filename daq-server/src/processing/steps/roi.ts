/**
 * `roi`: statistics and profiles of named rectangular regions of a 2D image.
 *
 * `rois`: [{name, roi: [row, col, height, width]}, ...] in image pixels
 * (after any earlier binning/rotation), each inside the image.
 *
 * Streams (one item per frame, in frame order):
 *  - `roi_stats`: float64 [n_roi, 5], columns sum, mean, std, min, max over
 *    the valid pixels of each ROI (not NaN, not the dummy, 0 in
 *    `ctx.vars.mask`); std is the population standard deviation (ddof 0).
 *    A ROI without a valid pixel has sum 0 and NaN for the others. Invalid
 *    frames (lost packets) give a row of NaN for every ROI, so item k is
 *    always frame k.
 *  - `roi_profiles` (with `roi_profiles`: true): one event per valid frame,
 *    {frame_idx, profiles: {name: {rows: number[height], cols: number[width]}}}:
 *    rows[i] = Σ_j of ROI row i (the vertical profile), cols[j] = Σ_i of ROI
 *    column j (the horizontal profile), over valid pixels (invalid pixels
 *    add 0). Invalid frames give no event.
 *
 * A ROI may be an arc instead (`arc: [row, col, r1, r2, a1, a2]`, LIMA's arc ROI: centre, radii in
 * pixels, angles in degrees): the pixels whose distance d from the centre has r1 ≤ d ≤ r2 and whose angle
 * atan2(row − row_c, col − col_c) lies in the sector from min(a1, a2) to max(a1, a2) (all of it when they
 * span ≥ 360°). Its statistics are in `roi_stats` like a rectangle's; it has no profile.
 *
 * `line_profiles` (LIMA2's ROI profiles): [{name, roi: [row, col, height, width], direction}] give
 * `roi_line_stats`, float64 [Σ lengths, 5] per frame: for each profile in order, one row of sum, mean,
 * std, min, max per line of its ROI — per ROI row for `vertical` (height lines), per ROI column for
 * `horizontal` (width lines); NaN rows for invalid frames. Offsets and lengths are in the stream's info.
 *
 * Without ROIs the step does nothing and declares no stream.
 */
import type { ImageSpec, StepBuild, StepFactory } from '../types.js';
import { currentMask, need2D, paramsSchema, withDefaults, type FieldProblem } from './common.js';

export interface RoiDef {
  name: string;
  /** a rectangle: [row, col, height, width] */
  roi?: [number, number, number, number];
  /** an arc: [row, col, r1, r2, a1, a2] (centre and radii in pixels, angles in degrees) */
  arc?: [number, number, number, number, number, number];
}

export interface LineProfileDef {
  name: string;
  roi: [number, number, number, number];
  direction: 'vertical' | 'horizontal';
}

export type RoiParams = { rois: RoiDef[]; roi_profiles: boolean; line_profiles: LineProfileDef[] };

export const ROI_COLUMNS = ['sum', 'mean', 'std', 'min', 'max'] as const;

const schema = paramsSchema('roi', {
  rois: {
    type: 'array',
    default: [],
    description: 'Named regions: [{"name": "beam", "roi": [row, col, height, width]}, ...].',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 64, description: 'ROI name (unique).' },
        arc: {
          type: 'array',
          items: { type: 'number' },
          minItems: 6,
          maxItems: 6,
          description: 'Instead of roi, an arc: [row, col, r1, r2, a1, a2]: centre, inner and outer radius (pixels), start and end angle (degrees, atan2(row − row_c, col − col_c)).',
        },
        roi: {
          type: 'array',
          items: { type: 'integer' },
          minItems: 4,
          maxItems: 4,
          description: '[row, col, height, width] of the top-left pixel and the size, in image pixels.',
        },
      },
    },
  },
  roi_profiles: { type: 'boolean', default: true, description: 'Also publish the row and column sum profiles of each ROI (`roi_profiles` events).' },
  line_profiles: {
    type: 'array',
    default: [],
    maxItems: 64,
    description: "LIMA2's ROI profiles: per line of the ROI (rows: vertical, columns: horizontal) sum, mean, std, min, max (`roi_line_stats`).",
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'roi', 'direction'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 64 },
        roi: { type: 'array', items: { type: 'integer' }, minItems: 4, maxItems: 4, description: '[row, col, height, width].' },
        direction: { enum: ['vertical', 'horizontal'], description: 'vertical: one value per ROI row; horizontal: one per ROI column.' },
      },
    },
  },
});

/** Rectangles of line profiles inside the image. */
function checkLines(p: RoiParams, input: ImageSpec): FieldProblem[] {
  const lines = p.line_profiles ?? [];
  if (!Array.isArray(lines) || lines.length === 0) return [];
  const d = need2D(input, 'roi');
  if (d.length) return d;
  const [rows, cols] = input.shape;
  const out: FieldProblem[] = [];
  lines.forEach((l, k) => {
    const [r0, c0, h, w] = l.roi;
    if (h < 1 || w < 1 || r0 < 0 || c0 < 0 || r0 + h > rows || c0 + w > cols) {
      out.push({ field: `line_profiles[${k}].roi`, message: `rows ${r0}..${r0 + h - 1}, cols ${c0}..${c0 + w - 1} is not a non-empty region of the ${rows} × ${cols} image` });
    }
  });
  return out;
}

function checkRois(p: RoiParams, input: ImageSpec): FieldProblem[] {
  if (!Array.isArray(p.rois)) return [{ field: 'rois', message: 'must be an array' }];
  if (p.rois.length === 0) return [];
  const d = need2D(input, 'roi');
  if (d.length) return d;
  const [rows, cols] = input.shape;
  const errors: FieldProblem[] = [];
  const seen = new Map<string, number>();
  p.rois.forEach((r, k) => {
    const f = `rois[${k}]`;
    if (r && typeof r.name === 'string' && r.arc !== undefined) {
      const a = r.arc;
      if (r.roi !== undefined) errors.push({ field: f, message: `ROI ${JSON.stringify(r.name)}: give roi or arc, not both` });
      else if (!Array.isArray(a) || a.length !== 6 || !a.every(Number.isFinite)) errors.push({ field: `${f}.arc`, message: 'must be [row, col, r1, r2, a1, a2] (numbers)' });
      else if (a[2] < 0 || a[3] < a[2]) errors.push({ field: `${f}.arc`, message: `radii must have 0 ≤ r1 ≤ r2, got r1 ${a[2]}, r2 ${a[3]}` });
      const prev = seen.get(r.name);
      if (prev !== undefined) errors.push({ field: `${f}.name`, message: `${JSON.stringify(r.name)} is already the name of rois[${prev}]` });
      else seen.set(r.name, k);
      return;
    }
    if (!r || typeof r.name !== 'string' || !Array.isArray(r.roi) || r.roi.length !== 4 || !r.roi.every(Number.isInteger)) {
      errors.push({ field: f, message: 'must be {"name": string, "roi": [row, col, height, width]} with integers, or {"name": string, "arc": [row, col, r1, r2, a1, a2]}' });
      return;
    }
    const [r0, c0, h, w] = r.roi;
    if (h < 1 || w < 1) errors.push({ field: f, message: `ROI ${JSON.stringify(r.name)} must have height and width ≥ 1, got ${h} × ${w}` });
    else if (r0 < 0 || c0 < 0 || r0 + h > rows || c0 + w > cols) {
      errors.push({
        field: f,
        message: `ROI ${JSON.stringify(r.name)} rows ${r0}..${r0 + h - 1}, cols ${c0}..${c0 + w - 1} is outside the ${rows} × ${cols} image`,
      });
    }
    const prev = seen.get(r.name);
    if (prev !== undefined) errors.push({ field: `${f}.name`, message: `${JSON.stringify(r.name)} is already the name of rois[${prev}]` });
    else seen.set(r.name, k);
  });
  return errors;
}

export const roiStep: StepFactory<RoiParams> = {
  name: 'roi',
  description: 'Per-frame statistics (sum, mean, std, min, max) and row/column profiles of named rectangular ROIs.',
  schema,
  check(raw, input) {
    const p = withDefaults<RoiParams>(schema, raw);
    return [...checkRois(p, input), ...checkLines(p, input)];
  },
  create(raw, input): StepBuild {
    const p = withDefaults<RoiParams>(schema, raw);
    const problems = [...checkRois(p, input), ...checkLines(p, input)];
    if (problems.length) throw new Error(problems.map((e) => `${e.field}: ${e.message}`).join('; '));
    const rois = p.rois;
    const lines = p.line_profiles ?? [];
    if (rois.length === 0 && lines.length === 0) return { step: { process() {} }, output: input, streams: [] };
    const [rows, cols] = input.shape;
    const n = rows * cols;
    const nr = rois.length;
    const dummy = input.dummy ?? null;
    const info = { columns: [...ROI_COLUMNS], rois: rois.map((r) => (r.arc ? { name: r.name, arc: [...r.arc] } : { name: r.name, roi: [...r.roi!] })) };
    // an arc's pixels, found once (within its bounding box, clipped to the image)
    const arcPixels = rois.map((r) => (r.arc ? arcIndexes(r.arc, rows, cols) : null));
    const spans: { offset: number; length: number }[] = [];
    let total = 0;
    for (const l of lines) {
      const length = l.direction === 'vertical' ? l.roi[2] : l.roi[3];
      spans.push({ offset: total, length });
      total += length;
    }
    // each line of each profile as its flat pixel indexes, found once
    const lineIndexes: Int32Array[] = [];
    for (const l of lines) {
      const [r0, c0, h, w] = l.roi;
      if (l.direction === 'vertical') for (let i = 0; i < h; i++) lineIndexes.push(Int32Array.from({ length: w }, (_, j) => (r0 + i) * cols + c0 + j));
      else for (let j = 0; j < w; j++) lineIndexes.push(Int32Array.from({ length: h }, (_, i) => (r0 + i) * cols + c0 + j));
    }
    const streams: StepBuild['streams'] = [];
    if (lines.length) {
      streams.push({
        name: 'roi_line_stats',
        kind: 'array',
        dtype: 'float64',
        shape: [total, 5],
        cadence: 'frame',
        info: {
          columns: [...ROI_COLUMNS],
          profiles: lines.map((l, k) => ({ name: l.name, roi: [...l.roi], direction: l.direction, ...spans[k] })),
          description: "per line of each profile's ROI (rows: vertical, columns: horizontal): sum, mean, std, min, max over valid pixels",
        },
      });
    }
    if (rois.length) streams.push(
      {
        name: 'roi_stats',
        kind: 'array',
        dtype: 'float64',
        shape: [nr, 5],
        cadence: 'frame',
        info: { ...info, description: 'per ROI: sum, mean, std (ddof 0), min, max over valid pixels; NaN rows for invalid frames' },
      },
    );
    if (p.roi_profiles && rois.length) {
      streams.push({
        name: 'roi_profiles',
        kind: 'event',
        cadence: 'frame',
        info: {
          rois: info.rois,
          description: '{frame_idx, profiles: {name: {rows, cols}}}: rows[i] = sum over ROI row i, cols[j] = sum over ROI column j (valid pixels)',
        },
      });
    }
    return {
      step: {
        process(ctx) {
          const stats = new Float64Array(nr * 5);
          const lineStats = lines.length ? new Float64Array(total * 5) : null;
          if (!ctx.valid) {
            stats.fill(NaN);
            if (nr) ctx.emit('roi_stats', stats);
            if (lineStats) ctx.emit('roi_line_stats', lineStats.fill(NaN));
            return;
          }
          const img = ctx.image;
          const m = currentMask(ctx, n);
          if (lineStats) {
            for (let k = 0; k < lineIndexes.length; k++) lineStats.set(pixelStats(img, lineIndexes[k], m, dummy), k * 5);
            ctx.emit('roi_line_stats', lineStats);
          }
          if (!nr) return;
          const profiles: Record<string, { rows: number[]; cols: number[] }> = {};
          for (let q = 0; q < nr; q++) {
            const arc = arcPixels[q];
            if (arc) {
              stats.set(pixelStats(img, arc, m, dummy), q * 5);
              continue;
            }
            const [r0, c0, h, w] = rois[q].roi!;
            const prow = p.roi_profiles ? new Array<number>(h).fill(0) : null;
            const pcol = p.roi_profiles ? new Array<number>(w).fill(0) : null;
            let count = 0, sum = 0, shift = NaN, s1 = 0, s2 = 0, min = Infinity, max = -Infinity;
            for (let i = 0; i < h; i++) {
              const base = (r0 + i) * cols + c0;
              let rs = 0;
              for (let j = 0; j < w; j++) {
                const k = base + j;
                const v = img[k];
                if (v !== v || v === dummy || (m !== null && m[k] !== 0)) continue;
                if (count === 0) shift = v;
                count++;
                sum += v;
                const d = v - shift; // shifted sums: no cancellation for large offsets
                s1 += d;
                s2 += d * d;
                if (v < min) min = v;
                if (v > max) max = v;
                rs += v;
                if (pcol) pcol[j] += v;
              }
              if (prow) prow[i] = rs;
            }
            const o = q * 5;
            if (count === 0) {
              stats[o] = 0;
              stats[o + 1] = stats[o + 2] = stats[o + 3] = stats[o + 4] = NaN;
            } else {
              const md = s1 / count;
              stats[o] = sum;
              stats[o + 1] = sum / count;
              stats[o + 2] = Math.sqrt(Math.max(0, s2 / count - md * md));
              stats[o + 3] = min;
              stats[o + 4] = max;
            }
            if (prow && pcol) profiles[rois[q].name] = { rows: prow, cols: pcol };
          }
          ctx.emit('roi_stats', stats);
          if (p.roi_profiles) ctx.emit('roi_profiles', { frame_idx: ctx.index, profiles });
        },
      },
      output: input,
      streams,
    };
  },
};

/** The flat indexes of the pixels of an arc ROI [row_c, col_c, r1, r2, a1, a2] inside a rows × cols image. */
export function arcIndexes(arc: readonly number[], rows: number, cols: number): Int32Array {
  const [rc, cc, r1, r2, a1, a2] = arc;
  const lo = Math.min(a1, a2);
  const span = Math.abs(a2 - a1);
  const out: number[] = [];
  const i0 = Math.max(0, Math.floor(rc - r2));
  const i1 = Math.min(rows - 1, Math.ceil(rc + r2));
  const j0 = Math.max(0, Math.floor(cc - r2));
  const j1 = Math.min(cols - 1, Math.ceil(cc + r2));
  for (let i = i0; i <= i1; i++) {
    for (let j = j0; j <= j1; j++) {
      const d = Math.hypot(i - rc, j - cc);
      if (d < r1 || d > r2) continue;
      if (span < 360) {
        const theta = (Math.atan2(i - rc, j - cc) * 180) / Math.PI;
        if ((((theta - lo) % 360) + 360) % 360 > span) continue;
      }
      out.push(i * cols + j);
    }
  }
  return Int32Array.from(out);
}

/** sum, mean, std (ddof 0), min, max of the valid pixels among `indexes` (sum 0 and NaN without one). */
function pixelStats(img: ArrayLike<number>, indexes: Int32Array, m: Uint8Array | null, dummy: number | null): number[] {
  let count = 0, sum = 0, shift = NaN, s1 = 0, s2 = 0, min = Infinity, max = -Infinity;
  for (const k of indexes) {
    const v = img[k];
    if (v !== v || v === dummy || (m !== null && m[k] !== 0)) continue;
    if (count === 0) shift = v;
    count++;
    sum += v;
    const d = v - shift;
    s1 += d;
    s2 += d * d;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (count === 0) return [0, NaN, NaN, NaN, NaN];
  const md = s1 / count;
  return [sum, sum / count, Math.sqrt(Math.max(0, s2 / count - md * md)), min, max];
}
