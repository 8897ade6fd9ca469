/**
 * A number kept per item beside a chunk's items — the acquisition time, the acquisition frame
 * index. One plain array per chunk, in step with the chunk's items (so trims and evictions, which
 * drop whole chunks or index into a chunk by `i - start`, keep it aligned with no extra work);
 * null while no item of the chunk has a value, NaN for an item without one.
 */
import { DaqError } from '../protocol/errors.js';

export type ItemColumn = number[] | null;

/**
 * The column of a chunk that holds `held` items after `count` more were appended with `values`
 * (undefined: none of them has one). Stays null until some item has a value.
 */
export function extendColumn(column: ItemColumn, held: number, values: readonly number[] | undefined, count: number): ItemColumn {
  if (!values && column === null) return null;
  const out = column ?? new Array<number>(held).fill(NaN);
  if (values) for (let k = 0; k < count; k++) out.push(values[k]!);
  else for (let k = 0; k < count; k++) out.push(NaN);
  return out;
}

/**
 * `frames` given to an append: one acquisition frame index (an integer ≥ 0) per item. Throws a
 * ParameterError naming `frames` otherwise.
 */
export function checkFrames(label: string, frames: unknown, count: number): void {
  if (frames === undefined) return;
  let message: string | null = null;
  if (!Array.isArray(frames) || frames.length !== count) {
    message = `must be a list of ${count} frame indexes (one per item), got ${Array.isArray(frames) ? `${frames.length}` : typeof frames}`;
  } else {
    const bad = frames.findIndex((f) => !(Number.isSafeInteger(f) && f >= 0));
    if (bad >= 0) message = `frames[${bad}]: must be an integer ≥ 0 (the acquisition frame the item comes from), got ${String(frames[bad])}`;
  }
  if (message) throw new DaqError('ParameterError', `cannot append to ${label}: frames: ${message}`, [{ field: 'frames', message }]);
}

/** The values of items [start, start + count·step) read from chunk columns; undefined when none has one. */
export class ColumnReader {
  private out: number[] | undefined;
  constructor(private readonly count: number) {}

  /** item k of the read is item `offset` of a chunk with this column */
  take(k: number, column: ItemColumn, offset: number): void {
    if (column) (this.out ??= new Array<number>(this.count).fill(NaN))[k] = column[offset]!;
  }

  /** item k of the read has this value (an item read back from elsewhere) */
  set(k: number, value: number | undefined): void {
    if (value !== undefined) (this.out ??= new Array<number>(this.count).fill(NaN))[k] = value;
  }

  get values(): number[] | undefined {
    return this.out;
  }
}
