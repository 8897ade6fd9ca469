/**
 * The scan store: creates and finds scans (key, seq time tag, search, last, waitNext), tells
 * listeners about new scans, state changes and trims, and keeps the item data it holds under
 * a memory budget.
 *
 * Keys: `scan:<seq>:<8 hex digits>` — readable, ordered by creation, and the random part keeps
 * keys from two server runs (seq restarts at 1) apart.
 *
 * Memory budget: everything the store holds counts — the logical bytes of every item (the
 * newest of each stream too) and each scan's metadata (info and stream infos as JSON, plus a
 * flat overhead). When an append or new metadata takes the store over `memoryBudget`, it frees
 * down to `lowWater × memoryBudget` (hysteresis: in batches, not one item per append), in this
 * order, stopping as soon as it is there:
 *  1. trim CLOSED, then STOPPED scans (oldest scan first, its largest stream first, oldest items
 *     first; a trim keeps a stream's newest item);
 *  2. evict whole CLOSED scans, oldest first: every item goes and the info shrinks to where the
 *     files are (frames saved to files stay readable from them); the scan stays listed;
 *  3. trim running scans (CREATED / PREPARED / STARTED) the same way as in 1;
 *  4. drop evicted scans from the listing, oldest first (a later lookup says why).
 * Running scans are never evicted, so when their newest items alone exceed the budget the store
 * stays over it (and re-checks only after it grew by another `(1 - lowWater) × memoryBudget`,
 * or a scan changed state, so appends stay cheap).
 */
import { randomUUID } from 'node:crypto';
import { DaqError, type FieldError } from '../protocol/errors.js';
import type { ScanIdentity, ScanState } from '../protocol/index.js';
import { checkIdentity, checkInfoSized } from './identity.js';
import { Notifier, waitUntil } from './notifier.js';
import { MemoryScan, type ScanOwner } from './scan.js';
import type { EvictReport, RestoredScan, ScanStore, SearchQuery, StoreOptions, TrimReport } from './types.js';

/** trim tiers, first first */
const FINISHED_TIERS: readonly (readonly ScanState[])[] = [['CLOSED'], ['STOPPED']];
const RUNNING_TIER: readonly ScanState[] = ['CREATED', 'PREPARED', 'STARTED'];

/** dropped scans whose key is remembered, so that a lookup can say why it failed */
const TOMBSTONES = 4096;

const IDENTITY_KEYS = ['name', 'number', 'session', 'proposal', 'sample', 'dataset', 'path'] as const;
const QUERY_KEYS = new Set<string>([...IDENTITY_KEYS, 'since', 'order', 'limit']);

type Listener<T> = (value: T) => void;

export class MemoryScanStore implements ScanStore {
  readonly memoryBudget: number;
  readonly lowWater: number;
  private _bytes = 0;
  /** bytes above which an append enforces the budget */
  private threshold: number;
  private readonly byKey = new Map<string, MemoryScan>();
  /** in seq order */
  private readonly bySeq: MemoryScan[] = [];
  private _lastSeq = 0;
  /** highest scan number per session */
  private readonly sessionNumbers = new Map<string, number>();
  private readonly scanCreated = new Notifier();
  private readonly scanListeners = new Set<Listener<MemoryScan>>();
  private readonly stateListeners = new Set<Listener<MemoryScan>>();
  private readonly trimListeners = new Set<Listener<TrimReport>>();
  private readonly evictListeners = new Set<Listener<EvictReport>>();
  /** key → why, for scans dropped from the listing (oldest first, at most TOMBSTONES) */
  private readonly dropped = new Map<string, string>();
  private readonly onListenerError: (error: unknown) => void;
  private enforcing = false;
  private collecting: TrimReport[] | null = null;
  private readonly scanOwner: ScanOwner;

