/**
 * Stream2 (DECTRIS stream V2, CBOR) messages: start, image and end, as
 * DECTRIS documents them (github.com/dectris/documentation stream_v2):
 * self-described CBOR maps with `type` first; Float fields float64;
 * times as rationals [numerator, denominator] over a 1 GHz time base; image
 * data in `data` as channel → tag 40 [[rows, cols], typed array], the
 * typed array holding a tag 56500 ["bslz4", elem_size, bytes] when compressed.
 */
import {
  Float,
  TAG_DATETIME,
  TAG_DECTRIS_COMPRESSION,
  TYPED_ARRAY_TAG,
  Tagged,
  encodeSelfDescribed,
  multiDimArray,
  typedArray,
  type CborValue,
} from './cbor.js';
import { hasAppendix, type SeriesImage, type SeriesInfo } from './series.js';

/** The one channel the simulated detectors count (threshold 1). */
export const CHANNEL = 'threshold_1';
const TIME_BASE = 1_000_000_000;
const AXES = ['chi', 'kappa', 'omega', 'phi', 'two_theta'] as const;

const f = (v: unknown): Float => new Float(Number(v));

export function startMessage(s: SeriesInfo): Uint8Array {
  const c = s.config;
  const all = s.headerDetail === 'all';
  const goniometer: Record<string, CborValue> = {};
  for (const a of AXES) goniometer[a] = { increment: f(c[`${a}_increment`]), start: f(c[`${a}_start`]) };
  const [rows, cols] = s.shape;
  const msg: Record<string, CborValue> = {
    type: 'start',
    arm_date: new Tagged(TAG_DATETIME, s.armDate),
    beam_center_x: f(c.beam_center_x),
    beam_center_y: f(c.beam_center_y),
    channels: [CHANNEL],
    count_time: f(c.count_time),
    countrate_correction_enabled: Boolean(c.countrate_correction_applied),
    detector_description: s.description,
    detector_serial_number: s.serialNumber,
    detector_translation: [f(0), f(0), f(c.detector_distance)],
    flatfield: all ? { [CHANNEL]: multiDimArray([rows, cols], typedArray(s.flatfield)) } : undefined,
    flatfield_enabled: Boolean(c.flatfield_correction_applied),
    frame_time: f(c.frame_time),
    goniometer,
    image_dtype: s.dtype,
    image_size_x: cols,
    image_size_y: rows,
    incident_energy: f(c.incident_energy),
    incident_wavelength: f(c.wavelength),
    number_of_images: s.numberOfImages,
    pixel_mask: all ? { [CHANNEL]: multiDimArray([rows, cols], typedArray(s.pixelMask)) } : undefined,
    pixel_mask_enabled: Boolean(c.pixel_mask_applied),
    pixel_size_x: f(c.x_pixel_size),
    pixel_size_y: f(c.y_pixel_size),
    saturation_value: s.saturationValue,
    sensor_material: String(c.sensor_material),
    sensor_thickness: f(c.sensor_thickness),
    series_id: s.seriesId,
    series_unique_id: s.uniqueId,
    threshold_energy: { [CHANNEL]: f(c['threshold/1/energy']) },
    user_data: hasAppendix(s.headerAppendix) ? (s.headerAppendix as CborValue) : undefined,
    virtual_pixel_interpolation_enabled: Boolean(c.virtual_pixel_correction_applied),
  };
  return encodeSelfDescribed(msg);
}

/** The channel's data item: tag 40 around a typed array, compressed inside tag 56500 unless compression is none. */
export function imageData(s: SeriesInfo, img: SeriesImage): Tagged {
  const fr = img.frame;
  const tag = s.dtype === 'uint32' ? TYPED_ARRAY_TAG.uint32 : TYPED_ARRAY_TAG.uint16;
  const bytes: CborValue =
    fr.compression === 'none' ? fr.stream2 : new Tagged(TAG_DECTRIS_COMPRESSION, [fr.compression, fr.compression === 'bslz4' ? fr.elemSize : 0, fr.stream2]);
  return multiDimArray([s.shape[0], s.shape[1]], new Tagged(tag, bytes));
}

export function imageMessage(s: SeriesInfo, img: SeriesImage): Uint8Array {
  return encodeSelfDescribed({
    type: 'image',
    series_id: s.seriesId,
    series_unique_id: s.uniqueId,
    series_date: new Tagged(TAG_DATETIME, s.armDate),
    image_id: img.index,
    real_time: [img.realNs, TIME_BASE],
    start_time: [img.startNs, TIME_BASE],
    stop_time: [img.stopNs, TIME_BASE],
    data: { [CHANNEL]: imageData(s, img) },
    user_data: hasAppendix(s.imageAppendix) ? (s.imageAppendix as CborValue) : undefined,
  });
}

export function endMessage(s: SeriesInfo): Uint8Array {
  return encodeSelfDescribed({ type: 'end', series_id: s.seriesId, series_unique_id: s.uniqueId });
}

