/**
 * Parameters of the integration steps (pyFAI's names), their schema, the
 * checks a schema cannot express, and how they become an integrator:
 *
 *  - `poni`: {dist, poni1, poni2, rot1, rot2, rot3, wavelength} (metres,
 *    radians) or the path of a .poni file; absent: the detector's geometry
 *    (`env.detector.geometry`, else the `env.detector.poni` text);
 *  - the pixel size: the image's (`ImageSpec.pixelSize`), else the .poni
 *    file's Detector_config, else the detector's;
 *  - `mask`, `dark`, `flat`: the maps of those names in `env.maps`, when
 *    present (same shape as the image);
 *  - `dummy`: default the image's dummy (`ImageSpec.dummy`).
 */
import { readFileSync } from 'node:fs';
import { fileText } from '../../files/client-files.js';
import { parsePoni, type PoniParameters } from '../../detectors/geometry/poni.js';
import { PyFAIGeometry } from '../../detectors/geometry/pyfai-geometry.js';
import type { JsonSchema } from '../../detectors/plugin.js';
import type { ImageSpec, StepEnvironment } from '../types.js';
import { RADIAL_UNITS, RADIAL_UNIT_NAMES, isRadialUnit, type RadialUnit } from './units.js';
import type { ErrorModel, IntegratorOptions, SplitMethod } from './integrator.js';

export interface FieldProblem {
  field: string;
  message: string;
}

export interface PoniObject {
  dist: number;
  poni1: number;
  poni2: number;
  rot1?: number;
  rot2?: number;
  rot3?: number;
  wavelength?: number | null;
}

/** Parameters both integration steps take. */
export interface IntegrationParams {
  poni?: string | PoniObject | null;
  npt: number;
  unit: RadialUnit;
  method: SplitMethod;
  radial_range: [number, number] | null;
  azimuth_range: [number, number] | null;
  correct_solid_angle: boolean;
  polarization_factor: number | null;
  error_model: ErrorModel;
  dummy: number | null;
  delta_dummy: number | null;
  normalization_factor: number;
}

const range = (description: string): JsonSchema => ({
  type: ['array', 'null'],
  items: { type: 'number' },
  minItems: 2,
  maxItems: 2,
  default: null,
  description,
});

/** Schema properties of the shared parameters, with the given defaults. */
export function integrationProperties(d: { npt: number; unit: RadialUnit; method: SplitMethod; error_model: ErrorModel }): Record<string, JsonSchema> {
  return {
    poni: {
      description:
        'Geometry as pyFAI defines it: {dist, poni1, poni2, rot1, rot2, rot3, wavelength} (metres, radians; rotations default to 0) ' +
        'or the absolute path of a .poni file under one of the server\'s data roots. Default: the detector geometry of the run.',
      oneOf: [
        { type: 'string', minLength: 1 },
        {
          type: 'object',
          additionalProperties: false,
          required: ['dist', 'poni1', 'poni2'],
          properties: {
            dist: { type: 'number' },
            poni1: { type: 'number' },
            poni2: { type: 'number' },
            rot1: { type: 'number' },
            rot2: { type: 'number' },
            rot3: { type: 'number' },
            wavelength: { type: ['number', 'null'] },
          },
        },
        { type: 'null' },
      ],
    },
    npt: { type: 'integer', minimum: 1, maximum: 1 << 20, default: d.npt, description: 'Radial bins.' },
    unit: { enum: RADIAL_UNIT_NAMES, default: d.unit, description: 'Radial unit (pyFAI names).' },
    method: {
      enum: ['no', 'bbox'],
      default: d.method,
      description: 'Pixel splitting: no (each pixel in the bin of its centre) or bbox (pixel extent spread over the bins it covers), pyFAI CSR semantics.',
    },
    radial_range: range('[lower, upper] in `unit`; default: the extent of the unmasked pixels.'),
    azimuth_range: range('[lower, upper] χ in degrees (pyFAI convention, χ in ]−180°, 180°]); default: all.'),
    correct_solid_angle: { type: 'boolean', default: true, description: 'Divide by the relative solid angle cos³α of each pixel.' },
    polarization_factor: {
      type: ['number', 'null'],
      minimum: -1,
      maximum: 1,
      default: null,
      description: 'Polarization factor (−1 vertical … 1 horizontal, 0 unpolarized); null: no polarization correction.',
    },
    error_model: {
      enum: ['poisson', 'azimuthal', null],
      default: d.error_model,
      description: 'poisson: variance = max(raw, 1); azimuthal: variance from the spread of the pixels in each bin; null: no error propagation.',
    },
    dummy: { type: ['number', 'null'], default: null, description: 'Value of invalid pixels (default: the image dummy, e.g. 2³²−1 in Eiger gaps).' },
    delta_dummy: { type: ['number', 'null'], minimum: 0, default: null, description: 'Tolerance of the dummy test (pixels with |v − dummy| ≤ delta_dummy are invalid).' },
    normalization_factor: { type: 'number', default: 1, description: 'Monitor value: the normalization of every pixel is multiplied by it.' },
  };
}

