/**
 * Worker thread computing the simulated Jungfrau 4M calibration of one seed (pedestals and gains of
 * 3 × 4M pixels: ~0.7 s) off the server's event loop. The maps are in shared memory: posting them
 * shares them, nothing is copied.
 */
import { parentPort, workerData, Worker } from 'node:worker_threads';
import { adoptCalibration, cachedCalibration, jungfrauCalibration, type JungfrauCalibration } from './jungfrau.js';

if (parentPort && workerData?.calibrationSeed !== undefined) {
  parentPort.postMessage(jungfrauCalibration(workerData.calibrationSeed as number));
}

let pending: { seed: number; promise: Promise<JungfrauCalibration> } | null = null;

/** The calibration of `seed`: from the cache, else computed in a worker and cached. */
export function calibrationOffLoop(seed: number): Promise<JungfrauCalibration> {
  const cached = cachedCalibration(seed);
  if (cached) return Promise.resolve(cached);
  if (pending?.seed === seed) return pending.promise;
  const promise = new Promise<JungfrauCalibration>((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { calibrationSeed: seed } });
    worker.once('message', (cal: JungfrauCalibration) => {
      adoptCalibration(seed, cal);
      resolve(cal);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`calibration worker exited with code ${code}`)));
  }).finally(() => {
    if (pending?.promise === promise) pending = null;
  });
  pending = { seed, promise };
  return promise;
}
