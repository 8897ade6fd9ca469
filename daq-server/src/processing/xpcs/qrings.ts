/**
 * q-ring regions of interest for XPCS: every pixel of the image gets the
 * index of the ring [q_min, q_max) its centre falls in (−1: none), from the
 * pyFAI geometry of the image.
 *
 * Geometry, first found of:
 *   1. the `poni` parameter: {dist, poni1, poni2, rot1?, rot2?, rot3?, wavelength?, pixel1?, pixel2?}
 *      or the text of a pyFAI .poni file;
 *   2. `env.detector.geometry` as the simulators describe it
 *      ({shape, pixel1, pixel2, dist, poni1, poni2, rot1..3, wavelength});
 *   3. `env.detector.poni` (the text of a .poni file).
 * The pixel size is the image's own (`ImageSpec.pixelSize`, right for a
 * binned image), else the geometry's. The wavelength (q units only) comes from
 * the geometry, else `env.detector.wavelength`.
 *
 * Rings: `q_rings` (a list of [q_min, q_max] in `unit`), else `nb_rings`
 * equal rings over `q_range` (default: the q range of the valid pixels).
 * Valid pixels: finite radial value and not masked by `env.maps.mask`
 * (non-zero = masked, pyFAI convention; used when its size matches the image).
 */
import type { ImageSpec, StepEnvironment } from '../types.js';
import { PyFAIGeometry, RADIAL_UNITS, type RadialUnit } from '../../detectors/geometry/pyfai-geometry.js';
import { parsePoni, type PoniParameters } from '../../detectors/geometry/poni.js';
import { fileText } from '../../files/client-files.js';

export interface FieldError {
  field: string;
  message: string;
}

export interface QRingParams {
  q_rings?: number[][] | null;
  nb_rings?: number | null;
  q_range?: number[] | null;
  unit?: RadialUnit;
  poni?: string | PoniInput | null;
}

export interface PoniInput {
  dist: number;
  poni1: number;
  poni2: number;
  rot1?: number;
  rot2?: number;
  rot3?: number;
  wavelength?: number | null;
  pixel1?: number;
  pixel2?: number;
}

export interface QRings {
  /** ring of each image pixel, −1 = none */
  labels: Int16Array;
  nRings: number;
  /** [q_min, q_max] of each ring, in `unit` */
  edges: [number, number][];
  /** (q_min + q_max)/2 of each ring */
  centres: Float64Array;
  /** mean radial value of the pixels of each ring */
  meanQ: Float64Array;
  /** pixels in each ring */
  counts: Int32Array;
  unit: RadialUnit;
  /** radial range of the valid pixels of the image */
  range: [number, number];
  geometry: PyFAIGeometry;
}

