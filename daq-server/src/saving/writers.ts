/**
 * The writer threads of one scan and the book of where every saved frame
 * went. Frames are queued to writers without waiting; the queue is bounded
 * (`max_queued_frames`): past it, or when a writer fails, the saver reports
 * an error that says how many frames were saved, and takes no more frames.
 */
import { Worker } from 'node:worker_threads';
import { openSync, readSync, closeSync } from 'node:fs';
import { TYPED_ARRAY, product, type DType, type TypedArray } from '../protocol/index.js';
import { bslz4Decompress, inflateChunk } from './codec/index.js';
import type { FrameToWrite, FromWriter, SavedFrame, SeriesConfig, ToWriter } from './messages.js';
import type { CompressedChunk } from './direct-chunk.js';
import type { Compression } from './params.js';

export interface WriterPoolOptions {
  maxQueued: number;
  /** a new data file was opened */
  onFile: (path: string) => void;
  /** frames were saved (running total) */
  onSaved: (total: number) => void;
  /** saving cannot go on: the reason names what failed and how many frames were saved */
  onError: (reason: string) => void;
  /** frames 0…n−1 of the stream are all flushed to their files (n grew) */
  onFlushed?: (n: number) => void;
}

interface WriterState {
  rank: number;
  worker: Worker;
  queued: number;
  saved: number;
  closed: Promise<void>;
  batch: FrameToWrite[];
  /** what its last flush made durable: files before `flushedFile`, and `flushedCount` frames of that file */
  flushedFile: number;
  flushedCount: number;
}

/** Growable columns: where frame `seq` was saved (−1: not saved). */
class FrameBook {
  rank = new Int16Array(1024).fill(-1);
  file = new Int32Array(1024);
  index = new Int32Array(1024);
  address = new Float64Array(1024);
  size = new Float64Array(1024);

  put(rank: number, f: SavedFrame): void {
    if (f.seq >= this.rank.length) this.grow(f.seq + 1);
    this.rank[f.seq] = rank;
    this.file[f.seq] = f.file;
    this.index[f.seq] = f.index;
    this.address[f.seq] = f.address;
    this.size[f.seq] = f.size;
  }

  private grow(min: number): void {
    const n = Math.max(min, this.rank.length * 2);
    const g = <T extends TypedArray>(a: T, fill?: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      if (fill !== undefined) b.fill(fill as never);
      b.set(a as never);
      return b;
    };
    this.rank = g(this.rank, -1);
    this.file = g(this.file);
    this.index = g(this.index);
    this.address = g(this.address);
    this.size = g(this.size);
  }

  has(seq: number): boolean {
    return seq < this.rank.length && this.rank[seq] >= 0;
  }
}

export class WriterPool {
  private readonly writers: WriterState[];
  readonly book = new FrameBook();
  /** data file path by "rank:file" */
  private readonly paths = new Map<string, string>();
  readonly files: string[] = [];
  private failedReason: string | null = null;
  private flushScheduled = false;
  /** frames saved in a contiguous prefix of the frame stream (for reading back) */
  private prefix = 0;
  /** frames flushed in a contiguous prefix of the frame stream (what a master written now can map) */
  private flushed = 0;
  private readonly fds = new Map<string, number>();
  private closing: Promise<void> | null = null;
  savedBytes = 0;
  /** frames written as the detector's own compressed chunk */
  directChunks = 0;

  constructor(
    configs: SeriesConfig[],
    private readonly compression: Compression,
    private readonly dtype: DType,
    private readonly shape: number[],
    private readonly options: WriterPoolOptions,
  ) {
    this.writers = configs.map((cfg) => this.spawn(cfg));
  }

