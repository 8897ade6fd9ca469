/**
 * A stream of n-dimensional items of one dtype and shape (detector frames, processed maps).
 *
 * Items are kept by reference, never copied:
 *  - a batch given as ONE typed array of `count × prod(shape)` elements becomes one chunk; its
 *    items are read back as `subarray` views of it;
 *  - a batch given as an array of per-item views (frames in a shared pool, say) — or a single
 *    item given as one typed array — is pushed onto the tail "views" chunk (up to
 *    VIEWS_PER_CHUNK items per chunk), one reference per item, no per-item allocation.
 *
 * Bytes are logical: items × itemBytes. A trimmed view is released at once (its pool frame
 * can be reused); a trimmed part of a contiguous batch keeps its buffer alive until the whole
 * batch is trimmed, though it no longer counts.
 */
import { DaqError } from '../protocol/errors.js';
import { TYPED_ARRAY, dtypeSize, isDType, product, type DType, type TypedArray } from '../protocol/dtypes.js';
import type { StreamInfo } from '../protocol/index.js';
import { ChunkList, type Chunk } from './chunks.js';
import { resolveIndex, resolveSlice, type Extent } from './indexing.js';
import { ColumnReader, checkFrames, extendColumn, type ItemColumn } from './item-column.js';
import { StreamCore, type StreamOwner } from './stream-base.js';
import type { ArrayItems, ArrayStream, ItemBacking, SavedLocation } from './types.js';
import { DeferredItem, type StoredItem } from './deferred.js';

/** items per "views" chunk: bounds the cost of trimming one, keeps the chunk list short */
export const VIEWS_PER_CHUNK = 4096;

interface ArrayChunk extends Chunk {
  /** one typed array of `count` items back to back, or null for a views chunk */
  data: TypedArray | null;
  /** one view per item (undefined once trimmed; a DeferredItem is decoded when read), or null for a contiguous chunk */
  views: (StoredItem | undefined)[] | null;
  /** per-item validity, or null when every item is valid */
  valid: boolean[] | null;
  /** per-item acquisition time (ms since the epoch, NaN unknown), or null when no item of the chunk has one */
  times: ItemColumn;
  /** per-item acquisition frame index (NaN: not from one frame), or null when no item of the chunk has one */
  frames: ItemColumn;
}

const describeArray = (a: TypedArray): string => `${a.constructor.name} of ${a.length} elements`;

export class MemoryArrayStream extends StreamCore<ArrayItems> implements ArrayStream {
  readonly kind = 'array' as const;
  readonly dtype: DType;
  readonly shape: number[];
  readonly itemBytes: number;
  /** elements per item */
  readonly itemElements: number;
  private readonly ctor: (typeof TYPED_ARRAY)[DType];
  private readonly chunks = new ChunkList<ArrayChunk>();
  private invalidCount = 0;
  /** where trimmed items can be read back from (saved files), when anywhere */
  private backing: ItemBacking | null = null;

