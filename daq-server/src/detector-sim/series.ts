/** What the stream messages of one series need to know about it. */
import type { EncodedFrame } from './frames.js';

export interface SeriesInfo {
  seriesId: number;
  uniqueId: string;
  /** ISO 8601, the arm command's time */
  armDate: string;
  numberOfImages: number;
  /** [rows, cols] */
  shape: [number, number];
  dtype: 'uint16' | 'uint32';
  /** detector/config values at arm */
  config: Record<string, unknown>;
  /** stream/config values at arm */
  headerDetail: 'all' | 'basic' | 'none';
  headerAppendix: unknown;
  imageAppendix: unknown;
  /** DECTRIS pixel mask (bit 0: gap) and flatfield, rows × cols (empty unless header_detail is all), and the count cutoff */
  pixelMask: Uint32Array;
  flatfield: Float32Array;
  saturationValue: number;
  description: string;
  serialNumber: string;
}

/** One acquired image: its index in the series and its times in nanoseconds from the series date. */
export interface SeriesImage {
  index: number;
  startNs: number;
  stopNs: number;
  realNs: number;
  frame: EncodedFrame;
}

/** A header/image appendix is sent when the user set one (SIMPLON's default is the empty string). */
export const hasAppendix = (v: unknown): boolean => v !== '' && v !== null && v !== undefined;
