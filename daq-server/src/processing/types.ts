/**
 * Processing steps and pipelines, after areaDetector's plugins and LIMA2's
 * pipelines: every step has the same small interface and publishes its
 * parameter schema (with defaults) and the result streams it fills; a
 * pipeline is a named chain of steps. Steps run inside receiver worker
 * threads, one instance per receiver, on one frame at a time.
 */
import type { DType, TypedArray } from '../protocol/index.js';
import type { JsonSchema } from '../detectors/plugin.js';

/** Shape and element type of the image a step receives or produces (2D after assembly; raw multi-module frames are 3D). */
export interface ImageSpec {
  dtype: DType;
  shape: number[];
  /** pixel size in metres [rows, cols] of the image grid, when known */
  pixelSize?: [number, number];
  /** value marking invalid pixels in this image, when there is one */
  dummy?: number | null;
}

/** A result stream a step fills. */
export interface StreamDecl {
  name: string;
  kind: 'array' | 'event';
  /** array streams: element type and per-item shape */
  dtype?: DType;
  shape?: number[];
  /** units, axis names, column meanings, description: goes to the stream's info */
  info?: Record<string, unknown>;
  /**
   * `frame`: at most one item per processed frame (event streams: any number of events per frame),
   *          released in frame order across receivers;
   * `static`: items emitted once at setup (e.g. the radial axis);
   * `accumulated`: partial results per receiver (e.g. a sum image), combined with `combine`
   *          and published periodically and at the end;
   * `end`: items produced after the last frame by the step's `drain` (e.g. a reconstructed
   *          volume, one slice per item), published as each one is ready.
   */
  cadence: 'frame' | 'static' | 'accumulated' | 'end';
  /** accumulated streams: how the partial results of receivers combine (element-wise) */
  combine?: 'sum' | 'max';
}

/** What a step sees while processing one frame. */
export interface FrameContext {
  /** frame index in the acquisition */
  readonly index: number;
  /** receiver rank processing it */
  readonly receiver: number;
  /** false for incomplete frames: steps must not use their pixels for results (they are flagged, not hidden) */
  readonly valid: boolean;
  /** the current image, as left by the previous step; a step may replace it */
  image: TypedArray;
  /** values shared between steps of one frame (e.g. `mask`, `variance`, `background`) */
  readonly vars: Map<string, unknown>;
  /** set by a step (e.g. a hit veto) to keep the dense frame out of the `frame` stream */
  veto: boolean;
  /** add an item to a declared `frame` stream (arrays: one item; events: any number) */
  emit(stream: string, item: TypedArray | Record<string, unknown>): void;
}

/** A configured step inside one receiver. */
export interface Step {
  process(ctx: FrameContext): void;
  /** accumulated streams: the partial result of this receiver so far (copies or views the step no longer writes) */
  partial?(): Record<string, TypedArray>;
  /** called once after the last frame, before the final `partial()` (flush what is pending) */
  finish?(): void;
  /**
   * After the last frame (before `finish`): produce the items of `end` streams,
   * which may take long (a reconstruction), handing each to `emit` when ready.
   */
  drain?(emit: (stream: string, item: TypedArray | Record<string, unknown>) => void): Promise<void>;
  /**
   * Partial-frame topology (head step only): do part `part` of `parts` of this
   * frame — e.g. correct some detector modules — straight into the shared
   * `out` image and `flags`, which the receivers of the frame fill together.
   */
  processPart?(input: TypedArray, out: TypedArray, flags: Uint8Array, part: number, parts: number): void;
}

/** Read-only inputs every step can use, shared between receivers without copies. */
export interface StepEnvironment {
  /** the detector's description from prepare (geometry, poni, energy, dummy, layout ...) */
  detector: Record<string, unknown>;
  /** large maps shared by reference (calibration, mask, dark, flat), keyed by name */
  maps: Record<string, { dtype: DType; shape: number[]; data: TypedArray }>;
  /**
   * The files the client named (`poni`, `*_file` parameters), confined to the
   * data roots and read by the server at prepare (files/client-files.ts),
   * keyed by the path as written. Steps take a named file from here; when
   * `files` is absent (embedders, unit tests) they read the path themselves.
   */
  files?: Readonly<Record<string, Uint8Array>>;
}

export interface StepBuild {
  step: Step;
  /** the image this step hands to the next one */
  output: ImageSpec;
  streams: StreamDecl[];
  /** arrays emitted once at setup for `static` streams */
  statics?: Record<string, TypedArray | Record<string, unknown>>;
}

/**
 * A step type, registered by name. `create` runs in every receiver worker
 * with the same (validated) parameters, so it must be deterministic.
 */
export interface StepFactory<P = Record<string, unknown>> {
  readonly name: string;
  readonly description: string;
  /** JSON schema of the step's parameters, with `default`s (draft-07) */
  readonly schema: JsonSchema;
  /**
   * Checks a schema cannot express, against the incoming image (ROI inside the
   * image, map shapes...). Return field errors relative to the step's params.
   */
  check?(params: P, input: ImageSpec, env: StepEnvironment): { field: string; message: string }[];
  create(params: P, input: ImageSpec, env: StepEnvironment): StepBuild;
}
