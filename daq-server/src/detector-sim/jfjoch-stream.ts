/**
 * The messages of a simulated Jungfraujoch, following its stream description
 * ("based on and compatible with Stream2"): CBOR maps `start`, `calibration`,
 * `image`, `end` on the image PUSH socket and `metadata` on the metadata PUB
 * socket. Images are int32 (Jungfraujoch's signed photon counts) compressed
 * bslz4 or bszstd inside DECTRIS's tag 56500; image messages carry the
 * analysis Jungfraujoch adds (spots, spot_count, az_int_profile), here from
 * the scene's ground truth (spots) and a plain azimuthal average in q bins of
 * the dataset's geometry (profile); metadata messages repeat those results
 * for several images at a time.
 */
import { bslz4Compress, bslz4MaxCompressedSize } from '../saving/codec/bslz4.js';
import { bszstdCompress } from '../saving/codec/bszstd.js';
import { Float, TAG_DATETIME, TAG_DECTRIS_COMPRESSION, TYPED_ARRAY_TAG, Tagged, encodeSelfDescribed, multiDimArray, typedArray, type CborValue } from './cbor.js';
import type { DatasetSettings as ClientDatasetSettings } from '../detectors/jungfraujoch/settings.js';

/** Jungfraujoch's stream magic number (the start, image and end messages carry it) */
export const MAGIC_NUMBER = 0x52320004;
export const CHANNEL = 'default';
export const PROFILE_BINS = 100;
/** int32 error_value (bad pixels) */
export const ERROR_VALUE = -(2 ** 31);
const TIME_BASE = 1_000_000_000;

/** DatasetSettings as the simulated broker takes it: the fields daqlab sends, the compressions it encodes, run_number optional as in the API. */
export type DatasetSettings = Omit<ClientDatasetSettings, 'compression' | 'run_number'> & { compression: 'bslz4' | 'bszstd'; run_number?: number };

export interface JfSeries {
  seriesId: number;
  uniqueId: string;
  armDate: string;
  settings: DatasetSettings;
  shape: [number, number];
  /** metres */
  pixelSize: number;
  description: string;
  serialNumber: string;
  /** profile bin of each pixel (-1: outside), and the bins' q (Å⁻¹) */
  bins: Int32Array;
  binQ: Float32Array;
}

/** The scene's spots of one frame ([[row, col, photons]] truth) as Jungfraujoch reports spots. */
export interface Spot {
  x: number;
  y: number;
  I: number;
  indexed: boolean;
}

export function spotsFromTruth(truth: Record<string, unknown> | undefined): Spot[] {
  const list = Array.isArray(truth?.spots) ? (truth.spots as unknown[]) : [];
  return list.filter((s): s is number[] => Array.isArray(s) && s.length >= 3).map(([row, col, photons]) => ({ x: col, y: row, I: photons, indexed: false }));
}

/** Profile bins over q from the dataset's beam centre, distance and energy. */
export function profileBins(shape: [number, number], pixel: number, s: DatasetSettings): { bins: Int32Array; binQ: Float32Array } {
  const [rows, cols] = shape;
  const lambda = 12.398419843320026 / s.incident_energy_keV; // Å
  const dist = s.detector_distance_mm / 1000;
  const q = (r: number, c: number): number => {
    const d = Math.hypot((c - s.beam_x_pxl) * pixel, (r - s.beam_y_pxl) * pixel);
    return ((4 * Math.PI) / lambda) * Math.sin(Math.atan2(d, dist) / 2);
  };
  const qmax = Math.max(q(0, 0), q(0, cols - 1), q(rows - 1, 0), q(rows - 1, cols - 1)) * (1 + 1e-6);
  const bins = new Int32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) bins[r * cols + c] = Math.min(PROFILE_BINS - 1, Math.floor((q(r, c) / qmax) * PROFILE_BINS));
  const binQ = Float32Array.from({ length: PROFILE_BINS }, (_, k) => ((k + 0.5) / PROFILE_BINS) * qmax);
  return { bins, binQ };
}

/** Mean of the valid pixels of each bin (0 in empty bins). */
export function profile(pixels: Int32Array, bins: Int32Array): Float32Array {
  const sum = new Float64Array(PROFILE_BINS);
  const n = new Float64Array(PROFILE_BINS);
  for (let i = 0; i < pixels.length; i++) {
    const b = bins[i];
    const v = pixels[i];
    if (b < 0 || v === ERROR_VALUE) continue;
    sum[b] += v;
    n[b]++;
  }
  return Float32Array.from(sum, (x, k) => (n[k] ? x / n[k] : 0));
}

