/** daqlab-server as a library: start a server in-process (used by the CLI, tests and benchmarks). */
import type { ServerConfig } from './config.js';
import { DEFAULTS, resolvePaths } from './config.js';
import { selectPlugins } from './detectors/registry.js';
import { DaqService } from './service.js';
import { listen, type RunningServer } from './api/server.js';
import { StepRegistry } from './processing/registry.js';
import { replayPlugins } from './detectors/replay/index.js';
import { dectrisPlugins, parseDectrisAddress } from './detectors/dectris/index.js';
import { JobsService } from './jobs/service.js';
import { openLogbook } from './logbook/index.js';

export { DaqService } from './service.js';
export { selectPlugins, availablePlugins } from './detectors/registry.js';
export { StepRegistry } from './processing/registry.js';
export type { StepFactory, Step, StepBuild, FrameContext, ImageSpec, StreamDecl, StepEnvironment } from './processing/types.js';
export type { ServerConfig } from './config.js';
export * from './protocol/index.js';

export interface DaqServer extends RunningServer {
  service: DaqService;
}

export async function startServer(config: Partial<ServerConfig> = {}): Promise<DaqServer> {
  const cfg = { ...DEFAULTS, ...config };
  resolvePaths(cfg, false);
  const steps = new StepRegistry();
  for (const path of cfg.plugins) await steps.load(path);
  const replays = await replayPlugins(cfg.replays);
  const dectris = await dectrisPlugins(cfg.dectris.map(parseDectrisAddress));
  const jobs = new JobsService({
    mode: cfg.slurm,
    restUrl: cfg.slurmrestd,
    conf: cfg.slurmConf,
    partition: cfg.slurmPartition,
    jobsDir: cfg.jobsDir,
    usersFile: cfg.users,
    python: cfg.jobsPython ?? undefined,
  });
  const service = new DaqService({ plugins: [...selectPlugins(cfg.detectors), ...replays, ...dectris], memoryBudget: cfg.memoryBudget, steps, jobs, dataRoots: cfg.dataRoots, stateDir: cfg.stateDir || null, logbook: openLogbook(cfg.stateDir || null, jobs.identities) });
  const running = await listen(service, {
    host: cfg.host,
    port: cfg.port,
    token: cfg.token,
    allowOrigins: cfg.allowOrigins,
    acceptToken: jobs.identities.mapped ? (t) => jobs.identities.accepts(t) : undefined,
    userOf: (t) => jobs.identities.userOf(t),
  });
  return {
    ...running,
    service,
    close: async () => {
      service.shutdown();
      await running.close();
    },
  };
}
