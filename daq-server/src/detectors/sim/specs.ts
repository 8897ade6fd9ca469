/**
 * The four simulated detectors: what they are, and every default of their
 * `detector` configuration section in one place (`COMMON_DEFAULTS` and each
 * spec's `defaults`). test/simref.py mirrors these values in its DEFAULTS.
 */
import type { DType } from '../../protocol/index.js';
import { JUNGFRAU_4M } from '../geometry/jungfrau-layout.js';

export const SCENES = ['serial_crystallography', 'powder', 'saxs', 'xpcs', 'flat', 'dark', 'tomography'] as const;
export type SceneName = (typeof SCENES)[number];

/** counting: DECTRIS-like photon counter (uint32, gaps = dummy); camera: integrating uint16 with offset and read noise; jungfrau: raw gain-switching words */
export type SimKind = 'counting' | 'camera' | 'jungfrau';

export interface PoniDefault {
  dist: number;
  poni1: number;
  poni2: number;
  rot1: number;
  rot2: number;
  rot3: number;
}

export interface SimSpec {
  name: string;
  model: string;
  kind: SimKind;
  /** frame shape as delivered */
  shape: number[];
  /** assembled image shape */
  imageShape: [number, number];
  pixel: [number, number];
  dtype: DType;
  maxFrameRate: number;
  dummy: number | null;
  /** inclusive [first, last] gap rows / cols of the image filled with the dummy (counting detectors) */
  gapRows: [number, number][];
  gapCols: [number, number][];
  sensor: Record<string, unknown>;
  /** the frame size is configurable (`frame_shape`, a centred hardware ROI of `shape`) */
  roi?: boolean;
  defaults: {
    scene: SceneName;
    pool_size: number;
    poni: PoniDefault;
    flat_mean: number;
  };
}

/** DECTRIS marks gap and invalid pixels with the largest value of the type: 2^32 − 1 for uint32 frames. */
export const EIGER_DUMMY = 4294967295;

/** Photon energy when neither energy_kev, wavelength nor a poni wavelength is given. */
export const DEFAULT_ENERGY_KEV = 12.4;

/** Defaults shared by all simulators (scene parameters; per-detector ones are in each spec). */
export const COMMON_DEFAULTS = {
  seed: 0,
  lost_packet_rate: 0,
  lost_frames: [] as number[],
  fault_at_frame: null as number | null,
  energy_kev: null as number | null,
  wavelength: null as number | null,
  polarization_factor: 0.99,
  beamstop_radius: 0.0015,
  background: 0.2,
  // serial_crystallography
  hit_rate: 0.1,
  spots_per_hit: 50,
  spot_intensity: 1000,
  spot_sigma: 1.0,
  solvent_ring_intensity: 1.0,
  solvent_ring_q: 19.6,
  solvent_ring_width: 2.0,
  // powder
  calibrant: 'CeO2' as 'CeO2' | 'LaB6',
  ring_intensity: 20,
  ring_width: 0.1,
  // saxs
  sphere_radius: 3.0,
  polydispersity: 0.1,
  saxs_intensity: 10000,
  // xpcs
  speckle_size: 4,
  correlation_frames: 50,
  contrast: 0.3,
  xpcs_intensity: 2.0,
  xpcs_xi: 1.0,
  // tomography
  tomo_phantom: 'shepp_logan' as 'shepp_logan' | 'porous',
  tomo_projections: 180,
  tomo_darks: 10,
  tomo_flats: 10,
  tomo_angle_range: 180,
  tomo_cor_offset: 0,
  tomo_mu: 2,
  frame_shape: null as [number, number] | null,
  // camera only
  offset: 100,
  read_noise: 2.0,
  // jungfrau only
  dark_gain: 'G0' as 'G0' | 'G1' | 'G2',
};

const PX = 75e-6;
const TRIGGERS = ['internal', 'software', 'external'] as const;
export const TRIGGER_MODES = [...TRIGGERS];

const EIGER_SENSOR = {
  type: 'hybrid photon counting',
  material: 'Si',
  thickness: 450e-6,
  counter_bits: 32,
};