const f = (v: number): Float => new Float(v);
const int32Array = (a: Int32Array): Tagged => new Tagged(TYPED_ARRAY_TAG.int32, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

export function startMessage(s: JfSeries): Uint8Array {
  const d = s.settings;
  const [rows, cols] = s.shape;
  return encodeSelfDescribed({
    type: 'start',
    magic_number: MAGIC_NUMBER,
    series_id: s.seriesId,
    series_unique_id: s.uniqueId,
    arm_date: new Tagged(TAG_DATETIME, s.armDate),
    beam_center_x: f(d.beam_x_pxl),
    beam_center_y: f(d.beam_y_pxl),
    detector_distance: f(d.detector_distance_mm / 1000),
    incident_energy: f(d.incident_energy_keV * 1000),
    incident_wavelength: f(12.398419843320026 / d.incident_energy_keV),
    number_of_images: d.images_per_trigger * d.ntrigger,
    image_size_x: cols,
    image_size_y: rows,
    image_dtype: 'int32',
    pixel_size_x: f(s.pixelSize),
    pixel_size_y: f(s.pixelSize),
    frame_time: f(d.image_time_us / 1e6),
    count_time: f(d.image_time_us / 1e6),
    saturation_value: 2 ** 31 - 1,
    error_value: ERROR_VALUE,
    channels: [CHANNEL],
    detector_description: s.description,
    detector_serial_number: s.serialNumber,
    sensor_material: 'Si',
    sensor_thickness: f(320e-6),
    sample_name: d.sample_name,
    file_prefix: d.file_prefix,
    az_int_bin_to_q: typedArray(s.binQ),
    summation: 1,
  });
}

/** One pedestal map per gain stage, float32 ADU (Jungfraujoch sends them before the images). */
export function calibrationMessage(s: JfSeries, name: string, map: Float32Array): Uint8Array {
  return encodeSelfDescribed({
    type: 'calibration',
    magic_number: MAGIC_NUMBER,
    series_id: s.seriesId,
    series_unique_id: s.uniqueId,
    data: { [name]: multiDimArray([s.shape[0], s.shape[1]], typedArray(map)) },
  });
}

export function compress(pixels: Int32Array, compression: DatasetSettings['compression']): Uint8Array {
  const bytes = new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  if (compression === 'bszstd') return bszstdCompress(bytes, 4);
  const out = new Uint8Array(bslz4MaxCompressedSize(bytes.length, 4));
  return out.slice(0, bslz4Compress(bytes, 4, out));
}

/** What Jungfraujoch's analysis says about one image (image message fields, and the metadata message's entries). */
export function analysis(spots: Spot[], prof: Float32Array): Record<string, CborValue> {
  return {
    spots: spots.map((p) => ({ x: f(p.x), y: f(p.y), I: f(p.I), indexed: p.indexed })),
    spot_count: spots.length,
    az_int_profile: typedArray(prof),
  };
}

export function imageMessage(s: JfSeries, index: number, timeNs: number, blob: Uint8Array, result: Record<string, CborValue>): Uint8Array {
  const exposureNs = s.settings.image_time_us * 1000;
  return encodeSelfDescribed({
    type: 'image',
    magic_number: MAGIC_NUMBER,
    series_id: s.seriesId,
    series_unique_id: s.uniqueId,
    image_id: index,
    start_time: [timeNs, TIME_BASE],
    end_time: [timeNs + exposureNs, TIME_BASE],
    real_time: [exposureNs, TIME_BASE],
    data: { [CHANNEL]: multiDimArray([s.shape[0], s.shape[1]], new Tagged(TYPED_ARRAY_TAG.int32, new Tagged(TAG_DECTRIS_COMPRESSION, [s.settings.compression, 4, blob]))) },
    ...result,
  });
}

export function metadataMessage(s: JfSeries, images: { index: number; result: Record<string, CborValue> }[]): Uint8Array {
  return encodeSelfDescribed({
    type: 'metadata',
    magic_number: MAGIC_NUMBER,
    series_id: s.seriesId,
    series_unique_id: s.uniqueId,
    images: images.map((m) => ({ image_id: m.index, ...m.result })),
  });
}

export function endMessage(s: JfSeries, collected: number): Uint8Array {
  return encodeSelfDescribed({ type: 'end', magic_number: MAGIC_NUMBER, series_id: s.seriesId, series_unique_id: s.uniqueId, images_collected: collected, max_image_number: collected });
}

export { int32Array };
