/**
 * The in-memory scan store, after blissdata: scans with an identity, info and
 * a monotonic state, holding named streams of arrays or JSON events.
 * These interfaces are what the control and API layers program against.
 */
import type { DType, TypedArray, ScanIdentity, ScanState, ScanSummary, StreamInfo } from '../protocol/index.js';
import type { MemoryScan } from './scan.js';
import type { StoredItem } from './deferred.js';

/** A run of consecutive items read from a stream (views, never copies, for arrays). */
export interface ArrayItems {
  /** index of the first item */
  first: number;
  /** one typed-array view per item, each of prod(shape) elements */
  items: TypedArray[];
  /** per-item validity (false: incomplete frame) */
  valid: boolean[];
  /** index distance between consecutive items (1 except for stepped slices; negative for reversed slices) */
  step: number;
  /** per-item acquisition time, ms since the Unix epoch (NaN where unknown); absent when no item has one */
  times?: number[];
  /** per-item acquisition frame index (NaN where the item is not from one frame); absent when no item has one */
  frames?: number[];
}

export interface EventItems {
  first: number;
  items: unknown[];
  /** index distance between consecutive items (1 except for stepped slices) */
  step: number;
  /** per-event acquisition frame index (NaN where the event is not from one frame); absent when no event has one */
  frames?: number[];
}

export interface ReadOptions {
  /** wait for data (default true) */
  block?: boolean;
  /** maximum wait in ms when blocking (undefined: forever) */
  timeout?: number;
  /** return only the newest available item, skipping older unread ones */
  lastOnly?: boolean;
  /** maximum number of items returned by one read (cursor default: all available; group default: 1) */
  maxCount?: number;
  /** abort a blocking read: it then resolves to `{kind: 'none'}` (e.g. on unsubscribe / disconnect) */
  signal?: AbortSignal;
}

/** Items that were trimmed before a reader got them: indexes `from` … `to - 1` (the `sub.gap` event). */
export interface Gap {
  from: number;
  to: number;
}

/**
 * Result of a cursor read: items, or the end of a sealed stream, or nothing (timeout / non-blocking).
 *
 * `skipped`: items passed over since the previous read, for any reason (so for a cursor
 * `batch.first === previous position + skipped`). `trimmed` (≤ skipped): how many of those were
 * lost to trimming (memory budget) rather than skipped on purpose by `lastOnly`; `gaps` lists the
 * trimmed index ranges (present only when `trimmed > 0`) — the API layer reports them as `sub.gap`.
 * A data result may carry an empty batch only to report gaps (e.g. everything up to `stop` was trimmed).
 */
export type CursorResult<T> =
  | { kind: 'data'; batch: T; skipped: number; trimmed: number; gaps?: Gap[] }
  | { kind: 'end' }
  | { kind: 'none' };

export interface Cursor<T> {
  /** next index this cursor will read */
  readonly position: number;
  read(options?: ReadOptions): Promise<CursorResult<T>>;
}

/** StreamInfo (the wire object) plus what the memory budget took from the stream. */
export interface StreamDescription extends StreamInfo {
  /** items trimmed from memory (equals `first`) */
  trimmed_items: number;
  /** logical bytes trimmed from memory */
  trimmed_bytes: number;
}

interface StreamBase {
  readonly name: string;
  readonly kind: 'array' | 'event';
  /** number of items ever appended (trimmed items still count) */
  readonly length: number;
  /** first index still held in memory */
  readonly first: number;
  readonly sealed: boolean;
  readonly info: Record<string, unknown>;
  /** bytes held in memory (logical size of the items kept) */
  readonly bytes: number;
  seal(): void;
  describe(): StreamDescription;
  /** resolves when length > index, or the stream is sealed, or the timeout (ms) passes (or `signal` aborts); resolves to whether length > index */
  waitFor(index: number, timeout?: number, signal?: AbortSignal): Promise<boolean>;
  /**
   * drop items below `index` (memory budget); returns bytes freed. The newest item is always
   * kept (index is clamped to length - 1); the trim is reported through the store's onTrim.
   */
  trimTo(index: number): number;
  /** items trimmed so far (equals `first`) */
  readonly trimmedItems: number;
  /** why every item is gone (the scan was evicted), or null */
  readonly gone: string | null;
  /** logical bytes trimmed so far */
  readonly trimmedBytes: number;
}

