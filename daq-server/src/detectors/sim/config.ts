/**
 * The `detector` section of prepare for the simulators: its JSON schema
 * (with every default), a small validator used when a plugin is called
 * directly (the server validates with Ajv before), and the cross-field
 * resolution (energy / wavelength / poni geometry).
 */
import { DaqError, parameterError, type FieldError } from '../../protocol/index.js';
import type { JsonSchema } from '../plugin.js';
import { parsePoni, readPoniFile, PoniParseError, type PoniParameters, type PoniFile } from '../geometry/poni.js';
import { fileText, type ClientFiles } from '../../files/client-files.js';
import { energyToWavelength, wavelengthToEnergy } from '../geometry/pyfai-geometry.js';
import { COMMON_DEFAULTS, DEFAULT_ENERGY_KEV, SCENES, runSpec, type SceneName, type SimSpec } from './specs.js';
import { checkTomoConfig } from './tomo.js';

/** The validated configuration, typed. */
export interface SimConfig {
  scene: SceneName;
  seed: number;
  pool_size: number;
  lost_packet_rate: number;
  lost_frames: number[];
  fault_at_frame: number | null;
  energy_kev: number | null;
  wavelength: number | null;
  poni: string | (Omit<PoniParameters, 'wavelength'> & { wavelength?: number | null });
  polarization_factor: number;
  beamstop_radius: number;
  background: number;
  hit_rate: number;
  spots_per_hit: number;
  spot_intensity: number;
  spot_sigma: number;
  solvent_ring_intensity: number;
  solvent_ring_q: number;
  solvent_ring_width: number;
  calibrant: 'CeO2' | 'LaB6';
  ring_intensity: number;
  ring_width: number;
  sphere_radius: number;
  polydispersity: number;
  saxs_intensity: number;
  speckle_size: number;
  correlation_frames: number;
  contrast: number;
  xpcs_intensity: number;
  xpcs_xi: number;
  flat_mean: number;
  /** tomography */
  tomo_phantom: 'shepp_logan' | 'porous';
  tomo_projections: number;
  tomo_darks: number;
  tomo_flats: number;
  tomo_angle_range: number;
  tomo_cor_offset: number;
  tomo_mu: number;
  /** detectors with a hardware ROI (sim-tomo-camera): frame size [rows, cols] */
  frame_shape: [number, number] | null;
  /** camera only */
  offset: number;
  read_noise: number;
  /** jungfrau only */
  dark_gain: 'G0' | 'G1' | 'G2';
}

const num = (description: string, def: number, minimum?: number, maximum?: number): JsonSchema => ({
  type: 'number',
  description,
  default: def,
  ...(minimum !== undefined ? { minimum } : {}),
  ...(maximum !== undefined ? { maximum } : {}),
});
const int = (description: string, def: number, minimum?: number, maximum?: number): JsonSchema => ({
  ...num(description, def, minimum, maximum),
  type: 'integer',
});

/** Largest pool in bytes a configuration may ask for. */
export const MAX_POOL_BYTES = 4 * 1024 ** 3;

