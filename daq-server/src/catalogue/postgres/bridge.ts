/**
 * A synchronous door onto PostgreSQL: the `pg` client runs in a worker thread and the caller waits for
 * its answer (Atomics.wait + receiveMessageOnPort). The repository interface is synchronous (SQLite is
 * embedded); each call here is bounded by `timeoutMs`, and the server applies the same statement_timeout,
 * so a slow or unreachable database costs the event loop at most that long per call, then an error.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

export interface Statement {
  sql: string;
  params?: unknown[];
}

/** What the worker answers to request `seq`. */
export type Answer = { seq: number; rows: Record<string, unknown>[][] } | { seq: number; error: string; code?: string };

export class PgError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

export class SyncPg {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private seq = 0;

  constructor(readonly url: string, readonly timeoutMs = 5000) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: { url, port: port2, signal: this.signal, timeoutMs },
      transferList: [port2],
    });
    this.worker.unref();
    this.port.unref();
  }

  /** Statements run in one transaction; one list of rows per statement. */
  batch(statements: Statement[]): Record<string, unknown>[][] {
    const seq = ++this.seq;
    let seen = Atomics.load(this.signal, 0);
    this.port.postMessage({ seq, statements });
    const deadline = Date.now() + this.timeoutMs + 500;
    for (;;) {
      // answers to calls that timed out earlier arrive late: skip them
      for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
        const a = m.message as Answer;
        if (a.seq !== seq) continue;
        if ('error' in a) throw new PgError(a.error, a.code);
        return a.rows;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new PgError(`the catalogue database (${redact(this.url)}) did not answer within ${this.timeoutMs} ms`);
      Atomics.wait(this.signal, 0, seen, left);
      seen = Atomics.load(this.signal, 0);
    }
  }

  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): T[] {
    return this.batch([{ sql, params }])[0] as T[];
  }

  close(): void {
    void this.worker.terminate();
    this.port.close();
  }
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}
