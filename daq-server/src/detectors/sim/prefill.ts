/**
 * Render a run's pool slots in worker threads, so preparing a 4 Mpx
 * simulator (100+ ms a frame) never stalls the server for other clients.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { Rendered } from './run.js';

export async function renderInWorkers(
  detector: string,
  config: Record<string, unknown>,
  slots: number[],
  onRendered: (slot: number, rendered: Rendered) => void,
): Promise<void> {
  const n = Math.max(1, Math.min(availableParallelism(), 4, slots.length));
  const shares = Array.from({ length: n }, (_, w) => slots.filter((_, k) => k % n === w));
  await Promise.all(
    shares.map(
      (share) =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(new URL('./render-worker.js', import.meta.url), {
            workerData: { detector, config, slots: share },
          });
          worker.on('message', (m: { slot: number } & Rendered) => onRendered(m.slot, { data: m.data, truth: m.truth }));
          worker.on('error', reject);
          worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`render worker exited with code ${code}`))));
        }),
    ),
  );
}
