/**
 * A scan: identity, info, a state that only moves forward, and named streams. Closing seals
 * every stream. The scan forwards its streams' byte accounting and trims to its owner (the store).
 */
import { DaqError } from '../protocol/errors.js';
import { SCAN_STATES, type ScanIdentity, type ScanState, type ScanSummary } from '../protocol/index.js';
import type { DType } from '../protocol/dtypes.js';
import { MemoryArrayStream } from './array-stream.js';
import { MemoryEventStream } from './event-stream.js';
import { checkInfo, checkInfoSized, jsonBytes } from './identity.js';
import type { StreamCore, StreamOwner } from './stream-base.js';
import type { Scan, TrimReport } from './types.js';

export type MemoryStream = MemoryArrayStream | MemoryEventStream;

/** What a scan reports to the store. */
export interface ScanOwner {
  bytesChanged(delta: number): void;
  /** the scan grew (items appended, metadata added): the store checks its budget */
  appended(): void;
  trimmed(report: TrimReport): void;
  stateChanged(scan: MemoryScan): void;
}

const rank = (state: ScanState): number => SCAN_STATES.indexOf(state);

/** What a scan's bookkeeping costs besides its info and items (identity, key, stream objects): a flat estimate. */
export const SCAN_OVERHEAD_BYTES = 2048;
export const STREAM_OVERHEAD_BYTES = 512;

/** Info keys an evicted scan keeps: where its files are and how it ended (the rest is in the master file). */
const KEPT_WHEN_EVICTED = ['saving', 'acquisition_uuid', 'start_time', 'end_time', 'end_reason', 'workflow'] as const;

/** Why a scan left memory, in its info (`info.evicted`). */
export interface Eviction {
  /** ISO time */
  at: string;
  reason: string;
  /** frames can still be read from the saved files */
  files: boolean;
}

export class MemoryScan implements Scan {
  readonly identity: Readonly<ScanIdentity>;
  readonly created: Date;
  private _info: Record<string, unknown>;
  private _state: ScanState = 'CREATED';
  private readonly _streams = new Map<string, MemoryStream>();
  private readonly streamOwner: StreamOwner;
  /** metadata bytes counted against the budget: info JSON, stream infos, flat overheads */
  private _metaBytes = 0;
  private infoBytes: number;
  private _evicted: Eviction | null = null;

  constructor(
    private readonly owner: ScanOwner,
    readonly key: string,
    readonly seq: number,
    identity: ScanIdentity,
    info: Record<string, unknown>,
    infoBytes = jsonBytes(info),
    created = new Date(),
  ) {
    this.created = created;
    this.identity = Object.freeze({ ...identity });
    this._info = info;
    this.infoBytes = infoBytes;
    const label = `scan ${key}`;
    this.streamOwner = {
      label,
      bytesChanged: (delta) => owner.bytesChanged(delta),
      appended: () => owner.appended(),
      trimmed: (stream: StreamCore<unknown>, trimmedTo: number, bytes: number) =>
        owner.trimmed({ key, stream: stream.name, trimmed_to: trimmedTo, bytes }),
    };
    this.recountMeta();
  }

  /** Metadata bytes (info, stream infos, overheads); items are counted by the streams. */
  get metaBytes(): number {
    return this._metaBytes;
  }

  /** null, or when and why the scan left memory */
  get evicted(): Eviction | null {
    return this._evicted;
  }

  private recountMeta(): void {
    let n = SCAN_OVERHEAD_BYTES + this.infoBytes;
    for (const s of this._streams.values()) n += STREAM_OVERHEAD_BYTES + jsonBytes(s.info);
    const delta = n - this._metaBytes;
    this._metaBytes = n;
    if (delta !== 0) this.owner.bytesChanged(delta);
    if (delta > 0) this.owner.appended();
  }

  get info(): Record<string, unknown> {
    return this._info;
  }

  get state(): ScanState {
    return this._state;
  }

  get streams(): ReadonlyMap<string, MemoryStream> {
    return this._streams;
  }

  /** bytes held by this scan's streams (items; metaBytes apart) */
  get bytes(): number {
    let n = 0;
    for (const s of this._streams.values()) n += s.bytes;
    return n;
  }

  setState(state: ScanState): void {
    if (!(SCAN_STATES as readonly string[]).includes(state)) {
      const message = `unknown state ${JSON.stringify(state)} (states: ${SCAN_STATES.join(' → ')})`;
      throw new DaqError('ParameterError', `state: ${message}`, [{ field: 'state', message }]);
    }
    const from = this._state;
    if (rank(state) < rank(from)) {
      throw new DaqError(
        'StateError',
        `cannot move scan ${this.key} from ${from} back to ${state}: a scan's state only increases (${SCAN_STATES.join(' → ')})`,
        undefined,
        { state: from, from, to: state },
      );
    }
    if (state === from) return;
    if (state === 'CLOSED') return this.close();
    this._state = state;
    this.owner.stateChanged(this);
  }