/** Largest number of rings (labels are int16). */
export const MAX_RINGS = 32767;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The geometry of the image the step receives, or the errors saying why there is none. */
export function resolveImageGeometry(
  params: QRingParams,
  input: ImageSpec,
  env: StepEnvironment,
  needWavelength: boolean,
): { geometry: PyFAIGeometry } | { errors: FieldError[] } {
  const fail = (field: string, message: string) => ({ errors: [{ field, message }] });
  if (input.shape.length !== 2) return fail('input', `xpcs needs a 2D image (got shape [${input.shape.join(', ')}]): assemble the frame first`);
  const [rows, cols] = input.shape;
  const det = env.detector ?? {};
  let poni: PoniParameters | null = null;
  let pixel: [number, number] | null = input.pixelSize ? [input.pixelSize[0], input.pixelSize[1]] : null;
  let geoShape: number[] | null = null;
  let geoPixel: [number, number] | null = null;
  const p = params.poni;
  if (p !== undefined && p !== null) {
    if (typeof p === 'string') {
      try {
        // a one-line string is the path of a .poni file the server read at prepare; else the file's text
        const bytes = env.files?.[p];
        const f = bytes ? parsePoni(fileText(bytes), p) : parsePoni(p, 'poni');
        poni = { dist: f.dist, poni1: f.poni1, poni2: f.poni2, rot1: f.rot1, rot2: f.rot2, rot3: f.rot3, wavelength: f.wavelength };
        if (!pixel && f.pixel1 !== null && f.pixel2 !== null) pixel = [f.pixel1, f.pixel2];
      } catch (err) {
        return fail('poni', (err as Error).message);
      }
    } else {
      poni = { dist: p.dist, poni1: p.poni1, poni2: p.poni2, rot1: p.rot1 ?? 0, rot2: p.rot2 ?? 0, rot3: p.rot3 ?? 0, wavelength: p.wavelength ?? null };
      if (!pixel && p.pixel1 !== undefined && p.pixel2 !== undefined) pixel = [p.pixel1, p.pixel2];
    }
  } else if (isObj(det.geometry) && num(det.geometry.dist) !== null) {
    const g = det.geometry;
    poni = {
      dist: num(g.dist)!,
      poni1: num(g.poni1) ?? 0,
      poni2: num(g.poni2) ?? 0,
      rot1: num(g.rot1) ?? 0,
      rot2: num(g.rot2) ?? 0,
      rot3: num(g.rot3) ?? 0,
      wavelength: num(g.wavelength),
    };
    if (num(g.pixel1) !== null && num(g.pixel2) !== null) geoPixel = [num(g.pixel1)!, num(g.pixel2)!];
    if (Array.isArray(g.shape)) geoShape = g.shape as number[];
  } else if (typeof det.poni === 'string') {
    try {
      const f = parsePoni(det.poni, 'detector poni');
      poni = { dist: f.dist, poni1: f.poni1, poni2: f.poni2, rot1: f.rot1, rot2: f.rot2, rot3: f.rot3, wavelength: f.wavelength };
      if (f.pixel1 !== null && f.pixel2 !== null) geoPixel = [f.pixel1, f.pixel2];
      const ms = f.detectorConfig?.max_shape;
      if (Array.isArray(ms)) geoShape = ms as number[];
    } catch (err) {
      return fail('poni', `the detector's poni: ${(err as Error).message}`);
    }
  }
  if (!poni) return fail('poni', 'no geometry: the detector describes none; give poni {dist, poni1, poni2, ...} or the text of a .poni file');
  if (!(poni.dist > 0)) return fail('poni', `dist must be > 0 (got ${poni.dist})`);
  pixel ??= geoPixel;
  if (!pixel || !(pixel[0] > 0 && pixel[1] > 0)) return fail('poni', 'the pixel size of the image is unknown: give poni.pixel1 and poni.pixel2 (m)');
  // an image derived from the detector's (binned) must span the same area; a cropped one needs its own poni
  if (geoShape && geoPixel && geoShape.length === 2) {
    const tol = Math.max(pixel[0], pixel[1]) * 1.01;
    if (Math.abs(rows * pixel[0] - geoShape[0] * geoPixel[0]) > tol || Math.abs(cols * pixel[1] - geoShape[1] * geoPixel[1]) > tol) {
      return fail(
        'poni',
        `the image [${rows}, ${cols}] × ${pixel.map((x) => x * 1e6).join(' × ')} µm does not cover the detector's ` +
          `[${geoShape.join(', ')}] × ${geoPixel.map((x) => x * 1e6).join(' × ')} µm (cropped?): give the poni of this image`,
      );
    }
  }
  if (poni.wavelength === null && num(det.wavelength) !== null) poni = { ...poni, wavelength: num(det.wavelength) };
  if (needWavelength && !(poni.wavelength !== null && poni.wavelength > 0)) {
    return fail('poni', 'q units need the wavelength: give poni.wavelength (m)');
  }
  return { geometry: PyFAIGeometry.forDetector(poni, [rows, cols], pixel) };
}

/** Valid pixels of the image (1) from `env.maps.mask` (non-zero = masked), or null when all are. */
export function validPixels(input: ImageSpec, env: StepEnvironment): Uint8Array | null {
  const mask = env.maps?.mask;
  const n = input.shape.reduce((a, b) => a * b, 1);
  if (!mask || mask.data.length !== n) return null;
  const v = new Uint8Array(n);
  for (let k = 0; k < n; k++) v[k] = mask.data[k] === 0 ? 1 : 0;
  return v;
}

/** Equal-width rings: `n` rings over [lo, hi]. */
export function equalRings(n: number, lo: number, hi: number): [number, number][] {
  const w = (hi - lo) / n;
  return Array.from({ length: n }, (_, i) => [lo + i * w, i === n - 1 ? hi : lo + (i + 1) * w] as [number, number]);
}

/**
 * Label every pixel with its ring: the first ring with q_min ≤ q < q_max
 * (the last ring also takes q = q_max, so equal rings cover their range).
 * Rings must not overlap.
 */
export function labelRings(radial: Float64Array, edges: readonly (readonly [number, number])[], valid: Uint8Array | null): { labels: Int16Array; counts: Int32Array; sums: Float64Array } {
  const n = edges.length;
  const order = [...edges.keys()].sort((a, b) => edges[a][0] - edges[b][0]);
  const lo = Float64Array.from(order, (i) => edges[i][0]);
  const hi = Float64Array.from(order, (i) => edges[i][1]);
  const labels = new Int16Array(radial.length).fill(-1);
  const counts = new Int32Array(n);
  const sums = new Float64Array(n);
  const top = Math.max(...hi);
  for (let k = 0; k < radial.length; k++) {
    if (valid && !valid[k]) continue;
    const q = radial[k];
    if (!(q >= lo[0] && q <= top)) continue;
    // last ring with lo ≤ q
    let a = 0, b = n;
    while (a < b) {
      const mid = (a + b) >> 1;
      if (lo[mid] <= q) a = mid + 1;
      else b = mid;
    }
    const j = a - 1;
    if (j < 0) continue;
    if (q < hi[j] || (q === hi[j] && hi[j] === top)) {
      const r = order[j];
      labels[k] = r;
      counts[r]++;
      sums[r] += q;
    }
  }
  return { labels, counts, sums };
}

