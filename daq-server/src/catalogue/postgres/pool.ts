/**
 * PostgreSQL through an asynchronous `pg.Pool` on the event loop (it only waits on sockets). Every wait is
 * bounded by `timeoutMs`: connecting, waiting for a free connection, and each statement — on the server
 * (statement_timeout) and at the client (query_timeout, for a database that stops answering at all, e.g.
 * stopped or cut off). A connection that failed or timed out is discarded, never reused.
 */
import pg from 'pg';
import { CatalogueTimeout } from '../repository.js';

export interface Statement {
  sql: string;
  params?: unknown[];
}

export class PgError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

// BIGINT (COUNT, sizes) as numbers: sizes stay far below 2^53
pg.types.setTypeParser(20, (v: string) => Number(v));

/** few connections: the catalogue's statements are short and one server's clients share them */
const MAX_CONNECTIONS = 4;

export class PgPool {
  private readonly pool: pg.Pool;

  constructor(readonly url: string, readonly timeoutMs = 5000) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: MAX_CONNECTIONS,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs + 500,
      idleTimeoutMillis: 30_000,
      application_name: 'daqlab',
    });
    // a connection that breaks while idle: the pool drops it; nothing else to do
    this.pool.on('error', () => {});
  }

  /** The driver's error, as one that names the database (without its password) and says what timed out. */
  private failure(err: unknown): Error {
    const e = err as Error & { code?: string };
    const msg = String(e?.message ?? err);
    if (/timeout|timed out/i.test(msg) || e?.code === '57014') {
      return new CatalogueTimeout(`the catalogue database (${redact(this.url)}) did not answer within ${this.timeoutMs} ms`);
    }
    return new PgError(msg.replaceAll(this.url, redact(this.url)), e?.code);
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      // pool.query discards the connection when the statement fails
      return (await this.pool.query(sql, params)).rows as T[];
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** Statements in one transaction; one list of rows per statement. */
  async batch(statements: Statement[]): Promise<Record<string, unknown>[][]> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.failure(err);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out: Record<string, unknown>[][] = [];
      for (const s of statements) out.push((await client.query(s.sql, s.params ?? [])).rows);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      broken = err as Error;
      // the connection is discarded below, which ends the transaction too (a ROLLBACK could wait as long)
      throw this.failure(err);
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    // a database that does not answer must not hold the shutdown either
    await Promise.race([this.pool.end().catch(() => {}), new Promise((r) => setTimeout(r, this.timeoutMs).unref())]);
  }
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}
