/**
 * The SIMPLON parameters of every subsystem (detector, stream, monitor,
 * filewriter, system) with DECTRIS's names, types, units and limits, their
 * starting values taken from the model and its simulator's geometry.
 */
import { countingGapMask } from '../detectors/sim/specs.js';
import { energyToWavelength } from '../detectors/geometry/pyfai-geometry.js';
import { COMPRESSIONS, type FrameSource } from './frames.js';
import type { DetectorModel } from './models.js';
import { Params } from './params.js';
import { VERSION } from '../version.js';

export const API_VERSION = '1.8.0';
export const SUBSYSTEMS = ['detector', 'stream', 'monitor', 'filewriter', 'system'] as const;
export type Subsystem = (typeof SUBSYSTEMS)[number];
export const TRIGGER_MODES = ['ints', 'inte', 'exts', 'exte'] as const;
export const STATES = ['na', 'ready', 'initialize', 'configure', 'acquire', 'idle', 'test', 'error'] as const;
export type State = (typeof STATES)[number];

/** h·c in eV·Å: wavelength (Å) = HC_EV_A / energy (eV). */
export const HC_EV_A = energyToWavelength(1) * 1e10 * 1000;
export const MAX_COUNT = 2 ** 31 - 1;

export interface Sections {
  config: Params;
  status: Params;
  /** command names */
  commands: string[];
}