/** Where one saved item lies: `size` bytes at `address` of `path`, stored with `compression`. */
export interface SavedLocation {
  path: string;
  address: number;
  size: number;
  compression: 'none' | 'gzip' | 'bslz4';
  valid: boolean;
  /** position of the item in its file's frame dataset (LIMA2's frame lookup names it) */
  index?: number;
  /** its writer has flushed it: a reader of the file sees it (while the scan runs) */
  flushed?: boolean;
  /** the acquisition frame the item comes from, when known (kept so a restored scan still names it) */
  frame?: number;
}

/** Where an array stream's trimmed items can be read back from (the saved files). */
export interface ItemBacking {
  /** items 0 … n−1 can all be read back */
  readablePrefix(): number;
  /** read item `index` (< readablePrefix()); `frame`: the acquisition frame it comes from, when known */
  read(index: number): { data: TypedArray; valid: boolean; frame?: number };
  /** where item `index` was saved (null: not saved), for the index of finished scans */
  locate?(index: number): SavedLocation | null;
}

export interface ArrayStream extends StreamBase {
  readonly kind: 'array';
  readonly dtype: DType;
  /** per-item shape */
  readonly shape: number[];
  /** bytes of one item */
  readonly itemBytes: number;
  /**
   * Append items in one batch: either one typed array holding `count` items
   * back to back, or an array of per-item views (kept by reference).
   */
  /**
   * `times`: per-item acquisition time, ms since the Unix epoch (when the detector delivered the frame);
   * `frames`: per-item acquisition frame index, for items that come from one frame (not for
   * accumulated or static items) — item positions and frame indexes differ once frames are dropped
   */
  append(items: TypedArray | StoredItem[], valid?: boolean[], times?: number[], frames?: number[]): void;
  /**
   * Read items [start, stop) with step. Negative indexes count from the end
   * only once the stream is sealed. Throws DaqError IndexNoMoreThereError /
   * IndexNotYetThereError / IndexWontBeThereError naming the index.
   */
  get(index: number): { data: TypedArray; valid: boolean; time?: number; frame?: number };
  /** read trimmed items back from elsewhere (saving); items still in memory are read from memory */
  setBacking(backing: ItemBacking | null): void;
  /** where item `index` was saved, when the backing can tell */
  savedLocation(index: number): SavedLocation | null;
  /** `stop` undefined/null: to the end (Python `a[start::step]`) */
  slice(start: number, stop?: number | null, step?: number): ArrayItems;
  /** `start` < 0 counts from the current end (clamped at 0); `stop`: end the cursor there */
  cursor(start?: number, stop?: number): Cursor<ArrayItems>;
  group(name: string): ConsumerGroup<ArrayItems>;
}

export interface EventStream extends StreamBase {
  readonly kind: 'event';
  /** `frames`: per event, the acquisition frame it comes from (events of per-frame processing) */
  append(events: unknown[], frames?: number[]): void;
  get(index: number): unknown;
  slice(start: number, stop?: number | null, step?: number): EventItems;
  cursor(start?: number, stop?: number): Cursor<EventItems>;
  group(name: string): ConsumerGroup<EventItems>;
}

export type Stream = ArrayStream | EventStream;

/**
 * Consumer group: each item goes to exactly one member; members acknowledge
 * what they processed. Items delivered but not acknowledged when a member
 * leaves (or nacks) are delivered again to another member.
 */
export interface ConsumerGroup<T> {
  readonly name: string;
  join(member: string): GroupMember<T>;
  /** items delivered and not yet acknowledged, by member */
  pending(): Record<string, number[]>;
  /** next index never delivered to any member */
  readonly position: number;
}

export interface GroupMember<T> {
  readonly id: string;
  /** next undelivered item(s) for this member (maxCount default 1) */
  next(options?: ReadOptions): Promise<CursorResult<T>>;
  /** returns how many of `indexes` were pending for this member (others are ignored) */
  ack(indexes: number[]): number;
  /** give items back for redelivery to any member; returns how many were pending for this member */
  nack(indexes: number[]): number;
  leave(): void;
  /** false once left */
  readonly joined: boolean;
}