/** JSON schema of the `detector` section for one simulated detector. */
export function buildSchema(spec: SimSpec): JsonSchema {
  const d = COMMON_DEFAULTS;
  const frameBytes = spec.shape.reduce((a, b) => a * b, 1) * (spec.dtype === 'uint32' ? 4 : 2);
  const p = spec.defaults.poni;
  const props: Record<string, JsonSchema> = {
    scene: {
      type: 'string',
      enum: [...SCENES],
      default: spec.defaults.scene,
      description:
        'What the detector sees. serial_crystallography: Bragg spots on a fraction of frames over a solvent ring; ' +
        'powder: Debye–Scherrer rings of a calibrant; saxs: polydisperse-sphere small-angle scattering behind a beamstop; ' +
        'xpcs: speckle evolving with a correlation time; flat: uniform illumination; ' +
        (spec.kind === 'jungfrau'
          ? 'dark: no photons (pedestal + electronic noise, in the gain stage `dark_gain`).'
          : spec.kind === 'camera'
            ? 'dark: no photons (offset + read noise).'
            : 'dark: no photons (all zero).') +
        ' tomography: darks, flats and projections of a rotating 3D phantom (tomo_* parameters).',
    },
    seed: int('Seed of every random draw: frame i is a pure function of (detector, configuration, i).', d.seed, 0, 4294967295),
    pool_size: int(
      `Frames pre-generated (lazily, on first use) and replayed: frame i is pool[i mod pool_size]; 0 generates every frame live. ` +
        `One frame is ${frameBytes} bytes; the pool may hold at most ${MAX_POOL_BYTES} bytes.`,
      spec.defaults.pool_size,
      0,
      1000000,
    ),
    lost_packet_rate: num(
      'Fraction of frames (drawn per (seed, index)) that arrive incomplete: returned with valid=false and a run of 1–8 ' +
        '8192-byte packets zeroed in a copy of the frame.',
      d.lost_packet_rate,
      0,
      1,
    ),
    lost_frames: {
      type: 'array',
      items: { type: 'integer', minimum: 0 },
      maxItems: 100000,
      default: [],
      description: 'Frame indexes that always arrive incomplete (in addition to lost_packet_rate).',
    },
    fault_at_frame: {
      type: ['integer', 'null'],
      minimum: 0,
      default: null,
      description: 'When set, receiving frame index ≥ this value raises a detector fault (the acquisition goes to FAULT).',
    },
    energy_kev: {
      type: ['number', 'null'],
      minimum: 1,
      maximum: 200,
      default: null,
      description: `Photon energy in keV. Give energy_kev or wavelength (or neither: the poni wavelength, else ${DEFAULT_ENERGY_KEV} keV).`,
    },
    wavelength: {
      type: ['number', 'null'],
      minimum: 5e-12,
      maximum: 1.3e-9,
      default: null,
      description: 'X-ray wavelength in metres (alternative to energy_kev).',
    },
    poni: {
      description:
        'Detector geometry as pyFAI defines it: a path to a .poni file, or {dist, poni1, poni2, rot1, rot2, rot3, wavelength} ' +
        '(metres, radians; rotations default to 0). ' +
        `Default: dist ${p.dist} m, PONI at (${p.poni1}, ${p.poni2}) m, no rotation.`,
      default: { ...p },
      oneOf: [
        { type: 'string', minLength: 1, description: 'absolute path of a pyFAI .poni file under one of the server\'s data roots' },
        {
          type: 'object',
          additionalProperties: false,
          required: ['dist', 'poni1', 'poni2'],
          properties: {
            dist: { type: 'number', exclusiveMinimum: 0, maximum: 100, description: 'sample–detector distance (m)' },
            poni1: { type: 'number', minimum: -10, maximum: 10, description: 'PONI along the rows (m)' },
            poni2: { type: 'number', minimum: -10, maximum: 10, description: 'PONI along the columns (m)' },
            rot1: { type: 'number', minimum: -7, maximum: 7, description: 'rad, default 0' },
            rot2: { type: 'number', minimum: -7, maximum: 7, description: 'rad, default 0' },
            rot3: { type: 'number', minimum: -7, maximum: 7, description: 'rad, default 0' },
            wavelength: { type: ['number', 'null'], minimum: 5e-12, maximum: 1.3e-9, description: 'm (optional)' },
          },
        },
      ],
    },
    polarization_factor: num('Polarization factor f of the beam (pyFAI convention, 0.99 ≈ horizontal synchrotron beam) applied to scattered intensities.', d.polarization_factor, -1, 1),
    beamstop_radius: num('serial_crystallography, powder, saxs, xpcs: radius (m, in the detector plane at dist) of the beamstop shadow around the direct beam.', d.beamstop_radius, 0, 0.5),
    background: num('serial_crystallography, powder, saxs, xpcs: diffuse background in photons per pixel per frame (× solid angle × polarization).', d.background, 0, 1e6),
    hit_rate: num('serial_crystallography: probability that a frame is a hit (drawn per frame).', d.hit_rate, 0, 1),
    spots_per_hit: num('serial_crystallography: mean number of Bragg spots on a hit (Poisson distributed).', d.spots_per_hit, 0, 10000),
    spot_intensity: num('serial_crystallography: mean photons per spot (exponentially distributed, Wilson statistics).', d.spot_intensity, 0, 1e9),
    spot_sigma: num('serial_crystallography: Gaussian width (σ) of a spot in pixels.', d.spot_sigma, 0.2, 20),
    solvent_ring_intensity: num('serial_crystallography: peak of the solvent (water) ring in photons per pixel per frame.', d.solvent_ring_intensity, 0, 1e6),
    solvent_ring_q: num('serial_crystallography: q of the solvent ring (nm⁻¹; water ≈ 19.6).', d.solvent_ring_q, 0, 200),
    solvent_ring_width: num('serial_crystallography: Gaussian width σ of the solvent ring in q (nm⁻¹).', d.solvent_ring_width, 0.01, 100),
    calibrant: {
      type: 'string',
      enum: ['CeO2', 'LaB6'],
      default: d.calibrant,
      description: 'powder: calibrant; CeO2 fluorite a = 5.4111 Å (fcc reflections), LaB6 a = 4.1569 Å (simple cubic, all hkl). All rings have the same peak height.',
    },
    ring_intensity: num('powder: peak height of every ring in photons per pixel per frame.', d.ring_intensity, 0, 1e7),
    ring_width: num('powder: ring FWHM in degrees 2θ (Gaussian profile).', d.ring_width, 0.001, 10),
    sphere_radius: num('saxs: mean sphere radius (nm).', d.sphere_radius, 0.1, 1000),
    polydispersity: num('saxs: relative Gaussian spread σ_R/R of the sphere radius.', d.polydispersity, 0, 0.5),
    saxs_intensity: num('saxs: forward scattering I(q→0) in photons per pixel per frame.', d.saxs_intensity, 0, 1e9),
    speckle_size: num('xpcs: speckle size in pixels.', d.speckle_size, 1, 256),
    correlation_frames: num(
      'xpcs: correlation time τ in frames: an independent speckle pattern is drawn every τ frames and the field ' +
        'is interpolated between consecutive ones (cos/sin weights), so the field decorrelates over ~τ frames ' +
        '(with a pool, the dynamics repeat every pool_size frames).',
      d.correlation_frames,
      1,
      1e9,
    ),
    contrast: num('xpcs: speckle contrast β (g2(0) − 1 of a fully resolved speckle).', d.contrast, 0, 1),
    xpcs_intensity: num('xpcs: mean speckle intensity at q → 0 in photons per pixel per frame (Ornstein–Zernike envelope).', d.xpcs_intensity, 0, 1e7),
    xpcs_xi: num('xpcs: correlation length ξ (nm) of the envelope I(q) = I0 / (1 + (qξ)²).', d.xpcs_xi, 0, 1000),
    flat_mean: num(
      spec.kind === 'jungfrau'
        ? 'flat: mean photons per 75 µm pixel per frame (double-size raw pixels get twice as many).'
        : 'flat: mean photons per pixel per frame (Poisson, reproduced bit for bit by test/simref.py).',
      spec.defaults.flat_mean,
      0,
      spec.kind === 'camera' ? 60000 : 1e6,
    ),
    tomo_phantom: {
      type: 'string',
      enum: ['shepp_logan', 'porous'],
      default: d.tomo_phantom,
      description:
        'tomography: shepp_logan: 3D Shepp–Logan ellipsoids (Toft contrast); porous: a sphere of matrix with spherical pores and dense inclusions at seed-drawn, known positions (listed in the scan info).',
    },
    tomo_projections: int('tomography: projections over tomo_angle_range, both ends included.', d.tomo_projections, 2, 7200),
    tomo_darks: int('tomography: dark frames (image_key 2) taken first.', d.tomo_darks, 0, 1000),
    tomo_flats: int('tomography: flat fields (image_key 1) taken after the darks, before the projections.', d.tomo_flats, 0, 1000),
    tomo_angle_range: num('tomography: rotation range in degrees (180: a parallel-beam scan; 360 also works).', d.tomo_angle_range, 1, 360),
    tomo_cor_offset: num('tomography: offset in pixels of the rotation axis from the centre column (cols − 1)/2.', d.tomo_cor_offset, -512, 512),
    tomo_mu: num('tomography: absorbance of phantom value 1 over the phantom radius R (μ = value · tomo_mu / R per pixel).', d.tomo_mu, 0, 50),
  };
  if (spec.roi) {
    props.frame_shape = {
      type: 'array',
      items: { type: 'integer', minimum: 16, maximum: Math.min(...spec.shape) },
      minItems: 2,
      maxItems: 2,
      default: [256, 256],
      description: `Frame size [rows, cols]: a centred region of interest of the ${spec.shape.join(' × ')} sensor.`,
    };
  }
  if (spec.kind === 'camera') {
    props.offset = int('camera: dark offset in ADU added to every pixel.', d.offset, 0, 60000);
    props.read_noise = num('camera: read noise in ADU rms (Poisson(σ²) − round(σ²), integer and reproducible).', d.read_noise, 0, 100);
  }
  if (spec.kind === 'jungfrau') {
    props.dark_gain = {
      type: 'string',
      enum: ['G0', 'G1', 'G2'],
      default: d.dark_gain,
      description: 'dark: gain stage forced for dark frames (pedestals of each stage are taken with G0, G1, G2 darks).',
    };
  }
  return {
    type: 'object',
    title: `${spec.name} simulation`,
    description: `Configuration of the ${spec.model} simulator.`,
    additionalProperties: false,
    properties: props,
  };
}

