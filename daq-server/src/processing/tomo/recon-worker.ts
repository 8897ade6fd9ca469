/**
 * A reconstruction thread: takes slice numbers from a shared counter
 * (Atomics, so threads balance themselves), reconstructs each slice from the
 * shared sinogram and posts it back, transferring the pixels.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SliceReconstructor, type ReconGeometry } from './recon.js';

export interface ReconJob {
  geometry: ReconGeometry;
  /** [slices][angles][stride] float32, shared */
  sino: Float32Array;
  slices: number;
  /** elements between slices */
  perSlice: number;
  /** Int32Array(1) shared: the next slice to take */
  counter: Int32Array;
}

if (!parentPort) throw new Error('recon worker must run in a worker thread');
const job = workerData as ReconJob;
const recon = new SliceReconstructor(job.geometry);
const perSlice = job.perSlice;
for (;;) {
  const z = Atomics.add(job.counter, 0, 1);
  if (z >= job.slices) break;
  const out = new Float32Array(recon.n * recon.n);
  recon.slice(job.sino, z * perSlice, out);
  parentPort.postMessage({ z, data: out }, [out.buffer]);
}
parentPort.postMessage({ done: true });
