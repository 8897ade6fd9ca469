/**
 * A reader thread of the replay detector: reads saved frames
 * `start + rank, start + rank + count, …` through its own h5wasm instance and
 * posts each to the main thread (in shared memory, no copy), staying at most as
 * far ahead as the main thread allows (`limit`), so memory stays bounded.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SavedMaster } from './master-reader.js';

export interface ReaderInit {
  path: string;
  rank: number;
  count: number;
  start: number;
  stop: number;
  port: MessagePort;
  /** [0]: messages posted by all readers (the main thread waits on it); [1]: frames may be read below this index */
  control: Int32Array;
}

export type ReaderMessage = { k: number; data: ArrayBufferView } | { k: number; error: string };

const init = workerData as ReaderInit;
const { port, control } = init;

async function main(): Promise<void> {
  let master: SavedMaster;
  try {
    master = await SavedMaster.open(init.path);
  } catch (err) {
    post({ k: init.start + init.rank, error: (err as Error).message });
    return;
  }
  for (let k = init.start + init.rank; k < init.stop; k += init.count) {
    let limit = Atomics.load(control, 1);
    while (limit >= 0 && k >= limit) {
      Atomics.wait(control, 1, limit, 1000);
      limit = Atomics.load(control, 1);
    }
    if (limit < 0) break; // closed
    try {
      const data = master.frame(k);
      post({ k, data }); // shared memory: nothing to copy or transfer
    } catch (err) {
      post({ k, error: (err as Error).message });
      break;
    }
  }
  master.close();
}

function post(message: ReaderMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
  Atomics.add(control, 0, 1);
  Atomics.notify(control, 0);
}

void main().finally(() => parentPort?.close());
