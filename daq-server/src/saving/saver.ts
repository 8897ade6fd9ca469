/**
 * Saving of one scan. The sinks hand every frame they put in the `frame`
 * stream to `frames()`; the saver queues it to a writer thread (off the
 * acquisition's path) and remembers where it went. `start()` writes a first
 * master (the scan's description); as the writers flush, the master is
 * rewritten to map the frames flushed so far, so a killed server or a full
 * disk leaves a master that opens. When the acquisition is over (completed,
 * stopped, aborted or failed) `finish()` lets the writers write what is
 * queued, then writes the sparse file and the complete master, and publishes
 * the files in the scan's info. Frames trimmed from memory are read back
 * from the files.
 */
import type { CompressedChunk } from './direct-chunk.js';
import { basename, join } from 'node:path';
import type { Counters, DType, TypedArray } from '../protocol/index.js';
import type { ArrayStream, Scan } from '../store/types.js';
import { type SavingParams, dataFileName, masterFileName, sparseFileName } from './params.js';
import type { SeriesConfig } from './messages.js';
import { WriterPool } from './writers.js';
import { writeMaster, type SavedFrames } from './master.js';
import { writeWhole, type FileId } from './files.js';
import { hasSparse, writeSparse } from './sparse.js';

/** What the sinks call for every frame they append to the `frame` stream. */
export interface FrameTap {
  /** `compressed`: the detector's own chunks of the frames (where kept), written as they are when they fit */
  /** an item null: a frame never decoded, saved from its `compressed` chunk */
  frames(items: (TypedArray | null)[], frameIdx: number[], receivers: number[], valid: boolean[], compressed?: (CompressedChunk | null)[]): void;
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

/** Master rewrites while running: at most this share of the main thread's time, and not more often than every … ms. */
const MASTER_DUTY = 0.05;
const MASTER_MIN_INTERVAL_MS = 500;

/** `info.saving` updates: at most every INFO_MS for counts, FILE_INFO_MS when a file was opened or the master written. */
const INFO_MS = 500;
const FILE_INFO_MS = 50;

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
  /** the master this saver put on disk (its inode), frames it maps, and whether it is the final one */
  private masterId: FileId | null = null;
  private masterFrames: number | null = null;
  private masterComplete = false;
  private masterError: string | null = null;
  private masterNext = 0;
  private masterTimer: NodeJS.Timeout | null = null;
  private started = false;
  private publishTimer: NodeJS.Timeout | null = null;
  private publishDue = 0;

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
        policy: p.file_exists_policy,
        flushInterval: p.flush_interval,
        entry: p.nx_entry_name,
        instrument: p.nx_instrument_name,
        detector: p.nx_detector_name,
        entryAttrs: { scan: s.scan.key },
      }));
      this.pool = new WriterPool(configs, p.compression, frames.dtype as DType, [...frames.shape], {
        maxQueued: p.max_queued_frames ?? Math.max(4, Math.floor(QUEUE_BYTES / frameBytes)),
        onFile: () => this.publish(FILE_INFO_MS), // a new file is news: clients read `files` soon after
        onSaved: (n) => {
          s.counters.nb_frames_saved = n;
          this.publish(INFO_MS);
        },
        onError: (reason) => this.fail(reason),
        onFlushed: () => this.masterDue(),
      });
      const pool = this.pool;
      frames.setBacking({
        readablePrefix: () => pool.savedPrefix,
        read: (index) => {
          const data = pool.read(index);
          if (!data) throw new Error(`frame ${index} was not saved`);
          return { data, valid: this.valid.data[index] !== 0, frame: this.frameIdx.data[index] };
        },
        // where each frame went: the state folder's index of finished scans reads them back after a restart
        locate: (index) => {
          const b = pool.book;
          const path = b.has(index) ? pool.path(b.rank[index], b.file[index]) : undefined;
          if (!path) return null;
          return { path, address: b.address[index], size: b.size[index], compression: p.compression, valid: this.valid.data[index] !== 0, index: b.index[index], flushed: pool.isFlushed(index), frame: this.frameIdx.data[index] };
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

  frames(items: (TypedArray | null)[], frameIdx: number[], receivers: number[], valid: boolean[], compressed?: (CompressedChunk | null)[]): void {
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
      this.pool?.submit(seq, items[k], rank, compressed?.[k] ?? null);
    }
  }

  private describe(): Record<string, unknown> {
    const finished = this.finishing !== null && this.doneFlag;
    return {
      enabled: true,
      base_path: this.folder,
      prefix: this.s.prefix,
      master: this.masterPath,
      master_frames: this.masterFrames,
      master_complete: this.masterComplete,
      master_error: this.masterError,
      sparse: this.sparsePath,
      files: this.pool ? [...this.pool.files] : [],
      nb_frames_saved: this.pool?.saved ?? 0,
      // frames whose chunk is the detector's compressed bytes, written without re-encoding
      nb_direct_chunks: this.pool?.directChunks ?? 0,
      error: this.errorReason,
      finished,
      // success only: every file complete and nothing failed
      done: finished && this.errorReason === null && this.masterComplete,
      compression: this.s.params.compression,
    };
  }

  /** The scan starts: write the first master now (its name is taken, under the policy, from here on). */
  start(): void {
    if (this.started || this.finishing) return;
    this.started = true;
    this.writeMasterNow(false);
  }

  /** The writers flushed more frames: rewrite the master soon, within its share of the main thread. */
  private masterDue(): void {
    if (!this.started || this.finishing || this.masterTimer || this.masterError) return;
    const wait = this.masterNext - performance.now();
    if (wait <= 0) return void this.writeMasterNow(false);
    this.masterTimer = setTimeout(() => {
      this.masterTimer = null;
      if (!this.finishing) this.writeMasterNow(false);
    }, wait);
    this.masterTimer.unref();
  }

  /** The saved frames as the master maps them: the first `count` of the stream (null: no dense frames). */
  private savedFrames(count: number): SavedFrames | null {
    const pool = this.pool;
    if (!pool || !this.s.frames) return null;
    return {
      dtype: this.s.frames.dtype as DType,
      shape: [...this.s.frames.shape],
      count,
      place: (seq: number) => (pool.book.has(seq) ? { rank: pool.book.rank[seq], file: pool.book.file[seq], index: pool.book.index[seq] } : null),
      fileName: (rank: number, file: number) => basename(pool.path(rank, file) ?? dataFileName(this.s.prefix, rank, file)),
      frameIdx: this.frameIdx.data,
      time: this.time.data,
      valid: this.valid.data,
    };
  }

  /**
   * Write the master (under a temporary name, then moved into place): while
   * running, the frames flushed so far; at the end, everything. Returns the
   * error naming the master, or null.
   */
  private writeMasterNow(final: boolean, endReason = 'running', sparseFile: string | null = null): string | null {
    const pool = this.pool;
    const count = final ? (pool ? lastSaved(pool, this.seq) + 1 : 0) : (pool?.flushedPrefix ?? 0);
    const frames = this.savedFrames(count);
    const t0 = performance.now();
    try {
      this.masterId = writeWhole(this.masterPath, this.s.params.file_exists_policy, this.masterId, (tmp) =>
        writeMaster({
          path: this.masterPath,
          writeTo: tmp,
          partial: !final,
          params: this.s.params,
          scan: this.s.scan,
          frames,
          endReason: final
            ? this.errorReason ? `${endReason} (saving: ${this.errorReason})` : endReason
            : `running: written while the scan runs, with the ${count} frames flushed so far; the final master replaces it when the scan ends`,
          nbSaved: final ? (pool?.saved ?? 0) : count,
          dataFiles: pool?.files ?? [],
          sparseFile,
        }),
      );
      this.masterFrames = frames ? count : null;
      this.masterComplete = final;
      this.masterError = null;
    } catch (err) {
      const on =
        this.masterId === null
          ? 'no master was written'
          : `the master on disk is the one written earlier in the scan${this.masterFrames === null ? '' : `, mapping ${this.masterFrames} frames`}`;
      this.masterError = `master ${this.masterPath}: ${(err as Error).message} (${on})`;
    }
    const spent = performance.now() - t0;
    this.masterNext = performance.now() + Math.max(MASTER_MIN_INTERVAL_MS, this.s.params.flush_interval * 1000, spent / MASTER_DUTY);
    this.publish(final ? 0 : FILE_INFO_MS);
    // a master that cannot be written stops the acquisition, named (frames already saved stay valid)
    if (this.masterError && !final) this.fail(this.masterError);
    return this.masterError;
  }

  private doneFlag = false;

  /** Publish the saving state in the scan's info, at most every `minMs` (0: now); a throttled change is published when the time is up. */
  private publish(minMs: number): void {
    const t = performance.now();
    if (t - this.lastInfo < minMs) {
      const due = this.lastInfo + minMs;
      if (this.publishTimer && this.publishDue <= due) return;
      if (this.publishTimer) clearTimeout(this.publishTimer);
      this.publishDue = due;
      this.publishTimer = setTimeout(() => {
        this.publishTimer = null;
        this.publish(0);
      }, due - t).unref();
      return;
    }
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.publishTimer = null;
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
    if (this.masterTimer) clearTimeout(this.masterTimer);
    this.masterTimer = null;
    await this.pool?.close();
    const scan = this.s.scan;
    const errors: string[] = [];
    if (this.s.params.save_sparse && hasSparse(scan)) {
      const path = join(this.folder, sparseFileName(this.s.prefix));
      try {
        const shape = this.s.frames ? [...this.s.frames.shape] : null;
        writeWhole(path, this.s.params.file_exists_policy, null, (tmp) => writeSparse(path, scan, shape, tmp));
        this.sparsePath = path;
      } catch (err) {
        errors.push(`sparse file ${path}: ${(err as Error).message}`);
        this.fail(errors[0]); // before the master, so its end_reason says it
      }
    }
    const pool = this.pool;
    const masterError = this.writeMasterNow(true, endReason, this.sparsePath);
    if (masterError) errors.push(masterError);
    if (pool) this.s.counters.nb_frames_saved = pool.saved;
    this.doneFlag = true;
    if (errors.length) this.fail(errors.join('; '));
    this.publish(0);
  }

  /** Server shutdown: stop the writer threads now; flushed data stays readable. */
  terminate(): void {
    if (this.masterTimer) clearTimeout(this.masterTimer);
    if (this.publishTimer) clearTimeout(this.publishTimer);
    this.masterTimer = this.publishTimer = null;
    this.pool?.terminate();
  }
}