  constructor(options: StoreOptions) {
    const fields: FieldError[] = [];
    const { memoryBudget, lowWater = 0.9 } = options ?? ({} as StoreOptions);
    if (typeof memoryBudget !== 'number' || !(memoryBudget > 0)) fields.push({ field: 'memoryBudget', message: 'must be a number of bytes > 0' });
    if (typeof lowWater !== 'number' || !(lowWater > 0 && lowWater <= 1)) fields.push({ field: 'lowWater', message: 'must be a fraction in (0, 1]' });
    if (fields.length) throw new DaqError('ParameterError', `invalid store options: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);
    this.memoryBudget = memoryBudget;
    this.lowWater = lowWater;
    this.threshold = memoryBudget;
    this.onListenerError = options.onListenerError ?? ((e) => console.error('daqlab store: listener failed:', e));
    this.scanOwner = {
      bytesChanged: (delta) => {
        this._bytes += delta;
      },
      appended: () => {
        if (this._bytes > this.threshold && !this.enforcing) this.enforceBudget();
      },
      trimmed: (report) => {
        this.collecting?.push(report);
        this.emit(this.trimListeners, report);
      },
      stateChanged: (scan) => {
        this.threshold = this.memoryBudget; // data may have become trimmable: check at the next append
        this.emit(this.stateListeners, scan);
      },
    };
  }

  get bytes(): number {
    return this._bytes;
  }

  get lastSeq(): number {
    return this._lastSeq;
  }

  get scanCount(): number {
    return this.bySeq.length;
  }

  private emit<T>(listeners: Set<Listener<T>>, value: T): void {
    for (const listener of [...listeners]) {
      try {
        listener(value);
      } catch (e) {
        try {
          this.onListenerError(e);
        } catch {
          // nothing more to do: a listener must never break a producer
        }
      }
    }
  }

  private static listen<T>(set: Set<Listener<T>>, listener: Listener<T>): () => void {
    const wrapped: Listener<T> = (v) => listener(v); // the same function may subscribe twice
    set.add(wrapped);
    return () => {
      set.delete(wrapped);
    };
  }

  nextNumber(identity: Partial<ScanIdentity> = {}): number {
    const id = checkIdentity(identity);
    return id.number ?? (this.sessionNumbers.get(id.session) ?? 0) + 1;
  }

  /** Highest scan number per session so far (to persist it). */
  numbers(): Map<string, number> {
    return new Map(this.sessionNumbers);
  }

  /** Continue numbering from an earlier run: each session's counter is raised to at least the given number. */
  seedNumbers(numbers: Iterable<[string, number]>): void {
    for (const [session, n] of numbers) {
      if (typeof session === 'string' && Number.isSafeInteger(n)) this.sessionNumbers.set(session, Math.max(this.sessionNumbers.get(session) ?? 0, n));
    }
  }

  /**
   * List a finished scan of an earlier run again (its key, identity and creation time), CLOSED,
   * with its `frames` stream read from the saved files. Its number raises its session's counter.
   */
  restoreScan(r: RestoredScan): MemoryScan {
    if (this.byKey.has(r.key)) throw new DaqError('ParameterError', `scan ${r.key} is already in the store`, [{ field: 'key', message: 'already in the store' }]);
    const info = checkInfoSized(r.info, 'info');
    const seq = ++this._lastSeq;
    const scan = new MemoryScan(this.scanOwner, r.key, seq, { ...r.identity }, info.value, info.bytes, r.created);
    if (r.frames) {
      const f = r.frames;
      const stream = scan.createArrayStream(f.name, f.dtype, f.shape, f.info);
      stream.restore(f.length, f.backing);
    }
    r.results?.(scan);
    scan.markRestored(r.reason);
    this.seedNumbers([[r.identity.session, r.identity.number]]);
    this.byKey.set(r.key, scan);
    this.bySeq.push(scan);
    if (this._bytes > this.threshold && !this.enforcing) this.enforceBudget();
    return scan;
  }

  createScan(identity: Partial<ScanIdentity> = {}, info?: Record<string, unknown>): MemoryScan {
    const id = checkIdentity(identity);
    const checkedInfo = checkInfoSized(info, 'info');
    const highest = this.sessionNumbers.get(id.session) ?? 0;
    const number = id.number ?? highest + 1;
    this.sessionNumbers.set(id.session, Math.max(highest, number));
    const seq = ++this._lastSeq;
    const key = `scan:${seq}:${randomUUID().slice(0, 8)}`;
    const full: ScanIdentity = {
      name: id.name,
      number,
      session: id.session,
      proposal: id.proposal,
      sample: id.sample,
      dataset: id.dataset,
      path: id.path,
    };
    const scan = new MemoryScan(this.scanOwner, key, seq, full, checkedInfo.value, checkedInfo.bytes);
    this.byKey.set(key, scan);
    this.bySeq.push(scan);
    this.emit(this.scanListeners, scan);
    // its metadata counted (the constructor); now that it is listed, make room for it if needed
    if (this._bytes > this.threshold && !this.enforcing) this.enforceBudget();
    this.scanCreated.notify();
    return scan;
  }

  scan(key: string): MemoryScan {
    const scan = typeof key === 'string' ? this.byKey.get(key) : undefined;
    if (!scan) {
      const shown = JSON.stringify(String(key));
      const why = this.dropped.get(key);
      if (why) throw new DaqError('NotFoundError', `scan ${shown} is no longer in the store: ${why}`);
      throw new DaqError('NotFoundError', `no scan with key ${shown.length > 120 ? `${shown.slice(0, 117)}…` : shown} in the store`);
    }
    return scan;
  }

  last(): MemoryScan | undefined {
    return this.bySeq[this.bySeq.length - 1];
  }

  /** index in bySeq of the first scan with seq > afterSeq */
  private firstAfter(afterSeq: number): number {
    let lo = 0;
    let hi = this.bySeq.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.bySeq[mid]!.seq > afterSeq) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Scans whose identity fields equal every given field, with seq > `since` when given;
   * newest first unless `order: 'asc'`; at most `limit`. Pair with `lastSeq` (read at the same
   * time) and `waitNext(lastSeq)` to miss no scan.
   */
  search(query: SearchQuery = {}): MemoryScan[] {
    const fields: FieldError[] = [];
    if (query === null || typeof query !== 'object') {
      throw new DaqError('ParameterError', 'query: must be an object', [{ field: 'query', message: 'must be an object' }]);
    }
    const q = query as Record<string, unknown>;
    for (const key of Object.keys(q)) {
      const v = q[key];
      if (v === undefined) continue;
      if (!QUERY_KEYS.has(key)) fields.push({ field: key, message: `unknown search field (known: ${[...QUERY_KEYS].join(', ')})` });
      else if (key === 'number' || key === 'since') {
        if (typeof v !== 'number' || Number.isNaN(v)) fields.push({ field: key, message: 'must be a number' });
      } else if (key === 'limit') {
        if (!(Number.isSafeInteger(v) && (v as number) >= 0)) fields.push({ field: key, message: 'must be an integer ≥ 0' });
      } else if (key === 'order') {
        if (v !== 'asc' && v !== 'desc') fields.push({ field: key, message: "must be 'asc' or 'desc'" });
      } else if (typeof v !== 'string') fields.push({ field: key, message: 'must be a string' });
    }
    if (fields.length) throw new DaqError('ParameterError', `invalid search: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);

    const match = IDENTITY_KEYS.filter((k) => q[k] !== undefined);
    const from = query.since === undefined ? 0 : this.firstAfter(query.since);
    const limit = query.limit ?? Infinity;
    const out: MemoryScan[] = [];
    const test = (scan: MemoryScan) => match.every((k) => scan.identity[k] === q[k]);
    if (query.order === 'asc') {
      for (let i = from; i < this.bySeq.length && out.length < limit; i++) if (test(this.bySeq[i]!)) out.push(this.bySeq[i]!);
    } else {
      for (let i = this.bySeq.length - 1; i >= from && out.length < limit; i--) if (test(this.bySeq[i]!)) out.push(this.bySeq[i]!);
    }
    return out;
  }

