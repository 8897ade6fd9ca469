/**
 * Reconstruct every slice of a shared sinogram on `threads` worker threads;
 * slices are handed to `onSlice` in z order, each as soon as it and all
 * before it are done, so the first slices can be viewed long before the end.
 */
import { Worker } from 'node:worker_threads';
import type { ReconGeometry } from './recon.js';
import type { ReconJob } from './recon-worker.js';

export async function reconstructVolume(
  geometry: ReconGeometry,
  sino: Float32Array,
  slices: number,
  perSlice: number,
  threads: number,
  onSlice: (z: number, data: Float32Array) => void,
): Promise<void> {
  if (!(sino.buffer instanceof SharedArrayBuffer)) throw new Error('the sinogram must live in shared memory');
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const waiting = new Map<number, Float32Array>();
  let next = 0;
  const job: ReconJob = { geometry, sino, slices, perSlice, counter };
  const n = Math.max(1, Math.min(threads, slices));
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve, reject) => {
          const w = new Worker(new URL('./recon-worker.js', import.meta.url), { workerData: job });
          w.on('message', (m: { z: number; data: Float32Array } | { done: true }) => {
            if ('done' in m) return;
            waiting.set(m.z, m.data);
            while (waiting.has(next)) {
              const data = waiting.get(next)!;
              waiting.delete(next);
              onSlice(next++, data);
            }
          });
          w.on('error', reject);
          w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`reconstruction thread exited with code ${code}`))));
        }),
    ),
  );
}