/** `params` with every missing key set to its schema default. */
export function withDefaults<P>(schema: JsonSchema, params: Record<string, unknown> | undefined): P {
  const props = (schema.properties ?? {}) as Record<string, { default?: unknown }>;
  const out: Record<string, unknown> = { ...(params ?? {}) };
  for (const [k, s] of Object.entries(props)) {
    if (out[k] === undefined && s.default !== undefined) out[k] = structuredClone(s.default);
  }
  return out as P;
}

/** The geometry an integration step works with. */
export interface IntegrationSetup {
  poni: PoniParameters;
  pixel: [number, number];
  shape: [number, number];
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** Resolve geometry, pixel size and shape; problems name the fields (`poni.dist` …). */
export function resolveSetup(p: IntegrationParams, input: ImageSpec, env: StepEnvironment): { setup: IntegrationSetup | null; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  if (input.shape.length !== 2) {
    problems.push({ field: 'input', message: `azimuthal integration needs a 2D image, got shape [${input.shape.join(', ')}] (raw multi-module frames must be assembled first)` });
    return { setup: null, problems };
  }
  const shape: [number, number] = [input.shape[0], input.shape[1]];
  const det = isObj(env.detector) ? env.detector : {};
  const geom = isObj(det.geometry) ? det.geometry : null;
  let poni: PoniParameters | null = null;
  let filePixel: [number, number] | null = null;
  const fromText = (text: string, source: string): void => {
    try {
      const f = parsePoni(text, source);
      poni = { dist: f.dist, poni1: f.poni1, poni2: f.poni2, rot1: f.rot1, rot2: f.rot2, rot3: f.rot3, wavelength: f.wavelength };
      if (f.pixel1 !== null && f.pixel2 !== null) filePixel = [f.pixel1, f.pixel2];
    } catch (err) {
      problems.push({ field: 'poni', message: (err as Error).message });
    }
  };
  const fromObject = (o: Record<string, unknown>): void => {
    poni = {
      dist: num(o.dist) ?? NaN,
      poni1: num(o.poni1) ?? NaN,
      poni2: num(o.poni2) ?? NaN,
      rot1: num(o.rot1) ?? 0,
      rot2: num(o.rot2) ?? 0,
      rot3: num(o.rot3) ?? 0,
      wavelength: num(o.wavelength),
    };
  };
  if (typeof p.poni === 'string') {
    let text: string | null = null;
    if (env.files) {
      // the server read the file at prepare (confined to the data roots, bounded)
      const bytes = env.files[p.poni];
      if (bytes) text = fileText(bytes);
      else problems.push({ field: 'poni', message: `${p.poni}: was not read by the server` });
    } else {
      try {
        text = readFileSync(p.poni, 'utf8');
      } catch (err) {
        problems.push({ field: 'poni', message: `cannot read ${p.poni}: ${(err as Error).message}` });
      }
    }
    if (text !== null) fromText(text, p.poni);
  } else if (isObj(p.poni)) {
    fromObject(p.poni);
  } else if (geom && typeof geom.dist === 'number') {
    fromObject(geom);
  } else if (typeof det.poni === 'string') {
    fromText(det.poni, 'detector poni');
  } else {
    problems.push({ field: 'poni', message: 'no geometry: give `poni` (object or .poni file); the detector describes none' });
  }
  if (!poni) return { setup: null, problems };
  const g: PoniParameters = poni;
  if (g.wavelength === null && typeof det.wavelength === 'number') g.wavelength = det.wavelength;
  if (!(Number.isFinite(g.dist) && g.dist > 0)) problems.push({ field: 'poni.dist', message: `dist must be a finite distance > 0 m (got ${g.dist})` });
  for (const k of ['poni1', 'poni2', 'rot1', 'rot2', 'rot3'] as const) {
    if (!Number.isFinite(g[k])) problems.push({ field: `poni.${k}`, message: `${k} must be a finite number (got ${g[k]})` });
  }
  if (g.wavelength !== null && !(Number.isFinite(g.wavelength) && g.wavelength > 0)) {
    problems.push({ field: 'poni.wavelength', message: `wavelength must be > 0 m (got ${g.wavelength})` });
  }
  if (isRadialUnit(p.unit) && RADIAL_UNITS[p.unit].base === 'q' && g.wavelength === null) {
    problems.push({ field: 'poni.wavelength', message: `unit ${p.unit} needs a wavelength (in the poni or the detector description)` });
  }
  const info = isObj(det.info) ? det.info : {};
  const ps = Array.isArray(info.pixel_size) ? (info.pixel_size as number[]) : null;
  const pixel: [number, number] | null =
    input.pixelSize ??
    filePixel ??
    (geom && typeof geom.pixel1 === 'number' && typeof geom.pixel2 === 'number' ? [geom.pixel1, geom.pixel2] : null) ??
    (ps && ps.length === 2 ? [ps[0], ps[1]] : null);
  if (!pixel) problems.push({ field: 'poni', message: 'pixel size unknown: the image, the .poni file and the detector give none' });
  else if (!(pixel[0] > 0 && pixel[1] > 0 && Number.isFinite(pixel[0]) && Number.isFinite(pixel[1]))) {
    problems.push({ field: 'poni', message: `pixel size must be > 0 (got ${pixel.join(', ')})` });
  }
  return { setup: problems.length ? null : { poni: g, pixel: pixel!, shape }, problems };
}

/** Checks of the shared parameters a schema does not express. */
export function checkParams(p: IntegrationParams): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (!(Number.isInteger(p.npt) && p.npt >= 1)) out.push({ field: 'npt', message: `npt must be an integer ≥ 1 (got ${p.npt})` });
  if (!isRadialUnit(p.unit)) out.push({ field: 'unit', message: `unknown unit ${JSON.stringify(p.unit)}; known: ${RADIAL_UNIT_NAMES.join(', ')}` });
  if (p.method !== 'no' && p.method !== 'bbox') out.push({ field: 'method', message: `method must be no or bbox (got ${JSON.stringify(p.method)})` });
  const rangeCheck = (name: 'radial_range' | 'azimuth_range', r: unknown): void => {
    if (r === null || r === undefined) return;
    if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      out.push({ field: name, message: `${name} must be [lower, upper] (finite numbers) or null` });
    } else if (!(r[0] < r[1])) {
      out.push({ field: name, message: `${name} is inverted or empty: lower ${r[0]} must be below upper ${r[1]}` });
    } else if (name === 'azimuth_range' && r[1] - r[0] > 360) {
      out.push({ field: name, message: `azimuth_range spans more than 360° (${r[0]}, ${r[1]})` });
    }
  };
  rangeCheck('radial_range', p.radial_range);
  rangeCheck('azimuth_range', p.azimuth_range);
  const pf = p.polarization_factor;
  if (pf !== null && pf !== undefined && !(typeof pf === 'number' && pf >= -1 && pf <= 1)) {
    out.push({ field: 'polarization_factor', message: `polarization_factor must be in [−1, 1] or null (got ${pf})` });
  }
  if (p.error_model !== null && p.error_model !== 'poisson' && p.error_model !== 'azimuthal') {
    out.push({ field: 'error_model', message: `error_model must be poisson, azimuthal or null (got ${JSON.stringify(p.error_model)})` });
  }
  if (p.dummy !== null && p.dummy !== undefined && !Number.isFinite(p.dummy)) out.push({ field: 'dummy', message: 'dummy must be a finite number or null' });
  if (p.delta_dummy !== null && p.delta_dummy !== undefined && !(Number.isFinite(p.delta_dummy) && p.delta_dummy >= 0)) {
    out.push({ field: 'delta_dummy', message: 'delta_dummy must be ≥ 0 or null' });
  }
  if (!(Number.isFinite(p.normalization_factor) && p.normalization_factor !== 0)) {
    out.push({ field: 'normalization_factor', message: `normalization_factor must be finite and non-zero (got ${p.normalization_factor})` });
  }
  return out;
}