/** The rings asked for (before looking at pixels), or errors. */
function ringEdges(params: QRingParams, range: [number, number]): { edges: [number, number][] } | { errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (params.q_rings !== undefined && params.q_rings !== null) {
    const rings = params.q_rings;
    if (!Array.isArray(rings) || rings.length === 0) return { errors: [{ field: 'q_rings', message: 'must be a non-empty list of [q_min, q_max]' }] };
    if (rings.length > MAX_RINGS) return { errors: [{ field: 'q_rings', message: `at most ${MAX_RINGS} rings` }] };
    const edges: [number, number][] = [];
    rings.forEach((r, i) => {
      if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        errors.push({ field: `q_rings[${i}]`, message: 'must be [q_min, q_max] (two numbers)' });
      } else if (!(r[0] < r[1])) {
        errors.push({ field: `q_rings[${i}]`, message: `q_min ${r[0]} must be < q_max ${r[1]}` });
      }
      edges.push([Number(r?.[0]), Number(r?.[1])]);
    });
    if (errors.length) return { errors };
    const order = [...edges.keys()].sort((a, b) => edges[a][0] - edges[b][0]);
    for (let j = 1; j < order.length; j++) {
      const a = order[j - 1], b = order[j];
      if (edges[b][0] < edges[a][1]) errors.push({ field: `q_rings[${b}]`, message: `overlaps q_rings[${a}] [${edges[a][0]}, ${edges[a][1]}]` });
    }
    return errors.length ? { errors } : { edges };
  }
  const n = params.nb_rings;
  if (n === undefined || n === null) return { errors: [{ field: 'q_rings', message: 'give q_rings, or nb_rings (with q_range, default the whole q range)' }] };
  if (!Number.isInteger(n) || n < 1 || n > MAX_RINGS) return { errors: [{ field: 'nb_rings', message: `must be an integer in 1..${MAX_RINGS}` }] };
  let lo = range[0], hi = range[1];
  if (params.q_range !== undefined && params.q_range !== null) {
    const r = params.q_range;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => typeof x === 'number' && Number.isFinite(x)) || !(r[0] < r[1])) {
      return { errors: [{ field: 'q_range', message: 'must be [q_min, q_max] with q_min < q_max' }] };
    }
    [lo, hi] = r;
  }
  return { edges: equalRings(n, lo, hi) };
}

/** Build the ring labels of the image, or the errors (field names relative to the step parameters). */
export function buildQRings(params: QRingParams, input: ImageSpec, env: StepEnvironment): QRings | { errors: FieldError[] } {
  const unit: RadialUnit = params.unit ?? 'q_nm^-1';
  if (!(unit in RADIAL_UNITS)) return { errors: [{ field: 'unit', message: `must be one of ${Object.keys(RADIAL_UNITS).join(', ')}` }] };
  const g = resolveImageGeometry(params, input, env, RADIAL_UNITS[unit].base === 'q');
  if ('errors' in g) return g;
  const geometry = g.geometry;
  const radial = geometry.radial(unit);
  const valid = validPixels(input, env);
  let lo = Infinity, hi = -Infinity;
  for (let k = 0; k < radial.length; k++) {
    if (valid && !valid[k]) continue;
    const q = radial[k];
    if (q < lo) lo = q;
    if (q > hi) hi = q;
  }
  if (!(lo <= hi)) return { errors: [{ field: 'q_rings', message: 'the image has no valid pixel' }] };
  const e = ringEdges(params, [lo, hi]);
  if ('errors' in e) return e;
  const edges = e.edges;
  const { labels, counts, sums } = labelRings(radial, edges, valid);
  const errors: FieldError[] = [];
  const fmt = (x: number) => Number(x.toPrecision(6));
  const field = (i: number) => (params.q_rings ? `q_rings[${i}]` : params.q_range ? 'q_range' : 'nb_rings');
  edges.forEach(([a, b], i) => {
    if (counts[i] > 0) return;
    if (b <= lo || a >= hi) {
      errors.push({ field: field(i), message: `ring [${fmt(a)}, ${fmt(b)}] ${unit} is outside the detector's range [${fmt(lo)}, ${fmt(hi)}] ${unit}` });
    } else {
      errors.push({ field: field(i), message: `ring [${fmt(a)}, ${fmt(b)}] ${unit} contains no valid pixel` + (params.q_rings ? '' : ` (ring ${i}: use fewer rings)`) });
    }
  });
  if (errors.length) return { errors };
  const meanQ = Float64Array.from(sums, (s, i) => s / counts[i]);
  const centres = Float64Array.from(edges, ([a, b]) => (a + b) / 2);
  return { labels, nRings: edges.length, edges, centres, meanQ, counts, unit, range: [lo, hi], geometry };
}