  constructor(name: string, dtype: DType, shape: number[], info: Record<string, unknown>, owner: StreamOwner) {
    super(name, info, owner);
    const fields = [];
    if (!isDType(dtype)) fields.push({ field: 'dtype', message: `unknown dtype ${JSON.stringify(dtype)}` });
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
      fields.push({ field: 'shape', message: 'must be a list of integers ≥ 1 (empty for scalars)' });
    }
    if (fields.length) {
      throw new DaqError('ParameterError', `invalid array stream '${name}': ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);
    }
    this.dtype = dtype;
    this.shape = [...shape];
    this.itemElements = product(shape);
    this.itemBytes = this.itemElements * dtypeSize(dtype);
    this.ctor = TYPED_ARRAY[dtype];
  }

  /** number of items appended as invalid (incomplete frames) */
  get invalidItems(): number {
    return this.invalidCount;
  }

  private badItems(message: string): DaqError {
    return new DaqError('ParameterError', `cannot append to ${this.label}: items: ${message}`, [{ field: 'items', message }]);
  }

  private expected(): string {
    return `a ${this.ctor.name} of ${this.itemElements} elements (dtype ${this.dtype}, shape [${this.shape.join(', ')}])`;
  }

  append(items: TypedArray | StoredItem[], valid?: boolean[], times?: number[], frames?: number[]): void {
    this.requireOpen();
    const E = this.itemElements;
    let count: number;
    if (ArrayBuffer.isView(items)) {
      if (!(items instanceof this.ctor)) throw this.badItems(`expected ${this.ctor.name} (dtype ${this.dtype}), got ${items.constructor.name}`);
      if (items.length === 0 || items.length % E !== 0) {
        throw this.badItems(`${describeArray(items)} is not a whole number of items of ${E} elements (shape [${this.shape.join(', ')}])`);
      }
      count = items.length / E;
    } else if (Array.isArray(items)) {
      count = items.length;
      for (let k = 0; k < count; k++) {
        const v = items[k];
        if (v instanceof DeferredItem ? v.dtype !== this.dtype || v.length !== E : !(v instanceof this.ctor) || v.length !== E) {
          const got = v instanceof DeferredItem ? `a deferred ${v.dtype} item of ${v.length} elements` : ArrayBuffer.isView(v) ? describeArray(v as TypedArray) : typeof v;
          throw this.badItems(`item ${k}: expected ${this.expected()}, got ${got}`);
        }
      }
    } else {
      throw this.badItems('must be a typed array or an array of typed arrays');
    }
    if (valid !== undefined && (!Array.isArray(valid) || valid.length !== count)) {
      const message = `must be a list of ${count} booleans (one per item), got ${Array.isArray(valid) ? `${valid.length}` : typeof valid}`;
      throw new DaqError('ParameterError', `cannot append to ${this.label}: valid: ${message}`, [{ field: 'valid', message }]);
    }
    if (times !== undefined && (!Array.isArray(times) || times.length !== count)) {
      const message = `must be a list of ${count} numbers (one per item), got ${Array.isArray(times) ? `${times.length}` : typeof times}`;
      throw new DaqError('ParameterError', `cannot append to ${this.label}: times: ${message}`, [{ field: 'times', message }]);
    }
    checkFrames(this.label, frames, count);
    if (count === 0) return;
    let invalid = 0;
    if (valid) for (let k = 0; k < count; k++) if (!valid[k]) invalid++;
    this.invalidCount += invalid;

    const start = this._length;
    if (ArrayBuffer.isView(items) && count > 1) {
      this.chunks.push({ start, count, data: items, views: null, valid: invalid ? valid!.map(Boolean) : null, times: times ? [...times] : null, frames: frames ? [...frames] : null });
    } else {
      let tail = this.chunks.tail;
      if (!tail || tail.views === null || tail.count >= VIEWS_PER_CHUNK) {
        tail = { start, count: 0, data: null, views: [], valid: null, times: null, frames: null };
        this.chunks.push(tail);
      }
      const views = tail.views!;
      if (ArrayBuffer.isView(items)) views.push(items);
      else for (let k = 0; k < count; k++) views.push(items[k]);
      if (invalid && tail.valid === null) tail.valid = new Array<boolean>(tail.count).fill(true);
      if (tail.valid !== null) {
        if (valid) for (let k = 0; k < count; k++) tail.valid.push(Boolean(valid[k]));
        else for (let k = 0; k < count; k++) tail.valid.push(true);
      }
      tail.times = extendColumn(tail.times, tail.count, times, count);
      tail.frames = extendColumn(tail.frames, tail.count, frames, count);
      tail.count += count;
    }
    this.appendedItems(count, count * this.itemBytes);
  }

  private item(chunk: ArrayChunk, index: number): TypedArray {
    const k = index - chunk.start;
    if (chunk.data) return chunk.data.subarray(k * this.itemElements, (k + 1) * this.itemElements);
    const v = chunk.views![k]!;
    if (!(v instanceof DeferredItem)) return v;
    // a live view reads the newest item again and again: the last one decoded is kept, no other
    if (this.lastDecoded?.index !== index) this.lastDecoded = { index, data: v.materialize() };
    return this.lastDecoded.data;
  }

  /** the deferred item decoded last (see item()) */
  private lastDecoded: { index: number; data: TypedArray } | null = null;

  setBacking(backing: ItemBacking | null): void {
    this.backing = backing;
  }

  savedLocation(index: number): SavedLocation | null {
    return this.backing?.locate?.(index) ?? null;
  }

  /**
   * A stream of a scan restored after a restart: `length` items, none in memory, all read from
   * `backing` (the saved files). Only on a new, empty stream; seals it.
   */
  restore(length: number, backing: ItemBacking): void {
    if (this._length !== 0 || this._sealed) throw new Error(`${this.label}: only an empty stream can be restored`);
    this._length = length;
    this._first = length;
    this.backing = backing;
    this.seal();
  }

  /** whether every item can be read, from memory or from the backing (saved files) */
  readable(): boolean {
    return this._first === 0 || (this.backing !== null && this.backing.readablePrefix() >= this._first);
  }

  /** What index resolution sees: with a backing that holds every trimmed item, nothing is gone. */
  private extent(): Extent {
    const first = this.backing && this._first > 0 && this.backing.readablePrefix() >= this._first ? 0 : this._first;
    return { length: this._length, first, sealed: this._sealed, label: this.label, gone: this.gone };
  }

  get(index: number): { data: TypedArray; valid: boolean; time?: number; frame?: number } {
    const i = resolveIndex(this.extent(), index);
    if (i < this._first) return this.backing!.read(i);
    const chunk = this.chunks.locate(i);
    const k = i - chunk.start;
    const out: { data: TypedArray; valid: boolean; time?: number; frame?: number } = { data: this.item(chunk, i), valid: chunk.valid ? chunk.valid[k]! : true };
    if (chunk.times) out.time = chunk.times[k]!;
    if (chunk.frames) out.frame = chunk.frames[k]!;
    return out;
  }

  slice(start: number, stop?: number | null, step = 1): ArrayItems {
    const s = resolveSlice(this.extent(), start, stop, step);
    return this.read(s.start, s.count, s.step);
  }

  readRun(start: number, count: number): ArrayItems {
    return this.read(start, count, 1);
  }

  private read(start: number, count: number, step: number): ArrayItems {
    const items = new Array<TypedArray>(count);
    const valid = new Array<boolean>(count);
    const times = new ColumnReader(count);
    const frames = new ColumnReader(count);
    let chunk: ArrayChunk | undefined;
    for (let k = 0, i = start; k < count; k++, i += step) {
      if (i < this._first) {
        const back = this.backing!.read(i);
        items[k] = back.data;
        valid[k] = back.valid;
        frames.set(k, back.frame);
        continue;
      }
      if (!chunk || i < chunk.start || i >= chunk.start + chunk.count) chunk = this.chunks.locate(i);
      items[k] = this.item(chunk, i);
      valid[k] = chunk.valid ? chunk.valid[i - chunk.start]! : true;
      times.take(k, chunk.times, i - chunk.start);
      frames.take(k, chunk.frames, i - chunk.start);
    }
    const out: ArrayItems = { first: start, items, valid, step };
    if (times.values) out.times = times.values;
    if (frames.values) out.frames = frames.values;
    return out;
  }

  protected release(from: number, to: number): number {
    if (this.lastDecoded && this.lastDecoded.index < to) this.lastDecoded = null;
    const head = this.chunks.dropBelow(to);
    if (head?.views) {
      for (let i = Math.max(from, head.start); i < to; i++) head.views[i - head.start] = undefined;
    }
    return (to - from) * this.itemBytes;
  }

  trimIndexFor(bytes: number): number {
    return this._first + Math.max(1, Math.ceil(bytes / this.itemBytes));
  }

  protected override describeBase(): StreamInfo {
    return { ...super.describeBase(), dtype: this.dtype, shape: [...this.shape] };
  }
}
