/** The detectors a server offers, by name. */
import { DaqError } from '../protocol/index.js';
import type { DetectorPlugin } from './plugin.js';
import { simulatorPlugins } from './sim/index.js';

/** Every detector plugin daqlab ships. */
export function availablePlugins(): DetectorPlugin[] {
  return simulatorPlugins();
}

/** Select plugins by name (all when `names` is empty); unknown names are an error listing the known ones. */
export function selectPlugins(names: string[]): DetectorPlugin[] {
  const all = availablePlugins();
  if (names.length === 0) return all;
  return names.map((name) => {
    const plugin = all.find((p) => p.name === name);
    if (!plugin) {
      throw new DaqError('NotFoundError', `unknown detector ${JSON.stringify(name)}; available: ${all.map((p) => p.name).join(', ')}`);
    }
    return plugin;
  });
}