  updateInfo(patch: Record<string, unknown>): void {
    this.requireNotClosed('update the info of');
    const checked = checkInfo(patch, 'info');
    const merged = checkInfoSized({ ...this._info, ...checked }, 'info');
    this._info = merged.value;
    this.infoBytes = merged.bytes;
    this.recountMeta();
  }

  annotate(key: 'workflow', value: Record<string, unknown>): void {
    const merged = checkInfoSized({ ...this._info, ...checkInfo({ [key]: value }, 'info') }, 'info');
    this._info = merged.value;
    this.infoBytes = merged.bytes;
    this.recountMeta();
  }

  private requireNotClosed(what: string): void {
    if (this._state === 'CLOSED') {
      throw new DaqError('StateError', `cannot ${what} scan ${this.key}: it is CLOSED`, undefined, { state: this._state });
    }
  }

  private checkNewStream(name: string): void {
    this.requireNotClosed('add a stream to');
    if (typeof name !== 'string' || name === '') {
      throw new DaqError('ParameterError', 'name: a stream name must be a non-empty string', [
        { field: 'name', message: 'must be a non-empty string' },
      ]);
    }
    if (this._streams.has(name)) {
      throw new DaqError('ParameterError', `name: scan ${this.key} already has a stream '${name}'`, [
        { field: 'name', message: `stream '${name}' already exists` },
      ]);
    }
  }

  createArrayStream(name: string, dtype: DType, shape: number[], info?: Record<string, unknown>): MemoryArrayStream {
    this.checkNewStream(name);
    const stream = new MemoryArrayStream(name, dtype, shape, checkInfo(info, 'info'), this.streamOwner);
    this._streams.set(name, stream);
    this.recountMeta();
    return stream;
  }

  createEventStream(name: string, info?: Record<string, unknown>): MemoryEventStream {
    this.checkNewStream(name);
    const stream = new MemoryEventStream(name, checkInfo(info, 'info'), this.streamOwner);
    this._streams.set(name, stream);
    this.recountMeta();
    return stream;
  }

  stream(name: string): MemoryStream {
    const s = this._streams.get(name);
    if (!s) {
      const names = [...this._streams.keys()];
      const known = names.length ? `its streams: ${names.map((n) => `'${n}'`).join(', ')}` : 'it has no streams';
      throw new DaqError('NotFoundError', `scan ${this.key} has no stream ${JSON.stringify(String(name)).slice(0, 200)} (${known})`);
    }
    return s;
  }

  close(): void {
    if (this._state === 'CLOSED') return;
    for (const s of this._streams.values()) s.seal();
    this._state = 'CLOSED';
    this.owner.stateChanged(this);
  }

  /**
   * Leave memory (memory budget; CLOSED scans only): every item of every stream goes, and the
   * info keeps only where the files are and how the scan ended, plus `evicted`. Frames saved to
   * files stay readable through their stream's backing. Returns the bytes freed.
   */
  evict(reason: string): number {
    if (this._evicted) return 0;
    if (this._state !== 'CLOSED') throw new DaqError('StateError', `cannot evict scan ${this.key}: it is ${this._state}, not CLOSED`, undefined, { state: this._state });
    const before = this.bytes + this._metaBytes;
    for (const s of this._streams.values()) s.evict(reason);
    const files = [...this._streams.values()].some((s) => s.kind === 'array' && s.length > 0 && s.readable());
    this._evicted = { at: new Date().toISOString(), reason, files };
    const kept: Record<string, unknown> = {};
    for (const k of KEPT_WHEN_EVICTED) if (this._info[k] !== undefined) kept[k] = this._info[k];
    this._info = { ...kept, evicted: this._evicted };
    this.infoBytes = jsonBytes(this._info);
    this.recountMeta();
    return before - this.bytes - this._metaBytes;
  }

  /**
   * A finished scan of an earlier server run, back from its saved files (after its streams were
   * restored): CLOSED, and held like an evicted scan (nothing in memory, frames from the files).
   */
  markRestored(reason: string): void {
    for (const s of this._streams.values()) s.seal();
    this._state = 'CLOSED';
    this._evicted = { at: new Date().toISOString(), reason, files: true };
    this._info = { ...this._info, evicted: this._evicted };
    this.infoBytes = jsonBytes(this._info);
    this.recountMeta();
  }

  summary(): ScanSummary {
    return {
      key: this.key,
      seq: this.seq,
      identity: { ...this.identity },
      state: this._state,
      info: this._info,
      streams: [...this._streams.values()].map((s) => s.describe()),
      created: this.created.toISOString(),
    };
  }
}
