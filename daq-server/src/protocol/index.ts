/**
 * The daqlab wire protocol: the single definition shared by the server, the
 * widgets and the tests. docs/PROTOCOL.md describes it in prose; the Python
 * client mirrors these names in kernel-bridge/daqlab/_protocol.py.
 *
 * One WebSocket endpoint (`/ws`):
 *  - text messages carry JSON control: requests (client → server), replies
 *    and events (server → client);
 *  - binary messages (server → client only) carry data: a small JSON
 *    envelope followed by an Apache Arrow IPC stream (see `envelope.ts`).
 */

export * from './envelope.js';
export * from './frame-stats.js';
export * from './errors.js';
export * from './dtypes.js';
export * from './jobs.js';
export * from './logbook.js';
export * from './limits.js';
export * from './devices.js';
export * from './scanning.js';
export * from './workflows.js';

/** Bumped on any incompatible change; sent in the `hello` reply. */
export const PROTOCOL_VERSION = 1;

/** No WebSocket message, in either direction, may exceed this (Jupyter's proxy caps at 10 MiB). */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** Largest control (text) message a client may send. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** Every control operation a client can request. */
export const OPS = [
  'hello',
  'detectors.list',
  'detector.info',
  'detector.state',
  'detector.status',
  'detector.calibration',
  'acq.prepare',
  'acq.start',
  'acq.trigger',
  'acq.stop',
  'acq.abort',
  'acq.reset',
  'acq.status',
  'scans.last',
  'scans.search',
  'scans.wait_next',
  'scan.get',
  'stream.info',
  'stream.read',
  'subscribe',
  'unsubscribe',
  'sub.ack',
  'schema.get',
  'pipelines.list',
  'pipeline.schema',
  'jobs.cluster',
  'jobs.templates',
  'jobs.submit',
  'jobs.list',
  'jobs.get',
  'jobs.logs',
  'jobs.cancel',
  'jobs.hold',
  'jobs.release',
  'jobs.watch',
  'jobs.unwatch',
  'receivers.register',
  'receivers.list',
  'receivers.reply',
  'receivers.results',
  // devices and step scans (protocol/devices.ts, protocol/scanning.ts)
  'devices.list',
  'device.info',
  'axis.move',
  'axis.wait',
  'axis.stop',
  'axis.reset',
  'axis.configure',
  'mca.add_roi',
  'mca.remove_roi',
  'mca.clear_rois',
  'sample.info',
  'scanning.run',
  'scanning.status',
  'scanning.wait',
  'scanning.abort',
  // workflows run on a scan's master when it ends (api/workflow-handlers.ts)
  'workflow.status',
  'workflow.wait',
  // the catalogue and data policy (api/catalogue-handlers.ts)
  'catalogue.datasets',
  'catalogue.dataset',
  'catalogue.proposals',
  'catalogue.proposal',
  'catalogue.put_proposal',
  'catalogue.set_release',
  'catalogue.samples',
  'catalogue.whoami',
  'catalogue.doi_draft',
  'catalogue.doi_advance',
  'catalogue.doi',
  'catalogue.dois',
  'policy.get',
  'policy.new_proposal',
  'policy.new_sample',
  'policy.new_dataset',
  'policy.end_proposal',
  'logbook.add',
  'logbook.edit',
  'logbook.get',
  'logbook.search',
  'logbook.stats',
  'logbook.attachment',
] as const;
export type Op = (typeof OPS)[number];

export type RequestId = number | string;

/** Client → server control message. Operation-specific fields sit beside `id` and `op`. */
export interface Request {
  id: RequestId;
  op: Op;
  [field: string]: unknown;
}

export interface ReplyOk<T = unknown> {
  id: RequestId;
  ok: true;
  result: T;
}

export interface ReplyError {
  id: RequestId | null;
  ok: false;
  error: import('./errors.js').ErrorBody;
}

export type Reply<T = unknown> = ReplyOk<T> | ReplyError;

/** Server → client push notification (no `id`). */
export interface EventMessage {
  event: EventName;
  [field: string]: unknown;
}

export const EVENTS = [
  /** detector/acquisition state changed: {detector, uuid, state, reason?} */
  'acq.state',
  /** periodic counters while running: {detector, uuid, counters} */
  'acq.counters',
  /** a scan was created: {scan: ScanSummary} */
  'scan.new',
  /** a scan changed state: {key, state} */
  'scan.state',
  /** a subscription skipped items it could not deliver: {sub, from, to, reason} */
  'sub.gap',
  /** a subscription reached the end of a sealed stream: {sub, length} */
  'sub.end',
  /** the store trimmed data to stay under its memory budget: {key, stream, trimmed_to, bytes} */
  'store.trimmed',
  /** the store evicted a whole finished scan to stay under its memory budget: {key, bytes, files, dropped, reason} */
  'store.evicted',
  /** `--store redis://`: a finished scan's streams left Redis because Redis neared its maxmemory: {key, streams, entries, reason} */
  'store.redis_trimmed',
  /** a job of this client's user (all users' for staff) changed: {job: JobInfo}; after jobs.watch */
  'jobs.state',
  /** an axis moved, stopped, faulted or was configured: {device: AxisInfo} */
  'device.state',
  /** a step scan started or ended: {status: StepScanStatus} */
  'scanning.state',
  /** a workflow attached to a scan was queued, started or ended: {workflow: WorkflowStatus} */
  'workflow.state',
  /** an e-logbook entry was written or edited: {entry: LogbookEntry} */
  'logbook.entry',
] as const;
export type EventName = (typeof EVENTS)[number];