// ------------------------------------------------------------------ validation

const typeOk = (t: string, v: unknown): boolean => {
  switch (t) {
    case 'null':
      return v === null;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    default:
      return true;
  }
};

/** Check `value` against the subset of JSON schema used above; returns the errors (empty when valid). */
export function checkSchema(schema: JsonSchema, value: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const s = schema as Record<string, any>;
  if (s.oneOf) {
    const results = (s.oneOf as JsonSchema[]).map((sub) => checkSchema(sub, value, path));
    const ok = results.filter((r) => r.length === 0).length;
    if (ok === 1) return errors;
    if (ok === 0) {
      // report the branch whose type matches, else a generic message
      const typed = (s.oneOf as Record<string, any>[]).findIndex((sub) => sub.type && typeOk(sub.type, value));
      return typed >= 0 ? results[typed] : [{ field: path, message: 'must be a string (path) or an object' }];
    }
    return [{ field: path, message: 'matches more than one alternative' }];
  }
  if (s.type !== undefined) {
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    if (!types.some((t) => typeOk(t, value))) return [{ field: path, message: `must be of type ${types.join(' or ')}` }];
  }
  if (s.enum && !(s.enum as unknown[]).includes(value)) {
    errors.push({ field: path, message: `must be one of ${(s.enum as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` });
  }
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) errors.push({ field: path, message: `must be >= ${s.minimum}` });
    if (s.maximum !== undefined && value > s.maximum) errors.push({ field: path, message: `must be <= ${s.maximum}` });
    if (s.exclusiveMinimum !== undefined && value <= s.exclusiveMinimum) errors.push({ field: path, message: `must be > ${s.exclusiveMinimum}` });
  }
  if (typeof value === 'string' && s.minLength !== undefined && value.length < s.minLength) {
    errors.push({ field: path, message: `must have at least ${s.minLength} characters` });
  }
  if (Array.isArray(value)) {
    if (s.maxItems !== undefined && value.length > s.maxItems) errors.push({ field: path, message: `must have at most ${s.maxItems} items` });
    if (s.items) value.forEach((v, i) => errors.push(...checkSchema(s.items, v, `${path}.${i}`)));
  }
  if (typeOk('object', value) && (s.properties || s.required)) {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, JsonSchema>;
    for (const r of (s.required ?? []) as string[]) if (!(r in obj)) errors.push({ field: `${path}.${r}`, message: 'is required' });
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errors.push(...checkSchema(props[k], v, `${path}.${k}`));
      else if (s.additionalProperties === false) errors.push({ field: `${path}.${k}`, message: 'unknown field' });
    }
  }
  return errors;
}

