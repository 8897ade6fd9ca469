/**
 * Saving of one scan. The sinks hand every frame they put in the `frame`
 * stream to `frames()`; the saver queues it to a writer thread (off the
 * acquisition's path) and remembers where it went. When the acquisition is
 * over (completed, stopped, aborted or failed) `finish()` lets the writers
 * write what is queued, then writes the sparse file and the master, and
 * publishes the files in the scan's info. Frames trimmed from memory are
 * read back from the files.
 */
import { basename, join } from 'node:path';
import type { Counters, DType, TypedArray } from '../protocol/index.js';
import type { ArrayStream, Scan } from '../store/types.js';
import { type SavingParams, dataFileName, masterFileName, sparseFileName } from './params.js';
import type { SeriesConfig } from './messages.js';
import { WriterPool } from './writers.js';
import { writeMaster } from './master.js';
import { hasSparse, writeSparse } from './sparse.js';

/** What the sinks call for every frame they append to the `frame` stream. */
export interface FrameTap {
  frames(items: TypedArray[], frameIdx: number[], receivers: number[], valid: boolean[]): void;
}

export interface SaverSetup {
  params: SavingParams;
  prefix: string;
  scan: Scan;
  /** the `frame` stream (null: the pipeline keeps no dense frames) */
  frames: ArrayStream | null;
  nbReceivers: number;
  counters: Counters;
}

/** Default queue: 1 GiB worth of frames (at least 4). */
const QUEUE_BYTES = 1 << 30;

/** Growable float64 column. */
class Column {
  data = new Float64Array(1024);
  push(at: number, v: number): void {
    if (at >= this.data.length) {
      const d = new Float64Array(Math.max(at + 1, this.data.length * 2));
      d.set(this.data);
      this.data = d;
    }
    this.data[at] = v;
  }
}

/** Highest stream index saved (−1: none): the virtual dataset ends there. */
function lastSaved(pool: WriterPool, seqs: number): number {
  for (let k = seqs - 1; k >= 0; k--) if (pool.book.has(k)) return k;
  return -1;
}

export class ScanSaver implements FrameTap {
  readonly folder: string;
  readonly masterPath: string;
  private readonly pool: WriterPool | null;
  private seq = 0;
  private t0 = -1;
  private readonly frameIdx = new Column();
  private readonly time = new Column();
  private readonly valid = new Column();
  private readonly errorListeners: ((reason: string) => void)[] = [];
  private errorReason: string | null = null;
  private finishing: Promise<void> | null = null;
  private sparsePath: string | null = null;
  private lastInfo = 0;

  constructor(private readonly s: SaverSetup) {
    const p = s.params;
    this.folder = p.base_path;
    this.masterPath = join(this.folder, masterFileName(s.prefix));
    const frames = p.save_frames ? s.frames : null;
    if (frames) {
      const nbWriters = p.nb_writers ?? s.nbReceivers;
      const frameBytes = frames.itemBytes;
      const configs: SeriesConfig[] = Array.from({ length: nbWriters }, (_, rank) => ({
        folder: this.folder,
        prefix: s.prefix,
        rank,
        startNumber: p.start_number,
        nbFramesPerFile: p.nb_frames_per_file,
        dtype: frames.dtype as DType,
        shape: [...frames.shape],
        compression: p.compression,
        compressionLevel: p.compression_level,
        overwrite: p.file_exists_policy === 'overwrite',
        flushInterval: p.flush_interval,
        entry: p.nx_entry_name,
        instrument: p.nx_instrument_name,
        detector: p.nx_detector_name,
        entryAttrs: { scan: s.scan.key },
      }));
      this.pool = new WriterPool(configs, p.compression, frames.dtype as DType, [...frames.shape], {
        maxQueued: p.max_queued_frames ?? Math.max(4, Math.floor(QUEUE_BYTES / frameBytes)),
        onFile: () => this.publish(false),
        onSaved: (n) => {
          s.counters.nb_frames_saved = n;
          this.publish(false);
        },
        onError: (reason) => this.fail(reason),
      });
      const pool = this.pool;
      frames.setBacking({
        readablePrefix: () => pool.savedPrefix,
        read: (index) => {
          const data = pool.read(index);
          if (!data) throw new Error(`frame ${index} was not saved`);
          return { data, valid: this.valid.data[index] !== 0 };
        },
        // where each frame went: the state folder's index of finished scans reads them back after a restart
        locate: (index) => {
          const b = pool.book;
          const path = b.has(index) ? pool.path(b.rank[index], b.file[index]) : undefined;
          if (!path) return null;
          return { path, address: b.address[index], size: b.size[index], compression: p.compression, valid: this.valid.data[index] !== 0 };
        },
      });
    } else {
      this.pool = null;
    }
    s.scan.updateInfo({ saving: this.describe() });
  }