export function buildSections(model: DetectorModel, frames: FrameSource): Record<Subsystem, Sections> {
  const g = frames.run.geometry;
  const spec = frames.run.spec;
  const [rows, cols] = frames.shape;
  const energy = g.energyKeV * 1000;
  const minFrame = 1 / model.maxFrameRate;
  const float = (value: number, unit: string, min?: number, max?: number) => ({ type: 'float' as const, value, unit, min, max });
  const ro = <T>(type: 'float' | 'uint' | 'string' | 'bool' | 'list', value: T, unit?: string) => ({ type, value, access: 'r' as const, unit });
  const gonio: Record<string, ReturnType<typeof float>> = {};
  for (const a of ['chi', 'kappa', 'omega', 'phi', 'two_theta']) {
    gonio[`${a}_start`] = float(0, 'degree', -1e6, 1e6);
    gonio[`${a}_increment`] = float(0, 'degree', -1e6, 1e6);
  }
  const dtypeMax = frames.dtype === 'uint32' ? 2 ** 32 - 1 : 2 ** 16 - 1;
  const detectorConfig = new Params('detector/config', {
    // frame_time ≥ count_time + readout time, both at most 3600 s
    count_time: float(minFrame - model.readoutTime, 's', minFrame - model.readoutTime, 3600 - model.readoutTime),
    frame_time: float(minFrame, 's', minFrame, 3600),
    nimages: { type: 'uint', value: 1, min: 1, max: MAX_COUNT },
    ntrigger: { type: 'uint', value: 1, min: 1, max: MAX_COUNT },
    trigger_mode: { type: 'string', value: 'ints', allowed: TRIGGER_MODES },
    trigger_start_delay: float(0, 's', 0, 10),
    incident_energy: float(energy, 'eV', 1000, 200000),
    photon_energy: float(energy, 'eV', 1000, 200000),
    wavelength: float(HC_EV_A / energy, 'Å', HC_EV_A / 200000, HC_EV_A / 1000),
    threshold_energy: float(energy / 2, 'eV', 500, 100000),
    'threshold/1/energy': float(energy / 2, 'eV', 500, 100000),
    'threshold/1/mode': ro('string', 'enabled'),
    'threshold/2/energy': float(energy, 'eV', 500, 100000),
    'threshold/2/mode': { type: 'string', value: 'disabled', allowed: ['disabled'] },
    'threshold/difference/mode': { type: 'string', value: 'disabled', allowed: ['disabled'] },
    beam_center_x: float(g.poni.poni2 / spec.pixel[1], 'pixel', -1e5, 1e5),
    beam_center_y: float(g.poni.poni1 / spec.pixel[0], 'pixel', -1e5, 1e5),
    detector_distance: float(g.poni.dist, 'm', 0, 100),
    ...gonio,
    x_pixel_size: ro('float', spec.pixel[1], 'm'),
    y_pixel_size: ro('float', spec.pixel[0], 'm'),
    x_pixels_in_detector: ro('uint', cols),
    y_pixels_in_detector: ro('uint', rows),
    description: ro('string', model.description),
    detector_number: ro('string', model.serialNumber),
    software_version: ro('string', `daqlab-detector-sim ${VERSION}`),
    sensor_material: ro('string', model.sensorMaterial),
    sensor_thickness: ro('float', model.sensorThickness, 'm'),
    detector_readout_time: ro('float', model.readoutTime, 's'),
    bit_depth_image: ro('uint', frames.dtype === 'uint32' ? 32 : 16),
    bit_depth_readout: ro('uint', frames.dtype === 'uint32' ? 32 : 16),
    countrate_correction_count_cutoff: ro('uint', dtypeMax - 1),
    number_of_excluded_pixels: ro('uint', countingGapMask(spec)?.reduce((a, b) => a + b, 0) ?? 0),
    compression: { type: 'string', value: 'bslz4', allowed: COMPRESSIONS },
    countrate_correction_applied: { type: 'bool', value: false },
    flatfield_correction_applied: { type: 'bool', value: false },
    pixel_mask_applied: { type: 'bool', value: false },
    virtual_pixel_correction_applied: { type: 'bool', value: false },
    auto_summation: { type: 'bool', value: true },
    roi_mode: { type: 'string', value: 'disabled', allowed: ['disabled'] },
    data_collection_date: ro('string', ''),
  });
  const detectorStatus = new Params('detector/status', {
    state: { type: 'string', value: 'na', access: 'r', allowed: STATES },
    error: ro('list', []),
    time: { type: 'date', value: new Date().toISOString(), access: 'r' },
    humidity: ro('float', 0.2, '%'),
    temperature: ro('float', 24.5, '°C'),
    'high_voltage/state': ro('string', 'READY'),
  });
  const none = (section: string) => new Params(section, {});
  return {
    detector: {
      config: detectorConfig,
      status: detectorStatus,
      commands: ['initialize', 'arm', 'trigger', 'disarm', 'cancel', 'abort', 'status_update'],
    },
    stream: {
      config: new Params('stream/config', {
        mode: { type: 'string', value: 'disabled', allowed: ['enabled', 'disabled'] },
        format: { type: 'string', value: 'legacy', allowed: ['legacy', 'cbor'] },
        header_detail: { type: 'string', value: 'basic', allowed: ['all', 'basic', 'none'] },
        header_appendix: { type: 'any', value: '' },
        image_appendix: { type: 'any', value: '' },
      }),
      status: new Params('stream/status', {
        state: ro('string', 'ready'),
        error: ro('list', []),
        dropped: ro('uint', 0),
        buffer_fill_level: ro('float', 0),
      }),
      commands: ['initialize'],
    },
    monitor: {
      config: new Params('monitor/config', {
        mode: { type: 'string', value: 'disabled', allowed: ['disabled'] },
        buffer_size: { type: 'uint', value: 1, min: 1, max: 1000 },
        discard_new: { type: 'bool', value: false },
      }),
      status: new Params('monitor/status', { state: ro('string', 'disabled'), error: ro('list', []), dropped: ro('uint', 0), buffer_fill_level: ro('float', 0) }),
      commands: ['clear', 'initialize'],
    },
    filewriter: {
      config: new Params('filewriter/config', {
        mode: { type: 'string', value: 'disabled', allowed: ['enabled', 'disabled'] },
        name_pattern: { type: 'string', value: 'series_$id' },
        nimages_per_file: { type: 'uint', value: 1000, min: 0, max: MAX_COUNT },
        compression_enabled: { type: 'bool', value: true },
      }),
      status: new Params('filewriter/status', { state: ro('string', 'disabled'), error: ro('list', []), files: ro('list', []) }),
      commands: ['clear', 'initialize'],
    },
    system: { config: none('system/config'), status: none('system/status'), commands: ['restart'] },
  };
}