/**
 * Fill the defaults of the top-level properties and validate. Returns the
 * public configuration (the schema's fields only, rotations of an inline
 * poni filled in) and the typed internal one (fields of other detector
 * kinds at their common defaults).
 */
export function normalizeConfig(
  spec: SimSpec,
  schema: JsonSchema,
  config: Record<string, unknown>,
): { config: Record<string, unknown>; cfg: SimConfig } {
  const props = (schema as { properties: Record<string, JsonSchema> }).properties;
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(props)) {
    const given = config[k];
    out[k] = given !== undefined ? given : structuredClone((s as { default?: unknown }).default);
  }
  for (const k of Object.keys(config)) if (!(k in props)) out[k] = config[k];
  const errors = checkSchema(schema, out, 'detector');
  if (errors.length) throw parameterError(errors, `${spec.name}: invalid detector configuration`);
  // fields that only exist for some detectors keep their common default internally
  if (out.poni !== null && typeof out.poni === 'object') {
    const given = out.poni as Partial<PoniParameters> & { dist: number; poni1: number; poni2: number };
    out.poni = { ...given, rot1: given.rot1 ?? 0, rot2: given.rot2 ?? 0, rot3: given.rot3 ?? 0 };
  }
  const merged = { ...COMMON_DEFAULTS, ...structuredClone(out) } as unknown as SimConfig;
  const shape = runSpec(spec, merged.frame_shape).shape;
  const frameBytes = shape.reduce((a, b) => a * b, 1) * (spec.dtype === 'uint32' ? 4 : 2);
  const crossErrors: FieldError[] = [];
  if (merged.pool_size * frameBytes > MAX_POOL_BYTES) {
    crossErrors.push({ field: 'detector.pool_size', message: `${merged.pool_size} frames of ${frameBytes} bytes exceed the ${MAX_POOL_BYTES}-byte pool limit` });
  }
  if (merged.scene === 'tomography' && (spec.kind === 'jungfrau' || spec.gapRows.length || spec.gapCols.length)) {
    crossErrors.push({ field: 'detector.scene', message: `tomography needs a detector without gaps or raw modules (sim-tomo-camera, sim-camera, sim-eiger-500k); ${spec.name} has them` });
  } else {
    crossErrors.push(...checkTomoConfig(merged, shape));
  }
  if (crossErrors.length) throw parameterError(crossErrors, `${spec.name}: invalid detector configuration`);
  return { config: out, cfg: merged };
}