export const SPECS: SimSpec[] = [
  {
    name: 'sim-jungfrau-4m',
    model: 'Simulated PSI JUNGFRAU 4M (raw, 8 modules)',
    kind: 'jungfrau',
    shape: [...JUNGFRAU_4M.rawShape],
    imageShape: JUNGFRAU_4M.imageShape,
    pixel: [PX, PX],
    dtype: 'uint16',
    maxFrameRate: 2000,
    dummy: null,
    gapRows: [],
    gapCols: [],
    sensor: {
      type: 'hybrid charge integrating, dynamic gain switching',
      material: 'Si',
      thickness: 320e-6,
      modules: JUNGFRAU_4M.nModules,
      module_grid: JUNGFRAU_4M.moduleGrid,
      module_raw_shape: [512, 1024],
      module_shape: [514, 1030],
      chip_shape: [256, 256],
      module_gaps: JUNGFRAU_4M.gap,
      double_pixels: 'raw chip-border rows 255/256 and cols 255/256, 511/512, 767/768 are 150 µm',
      raw_word: 'uint16: bits 15-14 gain code (00 G0, 01 G1, 11 G2), bits 13-0 ADC; 0xC000 = saturated',
      adc_bits: 14,
      gain_stages: ['G0', 'G1', 'G2'],
    },
    defaults: {
      scene: 'serial_crystallography',
      pool_size: 16,
      poni: { dist: 0.12, poni1: 0.084, poni2: 0.07575, rot1: 0, rot2: 0, rot3: 0 },
      flat_mean: 1,
    },
  },
  {
    name: 'sim-eiger-4m',
    model: 'Simulated DECTRIS EIGER 4M',
    kind: 'counting',
    shape: [2167, 2070],
    imageShape: [2167, 2070],
    pixel: [PX, PX],
    dtype: 'uint32',
    maxFrameRate: 750,
    dummy: EIGER_DUMMY,
    gapRows: [
      [514, 550],
      [1065, 1101],
      [1616, 1652],
    ],
    gapCols: [[1030, 1039]],
    sensor: { ...EIGER_SENSOR, modules: 8, module_grid: [4, 2], module_shape: [514, 1030], module_gaps: [37, 10] },
    defaults: {
      scene: 'serial_crystallography',
      pool_size: 8,
      poni: { dist: 0.15, poni1: 0.084, poni2: 0.07575, rot1: 0, rot2: 0, rot3: 0 },
      flat_mean: 10,
    },
  },
  {
    name: 'sim-eiger-500k',
    model: 'Simulated DECTRIS EIGER 500K',
    kind: 'counting',
    shape: [514, 1030],
    imageShape: [514, 1030],
    pixel: [PX, PX],
    dtype: 'uint32',
    maxFrameRate: 9000,
    dummy: EIGER_DUMMY,
    gapRows: [],
    gapCols: [],
    sensor: { ...EIGER_SENSOR, modules: 1, module_shape: [514, 1030] },
    defaults: {
      scene: 'powder',
      pool_size: 64,
      poni: { dist: 0.08, poni1: 0.019275, poni2: 0.038625, rot1: 0, rot2: 0, rot3: 0 },
      flat_mean: 10,
    },
  },
  {
    name: 'sim-camera',
    model: 'Simulated 1024 × 1024 integrating X-ray camera (teaching)',
    kind: 'camera',
    shape: [1024, 1024],
    imageShape: [1024, 1024],
    pixel: [PX, PX],
    dtype: 'uint16',
    maxFrameRate: 100,
    dummy: null,
    gapRows: [],
    gapCols: [],
    sensor: {
      type: 'integrating (scintillator + CMOS-like readout), 1 ADU per photon, offset and Gaussian-like read noise',
      material: 'Gd2O2S:Tb',
      pixel_note: '75 µm pixels (like the other simulators, so the same scenes and geometries fit on it)',
      adc_bits: 16,
    },
    defaults: {
      scene: 'flat',
      pool_size: 16,
      poni: { dist: 0.1, poni1: 0.0384, poni2: 0.0384, rot1: 0, rot2: 0, rot3: 0 },
      flat_mean: 1000,
    },
  },
  {
    name: 'sim-tomo-camera',
    model: 'Simulated 2048 × 2048 sCMOS camera behind a scintillator (tomography), hardware ROI',
    kind: 'camera',
    shape: [2048, 2048],
    imageShape: [2048, 2048],
    pixel: [6.5e-6, 6.5e-6],
    dtype: 'uint16',
    maxFrameRate: 2000,
    dummy: null,
    gapRows: [],
    gapCols: [],
    roi: true,
    sensor: {
      type: 'integrating (scintillator + sCMOS readout), 1 ADU per photon, offset and Gaussian-like read noise',
      material: 'LuAG:Ce',
      pixel_note: '6.5 µm effective pixels; frame_shape selects a centred region of interest',
      adc_bits: 16,
    },
    defaults: {
      scene: 'tomography',
      pool_size: 0,
      poni: { dist: 0.1, poni1: 0.006656, poni2: 0.006656, rot1: 0, rot2: 0, rot3: 0 },
      flat_mean: 10000,
    },
  },
];

/** The spec of one run: a detector with a hardware ROI gets the configured frame shape. */
export function runSpec(spec: SimSpec, frameShape: [number, number] | null): SimSpec {
  if (!spec.roi || !frameShape) return spec;
  return { ...spec, shape: [...frameShape], imageShape: [frameShape[0], frameShape[1]] };
}

export const specByName = (name: string): SimSpec | undefined => SPECS.find((s) => s.name === name);

/** Gap mask of a counting detector image (1 = gap pixel), or null without gaps. */
export function countingGapMask(spec: SimSpec): Uint8Array | null {
  if (spec.gapRows.length === 0 && spec.gapCols.length === 0) return null;
  const [rows, cols] = spec.imageShape;
  const mask = new Uint8Array(rows * cols);
  for (const [a, b] of spec.gapRows) mask.fill(1, a * cols, (b + 1) * cols);
  for (const [a, b] of spec.gapCols) for (let r = 0; r < rows; r++) mask.fill(1, r * cols + a, r * cols + b + 1);
  return mask;
}
