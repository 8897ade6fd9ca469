/** Messages between the acquisition (main thread) and its receiver workers. */
import type { TypedArray } from '../../protocol/index.js';
import type { FrameResult } from '../chain.js';
import type { StepSpec } from '../pipelines.js';
import type { FieldError } from '../../protocol/index.js';
import type { ImageSpec, StepEnvironment, StreamDecl } from '../types.js';

export interface InitMessage {
  type: 'init';
  rank: number;
  specs: StepSpec[];
  input: ImageSpec;
  env: StepEnvironment;
  plugins: string[];
  /** false: the processed image is not wanted (keep_frames false): results come back without it (no 17 MiB transfer per frame) */
  keepFrames?: boolean;
}

export type ToWorker =
  | InitMessage
  | { type: 'frame'; index: number; data: TypedArray; valid: boolean; from?: number; mask?: Uint8Array }
  | { type: 'part'; index: number; data: TypedArray; out: TypedArray; flags: Uint8Array; part: number; parts: number }
  | { type: 'partials'; id: number; final: boolean }
  | { type: 'drain' }
  | { type: 'close' };

export type FromWorker =
  | {
      type: 'ready';
      rank: number;
      /** the image the chain produces, and the one its first step produces (the partial topology's shared image) */
      output: ImageSpec;
      headOutput: ImageSpec;
      /** the first step can process part of a frame (partial topology) */
      partial: boolean;
      streams: StreamDecl[];
      statics: Record<string, TypedArray | Record<string, unknown>>;
    }
  | ({ type: 'result' } & FrameResult)
  | { type: 'part_done'; index: number; rank: number }
  | { type: 'partials'; id: number; partials: Record<string, TypedArray> }
  | { type: 'item'; rank: number; stream: string; item: TypedArray | Record<string, unknown> }
  | { type: 'drained'; rank: number }
  | { type: 'error'; rank: number; index: number | null; message: string; fields?: FieldError[] };