  async waitNext(afterSeq: number, timeout?: number, signal?: AbortSignal): Promise<MemoryScan | undefined> {
    if (typeof afterSeq !== 'number' || Number.isNaN(afterSeq)) {
      throw new DaqError('ParameterError', 'after: must be a scan seq number', [{ field: 'after', message: 'must be a number' }]);
    }
    if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
      throw new DaqError('ParameterError', 'timeout: must be a number ≥ 0', [{ field: 'timeout', message: 'must be a number ≥ 0' }]);
    }
    let found: MemoryScan | undefined;
    const ready = () => (found = this.bySeq[this.firstAfter(afterSeq)]) !== undefined;
    await waitUntil(this.scanCreated, ready, { timeout, signal });
    return found;
  }

  enforceBudget(): TrimReport[] {
    if (this._bytes <= this.memoryBudget || this.enforcing) {
      if (!this.enforcing) this.threshold = this.memoryBudget;
      return [];
    }
    const target = this.memoryBudget * this.lowWater;
    const reports: TrimReport[] = [];
    const over = () => this._bytes > target;
    this.enforcing = true;
    this.collecting = reports;
    try {
      for (const tier of FINISHED_TIERS) if (over()) this.trimTier(tier, target);
      if (over()) this.evictFinished(target);
      if (over()) this.trimTier(RUNNING_TIER, target);
      if (over()) this.dropEvicted(target);
    } finally {
      this.enforcing = false;
      this.collecting = null;
    }
    this.threshold = over() ? Math.max(this.memoryBudget, this._bytes + (this.memoryBudget - target)) : this.memoryBudget;
    return reports;
  }

  /** Trim the scans in `tier`, oldest first, largest stream first, down to `target` bytes. */
  private trimTier(tier: readonly ScanState[], target: number): void {
    for (const scan of this.bySeq) {
      if (!tier.includes(scan.state)) continue;
      const streams = [...scan.streams.values()].filter((s) => s.length - 1 > s.first).sort((a, b) => b.bytes - a.bytes);
      for (const s of streams) {
        const excess = this._bytes - target;
        if (excess <= 0) return;
        s.trimTo(s.trimIndexFor(excess));
      }
      if (this._bytes <= target) return;
    }
  }

  /** Evict CLOSED scans, oldest first, until the store is down to `target` bytes. */
  private evictFinished(target: number): void {
    const budget = `memory budget of ${this.memoryBudget} bytes`;
    for (const scan of this.bySeq) {
      if (this._bytes <= target) return;
      if (scan.state !== 'CLOSED' || scan.evicted) continue;
      const freed = scan.evict(`to keep the store under its ${budget}`);
      const files = scan.evicted!.files;
      this.emit(this.evictListeners, { key: scan.key, bytes: freed, files, dropped: false, reason: scan.evicted!.reason });
    }
  }

  /** Drop evicted scans from the listing, oldest first, until the store is down to `target` bytes. */
  private dropEvicted(target: number): void {
    let i = 0;
    while (i < this.bySeq.length && this._bytes > target) {
      const scan = this.bySeq[i]!;
      if (!scan.evicted) {
        i++;
        continue;
      }
      this.bySeq.splice(i, 1);
      this.byKey.delete(scan.key);
      const freed = scan.metaBytes;
      this._bytes -= freed;
      const reason = `dropped from the listing at ${new Date().toISOString()} to keep the store under its memory budget of ${this.memoryBudget} bytes (it had been evicted: ${scan.evicted.reason})`;
      this.dropped.set(scan.key, reason);
      while (this.dropped.size > TOMBSTONES) this.dropped.delete(this.dropped.keys().next().value as string);
      this.emit(this.evictListeners, { key: scan.key, bytes: freed, files: scan.evicted.files, dropped: true, reason });
    }
  }

  onScan(listener: (scan: MemoryScan) => void): () => void {
    return MemoryScanStore.listen(this.scanListeners, listener);
  }

  onScanState(listener: (scan: MemoryScan) => void): () => void {
    return MemoryScanStore.listen(this.stateListeners, listener);
  }

  onTrim(listener: (report: TrimReport) => void): () => void {
    return MemoryScanStore.listen(this.trimListeners, listener);
  }

  onEvict(listener: (report: EvictReport) => void): () => void {
    return MemoryScanStore.listen(this.evictListeners, listener);
  }
}

export function createStore(options: StoreOptions): MemoryScanStore {
  return new MemoryScanStore(options);
}
