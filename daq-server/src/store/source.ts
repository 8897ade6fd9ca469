/** What cursors and consumer groups need from a stream (kept apart to avoid import cycles). */
import { DaqError } from '../protocol/errors.js';
import type { Notifier } from './notifier.js';
import type { ReadOptions } from './types.js';

export interface ReadSource<T> {
  readonly length: number;
  readonly first: number;
  readonly sealed: boolean;
  readonly label: string;
  /** notified on append, seal and consumer-group changes */
  readonly changed: Notifier;
  /** items [start, start + count), all held (count may be 0) */
  readRun(start: number, count: number): T;
}

/** Validate ReadOptions (ParameterError naming each bad field). */
export function checkReadOptions(options: ReadOptions, defaultMaxCount: number): number {
  const fields: { field: string; message: string }[] = [];
  const { timeout, maxCount } = options;
  if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
    fields.push({ field: 'timeout', message: 'must be a number ≥ 0 (ms) or absent (no limit)' });
  }
  if (maxCount !== undefined && !(Number.isSafeInteger(maxCount) && maxCount >= 1)) {
    fields.push({ field: 'maxCount', message: 'must be an integer ≥ 1' });
  }
  if (fields.length > 0) {
    throw new DaqError('ParameterError', `invalid read options: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);
  }
  return maxCount ?? defaultMaxCount;
}
