/**
 * Index and slice resolution shared by array and event streams, with the read errors of
 * PROTOCOL.md "Reading": each says exactly why, with numbers, and carries the extra fields
 * the protocol lists (`index` + `first`, or `index` + `length`).
 */
import { DaqError } from '../protocol/errors.js';

/** What index resolution needs to know about a stream. */
export interface Extent {
  /** items ever appended */
  readonly length: number;
  /** first index held */
  readonly first: number;
  readonly sealed: boolean;
  /** e.g. "stream 'frames' of scan scan:3:1a2b3c4d", for messages */
  readonly label: string;
  /** why every item is gone when the whole scan was evicted from memory (null: it was not) */
  readonly gone?: string | null;
}

/** A resolved slice: `count` items at start, start + step, … (all held in memory). */
export interface ResolvedSlice {
  start: number;
  count: number;
  step: number;
}

export const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

function requireInteger(value: unknown, field: string): number {
  if (!isIndex(value)) {
    throw new DaqError('ParameterError', `${field}: must be an integer, got ${JSON.stringify(value) ?? String(value)}`, [
      { field, message: 'must be an integer' },
    ]);
  }
  return value;
}

export function trimmedError(ext: Extent, index: number): DaqError {
  const why = ext.gone
    ? `the scan was evicted from memory (${ext.gone}); the stream had ${ext.length} items`
    : `items below index ${ext.first} were trimmed from memory (the stream has ${ext.length} items, ${ext.first}…${ext.length - 1} held)`;
  return new DaqError(
    'IndexNoMoreThereError',
    `index ${index} of ${ext.label} is no more there: ${why}`,
    undefined,
    { index, first: ext.first },
  );
}

function notYetError(ext: Extent, index: number): DaqError {
  return new DaqError(
    'IndexNotYetThereError',
    `index ${index} of ${ext.label} is not there yet: the stream has ${ext.length} items so far and is still growing`,
    undefined,
    { index, length: ext.length },
  );
}

function negativeOnGrowingError(ext: Extent, index: number): DaqError {
  return new DaqError(
    'IndexNotYetThereError',
    `negative index ${index} of ${ext.label} needs a sealed stream: the stream is still growing ` +
      `(${ext.length} items so far), so its end is not known yet`,
    undefined,
    { index, length: ext.length },
  );
}

function wontBeError(ext: Extent, index: number): DaqError {
  const range = ext.length === 0 ? 'it holds no items' : `valid indexes are ${-ext.length}…${ext.length - 1}`;
  return new DaqError(
    'IndexWontBeThereError',
    `index ${index} of ${ext.label} will never be there: the stream is sealed with ${ext.length} items (${range})`,
    undefined,
    { index, length: ext.length },
  );
}

/** Resolve a single index (negative: from the end of a sealed stream) to a held index, or throw. */
export function resolveIndex(ext: Extent, index: number): number {
  requireInteger(index, 'index');
  let i = index;
  if (i < 0) {
    if (!ext.sealed) throw negativeOnGrowingError(ext, index);
    i += ext.length;
    if (i < 0) throw wontBeError(ext, index);
  }
  if (i >= ext.length) throw ext.sealed ? wontBeError(ext, index) : notYetError(ext, index);
  if (i < ext.first) throw trimmedError(ext, index);
  return i;
}

/**
 * Python slicing over what is available: `a[start:stop:step]` with `stop` null/undefined for
 * "to the end". Negative start/stop count from the end only on a sealed stream (on a growing
 * one: IndexNotYetThereError). The result may be shorter than asked (growing stream); it is an
 * IndexNoMoreThereError when any item it would return was trimmed (for a forward slice: when
 * its start was trimmed).
 */
export function resolveSlice(ext: Extent, start: number, stop?: number | null, step = 1): ResolvedSlice {
  requireInteger(start, 'start');
  if (stop !== undefined && stop !== null) requireInteger(stop, 'stop');
  requireInteger(step, 'step');
  if (step === 0) throw new DaqError('ParameterError', 'step: must not be zero', [{ field: 'step', message: 'must not be zero' }]);
  if (!ext.sealed) {
    if (start < 0) throw negativeOnGrowingError(ext, start);
    if (stop !== undefined && stop !== null && stop < 0) throw negativeOnGrowingError(ext, stop);
  }
  const n = ext.length;
  let s: number;
  let e: number;
  let count: number;
  if (step > 0) {
    s = start < 0 ? Math.max(start + n, 0) : Math.min(start, n);
    e = stop === undefined || stop === null ? n : stop < 0 ? Math.max(stop + n, 0) : Math.min(stop, n);
    count = e > s ? Math.ceil((e - s) / step) : 0;
  } else {
    s = start < 0 ? Math.max(start + n, -1) : Math.min(start, n - 1);
    e = stop === undefined || stop === null ? -1 : stop < 0 ? Math.max(stop + n, -1) : Math.min(stop, n - 1);
    count = s > e ? Math.ceil((s - e) / -step) : 0;
  }
  if (count > 0) {
    const lowest = step > 0 ? s : s + (count - 1) * step;
    if (lowest < ext.first) {
      // forward: the start itself; backward: the first index in slice order that is gone
      const bad = step > 0 ? s : s - Math.max(0, Math.ceil((s - ext.first + 1) / -step)) * -step;
      throw trimmedError(ext, bad);
    }
  }
  return { start: count > 0 ? s : Math.max(s, 0), count, step };
}
