/**
 * Detector plugins, after LIMA2: a control part (what the detector is, how it
 * is configured, when it fires) separated from one or more data receivers
 * (where frames arrive). The acquisition controller drives the timing for
 * internal/software/external triggers; a plugin only says what it can do and
 * produces frames through its receivers.
 */
import type { CompressedChunk } from '../saving/direct-chunk.js';
import type { DeferredItem } from '../store/deferred.js';
import type { DType, TypedArray, TriggerMode } from '../protocol/index.js';
import type { ClientFiles } from '../files/client-files.js';

/** A JSON schema object (draft-07, as Ajv validates it). */
export type JsonSchema = Record<string, unknown>;

export interface DetectorInfo {
  /** registry name, e.g. `sim-eiger-500k` */
  name: string;
  /** human model name, e.g. `Simulated DECTRIS EIGER 500K` */
  model: string;
  /** shape of one frame as delivered by the receivers (e.g. [514, 1030], or [8, 512, 1024] for raw Jungfrau) */
  shape: number[];
  /** shape of the assembled image, when it differs from `shape` (raw multi-module detectors) */
  image_shape: [number, number];
  /** pixel size in metres: [slow (rows), fast (cols)] */
  pixel_size: [number, number];
  dtype: DType;
  trigger_modes: TriggerMode[];
  /** maximum frame rate in Hz */
  max_frame_rate: number;
  /** value marking gap / invalid pixels, when the detector uses one */
  dummy: number | null;
  /** sensor and module description (free-form, goes into NeXus later) */
  sensor: Record<string, unknown>;
  /** scenes this simulator can draw */
  scenes: string[];
}

/** What a receiver hands over for one frame. */
export interface ReceivedFrame {
  index: number;
  /** pixel data, shape `DetectorInfo.shape`; may be a view into a shared pool: consumers must not modify it */
  data: TypedArray;
  /** false when the frame is incomplete (lost packets): it is kept but flagged, never passed on silently */
  valid: boolean;
  /** ground truth the simulator drew for this frame (spot positions, hit flag), when it has any */
  truth?: Record<string, unknown>;
  /** acquisition time: when the receiver got the frame from the detector, ms since the Unix epoch (set by the acquisition) */
  time?: number;
  /** further channels of the same image (multi-threshold detectors): stored as streams `frame_<channel>` */
  channels?: Record<string, TypedArray>;
  /**
   * `data` as the detector compressed it (DECTRIS bslz4), when the receiver kept it: saving writes it as the
   * frame's chunk without re-encoding (saving/direct-chunk.ts). Whoever changes the pixels must drop it.
   */
  compressed?: CompressedChunk;
  /**
   * Set when the receiver did not decode the frame (nothing needed its pixels: pipeline `none`): the store keeps
   * it compressed and decodes it when read; `data` decodes it on first use (slower, never wrong). `compressed` is set.
   */
  deferred?: DeferredItem;
}

/**
 * Frames a real detector pushes: the acquisition does not time frames itself,
 * it takes what arrived and ends when the detector's series ends.
 */
export interface PushedSource {
  /** arm the detector (and fire it for internal triggers); rejects with the detector's reason */
  start(): Promise<void>;
  /** one software trigger */
  trigger(): Promise<void>;
  /** end the series gracefully (cancel, disarm) */
  stop(): Promise<void>;
  /** end the series now */
  abort(): Promise<void>;
  /** frames that arrived, in image order, at most `max` */
  take(max: number): ReceivedFrame[];
  /** per-pixel maps the detector sent with the series (pixel mask, flat field): stored once as streams of that name */
  takeMaps(): { name: string; dtype: DType; shape: number[]; data: TypedArray }[];
  /**
   * Results the detector computed itself (Jungfraujoch's spots, hit counts, azimuthal profiles), as
   * appends to result streams named like the pipelines' (`peaks`, `peak_counter`, `intensity`, `radial`)
   */
  takeResults?(): PushedResult[];
  /** set once the series is over: `fault` is null when it completed */
  readonly ended: { fault: string | null } | null;
  /** called whenever frames arrive or the series ends */
  onReady(listener: () => void): void;
  /** the id of the series the detector was armed for (DECTRIS: arm's sequence id), once armed; absent: unknown */
  seriesId?(): number | null;
  /** the series as the detector described it, with what went wrong (for the scan info) */
  describeSeries(): Record<string, unknown>;
  /** images lost before processing so far: by the detector's own count (null: not read yet) and image ids that never came */
  losses?(): { detector_dropped: number | null; missing_image_ids: number };
}

