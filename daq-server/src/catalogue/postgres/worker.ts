/** The worker of bridge.ts: one `pg` client, reconnected after a failure; answers each batch in a transaction. */
import { workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';
import type { Answer, Statement } from './bridge.js';

const { url, port, signal, timeoutMs } = workerData as { url: string; port: MessagePort; signal: Int32Array; timeoutMs: number };

// BIGINT (COUNT, sizes) as numbers: sizes stay far below 2^53
pg.types.setTypeParser(20, (v: string) => Number(v));

let client: pg.Client | null = null;

async function connected(): Promise<pg.Client> {
  if (client) return client;
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, statement_timeout: timeoutMs, application_name: 'daqlab' });
  c.on('error', () => {
    if (client === c) client = null;
  });
  try {
    await c.connect();
  } catch (err) {
    void c.end().catch(() => {});
    throw err;
  }
  client = c;
  return c;
}

async function run(statements: Statement[]): Promise<Record<string, unknown>[][]> {
  const c = await connected();
  if (statements.length === 1) return [(await c.query(statements[0].sql, statements[0].params)).rows];
  await c.query('BEGIN');
  try {
    const out: Record<string, unknown>[][] = [];
    for (const s of statements) out.push((await c.query(s.sql, s.params)).rows);
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

let queue = Promise.resolve();
port.on('message', (m: { seq: number; statements: Statement[] }) => {
  // one at a time, in order (the caller waits for each anyway)
  queue = queue.then(async () => {
    let answer: Answer;
    try {
      answer = { seq: m.seq, rows: await run(m.statements) };
    } catch (err) {
      const e = err as Error & { code?: string };
      if (!e.code || e.code.startsWith('08') || e.code === '57P01') {
        // connection-level failure: start afresh next time
        const c = client;
        client = null;
        void c?.end().catch(() => {});
      }
      answer = { seq: m.seq, error: e.message, code: e.code };
    }
    port.postMessage(answer);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  });
});
