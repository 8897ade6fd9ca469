/** Shared helpers of the simulator tests. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { simulatorPlugins } from '../../src/detectors/sim/index.js';
import type { DetectorPlugin } from '../../src/detectors/plugin.js';
import type { SimRun } from '../../src/detectors/sim/run.js';

/** Repository root (tests run from daq-server/dist/test/sim). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

export function plugin(name: string): DetectorPlugin {
  const p = simulatorPlugins().find((x) => x.name === name);
  if (!p) throw new Error(`no simulator ${name}`);
  return p;
}

export async function openRun(name: string, config: Record<string, unknown> = {}): Promise<SimRun> {
  return (await plugin(name).open(config)) as SimRun;
}

export function mean(a: ArrayLike<number>, skip?: number): number {
  let s = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    if (skip !== undefined && a[i] === skip) continue;
    s += a[i];
    n++;
  }
  return s / n;
}