// ------------------------------------------------------------------ energy and geometry

export interface ResolvedGeometry {
  energyKeV: number;
  /** metres */
  wavelength: number;
  /** geometry with the effective wavelength */
  poni: PoniParameters;
  /** the parsed file when `poni` was a path */
  poniFile: PoniFile | null;
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b));

/**
 * Resolve photon energy, wavelength and the geometry. A .poni path is taken
 * from `files` (read by the server, confined to the data roots); without
 * `files` (embedders, tests) the path is read directly.
 */
export async function resolveGeometry(spec: SimSpec, cfg: SimConfig, files?: ClientFiles): Promise<ResolvedGeometry> {
  const fail = (field: string, message: string): DaqError =>
    parameterError([{ field: `detector.${field}`, message }], `${spec.name}: invalid detector configuration`);
  let poniFile: PoniFile | null = null;
  let geo: PoniParameters;
  if (typeof cfg.poni === 'string') {
    try {
      if (files) {
        const bytes = files[cfg.poni];
        if (!bytes) throw fail('poni', `${cfg.poni} was not read by the server`);
        poniFile = parsePoni(fileText(bytes), cfg.poni);
      } else poniFile = await readPoniFile(cfg.poni);
    } catch (err) {
      if (err instanceof PoniParseError) throw fail('poni', err.message);
      throw err;
    }
    for (const [axis, px] of [
      [poniFile.pixel1, spec.pixel[0]],
      [poniFile.pixel2, spec.pixel[1]],
    ] as const) {
      if (axis !== null && !close(axis, px)) {
        throw fail('poni', `${cfg.poni} is for a detector with ${axis * 1e6} µm pixels; ${spec.name} has ${px * 1e6} µm`);
      }
    }
    geo = { dist: poniFile.dist, poni1: poniFile.poni1, poni2: poniFile.poni2, rot1: poniFile.rot1, rot2: poniFile.rot2, rot3: poniFile.rot3, wavelength: poniFile.wavelength };
    if (!(geo.dist > 0)) throw fail('poni', `${cfg.poni}: Distance must be > 0`);
  } else {
    geo = { ...cfg.poni, wavelength: cfg.poni.wavelength ?? null };
  }
  const candidates: { field: string; wavelength: number }[] = [];
  if (cfg.energy_kev !== null) candidates.push({ field: 'energy_kev', wavelength: energyToWavelength(cfg.energy_kev) });
  if (cfg.wavelength !== null) candidates.push({ field: 'wavelength', wavelength: cfg.wavelength });
  if (geo.wavelength !== null) candidates.push({ field: 'poni', wavelength: geo.wavelength });
  for (const c of candidates.slice(1)) {
    if (!close(c.wavelength, candidates[0].wavelength)) {
      throw fail(
        c.field,
        `wavelength ${c.wavelength} m disagrees with ${candidates[0].field} (${candidates[0].wavelength} m); give the energy once`,
      );
    }
  }
  const wavelength = candidates.length ? candidates[0].wavelength : energyToWavelength(DEFAULT_ENERGY_KEV);
  const energyKeV = cfg.energy_kev ?? wavelengthToEnergy(wavelength);
  return { energyKeV, wavelength, poni: { ...geo, wavelength }, poniFile };
}

