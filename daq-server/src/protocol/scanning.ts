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

export const STEP_SCAN_STATES = ['RUNNING', 'DONE', 'ABORTED', 'FAULT'] as const;
export type StepScanState = (typeof STEP_SCAN_STATES)[number];

/** `scanning.status` / `scanning.wait` / `scanning.run`. */
export interface StepScanStatus {
  /** the store's scan key */
  scan: string;
  number: number;
  title: string;
  type: StepScanType;
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
