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
}

export type ToWorker =
  | InitMessage
  | { type: 'frame'; index: number; data: TypedArray; valid: boolean }
  | { type: 'partials'; id: number; final: boolean }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; rank: number; output: ImageSpec; streams: StreamDecl[]; statics: Record<string, TypedArray | Record<string, unknown>> }
  | ({ type: 'result' } & FrameResult)
  | { type: 'partials'; id: number; partials: Record<string, TypedArray> }
  | { type: 'error'; rank: number; index: number | null; message: string; fields?: FieldError[] };
