/**
 * What array and event streams share: length / first / sealed bookkeeping, byte accounting
 * towards the store, sealing, waitFor, cursors, consumer groups and trimming. Subclasses own
 * the storage (chunks) and say how to read a run of items and how to release trimmed ones.
 */
import { DaqError } from '../protocol/errors.js';
import type { StreamInfo } from '../protocol/index.js';
import { StreamCursor } from './cursor.js';
import { StreamGroup } from './group.js';
import { Notifier, waitUntil } from './notifier.js';
import type { ReadSource } from './source.js';
import type { StreamDescription } from './types.js';

/** The scan (or anything else) that holds a stream: receives its byte accounting and trim reports. */
export interface StreamOwner {
  /** e.g. "scan scan:3:1a2b3c4d", used in messages */
  readonly label: string;
  /** the stream's held bytes changed by `delta` (appends: > 0, trims: < 0) */
  bytesChanged(delta: number): void;
  /** called after each append, once the bytes are accounted (memory budget check) */
  appended(): void;
  /** every trim, whoever asked for it */
  trimmed(stream: StreamCore<unknown>, trimmedTo: number, bytes: number): void;
}

/** An owner for a stream outside any store (tests, tools). */
export const detachedOwner: StreamOwner = {
  label: 'no scan',
  bytesChanged() {},
  appended() {},
  trimmed() {},
};

export abstract class StreamCore<T> implements ReadSource<T> {
  abstract readonly kind: 'array' | 'event';
  protected _length = 0;
  protected _first = 0;
  protected _sealed = false;
  protected _bytes = 0;
  private _trimmedBytes = 0;
  private _gone: string | null = null;
  private groups?: Map<string, StreamGroup<T>>;
  /** notified on append, seal and consumer-group changes */
  readonly changed = new Notifier();

  protected constructor(
    readonly name: string,
    readonly info: Record<string, unknown>,
    protected readonly owner: StreamOwner,
  ) {}

  get length(): number {
    return this._length;
  }
  get first(): number {
    return this._first;
  }
  get sealed(): boolean {
    return this._sealed;
  }
  get bytes(): number {
    return this._bytes;
  }
  get trimmedItems(): number {
    return this._first;
  }
  get trimmedBytes(): number {
    return this._trimmedBytes;
  }
  /** why every item was dropped (the scan was evicted), or null */
  get gone(): string | null {
    return this._gone;
  }
  get label(): string {
    return `stream '${this.name}' of ${this.owner.label}`;
  }

  /** items [start, start + count), all held */
  abstract readRun(start: number, count: number): T;
  /** release the storage of items [from, to) and return their logical bytes */
  protected abstract release(from: number, to: number): number;
  /** smallest index ≥ first such that trimming below it frees at least `bytes` (may exceed length - 1) */
  abstract trimIndexFor(bytes: number): number;

  protected requireOpen(): void {
    if (this._sealed) {
      throw new DaqError('StateError', `cannot append to ${this.label}: it is sealed (${this._length} items)`, undefined, {
        state: 'sealed',
      });
    }
  }

  /** Subclasses call this after storing `count` items of `bytes` logical bytes. */
  protected appendedItems(count: number, bytes: number): void {
    this._length += count;
    this._bytes += bytes;
    this.owner.bytesChanged(bytes);
    this.changed.notify();
    this.owner.appended();
  }

  seal(): void {
    if (this._sealed) return;
    this._sealed = true;
    this.changed.notify();
  }

  async waitFor(index: number, timeout?: number, signal?: AbortSignal): Promise<boolean> {
    if (!Number.isSafeInteger(index)) {
      throw new DaqError('ParameterError', 'index: must be an integer', [{ field: 'index', message: 'must be an integer' }]);
    }
    return waitUntil(this.changed, () => this._length > index, { timeout, signal, giveUp: () => this._sealed });
  }

  cursor(start = 0, stop?: number): StreamCursor<T> {
    const fields = [];
    if (!Number.isSafeInteger(start)) fields.push({ field: 'start', message: 'must be an integer' });
    if (stop !== undefined && !(Number.isSafeInteger(stop) && stop >= 0)) fields.push({ field: 'stop', message: 'must be an integer ≥ 0' });
    if (fields.length) throw new DaqError('ParameterError', `invalid cursor: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);
    return new StreamCursor(this, start, stop);
  }

  group(name: string): StreamGroup<T> {
    if (typeof name !== 'string' || name === '') {
      throw new DaqError('ParameterError', 'group: must be a non-empty string', [{ field: 'group', message: 'must be a non-empty string' }]);
    }
    this.groups ??= new Map();
    let g = this.groups.get(name);
    if (!g) {
      g = new StreamGroup(name, this);
      this.groups.set(name, g);
    }
    return g;
  }

  trimTo(index: number): number {
    if (!Number.isSafeInteger(index)) {
      throw new DaqError('ParameterError', 'index: must be an integer', [{ field: 'index', message: 'must be an integer' }]);
    }
    const to = Math.min(index, this._length - 1); // the newest item always stays
    if (to <= this._first) return 0;
    const freed = this.dropBelow(to);
    this.owner.trimmed(this as StreamCore<unknown>, to, freed);
    return freed;
  }

  /** Drop the items held below `to` and account for the bytes freed (trims and evictions alike). */
  private dropBelow(to: number): number {
    const freed = this.release(this._first, to);
    this._first = to;
    this._bytes -= freed;
    this._trimmedBytes += freed;
    this.owner.bytesChanged(-freed);
    return freed;
  }

  /**
   * The whole scan leaves memory (memory budget): seal, drop every item — the newest too — and
   * remember why, for the errors of later reads. Returns the bytes freed. Not a trim: the store
   * reports the eviction of the scan instead.
   */
  evict(reason: string): number {
    this._gone ??= reason;
    this.seal();
    if (this._length <= this._first) return 0;
    const freed = this.dropBelow(this._length);
    this.changed.notify();
    return freed;
  }

  describe(): StreamDescription {
    return {
      ...this.describeBase(),
      trimmed_items: this._first,
      trimmed_bytes: this._trimmedBytes,
    };
  }

  protected describeBase(): StreamInfo {
    return {
      name: this.name,
      kind: this.kind,
      length: this._length,
      first: this._first,
      sealed: this._sealed,
      info: this.info,
    };
  }
}
