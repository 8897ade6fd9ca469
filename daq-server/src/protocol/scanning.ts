/**
 * Step scans (`scanning.*` operations): BLISS's scan vocabulary as one request.
 * docs/PROTOCOL.md, "Devices and step scans".
 */

export const STEP_SCAN_TYPES = ['ct', 'ascan', 'dscan', 'a2scan', 'd2scan', 'amesh', 'dmesh', 'lookupscan', 'timescan', 'loopscan'] as const;
export type StepScanType = (typeof STEP_SCAN_TYPES)[number];

/** One scanned axis: a range (start, stop, intervals) or a list of positions (lookupscan). */
export interface ScanAxisSpec {
  axis: string;
  start?: number;
  stop?: number;
  /** mesh axes carry their own intervals; ascan/a2scan share the scan's */
  intervals?: number;
  positions?: number[];
}

/** `scanning.run`: what to scan. Relative types (dscan, d2scan, dmesh) take start/stop from the current position. */
export interface StepScanRequest {
  type: StepScanType;
  axes?: ScanAxisSpec[];
  /** ascan/dscan/a2scan/d2scan: intervals (points = intervals + 1) */
  intervals?: number;
  /** timescan (0: until stopped), loopscan */
  npoints?: number;
  /** seconds per point */
  count_time: number;
  /** timescan: pause between points (s) */
  sleep_time?: number;
  /** counter names (axes' positions are always recorded); empty: the default measurement group */
  counters?: string[];
  /** amesh/dmesh: the fast axis runs back and forth */
  backnforth?: boolean;
  /** save the scan in BLISS's HDF5 layout as `<save_dir>/scan_<number>.h5` (absolute, inside the data roots) */
  save_dir?: string;
  /** scan identity fields */
  name?: string;
  session?: string;
  sample?: string;
  proposal?: string;
}

/** Continuous (fly) scans, also run by `scanning.run`: docs/PROTOCOL.md "Continuous scans". */
export const FLY_SCAN_TYPES = ['fscan', 'fmesh'] as const;
export type FlyScanType = (typeof FLY_SCAN_TYPES)[number];
export const FLY_SCAN_MODES = ['TIME', 'POSITION'] as const;
export type FlyScanMode = (typeof FLY_SCAN_MODES)[number];

/** One flown axis: `npoints` triggers `step` apart from `start` (fmesh: the first axis is the fast one). */
export interface FlyAxisSpec {
  axis: string;
  start: number;
  step: number;
  npoints: number;
}

/** `scanning.run` with type fscan or fmesh. */
export interface FlyScanRequest {
  type: FlyScanType;
  axes: FlyAxisSpec[];
  /** seconds per trigger: the fast axis flies at |step| / acq_time */
  acq_time: number;
  /** TIME: triggers every acq_time; POSITION: when the encoder crosses start + k·step */
  scan_mode: FlyScanMode;
  /** counters, MCAs and detectors triggered at each point (none: every counter and MCA) */
  counters?: string[];
  /** sampled continuously at `fast_rate` beside the triggers: counters, or `<axis>_interf` (interferometers) */
  fast_counters?: string[];
  /** Hz (≤ FLY_LIMITS.maxFastRate) */
  fast_rate?: number;
  /** fmesh: odd lines fly back */
  backnforth?: boolean;
  /** passed to each detector's prepare (e.g. an smx or azint pipeline) */
  processing?: Record<string, unknown>;
  save_dir?: string;
  name?: string;
  session?: string;
  sample?: string;
  proposal?: string;
}

export const FLY_LIMITS = {
  /** trigger rate (Hz) */
  maxTriggerRate: 100_000,
  /** continuous sampling rate of the fast counters (Hz) */
  maxFastRate: 10_000,
  /** fast counters per scan */
  maxFastCounters: 16,
  minAcqTime: 1e-5,
} as const;

export const STEP_SCAN_STATES = ['RUNNING', 'DONE', 'ABORTED', 'FAULT'] as const;
export type StepScanState = (typeof STEP_SCAN_STATES)[number];

/** `scanning.status` / `scanning.wait` / `scanning.run`. */
export interface StepScanStatus {
  /** the store's scan key */
  scan: string;
  number: number;
  title: string;
  type: StepScanType | FlyScanType;
  state: StepScanState;
  /** points measured so far / planned (null: until stopped) */
  points_done: number;
  npoints: number | null;
  reason: string | null;
  /** the channels (streams of the scan): axes first, then counters */
  channels: string[];
  start_time: string;
  end_time: string | null;
}

export const SCAN_LIMITS = {
  /** points in one step scan */
  maxPoints: 1_000_000,
  /** seconds per point */
  maxCountTime: 3600,
  /** lookupscan positions per axis */
  maxPositions: 100_000,
  /** seconds `scanning.wait` may block */
  maxWait: 60,
} as const;
