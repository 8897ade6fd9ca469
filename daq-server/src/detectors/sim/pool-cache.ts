/**
 * The rendered frame pool of a simulated detector, kept between its runs. Frame i is a pure function
 * of (detector, configuration, i), so a run with the configuration of the last one replays the same
 * pool instead of rendering a new one. Rendering a pool per prepare cost memory the server never got
 * back: 128 MB of SharedArrayBuffers per sim-eiger-500k scan that V8 does not count as memory
 * pressure (its heap stays small, so it collects them late), freed into a malloc heap that keeps them
 * (RSS 1.5 GB over 60 scans with a 256 MB store budget). The store holds views of pool frames, not
 * copies: keeping the pool does not duplicate them. A detector idle for IDLE_RELEASE_MS lets its pool go.
 */
import { isMainThread } from 'node:worker_threads';
import type { Rendered } from './run.js';

/** How long a pool outlives the last run that used it. */
export const IDLE_RELEASE_MS = 60_000;

export type Pool = (Rendered | undefined)[];

export class PoolCache {
  private key: string | null = null;
  private pool: Pool | null = null;
  private users = 0;
  private timer: NodeJS.Timeout | null = null;

  /** The pool for `key` (the last one when the key matches, else a new empty one of `size` slots); release it with `release()`. */
  acquire(key: string, size: number): Pool {
    // render workers open runs too: they render, post and exit, keeping nothing
    if (!isMainThread) return new Array(size);
    this.cancelTimer();
    if (this.key !== key || this.pool === null || this.pool.length !== size) {
      this.key = key;
      this.pool = new Array(size);
    }
    this.users++;
    return this.pool;
  }

  /** A run that used the pool has closed; the pool goes when no run has used it for IDLE_RELEASE_MS. */
  release(): void {
    if (!isMainThread || this.users === 0) return;
    if (--this.users > 0) return;
    this.cancelTimer();
    this.timer = setTimeout(() => this.clear(), IDLE_RELEASE_MS);
    this.timer.unref();
  }

  /** Bytes the pool holds now (rendered slots). */
  get bytes(): number {
    let n = 0;
    for (const r of this.pool ?? []) if (r) n += r.data.byteLength;
    return n;
  }

  clear(): void {
    this.cancelTimer();
    this.key = null;
    this.pool = null;
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