export interface Scan {
  readonly key: string;
  /** store-wide creation sequence number (time tag for discovery) */
  readonly seq: number;
  readonly identity: ScanIdentity;
  readonly info: Record<string, unknown>;
  readonly state: ScanState;
  readonly created: Date;
  readonly streams: ReadonlyMap<string, Stream>;
  /** move forward only; throws StateError when going backwards */
  setState(state: ScanState): void;
  /** merge into info (≤ 1 MB serialised; ParameterError otherwise) */
  updateInfo(patch: Record<string, unknown>): void;
  /**
   * What happened to the scan after it ended (`info.workflow`: the workflow run on its files), the one
   * key of a CLOSED scan's info that may still change; its data and description stay frozen
   */
  annotate(key: 'workflow', value: Record<string, unknown>): void;
  createArrayStream(name: string, dtype: DType, shape: number[], info?: Record<string, unknown>): ArrayStream;
  createEventStream(name: string, info?: Record<string, unknown>): EventStream;
  stream(name: string): Stream; // NotFoundError naming the stream and the ones that exist
  /** seal every stream and move to CLOSED */
  close(): void;
  summary(): ScanSummary;
}

export interface SearchQuery extends Partial<Omit<ScanIdentity, 'number'>> {
  number?: number;
  /** only scans with seq > since */
  since?: number;
  /** 'desc' (default): newest first; 'asc': oldest first */
  order?: 'asc' | 'desc';
  /** at most this many scans (the first ones in `order`) */
  limit?: number;
}

export interface TrimReport {
  key: string;
  stream: string;
  trimmed_to: number;
  bytes: number;
}

/** A finished scan of an earlier server run, listed again from the state folder's index. */
export interface RestoredScan {
  key: string;
  identity: ScanIdentity;
  created: Date;
  info: Record<string, unknown>;
  /** why it is there (in `info.evicted.reason`) */
  reason: string;
  /** its frames, read from the saved files (null: none were saved) */
  frames: { name: string; dtype: DType; shape: number[]; info?: Record<string, unknown>; length: number; backing: ItemBacking } | null;
  /** recreates its other streams (results, peaks …) in the scan before it is sealed (store/saved-results.ts) */
  results?: (scan: MemoryScan) => void;
}

/** A whole scan left memory (memory budget): the `store.evicted` event. */
export interface EvictReport {
  key: string;
  /** bytes freed */
  bytes: number;
  /** its frames can still be read from the saved files */
  files: boolean;
  /** false: evicted (still listed, `info.evicted` says why); true: dropped from the listing too */
  dropped: boolean;
  reason: string;
}

export interface StoreOptions {
  /** bytes the store may hold (items and scan metadata); beyond it old data is trimmed, then old scans evicted */
  memoryBudget: number;
  /**
   * when over budget, trim down to `lowWater × memoryBudget` (default 0.9) so that trims come in
   * batches instead of one item per append
   */
  lowWater?: number;
  /** where exceptions thrown by listeners go (default: console.error); they never reach producers */
  onListenerError?: (error: unknown) => void;
}

export interface ScanStore {
  readonly memoryBudget: number;
  /** bytes currently held */
  readonly bytes: number;
  /** seq of the newest scan (0 when none) */
  readonly lastSeq: number;
  /** number of scans held */
  readonly scanCount: number;
  createScan(identity: Partial<ScanIdentity>, info?: Record<string, unknown>): Scan;
  /** the number createScan would give a scan with this identity now */
  nextNumber(identity: Partial<ScanIdentity>): number;
  scan(key: string): Scan; // NotFoundError
  last(): Scan | undefined;
  search(query: SearchQuery): Scan[];
  /** the first scan with seq > afterSeq, waiting up to timeout ms; undefined on timeout */
  waitNext(afterSeq: number, timeout?: number, signal?: AbortSignal): Promise<Scan | undefined>;
  /** enforce the memory budget now (called after appends); returns what was trimmed */
  enforceBudget(): TrimReport[];
  onScan(listener: (scan: Scan) => void): () => void;
  onScanState(listener: (scan: Scan) => void): () => void;
  onTrim(listener: (report: TrimReport) => void): () => void;
  /** whole scans evicted or dropped to keep the budget */
  onEvict(listener: (report: EvictReport) => void): () => void;
}
