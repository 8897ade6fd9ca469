/** Messages between a DECTRIS stream receiver thread (receiver-worker.ts) and the series it feeds (series.ts). */
import type { DType, TypedArray } from '../../protocol/index.js';
import type { CompressedChunk } from '../../saving/direct-chunk.js';
import type { SeriesEnd, SeriesImage, SeriesMetadata, SeriesStart } from './messages.js';

export type StreamFormat = 'cbor' | 'legacy';

export interface ReceiverInit {
  rank: number;
  /** the detector's stream, e.g. tcp://10.0.0.5:31001 */
  address: string;
  format: StreamFormat;
  /** pixels of the detector's frame: a message declaring more is refused before anything is allocated */
  maxPixels: number;
  /** PULL (the image stream, default) or SUB (Jungfraujoch's metadata PUB socket: every message, nothing dealt) */
  socket?: 'pull' | 'sub';
  /**
   * false: nothing needs the pixels as they arrive (pipeline `none`): a one-channel bslz4 image is passed on
   * as its chunk, undecoded (`DecodedChannel.undecoded`); the store decodes it when someone reads it
   */
  decode?: boolean;
}

/** A decoded per-pixel map of the start message. */
export interface DecodedMap {
  dtype: DType;
  shape: [number, number];
  data: TypedArray;
}

export interface DecodedChannel {
  /** null when the channel could not be decoded (`error` says why) */
  data: TypedArray | null;
  shape: [number, number] | null;
  error: string | null;
  /** bslz4 channels: the detector's compressed bytes, kept for a direct chunk write (saving/direct-chunk.ts) */
  chunk?: CompressedChunk;
  /** set when the receiver skipped the decode: `data` is null, `chunk` holds the pixels of this type */
  undecoded?: DType;
}

export type FromReceiver =
  | { type: 'ready'; rank: number }
  | { type: 'start'; rank: number; start: Omit<SeriesStart, 'pixel_mask' | 'flatfield' | 'countrate'>; pixel_mask: Record<string, DecodedMap>; flatfield: Record<string, DecodedMap>; countrate: Record<string, DecodedMap> }
  /** the decoded image: the message's ids and times, its channels decoded by the receiver */
  | (Omit<SeriesImage, 'data' | 'bad'> & { rank: number; channels: Record<string, DecodedChannel> })
  | { type: 'end'; rank: number; end: SeriesEnd }
  /** Jungfraujoch: calibration maps (pedestals) decoded, and those that could not be, with why */
  | { type: 'calibration'; rank: number; series_id: number | null; maps: Record<string, DecodedMap>; bad: Record<string, string> }
  /** Jungfraujoch: analysis results of several images */
  | { type: 'metadata'; rank: number; metadata: SeriesMetadata }
  /** a message that could not be decoded: counted and reported by name */
  | { type: 'bad'; rank: number; message: string }
  /** the socket failed: the run faults */
  | { type: 'failed'; rank: number; message: string };

export type ToReceiver = { type: 'close' };
