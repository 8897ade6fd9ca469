/**
 * What the store keeps across server restarts, in the server's state folder (`service.stateDir`;
 * none when it is null):
 *
 *  - `scan-numbers.json`: the highest scan number per session, written at every new scan (before
 *    its files are created), so numbering continues after a restart and a second run of the same
 *    scan name in the same folder does not clash with the first one's files;
 *  - `scans.jsonl`: one line per finished scan that saved files (key, identity, times, master,
 *    data files), appended when the scan closes;
 *  - `frames/<key>.bin`: where each saved frame lies (file, address, size, validity) and the
 *    acquisition frame it is (after drops, saved frame k is not frame k);
 *  - `results/<key>.bin`: the scan's other streams (per-frame results, peaks, profiles …), whole
 *    (saved-results.ts), so a restored scan lists and reads every stream, not only its frames.
 *
 * On start, the finished scans whose master still exists are listed again, CLOSED, read-only,
 * their frames read from the data files (nothing of them is held in memory).
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TYPED_ARRAY, isDType, product, type DType, type ScanIdentity, type TypedArray } from '../protocol/index.js';
import { bslz4Decompress, inflateChunk } from '../saving/codec/index.js';
import { DaqError } from '../protocol/errors.js';
import type { MemoryScan } from './scan.js';
import { encodeResults, restoreResults } from './saved-results.js';
import type { MemoryScanStore } from './store.js';
import type { ItemBacking, SavedLocation } from './types.js';

const NUMBERS = 'scan-numbers.json';
const INDEX = 'scans.jsonl';
const FRAMES = 'frames';
const RESULTS = 'results';
/** finished scans listed again at start (the newest ones) */
export const MAX_RESTORED = 10_000;
/** per frame in frames/<key>.bin: file index, address, size, valid, acquisition frame (float64 each; NaN: unknown) */
const FIELDS = 5;
/** records written before the acquisition frame was kept (no `fields` in the line) have 4 */
const OLD_FIELDS = 4;
const COMPRESSIONS = ['none', 'gzip', 'bslz4'] as const;

/** One line of scans.jsonl. */
export interface FinishedScanRecord {
  v: 1;
  key: string;
  identity: ScanIdentity;
  created: string;
  end_time: string | null;
  end_reason: string | null;
  master: string;
  saving: Record<string, unknown>;
  frames: { name: string; dtype: DType; shape: number[]; length: number; files: string[]; compression: SavedLocation['compression']; fields?: number } | null;
  /** whether `results/<key>.bin` keeps its other streams (absent in records of earlier versions) */
  results?: boolean;
}

const fileOf = (key: string): string => `${key.replace(/[^A-Za-z0-9_.-]/g, '_')}.bin`;