/** One append to a result stream a detector computed (created on first use, with `info`). */
export type PushedResult =
  | { kind: 'event'; stream: string; info: Record<string, unknown>; events: unknown[]; frames?: number[] }
  | { kind: 'array'; stream: string; dtype: DType; shape: number[]; info: Record<string, unknown>; items: TypedArray[]; frames?: number[] };

/** What a plugin may read of the rest of `prepare` besides its `detector` section. */
export interface RunContext {
  acquisition: { nb_frames: number; expo_time: number; latency_time: number; trigger_mode: TriggerMode; nb_frames_per_trigger: number };
  processing: Record<string, unknown>;
}

/** Raised by a receiver when the (simulated) detector fails: the acquisition goes to FAULT. */
export class DetectorFault extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DetectorFault';
  }
}

/** One data receiver of a run. Frames are pulled by index: deterministic for a given seed. */
export interface Receiver {
  readonly rank: number;
  /** produce frame `index` (0-based within the acquisition); may throw DetectorFault */
  receive(index: number): ReceivedFrame;
  /** release pools and buffers */
  close(): void;
}

/** A detector configured for one acquisition (after prepare). */
export interface DetectorRun {
  /** the validated `detector` section with defaults filled in */
  readonly config: Record<string, unknown>;
  /** frame shape and dtype for this run (the scene can not change them) */
  readonly shape: number[];
  readonly dtype: DType;
  /** fastest frame period this configuration allows, in seconds */
  readonly minPeriod: number;
  /**
   * Frames come from storage, not from a sensor (the replay detector): the
   * acquisition ignores the frame period and reads frames as fast as
   * processing and saving take them, never dropping one.
   */
  readonly unpaced?: boolean;
  /** create receiver `rank` of `count` (the controller decides the topology) */
  receiver(rank: number, count: number): Receiver;
  /**
   * Do the expensive preparation (e.g. render a simulator's frame pool) off
   * the event loop; awaited by prepare, so a started run delivers at full rate.
   */
  prefill?(): Promise<void>;
  /** extra data the scene publishes at prepare (e.g. calibration references); put into scan info */
  describe(): Record<string, unknown>;
  /** a real detector: frames come when it sends them (see PushedSource) */
  readonly pushed?: PushedSource;
  /** per-pixel maps the detector itself provides for processing (its pixel mask as `mask`), known at prepare */
  detectorMaps?(): Record<string, { dtype: DType; shape: number[]; data: TypedArray }>;
  close(): void;
}

export interface DetectorPlugin {
  readonly name: string;
  info(): DetectorInfo;
  /**
   * JSON schema of the `detector` section of `prepare` for this detector
   * (scene, seed, scene parameters, simulation options). Defaults are
   * declared in the schema (`default`), so validation fills them in.
   */
  configSchema(): JsonSchema;
  /**
   * Configure a run. `config` has already been validated against
   * `configSchema()` with defaults applied; cross-field checks that a
   * schema cannot express throw DaqError('ParameterError', ...) naming the field.
   * `files`: the files the config names (`poni`, `*_file`), already confined
   * and read by the server (files/client-files.ts), keyed by the path as
   * written; a plugin takes their bytes from there instead of reading paths.
   */
  open(config: Record<string, unknown>, files?: ClientFiles, context?: RunContext): Promise<DetectorRun>;
  /** live state of the hardware (temperature, humidity, high voltage, stream counters), when there is hardware */
  status?(): Promise<Record<string, unknown>>;
  /**
   * The detector's frame stream, when receivers on other hosts can pull it themselves (DECTRIS: its ZeroMQ
   * PUSH socket deals images round robin between every connected PULL socket); absent: frames only here.
   */
  remoteStream?(): { address: string; format: 'cbor' | 'legacy' };
  /** Build, once when the server starts, what every run needs, so a client's first prepare does not build it on the event loop. */
  warmUp?(): void;
  /** calibration maps the detector can hand out (Jungfrau pedestals and gains), keyed by name */
  calibration?(config: Record<string, unknown>): Promise<Record<string, { dtype: DType; shape: number[]; data: TypedArray }>>;
}
