/** The thread of sqlite-thread.ts: opens the SQLite catalogue and answers each call in order. */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteCatalogue } from './sqlite.js';
import type { ThreadAnswer, ThreadCall } from './sqlite-thread.js';

const port = parentPort!;
let repo: SqliteCatalogue;
try {
  repo = new SqliteCatalogue((workerData as { path: string }).path);
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ error: (err as Error).message });
  process.exit(0);
}

port.on('message', (m: ThreadCall) => {
  let answer: ThreadAnswer;
  try {
    const fn = repo[m.op] as (...args: unknown[]) => unknown;
    answer = { seq: m.seq, value: fn.apply(repo, m.args) };
  } catch (err) {
    const e = err as Error & { code?: string };
    answer = { seq: m.seq, error: e.message, code: e.code };
  }
  port.postMessage(answer);
});
