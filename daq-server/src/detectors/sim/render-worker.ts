/**
 * Worker thread that renders simulator pool slots off the server's event
 * loop. It opens the same run (same detector, same validated config: the
 * frames are bit-identical to ones rendered in the main thread) and posts
 * each slot back, transferring the pixel buffer instead of copying it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { simulatorPlugins } from './index.js';
import type { SimRun } from './run.js';

interface Job {
  detector: string;
  config: Record<string, unknown>;
  slots: number[];
}

const job = workerData as Job;
const plugin = simulatorPlugins().find((p) => p.name === job.detector);
if (!plugin || !parentPort) throw new Error(`render worker: unknown detector ${job.detector}`);
const run = (await plugin.open(job.config)) as SimRun;
for (const slot of job.slots) {
  const { data, truth } = run.renderSlot(slot);
  // shared memory: posting shares the frame, nothing is copied
  const transfer = data.buffer instanceof SharedArrayBuffer ? [] : [data.buffer as ArrayBuffer];
  parentPort.postMessage({ slot, data, truth }, transfer);
}
run.close();
