/**
 * The SQLite catalogue (sqlite.ts) in a worker thread, behind the asynchronous repository interface: every
 * query runs off the event loop, one at a time, in order. A call that takes longer than `timeoutMs` fails with
 * a clear error; a file-backed database's worker is then ended (a runaway query cannot be interrupted
 * otherwise) and the next call opens a fresh one. An in-memory database keeps its worker (ending it would
 * lose the data): the late call fails, later ones wait behind it.
 */
import { Worker } from 'node:worker_threads';
import { CatalogueTimeout, type CatalogueRepository, type RepositoryOp } from './repository.js';

/** A call to the worker, and its answer. */
export interface ThreadCall { seq: number; op: RepositoryOp; args: unknown[] }
export type ThreadAnswer = { seq: number; value: unknown } | { seq: number; error: string; code?: string };

interface Pending { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout; op: RepositoryOp }

export class SqliteError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

/** Starts a worker that opens the database (migrations included) and says `ready`, or why not. */
function start(path: string): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData: { path } });
    const fail = (e: Error): void => reject(e);
    w.once('error', fail);
    w.once('message', (m: { ready?: true; error?: string }) => {
      w.off('error', fail);
      if (m.ready) resolve(w);
      else {
        void w.terminate();
        reject(new Error(m.error ?? 'the catalogue worker did not start'));
      }
    });
  });
}

export class ThreadedSqliteCatalogue implements CatalogueRepository {
  readonly kind = 'sqlite';
  private worker: Promise<Worker> | null;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  private constructor(readonly path: string, readonly timeoutMs: number, first: Worker) {
    this.worker = Promise.resolve(this.attach(first));
  }

  /** Opens (and migrates) the database in its worker; fails as the synchronous engine would. */
  static async open(path: string, timeoutMs = 5000): Promise<ThreadedSqliteCatalogue> {
    return new ThreadedSqliteCatalogue(path, timeoutMs, await start(path));
  }

  private attach(w: Worker): Worker {
    w.on('message', (a: ThreadAnswer) => {
      const p = this.pending.get(a.seq);
      if (!p) return; // answered after its deadline
      this.pending.delete(a.seq);
      clearTimeout(p.timer);
      if ('error' in a) p.reject(new SqliteError(a.error, a.code));
      else p.resolve(a.value);
    });
    w.on('error', (e) => this.lost(w, `the catalogue worker failed: ${e.message}`));
    w.on('exit', () => this.lost(w, 'the catalogue worker ended'));
    w.unref();
    return w;
  }

  /** The worker is gone: its calls fail, the next call starts another. */
  private lost(w: Worker, why: string): void {
    void this.worker?.then((cur) => {
      if (cur !== w) return;
      this.worker = null;
      for (const [seq, p] of this.pending) {
        clearTimeout(p.timer);
        this.pending.delete(seq);
        p.reject(new SqliteError(why));
      }
    });
  }

  private call<K extends RepositoryOp>(op: K, ...args: Parameters<CatalogueRepository[K]>): ReturnType<CatalogueRepository[K]> {
    return (async () => {
      if (!this.worker) this.worker = start(this.path).then((w) => this.attach(w));
      const current = this.worker;
      const w = await current.catch((e: Error) => {
        if (this.worker === current) this.worker = null;
        throw new SqliteError(`catalogue ${this.path}: ${e.message}`);
      });
      const seq = ++this.seq;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(seq);
          reject(new CatalogueTimeout(`the catalogue database (${this.path}) did not answer ${op} within ${this.timeoutMs} ms`));
          if (this.path !== ':memory:' && this.worker === current) {
            // a query that runs on cannot be interrupted: end its thread (SQLite's own locking keeps the file whole)
            this.worker = null;
            for (const [s, p] of this.pending) {
              clearTimeout(p.timer);
              this.pending.delete(s);
              p.reject(new CatalogueTimeout(`the catalogue database (${this.path}) was restarted after a ${op} that took longer than ${this.timeoutMs} ms`));
            }
            void w.terminate();
          }
        }, this.timeoutMs);
        this.pending.set(seq, { resolve: resolve as (v: unknown) => void, reject, timer, op });
        w.postMessage({ seq, op, args } satisfies ThreadCall);
      });
    })() as ReturnType<CatalogueRepository[K]>;
  }

  putInstrument: CatalogueRepository['putInstrument'] = (...a) => this.call('putInstrument', ...a);
  instruments: CatalogueRepository['instruments'] = () => this.call('instruments');
  putProposal: CatalogueRepository['putProposal'] = (...a) => this.call('putProposal', ...a);
  proposal: CatalogueRepository['proposal'] = (...a) => this.call('proposal', ...a);
  proposals: CatalogueRepository['proposals'] = (...a) => this.call('proposals', ...a);
  addSample: CatalogueRepository['addSample'] = (...a) => this.call('addSample', ...a);
  sample: CatalogueRepository['sample'] = (...a) => this.call('sample', ...a);
  sampleByPid: CatalogueRepository['sampleByPid'] = (...a) => this.call('sampleByPid', ...a);
  samples: CatalogueRepository['samples'] = (...a) => this.call('samples', ...a);
  addDataset: CatalogueRepository['addDataset'] = (...a) => this.call('addDataset', ...a);
  dataset: CatalogueRepository['dataset'] = (...a) => this.call('dataset', ...a);
  datasets: CatalogueRepository['datasets'] = (...a) => this.call('datasets', ...a);
  countDatasets: CatalogueRepository['countDatasets'] = (...a) => this.call('countDatasets', ...a);
  addDatafiles: CatalogueRepository['addDatafiles'] = (...a) => this.call('addDatafiles', ...a);
  pidOfScan: CatalogueRepository['pidOfScan'] = (...a) => this.call('pidOfScan', ...a);
  collectionUsed: CatalogueRepository['collectionUsed'] = (...a) => this.call('collectionUsed', ...a);
  putPublished: CatalogueRepository['putPublished'] = (...a) => this.call('putPublished', ...a);
  publishedByDoi: CatalogueRepository['publishedByDoi'] = (...a) => this.call('publishedByDoi', ...a);
  published: CatalogueRepository['published'] = (...a) => this.call('published', ...a);

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    const worker = await w.catch(() => null);
    if (!worker) return;
    // the database closes in its thread, after the calls already sent
    await new Promise<void>((resolve) => {
      const seq = ++this.seq;
      const timer = setTimeout(resolve, this.timeoutMs);
      this.pending.set(seq, { resolve: () => resolve(), reject: () => resolve(), timer, op: 'close' });
      worker.postMessage({ seq, op: 'close', args: [] } satisfies ThreadCall);
    });
    await worker.terminate();
  }
}