// ---------------------------------------------------------------- acquisition

export const ACQ_STATES = ['IDLE', 'PREPARED', 'RUNNING', 'STOPPED', 'FAULT'] as const;
export type AcqState = (typeof ACQ_STATES)[number];

export const TRIGGER_MODES = ['internal', 'software', 'external'] as const;
export type TriggerMode = (typeof TRIGGER_MODES)[number];

export interface Counters {
  nb_frames_acquired: number;
  /** one entry per receiver */
  nb_frames_transferred: number[];
  nb_frames_processed: number;
  nb_frames_saved: number;
  nb_frames_dropped: number;
  nb_frames_invalid: number;
}

/**
 * What went wrong in a run that still completed: frames dropped by processing, a detector slower than asked,
 * images a real detector dropped (its stream buffer overflowed) or that never reached our receivers.
 */
export const RUN_WARNING_KINDS = ['dropped_frames', 'frame_rate', 'detector_dropped'] as const;
export type RunWarningKind = (typeof RUN_WARNING_KINDS)[number];
export interface RunWarning {
  kind: RunWarningKind;
  message: string;
}

export interface AcqStatus {
  uuid: string;
  detector: string;
  state: AcqState;
  /** why the acquisition is in FAULT, or how it ended */
  reason: string | null;
  counters: Counters;
  /** nb_frames requested (0 = until stopped) */
  nb_frames: number;
  scan: string;
  /** wall-clock seconds since start, null before start */
  elapsed: number | null;
  /**
   * the acquisition rate in frames/s: frames acquired over the last second while
   * RUNNING; once the detector stopped, the average over the run (= rate_achieved)
   */
  fps: number;
  /** frames/s the run asked for (internal trigger: 1 / (expo_time + latency_time)); null when triggers pace it */
  rate_asked: number | null;
  /** frames acquired / elapsed: the average rate since start (to the end once stopped); null before start */
  rate_achieved: number | null;
  /** frames dropped, rate not kept: said by wait() and recorded in the scan info (`warnings`) */
  warnings: RunWarning[];
  /**
   * the acquisition has ended and processing has drained: every result is in
   * the store and the scan is closed (state STOPPED or FAULT, and nothing left to come)
   */
  finished: boolean;
}

// ---------------------------------------------------------------- store

export const SCAN_STATES = ['CREATED', 'PREPARED', 'STARTED', 'STOPPED', 'CLOSED'] as const;
export type ScanState = (typeof SCAN_STATES)[number];

export interface ScanIdentity {
  name: string;
  number: number;
  session: string;
  proposal: string;
  sample: string;
  dataset: string;
  path: string;
}

export interface StreamInfo {
  name: string;
  kind: 'array' | 'event';
  /** array streams: element type and per-item shape */
  dtype?: import('./dtypes.js').DType;
  shape?: number[];
  length: number;
  /** first index still held in memory (items below were trimmed) */
  first: number;
  sealed: boolean;
  /** free-form description (units, meaning) */
  info: Record<string, unknown>;
}

export interface ScanSummary {
  key: string;
  /** store-wide creation sequence number: the "time tag" for discovery */
  seq: number;
  identity: ScanIdentity;
  state: ScanState;
  info: Record<string, unknown>;
  streams: StreamInfo[];
  created: string;
}

// ---------------------------------------------------------------- subscriptions

export const SUB_MODES = ['lossless', 'latest'] as const;
export type SubMode = (typeof SUB_MODES)[number];

/**
 * How array items travel in data messages: `none` = the pixels as they are; `bslz4` = each item
 * one bitshuffle + LZ4 chunk in the HDF5 filter-32008 layout (as in our files and DECTRIS
 * streams). Viewers ask for it: photon-counting frames shrink 5–20×.
 */
export const COMPRESSIONS = ['none', 'bslz4'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** Parameters of `subscribe` (and, minus mode/rate, of `stream.read`). */
export interface SubscribeParams {
  scan: string;
  stream: string;
  /** first index to deliver (negative: from the end); default 0 */
  start?: number;
  /** stop before this index; default: until the stream is sealed */
  stop?: number | null;
  mode?: SubMode;
  /** region of interest on the last two axes: [row0, col0, rows, cols] */
  roi?: [number, number, number, number] | null;
  /** sum-binning factor on the last two axes (1 = none) */
  binning?: number;
  /** deliver every Nth item (1 = all) */
  every?: number;
  /** deliver at most this many items per second (0 = unlimited) */
  max_rate?: number;
  /** messages the server may send ahead of the client's `sub.ack` (flow control) */
  window?: number;
  /** consumer group: each item goes to exactly one member of the group */
  group?: string;
  member?: string;
  /** array streams: how items travel (default `none`) */
  compression?: Compression;
  /** array streams: send each whole item's [min, max, lo, hi] at these percentiles in the header (`frame_stats`) */
  frame_stats?: [number, number] | null;
}
