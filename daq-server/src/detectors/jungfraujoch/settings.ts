/**
 * daqlab's prepare → the broker's DatasetSettings, checked against the
 * limits of Jungfraujoch's OpenAPI model (and its rule that the image time is
 * a whole multiple of the detector's frame time, at most 256 of them) before
 * anything is sent; every refusal names the prepare field it comes from.
 */
import { parameterError, type FieldError } from '../../protocol/index.js';
import type { RunContext } from '../plugin.js';

/** DatasetSettings as POST /start takes it (the fields daqlab sets). */
export interface DatasetSettings {
  images_per_trigger: number;
  ntrigger: number;
  image_time_us: number;
  beam_x_pxl: number;
  beam_y_pxl: number;
  detector_distance_mm: number;
  incident_energy_keV: number;
  file_prefix: string;
  sample_name: string;
  compression: string;
  /** the series_id of the stream's messages: daqlab picks a new one per dataset, so messages left over from another are told apart */
  run_number: number;
}

/** The prepare field behind each DatasetSettings key (to name the field of a refusal from the broker). */
export const FIELD_OF: Record<keyof DatasetSettings, string> = {
  images_per_trigger: 'acquisition.nb_frames_per_trigger',
  ntrigger: 'acquisition.nb_frames',
  image_time_us: 'acquisition.expo_time',
  beam_x_pxl: 'detector.beam_center_x',
  beam_y_pxl: 'detector.beam_center_y',
  detector_distance_mm: 'detector.detector_distance',
  incident_energy_keV: 'detector.incident_energy',
  file_prefix: 'detector.file_prefix',
  sample_name: 'detector.sample_name',
  compression: 'detector.compression',
  run_number: 'detector',
};

/** Jungfraujoch sums at most this many detector frames into one image. */
export const MAX_SUMMATION = 256;

export function datasetSettings(config: Record<string, unknown>, acq: RunContext['acquisition'], frameTimeUs: number | null, runNumber: number): DatasetSettings {
  const errors: FieldError[] = [];
  const perTrigger = acq.trigger_mode === 'internal' ? acq.nb_frames : acq.nb_frames_per_trigger;
  if (acq.nb_frames < 1) errors.push({ field: 'acquisition.nb_frames', message: 'a Jungfraujoch dataset has a fixed number of images: give nb_frames ≥ 1' });
  else if (acq.nb_frames % perTrigger) {
    errors.push({ field: 'acquisition.nb_frames', message: `nb_frames ${acq.nb_frames} is not a multiple of nb_frames_per_trigger ${perTrigger}: a Jungfraujoch dataset is ntrigger × images_per_trigger` });
  }
  const imageUs = (acq.expo_time + acq.latency_time) * 1e6;
  const imageTime = Math.round(imageUs);
  if (Math.abs(imageUs - imageTime) > 1e-3) errors.push({ field: 'acquisition.expo_time', message: `expo_time + latency_time = ${imageUs} µs: Jungfraujoch takes whole microseconds (image_time_us)` });
  else if (frameTimeUs !== null && frameTimeUs > 0) {
    if (imageTime % frameTimeUs) errors.push({ field: 'acquisition.expo_time', message: `expo_time + latency_time = ${imageTime} µs is not a multiple of the detector's frame time ${frameTimeUs} µs` });
    else if (imageTime / frameTimeUs > MAX_SUMMATION) errors.push({ field: 'acquisition.expo_time', message: `expo_time + latency_time = ${imageTime} µs sums more than ${MAX_SUMMATION} frames of ${frameTimeUs} µs` });
  }
  const keV = Number(config.incident_energy) / 1000;
  if (!(keV >= 0.001 && keV <= 500)) errors.push({ field: 'detector.incident_energy', message: `${config.incident_energy} eV is outside Jungfraujoch's 1 eV – 500 keV` });
  if (errors.length) throw parameterError(errors, 'Jungfraujoch refuses');
  return {
    images_per_trigger: perTrigger,
    ntrigger: acq.nb_frames / perTrigger,
    image_time_us: imageTime,
    beam_x_pxl: Number(config.beam_center_x),
    beam_y_pxl: Number(config.beam_center_y),
    detector_distance_mm: Number(config.detector_distance) * 1000,
    incident_energy_keV: keV,
    file_prefix: String(config.file_prefix ?? ''),
    sample_name: String(config.sample_name ?? ''),
    compression: String(config.compression ?? 'bslz4'),
    run_number: runNumber,
  };
}

/** A refusal of POST /start (HTTP 400, the broker's text): the field its message names, else `detector`. */
export function refusedField(message: string): string {
  for (const [key, field] of Object.entries(FIELD_OF)) if (message.includes(key)) return field;
  return 'detector';
}