export class ScanHistory {
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly warn: (message: string, fields?: Record<string, unknown>) => void = () => {},
  ) {
    mkdirSync(join(dir, FRAMES), { recursive: true });
  }

  /** Forget what the state folder keeps of a scan no longer listed. */
  private forget(r: FinishedScanRecord): void {
    if (r.frames) rmSync(join(this.dir, FRAMES, fileOf(r.key)), { force: true });
    if (r.results) rmSync(join(this.dir, RESULTS, fileOf(r.key)), { force: true });
  }

  /** Highest scan number per session recorded by earlier runs. */
  numbers(): Map<string, number> {
    const out = new Map<string, number>();
    try {
      const raw = JSON.parse(readFileSync(join(this.dir, NUMBERS), 'utf8')) as { sessions?: Record<string, unknown> };
      for (const [session, n] of Object.entries(raw.sessions ?? {})) if (Number.isSafeInteger(n)) out.set(session, n as number);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.warn('scan numbers unreadable; numbering from the scans index', { error: String(err) });
    }
    return out;
  }

  /** Record the counters (small; written through a temporary file and a rename, so never half-written). */
  saveNumbers(numbers: Map<string, number>): void {
    const path = join(this.dir, NUMBERS);
    try {
      writeFileSync(`${path}.tmp`, JSON.stringify({ sessions: Object.fromEntries(numbers) }));
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.warn('cannot record scan numbers', { path, error: String(err) });
    }
  }

  /** The finished scans of earlier runs, oldest first (all lines: `lines`); unreadable lines are skipped. */
  records(): { records: FinishedScanRecord[]; lines: number } {
    let text: string;
    try {
      text = readFileSync(join(this.dir, INDEX), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.warn('scans index unreadable', { error: String(err) });
      return { records: [], lines: 0 };
    }
    const byKey = new Map<string, FinishedScanRecord>();
    let lines = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      lines++;
      try {
        const r = JSON.parse(line) as FinishedScanRecord;
        if (r && r.v === 1 && typeof r.key === 'string' && typeof r.master === 'string') byKey.set(r.key, r);
      } catch {
        // a line cut short by a crash: the scans before and after it still count
      }
    }
    return { records: [...byKey.values()], lines };
  }

  /**
   * List the finished scans of earlier runs whose master still exists (the newest MAX_RESTORED);
   * returns how many. The index is rewritten without the others, so it does not grow for ever.
   */
  restore(store: MemoryScanStore): number {
    const { records, lines } = this.records();
    const kept: FinishedScanRecord[] = [];
    for (const r of records) {
      store.seedNumbers([[r.identity.session, r.identity.number]]);
      if (existsSync(r.master)) kept.push(r);
      else this.forget(r);
    }
    for (const r of kept.splice(0, Math.max(0, kept.length - MAX_RESTORED))) this.forget(r);
    if (kept.length < lines) this.rewrite(kept);
    let n = 0;
    for (const r of kept) {
      try {
        const f = r.frames;
        store.restoreScan({
          key: r.key,
          identity: r.identity,
          created: new Date(r.created),
          info: { saving: r.saving, end_time: r.end_time, end_reason: r.end_reason },
          reason: 'listed again after a server restart, from its saved files',
          frames:
            f && isDType(f.dtype) && COMPRESSIONS.includes(f.compression)
              ? { name: f.name, dtype: f.dtype, shape: f.shape, length: f.length, backing: new SavedFrames(join(this.dir, FRAMES, fileOf(r.key)), f) }
              : null,
          results: r.results ? (scan) => this.restoreResults(scan, r.key) : undefined,
        });
        n++;
      } catch (err) {
        this.warn('cannot list a finished scan again', { key: r.key, error: String(err) });
      }
    }
    return n;
  }

  private restoreResults(scan: MemoryScan, key: string): void {
    try {
      const leftOut = restoreResults(scan, readFileSync(join(this.dir, RESULTS, fileOf(key))));
      if (leftOut.length) this.warn('a scan listed again lacks streams that could not be kept', { key, left_out: leftOut });
    } catch (err) {
      this.warn('cannot list the results of a finished scan again (its frames are listed)', { key, error: String(err) });
    }
  }

  private rewrite(records: FinishedScanRecord[]): void {
    const path = join(this.dir, INDEX);
    try {
      writeFileSync(`${path}.tmp`, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.warn('cannot compact the scans index', { path, error: String(err) });
    }
  }

  /** A scan closed: when it saved files, add it to the index (asynchronously, one at a time). */
  recordFinished(scan: MemoryScan): Promise<void> {
    const record = describeFinished(scan);
    if (!record) return Promise.resolve();
    // now, while every item is in memory (the budget may trim the closed scan later)
    let results: ReturnType<typeof encodeResults> = null;
    try {
      results = encodeResults(scan, record.line.frames?.name ?? 'frame');
    } catch (err) {
      this.warn('cannot keep the results of a finished scan for a restart', { key: scan.key, error: String(err) });
    }
    if (results) record.line.results = true;
    this.writing = this.writing.then(async () => {
      try {
        if (record.frames) {
          await mkdir(join(this.dir, FRAMES), { recursive: true });
          await writeFile(join(this.dir, FRAMES, fileOf(record.key)), Buffer.from(record.locations.buffer));
        }
        if (results) {
          await mkdir(join(this.dir, RESULTS), { recursive: true });
          await writeFile(join(this.dir, RESULTS, fileOf(record.key)), results.bytes);
          if (results.leftOut.length) this.warn('streams of a finished scan not kept for a restart', { key: scan.key, left_out: results.leftOut });
        }
        await appendFile(join(this.dir, INDEX), `${JSON.stringify(record.line)}\n`);
      } catch (err) {
        this.warn('cannot add a finished scan to the scans index', { key: scan.key, error: String(err) });
      }
    });
    return this.writing;
  }
}

