/**
 * The scan store: creates and finds scans (key, seq time tag, search, last, waitNext), tells
 * listeners about new scans, state changes and trims, and keeps the item data it holds under
 * a memory budget.
 *
 * Keys: `scan:<seq>:<8 hex digits>` — readable, ordered by creation, and the random part keeps
 * keys from two server runs (seq restarts at 1) apart.
 *
 * Memory budget (logical bytes of all items held): when an append takes the store over
 * `memoryBudget`, it trims down to `lowWater × memoryBudget` (hysteresis: trims come in batches,
 * not one per append). Order: CLOSED scans, then STOPPED scans, then running ones (CREATED /
 * PREPARED / STARTED); within a tier the oldest scan first; within a scan its largest stream
 * first, from its oldest item. The newest item of a stream is never trimmed, so when the
 * newest items alone exceed the budget the store stays over it (and re-checks only after it
 * grew by another `(1 - lowWater) × memoryBudget`, so appends stay cheap).
 */
import { randomUUID } from 'node:crypto';
import { DaqError, type FieldError } from '../protocol/errors.js';
import type { ScanIdentity, ScanState } from '../protocol/index.js';
import { checkIdentity, checkInfo } from './identity.js';
import { Notifier, waitUntil } from './notifier.js';
import { MemoryScan, type ScanOwner } from './scan.js';
import type { ScanStore, SearchQuery, StoreOptions, TrimReport } from './types.js';

/** trim order: first tier first */
const TIERS: readonly (readonly ScanState[])[] = [['CLOSED'], ['STOPPED'], ['CREATED', 'PREPARED', 'STARTED']];

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

  createScan(identity: Partial<ScanIdentity> = {}, info?: Record<string, unknown>): MemoryScan {
    const id = checkIdentity(identity);
    const checkedInfo = checkInfo(info, 'info');
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
    const scan = new MemoryScan(this.scanOwner, key, seq, full, checkedInfo);
    this.byKey.set(key, scan);
    this.bySeq.push(scan);
    this.emit(this.scanListeners, scan);
    this.scanCreated.notify();
    return scan;
  }

  scan(key: string): MemoryScan {
    const scan = typeof key === 'string' ? this.byKey.get(key) : undefined;
    if (!scan) {
      const shown = JSON.stringify(String(key));
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
    this.enforcing = true;
    this.collecting = reports;
    try {
      tiers: for (const tier of TIERS) {
        for (const scan of this.bySeq) {
          if (!tier.includes(scan.state)) continue;
          const streams = [...scan.streams.values()].filter((s) => s.length - 1 > s.first).sort((a, b) => b.bytes - a.bytes);
          for (const s of streams) {
            const excess = this._bytes - target;
            if (excess <= 0) break tiers;
            s.trimTo(s.trimIndexFor(excess));
          }
          if (this._bytes <= target) break tiers;
        }
      }
    } finally {
      this.enforcing = false;
      this.collecting = null;
    }
    this.threshold = this._bytes > target ? Math.max(this.memoryBudget, this._bytes + (this.memoryBudget - target)) : this.memoryBudget;
    return reports;
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
}

export function createStore(options: StoreOptions): MemoryScanStore {
  return new MemoryScanStore(options);
}
