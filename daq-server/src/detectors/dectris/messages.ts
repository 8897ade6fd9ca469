/**
 * What the two DECTRIS stream formats decode to (stream2.ts, stream1.ts), in
 * one shape, so the receivers and the series bookkeeping do not care which
 * format the detector speaks.
 */
import type { DType } from '../../protocol/index.js';
import type { BlobEncoding } from './blobs.js';

/** An image of one channel as it came, not yet decompressed. */
export interface EncodedImage {
  dtype: DType;
  /** [rows, cols] */
  shape: [number, number];
  encoding: BlobEncoding;
  blob: Uint8Array;
}

/** A per-pixel map of the start message (pixel mask, flat field), uncompressed or compressed. */
export type StartMap = EncodedImage;

export interface SeriesStart {
  type: 'start';
  series_id: number;
  series_unique_id: string | null;
  channels: string[];
  /** [rows, cols], when the message gives it */
  image_size: [number, number] | null;
  image_dtype: DType | null;
  /** the start message's scalar fields (beam centre, energies, count/frame time, goniometer, …), JSON-safe */
  fields: Record<string, unknown>;
  pixel_mask: Record<string, StartMap>;
  flatfield: Record<string, StartMap>;
  /** the count-rate correction table (Stream2 `countrate_correction_lookup_table`, v1 `dcountrate_table-1.0`), under `table` */
  countrate: Record<string, StartMap>;
  /** start fields that could not be used, with why (e.g. a pixel mask that is not an array) */
  ignored: Record<string, string>;
}

export interface SeriesImage {
  type: 'image';
  series_id: number;
  series_unique_id: string | null;
  image_id: number;
  /** seconds since the series start (Stream2 rationals, v1 ns) */
  start_time: number | null;
  stop_time: number | null;
  real_time: number | null;
  /** channel → image, in the order of the message */
  data: Record<string, EncodedImage>;
  /** channels whose data could not be understood, with why */
  bad: Record<string, string>;
  /** the message's other fields as plain values (Jungfraujoch's spots, indexing, azimuthal profile, ...) */
  extras?: Record<string, unknown>;
}

/** Jungfraujoch: per-pixel calibration maps (pedestals) of the detector, by name. */
export interface SeriesCalibration {
  type: 'calibration';
  series_id: number | null;
  series_unique_id: string | null;
  maps: Record<string, EncodedImage>;
  /** maps that could not be understood, with why */
  bad: Record<string, string>;
}

/** Jungfraujoch: the analysis results of several images (its metadata socket), each a plain map with its image_id. */
export interface SeriesMetadata {
  type: 'metadata';
  series_id: number | null;
  series_unique_id: string | null;
  images: Record<string, unknown>[];
}

export interface SeriesEnd {
  type: 'end';
  series_id: number;
  series_unique_id: string | null;
}

export type SeriesMessage = SeriesStart | SeriesImage | SeriesEnd | SeriesCalibration | SeriesMetadata;

/** A message (or part) that could not be decoded: reported by name, never fatal. */
export class StreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamError';
  }
}