  private spawn(cfg: SeriesConfig): WriterState {
    const worker = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: cfg });
    let resolveClosed!: () => void;
    const w: WriterState = { rank: cfg.rank, worker, queued: 0, saved: 0, closed: new Promise((r) => (resolveClosed = r)), batch: [], flushedFile: -1, flushedCount: 0 };
    worker.on('message', (m: FromWriter) => {
      switch (m.op) {
        case 'opened':
          this.paths.set(`${w.rank}:${m.file}`, m.path);
          this.files.push(m.path);
          this.options.onFile(m.path);
          break;
        case 'saved':
          for (const f of m.frames) this.book.put(w.rank, f);
          w.queued -= m.frames.length;
          w.saved += m.frames.length;
          this.savedBytes += m.bytes;
          this.directChunks += m.direct;
          while (this.book.has(this.prefix)) this.prefix++;
          this.options.onSaved(this.saved);
          this.advanceFlushed();
          break;
        case 'flushed':
          w.flushedFile = m.file;
          w.flushedCount = m.count;
          this.advanceFlushed();
          break;
        case 'error':
          this.fail(`saving failed in writer ${w.rank}${m.code ? ` (${m.code})` : ''}: ${m.message}`);
          break;
        case 'closed':
          resolveClosed();
          void worker.terminate();
          break;
      }
    });
    worker.on('error', (err) => {
      this.fail(`writer ${w.rank} crashed: ${err.message}`);
      resolveClosed();
    });
    worker.on('exit', () => resolveClosed());
    return w;
  }

  get saved(): number {
    return this.writers.reduce((n, w) => n + w.saved, 0);
  }

  get queued(): number {
    return this.writers.reduce((n, w) => n + w.queued, 0);
  }

  get failed(): string | null {
    return this.failedReason;
  }

  get nbWriters(): number {
    return this.writers.length;
  }

  private fail(reason: string): void {
    if (this.failedReason !== null) return;
    this.failedReason = reason;
    // the count is final only once the writers closed; the reason carries the count known now
    this.options.onError(`${reason}; ${this.saved} frames saved so far (frames already queued are still written; nb_frames_saved has the final count)`);
  }

  /**
   * Queue frame `seq` for writer `rank`; returns false when saving no longer takes frames.
   * `chunk`: the detector's compressed bytes of the frame, written as they are where they fit the saving compression.
   */
  submit(seq: number, data: TypedArray | null, rank: number, chunk: CompressedChunk | null = null): boolean {
    if (this.failedReason !== null || this.closing) return false;
    if (this.queued >= this.options.maxQueued) {
      this.fail(`saving cannot keep up: ${this.queued} frames are waiting for the writers (saving.max_queued_frames = ${this.options.maxQueued})`);
      return false;
    }
    const w = this.writers[rank % this.writers.length];
    w.batch.push(chunk ? { seq, data, chunk } : { seq, data });
    w.queued++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.post());
    }
    return true;
  }

  private post(): void {
    this.flushScheduled = false;
    for (const w of this.writers) {
      if (!w.batch.length) continue;
      w.worker.postMessage({ op: 'frames', frames: w.batch } satisfies ToWriter);
      w.batch = [];
    }
  }

  /** Write what is queued, close every file; resolves when the writers are done. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.post();
      for (const w of this.writers) w.worker.postMessage({ op: 'close' } satisfies ToWriter);
      await Promise.all(this.writers.map((w) => w.closed));
    })();
    return this.closing;
  }

  /** Stop the threads now (server shutdown): what they flushed stays. */
  terminate(): void {
    for (const w of this.writers) void w.worker.terminate();
    this.releaseFds();
  }

  /** Whether frame `seq` is saved and its writer flushed it since. */
  isFlushed(seq: number): boolean {
    const b = this.book;
    if (!b.has(seq)) return false;
    const w = this.writers[b.rank[seq]];
    return b.file[seq] < w.flushedFile || (b.file[seq] === w.flushedFile && b.index[seq] < w.flushedCount);
  }

  private advanceFlushed(): void {
    const before = this.flushed;
    while (this.isFlushed(this.flushed)) this.flushed++;
    if (this.flushed > before) this.options.onFlushed?.(this.flushed);
  }

  /** Number of frames from 0 on that are all flushed to their files. */
  get flushedPrefix(): number {
    return this.flushed;
  }

  /** Number of frames from 0 on that are all saved. */
  get savedPrefix(): number {
    return this.prefix;
  }

  path(rank: number, file: number): string | undefined {
    return this.paths.get(`${rank}:${file}`);
  }

  /** Read frame `seq` back from its file (null when it was not saved). */
  read(seq: number): TypedArray | null {
    const b = this.book;
    if (!b.has(seq)) return null;
    const path = this.path(b.rank[seq], b.file[seq]);
    if (!path) return null;
    let fd = this.fds.get(path);
    if (fd === undefined) {
      fd = openSync(path, 'r');
      this.fds.set(path, fd);
    }
    const stored = Buffer.allocUnsafe(b.size[seq]);
    readSync(fd, stored, 0, stored.length, b.address[seq]);
    const T = TYPED_ARRAY[this.dtype];
    const out = new T(product(this.shape));
    const bytes = new Uint8Array(out.buffer);
    if (this.compression === 'none') bytes.set(stored);
    else if (this.compression === 'gzip') bytes.set(inflateChunk(stored));
    else bslz4Decompress(stored, T.BYTES_PER_ELEMENT, bytes);
    return out;
  }

  releaseFds(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
