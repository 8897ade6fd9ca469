/**
 * Messages between the saver (main thread) and its writer threads. Frames
 * travel as typed-array views: over shared memory (simulator pools, receiver
 * images) the writer reads the producer's bytes without a copy.
 */
import type { DType, TypedArray } from '../protocol/index.js';
import type { Compression } from './params.js';
import type { ExistsPolicy } from './files.js';
import type { CompressedChunk } from './direct-chunk.js';

/** What one writer thread needs to write its file series. */
export interface SeriesConfig {
  folder: string;
  prefix: string;
  rank: number;
  startNumber: number;
  nbFramesPerFile: number;
  dtype: DType;
  /** per-frame shape */
  shape: number[];
  compression: Compression;
  compressionLevel: number;
  /** checked when each file is created */
  policy: ExistsPolicy;
  flushInterval: number;
  /** NeXus names: frames go to /{entry}/{instrument}/{detector}/data */
  entry: string;
  instrument: string;
  detector: string;
  /** attributes for the data files' NXentry (scan identity), as flat strings */
  entryAttrs: Record<string, string>;
}

/**
 * A frame for a writer; `chunk`: the detector's compressed bytes, written as they are when they fit (direct-chunk.ts).
 * `data` null: the frame was never decoded (nothing needed its pixels); the writer decodes `chunk` only if it does not fit.
 */
export interface FrameToWrite {
  seq: number;
  data: TypedArray | null;
  chunk?: CompressedChunk;
}

export type ToWriter =
  | { op: 'frames'; frames: FrameToWrite[] }
  | { op: 'flush' }
  | { op: 'close' };

/** Where a saved frame is: enough to read it back without HDF5 (chunk address and size). */
export interface SavedFrame {
  seq: number;
  /** file number within the writer's series (start_number + k) */
  file: number;
  /** position of the frame in that file */
  index: number;
  address: number;
  size: number;
}

export type FromWriter =
  | { op: 'opened'; path: string; file: number }
  /** `direct`: how many of them were written as the detector's chunk (no re-encode) */
  | { op: 'saved'; frames: SavedFrame[]; bytes: number; direct: number }
  /** frames 0…count−1 of file `file` and all earlier files of this writer are flushed (durable, readable) */
  | { op: 'flushed'; file: number; count: number }
  | { op: 'error'; message: string; code: string | null; saved: number }
  | { op: 'closed'; saved: number };
