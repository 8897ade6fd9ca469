/** The `detector` section of `prepare` for a Jungfraujoch detector (what goes into its DatasetSettings). */
import type { JsonSchema } from '../plugin.js';

export const COMPRESSIONS = ['bslz4', 'bszstd'] as const;

export function jungfraujochSchema(name: string): JsonSchema {
  return {
    type: 'object',
    title: `detector: ${name}`,
    description:
      "A PSI detector behind Jungfraujoch, driven through its broker. images_per_trigger, ntrigger and image_time_us come from the acquisition section; the broker's DatasetSettings need the beam centre, distance and energy.",
    additionalProperties: false,
    required: ['beam_center_x', 'beam_center_y', 'detector_distance', 'incident_energy'],
    properties: {
      beam_center_x: { type: 'number', description: 'beam centre, pixels along x (columns) → beam_x_pxl' },
      beam_center_y: { type: 'number', description: 'beam centre, pixels along y (rows) → beam_y_pxl' },
      detector_distance: { type: 'number', exclusiveMinimum: 0, maximum: 100, description: 'sample–detector distance, metres → detector_distance_mm' },
      incident_energy: { type: 'number', minimum: 1, maximum: 500000, description: 'incident photon energy, eV → incident_energy_keV (0.001–500 keV)' },
      file_prefix: { type: 'string', maxLength: 256, pattern: '^[A-Za-z0-9_./-]*$', default: '', description: "Jungfraujoch's own writer: file prefix (empty: it writes no file)" },
      sample_name: { type: 'string', maxLength: 256, default: '' },
      compression: { enum: [...COMPRESSIONS], default: 'bslz4', description: 'compression of the image stream: bitshuffle + LZ4 or bitshuffle + zstd' },
      pedestal: { type: 'boolean', default: false, description: 'collect a pedestal (POST /pedestal) before the dataset' },
      min_spots_for_hit: { type: 'integer', minimum: 0, maximum: 100000, default: 10, description: 'an image with at least this many spots is a hit (peak_counter.is_hit)' },
      initialize_timeout: { type: 'number', minimum: 1, maximum: 3600, default: 600, description: 'seconds initialize (broker Inactive or Error) or a pedestal may take' },
    },
  };
}