/** The index line and frame locations of a closed scan that saved a master; null otherwise. */
function describeFinished(scan: MemoryScan): { key: string; line: FinishedScanRecord; frames: boolean; locations: Float64Array } | null {
  const saving = scan.info.saving as Record<string, unknown> | undefined;
  if (!saving || typeof saving.master !== 'string' || scan.evicted?.reason.includes('restart')) return null;
  let frames: FinishedScanRecord['frames'] = null;
  let locations = new Float64Array(0);
  const stream = scan.streams.get('frame');
  if (stream?.kind === 'array' && stream.length > 0) {
    const files: string[] = [];
    const fileIndex = new Map<string, number>();
    locations = new Float64Array(stream.length * FIELDS);
    let length = 0;
    let compression: SavedLocation['compression'] = 'none';
    for (let i = 0; i < stream.length; i++) {
      const at = stream.savedLocation(i);
      if (!at) break; // frames are listed up to the first one that was not saved
      let f = fileIndex.get(at.path);
      if (f === undefined) {
        f = files.length;
        files.push(at.path);
        fileIndex.set(at.path, f);
      }
      locations.set([f, at.address, at.size, at.valid ? 1 : 0, at.frame ?? NaN], i * FIELDS);
      compression = at.compression;
      length = i + 1;
    }
    if (length > 0) {
      frames = { name: stream.name, dtype: stream.dtype, shape: [...stream.shape], length, files, compression, fields: FIELDS };
      locations = locations.subarray(0, length * FIELDS);
    }
  }
  const s = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const line: FinishedScanRecord = {
    v: 1,
    key: scan.key,
    identity: { ...scan.identity },
    created: scan.created.toISOString(),
    end_time: s(scan.info.end_time),
    end_reason: s(scan.info.end_reason),
    master: saving.master,
    saving,
    frames,
  };
  return { key: scan.key, line, frames: frames !== null, locations };
}

/** The frames of a restored scan, read from its data files (the locations file is read on first use). */
class SavedFrames implements ItemBacking {
  private locations: Float64Array | null = null;
  private readonly T: (typeof TYPED_ARRAY)[DType];
  private readonly elements: number;
  private readonly fields: number;

  constructor(
    private readonly path: string,
    private readonly f: NonNullable<FinishedScanRecord['frames']>,
  ) {
    this.T = TYPED_ARRAY[f.dtype];
    this.elements = product(f.shape);
    this.fields = f.fields === FIELDS ? FIELDS : OLD_FIELDS;
  }

  readablePrefix(): number {
    return this.f.length;
  }

  private where(index: number): { file: string; address: number; size: number; valid: boolean; frame?: number } {
    if (!this.locations) {
      const buf = readFileSync(this.path);
      this.locations = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    }
    const l = this.locations;
    if ((index + 1) * this.fields > l.length) throw new Error(`frame ${index}: no location recorded in ${this.path}`);
    const o = index * this.fields;
    const frame = this.fields > OLD_FIELDS && Number.isFinite(l[o + 4]) ? l[o + 4] : undefined;
    return { file: this.f.files[l[o]]!, address: l[o + 1]!, size: l[o + 2]!, valid: l[o + 3] !== 0, frame };
  }

  read(index: number): { data: TypedArray; valid: boolean; frame?: number } {
    const w = this.where(index);
    const stored = Buffer.allocUnsafe(w.size);
    let fd: number;
    try {
      fd = openSync(w.file, 'r');
    } catch (err) {
      throw new DaqError('IndexNoMoreThereError', `frame ${index} of a scan of an earlier run cannot be read back: ${(err as Error).message}`, undefined, { index, first: this.f.length });
    }
    try {
      const got = readSync(fd, stored, 0, w.size, w.address);
      if (got !== w.size) throw new Error(`frame ${index}: ${w.file} ends before the frame (${got} of ${w.size} bytes)`);
    } finally {
      closeSync(fd);
    }
    const out = new this.T(this.elements);
    const bytes = new Uint8Array(out.buffer);
    if (this.f.compression === 'none') bytes.set(stored);
    else if (this.f.compression === 'gzip') bytes.set(inflateChunk(stored));
    else bslz4Decompress(stored, this.T.BYTES_PER_ELEMENT, bytes);
    return w.frame === undefined ? { data: out, valid: w.valid } : { data: out, valid: w.valid, frame: w.frame };
  }
}
