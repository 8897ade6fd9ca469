/**
 * The storage behind a stream: a list of chunks, each holding `count` consecutive items from
 * index `start`. Appends go to the tail (O(1) amortised), index → chunk is a binary search
 * (O(log chunks)), trimming drops whole chunks from the head without shifting the array
 * (the dropped prefix is compacted away once it is large).
 */

export interface Chunk {
  /** index of the chunk's first item */
  start: number;
  /** items in the chunk (may grow while the chunk is the tail) */
  count: number;
}

export class ChunkList<C extends Chunk> {
  private chunks: C[] = [];
  /** chunks before `head` were dropped */
  private head = 0;

  get size(): number {
    return this.chunks.length - this.head;
  }

  get tail(): C | undefined {
    return this.chunks.length > this.head ? this.chunks[this.chunks.length - 1] : undefined;
  }

  push(chunk: C): void {
    this.chunks.push(chunk);
  }

  /** The chunk holding `index` (caller guarantees the index is held). */
  locate(index: number): C {
    return this.chunks[this.position(index)]!;
  }

  /** Position (for `at`) of the chunk holding `index` (caller guarantees the index is held). */
  position(index: number): number {
    const chunks = this.chunks;
    let hi = chunks.length - 1;
    if (index >= chunks[hi]!.start) return hi; // the common case: reading recent items
    let lo = this.head; // invariant: chunks[lo].start <= index < chunks[hi].start
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (chunks[mid]!.start <= index) lo = mid;
      else hi = mid;
    }
    return lo;
  }

  /** The chunk at a position from `position()`; undefined past the tail. */
  at(position: number): C | undefined {
    return position < this.chunks.length ? this.chunks[position] : undefined;
  }

  /**
   * Drop every chunk whose items all lie below `index`; returns the first remaining chunk
   * (which may still hold items below `index`) so the caller can release those.
   */
  dropBelow(index: number): C | undefined {
    const chunks = this.chunks;
    while (this.head < chunks.length) {
      const c = chunks[this.head]!;
      if (c.start + c.count > index) break;
      chunks[this.head] = undefined as unknown as C; // release the reference now
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > chunks.length) {
      this.chunks = chunks.slice(this.head);
      this.head = 0;
    }
    return this.chunks[this.head];
  }
}
