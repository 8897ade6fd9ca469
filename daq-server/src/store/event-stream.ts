/**
 * A stream of JSON-able events (scalars, positions, peak lists, messages). Events are kept by
 * reference: producers must not mutate an event after appending it. Each event is serialised
 * once on append, to check it is JSON and to estimate its size: bytes = UTF-16 length of its
 * JSON + EVENT_OVERHEAD.
 */
import { DaqError } from '../protocol/errors.js';
import { ChunkList, type Chunk } from './chunks.js';
import { resolveIndex, resolveSlice } from './indexing.js';
import { ColumnReader, checkFrames, extendColumn, type ItemColumn } from './item-column.js';
import { StreamCore, type StreamOwner } from './stream-base.js';
import type { EventItems, EventStream } from './types.js';

export const EVENTS_PER_CHUNK = 4096;
/** bytes counted per event on top of its JSON length */
export const EVENT_OVERHEAD = 16;

interface EventChunk extends Chunk {
  events: unknown[];
  /** logical bytes of each event */
  sizes: number[];
  /** per-event acquisition frame index (NaN: not from one frame), or null when no event of the chunk has one */
  frames: ItemColumn;
}

export class MemoryEventStream extends StreamCore<EventItems> implements EventStream {
  readonly kind = 'event' as const;
  private readonly chunks = new ChunkList<EventChunk>();

  constructor(name: string, info: Record<string, unknown>, owner: StreamOwner) {
    super(name, info, owner);
  }

  /** `frames`: per event, the acquisition frame it comes from (events of per-frame processing) */
  append(events: unknown[], frames?: number[]): void {
    this.requireOpen();
    if (!Array.isArray(events)) {
      throw new DaqError('ParameterError', `cannot append to ${this.label}: events: must be a list of events`, [
        { field: 'events', message: 'must be a list of events' },
      ]);
    }
    const count = events.length;
    checkFrames(this.label, frames, count);
    if (count === 0) return;
    const sizes = new Array<number>(count);
    let bytes = 0;
    for (let k = 0; k < count; k++) {
      let json: string | undefined;
      try {
        json = JSON.stringify(events[k]);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        throw new DaqError('ParameterError', `cannot append to ${this.label}: events[${k}]: not JSON-serialisable (${why})`, [
          { field: `events.${k}`, message: `not JSON-serialisable (${why})` },
        ]);
      }
      if (json === undefined) {
        throw new DaqError('ParameterError', `cannot append to ${this.label}: events[${k}]: not JSON-serialisable (${typeof events[k]})`, [
          { field: `events.${k}`, message: `not JSON-serialisable (${typeof events[k]})` },
        ]);
      }
      sizes[k] = json.length + EVENT_OVERHEAD;
      bytes += sizes[k]!;
    }
    let tail = this.chunks.tail;
    for (let k = 0; k < count; ) {
      if (!tail || tail.count >= EVENTS_PER_CHUNK) {
        tail = { start: this._length + k, count: 0, events: [], sizes: [], frames: null };
        this.chunks.push(tail);
      }
      const n = Math.min(count - k, EVENTS_PER_CHUNK - tail.count);
      for (let j = k; j < k + n; j++) {
        tail.events.push(events[j]);
        tail.sizes.push(sizes[j]!);
      }
      tail.frames = extendColumn(tail.frames, tail.count, frames?.slice(k, k + n), n);
      tail.count += n;
      k += n;
    }
    this.appendedItems(count, bytes);
  }

  get(index: number): unknown {
    const i = resolveIndex(this, index);
    const chunk = this.chunks.locate(i);
    return chunk.events[i - chunk.start];
  }

  slice(start: number, stop?: number | null, step = 1): EventItems {
    const s = resolveSlice(this, start, stop, step);
    return this.read(s.start, s.count, s.step);
  }

  readRun(start: number, count: number): EventItems {
    return this.read(start, count, 1);
  }

  private read(start: number, count: number, step: number): EventItems {
    const items = new Array<unknown>(count);
    const frames = new ColumnReader(count);
    let chunk: EventChunk | undefined;
    for (let k = 0, i = start; k < count; k++, i += step) {
      if (!chunk || i < chunk.start || i >= chunk.start + chunk.count) chunk = this.chunks.locate(i);
      items[k] = chunk.events[i - chunk.start];
      frames.take(k, chunk.frames, i - chunk.start);
    }
    return frames.values ? { first: start, items, step, frames: frames.values } : { first: start, items, step };
  }

  protected release(from: number, to: number): number {
    let freed = 0;
    let pos = this.chunks.position(from);
    for (let chunk = this.chunks.at(pos); chunk && chunk.start < to; chunk = this.chunks.at(++pos)) {
      const end = Math.min(to, chunk.start + chunk.count);
      for (let i = Math.max(from, chunk.start); i < end; i++) {
        freed += chunk.sizes[i - chunk.start]!;
        chunk.events[i - chunk.start] = undefined;
      }
    }
    this.chunks.dropBelow(to);
    return freed;
  }

  trimIndexFor(bytes: number): number {
    let i = this._first;
    if (i >= this._length) return i;
    let freed = 0;
    let pos = this.chunks.position(i);
    for (let chunk = this.chunks.at(pos); chunk && freed < bytes; chunk = this.chunks.at(++pos)) {
      const end = chunk.start + chunk.count;
      for (; i < end && freed < bytes; i++) freed += chunk.sizes[i - chunk.start]!;
    }
    return Math.max(i, this._first + 1);
  }
}
