/**
 * Joining per-frame streams on acquisition frames. Once frames are dropped (or vetoed), item k of
 * the `frame` stream is not acquisition frame k: every item says which frame it comes from (data
 * header `frames`, docs/PROTOCOL.md), and views join on that — peaks over the shown image, the
 * x axis of the charts — never on item position. Pure functions, unit-tested in
 * widgets/test/frame-join.test.ts.
 */
/** What an item of a data message may say about its frame (ArrayItem and EventItem both fit). */
export interface FramedItem {
  /** item index in its stream */
  index: number;
  /** acquisition frame (header `frames`), when the server sent one */
  frame?: number;
  /** an event's document: its `frame_idx`, when any, names the frame too */
  value?: Record<string, unknown>;
}

/**
 * The acquisition frame of an item: the header's `frames` entry, else an event's own `frame_idx`,
 * else — a server from before `frames`, where nothing was dropped by position — its index.
 */
export function acquisitionFrame(item: FramedItem): number {
  if (typeof item.frame === 'number' && Number.isInteger(item.frame)) return item.frame;
  const f = item.value?.frame_idx;
  if (typeof f === 'number' && Number.isInteger(f)) return f;
  return item.index;
}

/**
 * The counts of a per-frame chart on its x axis, acquisition frames: `span` frames acquired up
 * to the newest one seen (the axis' extent), `analysed` of them with an item, `hits` of those.
 */
export class FrameTally {
  span = 0;
  analysed = 0;
  hits = 0;

  push(frame: number, hit: boolean): void {
    this.analysed++;
    if (hit) this.hits++;
    if (frame + 1 > this.span) this.span = frame + 1;
  }

  /** frames of the span without an item (dropped, vetoed, incomplete) */
  get missing(): number {
    return Math.max(0, this.span - this.analysed);
  }

  /** "N frames" as the x axis counts them, and how many were analysed when not all */
  framesText(): string {
    return this.missing ? `${this.span} frames, ${this.analysed} analysed` : `${this.span} frames`;
  }
}
