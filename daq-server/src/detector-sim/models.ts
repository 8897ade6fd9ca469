/**
 * The DECTRIS models the simulator impersonates and the daqlab simulator
 * whose frames each one serves (same scene code, same seed: frame k of a
 * series is frame k of that simulator).
 *
 * pilatus4-1m has no simulator of its own: it serves sim-eiger-500k's
 * frames (514 × 1030 pixels of 75 µm) under the PILATUS4 name, dead time
 * and frame-rate limit, so software that branches on the model can be
 * exercised; the geometry is not a real PILATUS4 1M's.
 */
import { specByName, type SimSpec } from '../detectors/sim/specs.js';

export const MODELS = ['eiger2-4m', 'eiger-500k', 'pilatus4-1m'] as const;
export type ModelName = (typeof MODELS)[number];

export interface DetectorModel {
  name: ModelName;
  /** the simulator whose frames are served */
  sim: SimSpec;
  /** SIMPLON detector/config/description */
  description: string;
  serialNumber: string;
  /** seconds between the end of one exposure and the start of the next (detector_readout_time) */
  readoutTime: number;
  /** frames per second at most: frame_time ≥ 1 / maxFrameRate */
  maxFrameRate: number;
  sensorMaterial: string;
  /** metres */
  sensorThickness: number;
}

function sim(name: string): SimSpec {
  const s = specByName(name);
  if (!s) throw new Error(`detector-sim: no simulator ${name}`);
  return s;
}

export function detectorModel(name: ModelName): DetectorModel {
  switch (name) {
    case 'eiger2-4m':
      return {
        name,
        sim: sim('sim-eiger-4m'),
        description: 'Dectris EIGER2 Si 4M (daqlab-detector-sim, frames of sim-eiger-4m)',
        serialNumber: 'E-08-0000-SIM',
        readoutTime: 1e-7,
        maxFrameRate: sim('sim-eiger-4m').maxFrameRate,
        sensorMaterial: 'Si',
        sensorThickness: 450e-6,
      };
    case 'eiger-500k':
      return {
        name,
        sim: sim('sim-eiger-500k'),
        description: 'Dectris EIGER 500K (daqlab-detector-sim, frames of sim-eiger-500k)',
        serialNumber: 'E-01-0000-SIM',
        readoutTime: 3e-6,
        maxFrameRate: sim('sim-eiger-500k').maxFrameRate,
        sensorMaterial: 'Si',
        sensorThickness: 450e-6,
      };
    case 'pilatus4-1m':
      return {
        name,
        sim: sim('sim-eiger-500k'),
        description: 'Dectris PILATUS4 1M (daqlab-detector-sim, frames of sim-eiger-500k: 514 x 1030 pixels of 75 um)',
        serialNumber: 'P4-01-0000-SIM',
        readoutTime: 1e-7,
        maxFrameRate: 2000,
        sensorMaterial: 'Si',
        sensorThickness: 450e-6,
      };
  }
}