  /** Frames handed to the writers and not yet written (flow control of unpaced runs). */
  get queued(): number {
    return this.pool ? this.seq - this.pool.saved : 0;
  }

  onError(listener: (reason: string) => void): void {
    this.errorListeners.push(listener);
  }

  private fail(reason: string): void {
    if (this.errorReason !== null) return;
    this.errorReason = reason;
    for (const l of this.errorListeners) l(reason);
  }

  frames(items: TypedArray[], frameIdx: number[], receivers: number[], valid: boolean[]): void {
    const t = performance.now() / 1000;
    if (this.t0 < 0) this.t0 = t;
    const nbReceivers = this.s.nbReceivers;
    const nbWriters = this.pool?.nbWriters ?? 1;
    for (let k = 0; k < items.length; k++) {
      const seq = this.seq++;
      this.frameIdx.push(seq, frameIdx[k]);
      this.time.push(seq, t - this.t0);
      this.valid.push(seq, valid[k] ? 1 : 0);
      // per-receiver files when there are as many writers as receivers (LIMA2), else round robin
      const rank = nbWriters === nbReceivers ? receivers[k] : seq % nbWriters;
      this.pool?.submit(seq, items[k], rank);
    }
  }

  private describe(): Record<string, unknown> {
    return {
      enabled: true,
      base_path: this.folder,
      prefix: this.s.prefix,
      master: this.masterPath,
      sparse: this.sparsePath,
      files: this.pool ? [...this.pool.files] : [],
      nb_frames_saved: this.pool?.saved ?? 0,
      error: this.errorReason,
      done: this.finishing !== null && this.doneFlag,
      compression: this.s.params.compression,
    };
  }

  private doneFlag = false;

  /** Publish the saving state in the scan's info (at most 2 Hz unless forced). */
  private publish(force: boolean): void {
    const t = performance.now();
    if (!force && t - this.lastInfo < 500) return;
    this.lastInfo = t;
    if (this.s.scan.state === 'CLOSED') return;
    try {
      this.s.scan.updateInfo({ saving: this.describe() });
    } catch {
      /* the info is advisory while running; the final update is forced */
    }
  }

  /** Write everything queued, then the sparse file and the master; idempotent. */
  finish(endReason: string): Promise<void> {
    this.finishing ??= this.doFinish(endReason);
    return this.finishing;
  }

  private async doFinish(endReason: string): Promise<void> {
    await this.pool?.close();
    const scan = this.s.scan;
    const errors: string[] = [];
    if (this.s.params.save_sparse && hasSparse(scan)) {
      const path = join(this.folder, sparseFileName(this.s.prefix));
      try {
        writeSparse(path, scan, this.s.frames ? [...this.s.frames.shape] : null);
        this.sparsePath = path;
      } catch (err) {
        errors.push(`sparse file ${path}: ${(err as Error).message}`);
      }
    }
    const pool = this.pool;
    const frames = pool && this.s.frames
      ? {
          dtype: this.s.frames.dtype as DType,
          shape: [...this.s.frames.shape],
          count: lastSaved(pool, this.seq) + 1,
          place: (seq: number) => (pool.book.has(seq) ? { rank: pool.book.rank[seq], file: pool.book.file[seq], index: pool.book.index[seq] } : null),
          fileName: (rank: number, file: number) => basename(pool.path(rank, file) ?? dataFileName(this.s.prefix, rank, file)),
          frameIdx: this.frameIdx.data,
          time: this.time.data,
          valid: this.valid.data,
        }
      : null;
    try {
      writeMaster({
        path: this.masterPath,
        params: this.s.params,
        scan,
        frames,
        endReason: this.errorReason ? `${endReason} (saving: ${this.errorReason})` : endReason,
        nbSaved: pool?.saved ?? 0,
        dataFiles: pool?.files ?? [],
        sparseFile: this.sparsePath,
      });
    } catch (err) {
      errors.push(`master ${this.masterPath}: ${(err as Error).message}`);
    }
    if (pool) this.s.counters.nb_frames_saved = pool.saved;
    this.doneFlag = true;
    if (errors.length) this.fail(errors.join('; '));
    this.publish(true);
  }

  /** Server shutdown: stop the writer threads now; flushed data stays readable. */
  terminate(): void {
    this.pool?.terminate();
  }
}
