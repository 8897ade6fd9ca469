/**
 * A writer thread: frames in, compressed chunks to its file series, the
 * location of every saved frame back. After an error (disk full, file
 * removed) it writes nothing more and says how many frames it had saved;
 * what it flushed stays readable.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FrameSeries } from './frame-series.js';
import type { FromWriter, SavedFrame, SeriesConfig, ToWriter } from './messages.js';

if (!parentPort) throw new Error('writer worker must run in a worker thread');
const port = parentPort;
const send = (m: FromWriter): void => port.postMessage(m);

let series: FrameSeries | null = null;
let failed = false;

function fail(err: unknown): void {
  if (failed) return;
  failed = true;
  const e = err as NodeJS.ErrnoException;
  const saved = series?.saved ?? 0;
  try {
    series?.maybeFlush(true); // keep what was written before the error readable
  } catch {
    /* the disk may refuse the flush too: the previous flush stands */
  }
  send({ op: 'error', message: e?.message ?? String(err), code: e?.code ?? null, saved });
}

try {
  series = new FrameSeries(
    workerData as SeriesConfig,
    (path, file) => send({ op: 'opened', path, file }),
    (file, count) => send({ op: 'flushed', file, count }),
  );
} catch (err) {
  fail(err);
}

port.on('message', (m: ToWriter) => {
  if (m.op === 'close') {
    if (!failed) {
      try {
        series!.close();
      } catch (err) {
        fail(err);
      }
    }
    send({ op: 'closed', saved: series?.saved ?? 0 });
    return;
  }
  if (failed || !series) return;
  const saved: SavedFrame[] = [];
  let bytes = 0;
  const direct0 = series?.direct ?? 0;
  const direct = (): number => (series?.direct ?? 0) - direct0;
  try {
    if (m.op === 'frames') {
      for (const f of m.frames) {
        saved.push(series.write(f.seq, f.data, f.chunk));
        bytes += series.frameBytes;
      }
      series.maybeFlush();
      send({ op: 'saved', frames: saved, bytes, direct: direct() });
    } else if (m.op === 'flush') {
      series.maybeFlush(true);
    }
  } catch (err) {
    if (saved.length) send({ op: 'saved', frames: saved, bytes, direct: direct() });
    fail(err);
  }
});
