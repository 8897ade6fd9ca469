/**
 * A reader's own position in a stream (blissdata's cursor): independent of every other reader.
 * read() returns what arrived since the previous read, waits for it when blocking, reports
 * items skipped by lastOnly and items lost to trimming, and says 'end' once a sealed stream
 * (or the cursor's `stop`) is drained.
 */
import { deadlineOf, remainingUntil } from './notifier.js';
import { checkReadOptions, type ReadSource } from './source.js';
import type { Cursor, CursorResult, ReadOptions } from './types.js';

export class StreamCursor<T> implements Cursor<T> {
  private pos: number;

  /**
   * @param start first index to read; negative counts from the current end (clamped at 0)
   * @param stop the cursor ends before this index (undefined: at the sealed end)
   */
  constructor(
    private readonly source: ReadSource<T>,
    start = 0,
    private readonly stop?: number,
  ) {
    this.pos = start < 0 ? Math.max(0, source.length + start) : start;
  }

  get position(): number {
    return this.pos;
  }

  async read(options: ReadOptions = {}): Promise<CursorResult<T>> {
    const maxCount = checkReadOptions(options, Infinity);
    const deadline = deadlineOf(options.timeout);
    for (;;) {
      const result = this.tryRead(maxCount, options.lastOnly === true);
      if (result) return result;
      if (options.block === false) return { kind: 'none' };
      const remaining = remainingUntil(deadline);
      if (remaining !== undefined && remaining <= 0) return { kind: 'none' };
      if (!(await this.source.changed.wait(remaining, options.signal))) {
        return this.tryRead(maxCount, options.lastOnly === true) ?? { kind: 'none' };
      }
    }
  }

  /** One non-blocking attempt: data (or a gap report), end, or undefined for "nothing yet". */
  private tryRead(maxCount: number, lastOnly: boolean): CursorResult<T> | undefined {
    const src = this.source;
    const limit = this.stop === undefined ? src.length : Math.min(this.stop, src.length);
    const from = this.pos;
    let trimmed = 0;
    if (from < src.first) {
      trimmed = Math.min(src.first, this.stop ?? Infinity) - from;
      if (trimmed <= 0) trimmed = 0;
      else this.pos = from + trimmed;
    }
    const gaps = trimmed > 0 ? [{ from, to: from + trimmed }] : undefined;
    if (this.pos < limit) {
      let start = this.pos;
      if (lastOnly) start = limit - 1;
      const count = Math.min(limit - start, maxCount);
      this.pos = start + count;
      const result: CursorResult<T> = { kind: 'data', batch: src.readRun(start, count), skipped: start - from, trimmed };
      if (gaps) result.gaps = gaps;
      return result;
    }
    if (gaps) return { kind: 'data', batch: src.readRun(this.pos, 0), skipped: trimmed, trimmed, gaps };
    const ended = (this.stop !== undefined && this.pos >= this.stop) || (src.sealed && this.pos >= src.length);
    return ended ? { kind: 'end' } : undefined;
  }
}