/** The maps `mask`, `dark`, `flat` of the environment (checked against the image shape). */
export function envMaps(env: StepEnvironment, shape: readonly number[]): { maps: Partial<Record<'mask' | 'dark' | 'flat', ArrayLike<number>>>; problems: FieldProblem[] } {
  const maps: Partial<Record<'mask' | 'dark' | 'flat', ArrayLike<number>>> = {};
  const problems: FieldProblem[] = [];
  for (const name of ['mask', 'dark', 'flat'] as const) {
    const m = env.maps?.[name];
    if (!m) continue;
    const same = m.shape.length === shape.length && m.shape.every((x, i) => x === shape[i]) && m.data.length === shape.reduce((a, b) => a * b, 1);
    if (!same) {
      problems.push({ field: name, message: `the ${name} map has shape [${m.shape.join(', ')}], the image [${shape.join(', ')}]` });
      continue;
    }
    maps[name] = m.data;
  }
  return { maps, problems };
}

/** Everything `check` reports for the shared parameters. */
export function problemsOf(p: IntegrationParams, input: ImageSpec, env: StepEnvironment): FieldProblem[] {
  const out = checkParams(p);
  out.push(...resolveSetup(p, input, env).problems);
  if (input.shape.length === 2) out.push(...envMaps(env, input.shape).problems);
  return out;
}

/** The geometry and integrator options of valid parameters (throws with the first problem otherwise). */
export function integratorSetup(p: IntegrationParams, input: ImageSpec, env: StepEnvironment): { geometry: PyFAIGeometry; options: IntegratorOptions } {
  const problems = problemsOf(p, input, env);
  if (problems.length) throw new Error(problems.map((x) => `${x.field}: ${x.message}`).join('; '));
  const { setup } = resolveSetup(p, input, env);
  const { maps } = envMaps(env, input.shape);
  const s = setup!;
  const geometry = PyFAIGeometry.forDetector(s.poni, s.shape, s.pixel);
  const options: IntegratorOptions = {
    npt: p.npt,
    unit: p.unit,
    method: p.method,
    radialRange: p.radial_range,
    azimuthRange: p.azimuth_range,
    correctSolidAngle: p.correct_solid_angle,
    polarizationFactor: p.polarization_factor,
    normalizationFactor: p.normalization_factor,
    errorModel: p.error_model,
    dummy: p.dummy ?? input.dummy ?? null,
    deltaDummy: p.delta_dummy,
    mask: maps.mask ?? null,
    dark: maps.dark ?? null,
    flat: maps.flat ?? null,
  };
  return { geometry, options };
}
