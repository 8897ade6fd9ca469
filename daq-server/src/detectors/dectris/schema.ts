/** The `detector` section of `prepare` for a DECTRIS detector. */
import type { JsonSchema } from '../plugin.js';

export function dectrisSchema(name: string): JsonSchema {
  const energy = { type: 'number', exclusiveMinimum: 0, maximum: 1e6 };
  return {
    type: 'object',
    title: `detector: ${name}`,
    description: 'A DECTRIS detector driven through SIMPLON. count_time, frame_time, nimages, ntrigger and trigger_mode come from the acquisition section.',
    additionalProperties: false,
    default: {},
    properties: {
      photon_energy: { ...energy, description: 'photon energy, eV (sets the thresholds to their defaults)' },
      incident_energy: { ...energy, description: 'incident energy, eV (SIMPLON 1.8 name of photon_energy)' },
      threshold_energy: { ...energy, description: 'first threshold, eV' },
      thresholds: {
        type: 'object',
        description: 'EIGER2/PILATUS4 thresholds by number: {"1": {"energy": eV, "mode": "enabled"}, "2": {...}}',
        additionalProperties: false,
        patternProperties: {
          '^[1-9]$': {
            type: 'object',
            additionalProperties: false,
            properties: { energy: energy, mode: { enum: ['enabled', 'disabled'] } },
          },
        },
      },
      beam_center_x: { type: 'number', description: 'beam centre, pixels along x (columns): written to the detector, and the geometry of the scan' },
      beam_center_y: { type: 'number', description: 'beam centre, pixels along y (rows)' },
      detector_distance: { type: 'number', exclusiveMinimum: 0, maximum: 100, description: 'sample–detector distance, metres' },
      roi_mode: { type: 'string', description: 'e.g. disabled, 4M (set before the timing: it changes count_time and frame_time)' },
      compression: { enum: ['bslz4', 'lz4', 'none'], default: 'bslz4', description: 'how the detector compresses frames on the stream' },
      header_detail: { enum: ['all', 'basic', 'none'], default: 'all', description: 'start message detail (all: with pixel mask and flat field)' },
      initialize_timeout: { type: 'number', minimum: 1, maximum: 3600, default: 600, description: 'seconds an initialize (detector in state na) may take' },
    },
  };
}
