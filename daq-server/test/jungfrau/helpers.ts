/** Shared helpers of the Jungfrau processing tests. */
import { simulatorPlugins } from '../../src/detectors/sim/index.js';
import type { DetectorPlugin } from '../../src/detectors/plugin.js';
import type { JungfrauRun } from '../../src/detectors/sim/jungfrau.js';
import type { StepEnvironment } from '../../src/processing/types.js';

export const N4M = 8 * 512 * 1024;

export function jungfrauPlugin(): DetectorPlugin {
  return simulatorPlugins().find((p) => p.name === 'sim-jungfrau-4m')!;
}

/** A simulator run and the step environment the server would build for it (description + calibration maps). */
export async function simulate(config: Record<string, unknown>): Promise<{ run: JungfrauRun; env: StepEnvironment; pedestal: Float32Array; gain: Float32Array }> {
  const plugin = jungfrauPlugin();
  const run = (await plugin.open(config)) as JungfrauRun;
  const maps = await plugin.calibration!(config);
  const env: StepEnvironment = { detector: { ...run.describe(), info: plugin.info() }, maps };
  return { run, env, pedestal: maps.pedestal.data as Float32Array, gain: maps.gain.data as Float32Array };
}

import { rng } from '../rng.js';
export { rng };

export function meanStd(values: ArrayLike<number>): { mean: number; std: number; n: number } {
  let s = 0, s2 = 0, n = 0;
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    if (Number.isNaN(v)) continue;
    s += v;
    s2 += v * v;
    n++;
  }
  const mean = s / n;
  return { mean, std: Math.sqrt(Math.max(0, s2 / n - mean * mean)), n };
}
