/** daqlab-server as a library: start a server in-process (used by the CLI, tests and benchmarks). */
import type { ServerConfig } from './config.js';
import { DEFAULTS, resolvePaths } from './config.js';
import { selectPlugins } from './detectors/registry.js';
import { DaqService } from './service.js';
import { listen, type RunningServer } from './api/server.js';
import { StepRegistry } from './processing/registry.js';
import { replayPlugins } from './detectors/replay/index.js';
import { dectrisPlugins, parseDectrisAddress } from './detectors/dectris/index.js';
import { jungfraujochPlugins, parseJungfraujochAddress } from './detectors/jungfraujoch/index.js';
import { JobsService } from './jobs/service.js';
import { ReceiverRegistry } from './processing/receivers/remote/registry.js';
import { simulatedDevices } from './devices/registry.js';
import { attachRedisStore, type RedisStore } from './store/redis/index.js';
import { log } from './log.js';
import { startLima2 } from './api/lima2/start.js';
import type { Lima2Running } from './api/lima2/server.js';
import { catalogueTarget } from './config.js';
import { AccessControl, readUsersFile } from './access/index.js';
import { Catalogue } from './catalogue/service.js';
import { ThreadedSqliteCatalogue } from './catalogue/sqlite-thread.js';
import { openLogbook } from './logbook/index.js';
import { PostgresCatalogue } from './catalogue/postgres/repository.js';
import { dataciteFromEnv } from './catalogue/doi/datacite.js';

export { DaqService } from './service.js';
export { selectPlugins, availablePlugins } from './detectors/registry.js';
export { StepRegistry } from './processing/registry.js';
export type { StepFactory, Step, StepBuild, FrameContext, ImageSpec, StreamDecl, StepEnvironment } from './processing/types.js';
export type { ServerConfig } from './config.js';
export * from './protocol/index.js';

export interface DaqServer extends RunningServer {
  service: DaqService;
  /** the Redis store (`--store redis://…`): publication of this server's scans, import of others', else null */
  redis: RedisStore | null;
  /** detectors served as LIMA2 systems (--lima2) */
  lima2: Lima2Running[];
}

export async function startServer(config: Partial<ServerConfig> = {}): Promise<DaqServer> {
  const cfg = { ...DEFAULTS, ...config };
  resolvePaths(cfg, false);
  const steps = new StepRegistry();
  for (const path of cfg.plugins) await steps.load(path);
  const replays = await replayPlugins(cfg.replays);
  const dectris = await dectrisPlugins(cfg.dectris.map(parseDectrisAddress));
  const jungfraujoch = await jungfraujochPlugins((cfg.jungfraujoch ?? []).map(parseJungfraujochAddress));
  const jobs = new JobsService({
    mode: cfg.slurm,
    restUrl: cfg.slurmrestd,
    conf: cfg.slurmConf,
    partition: cfg.slurmPartition,
    jobsDir: cfg.jobsDir,
    usersFile: cfg.users,
    python: cfg.jobsPython ?? undefined,
  });
  // one identity model (access/) for the catalogue and SciCat; the jobs service reads the same users file
  const access = new AccessControl(cfg.users ? readUsersFile(cfg.users) : null, cfg.token);
  const target = catalogueTarget(cfg);
  let catalogue: Catalogue | null = null;
  if (target) {
    try {
      const repo = target.kind === 'sqlite' ? await ThreadedSqliteCatalogue.open(target.path) : await PostgresCatalogue.open(target.url);
      catalogue = new Catalogue(repo, access, {
        beamline: cfg.beamline,
        root: cfg.dataRoots[0],
        datacite: dataciteFromEnv(process.env),
        log: (level, message, fields) => log(level, message, fields),
      });
    } catch (err) {
      // a catalogue asked for by name must work; the default one must not stop acquisition
      if (cfg.catalogue) throw new Error(`--catalogue ${cfg.catalogue}: ${(err as Error).message}`);
      log('warn', 'the default catalogue cannot be opened: scans are not catalogued', { target: target.kind === 'sqlite' ? target.path : 'postgresql', error: String(err) });
    }
  }
  const service = new DaqService({ plugins: [...selectPlugins(cfg.detectors), ...replays, ...dectris, ...jungfraujoch], memoryBudget: cfg.memoryBudget, steps, jobs, dataRoots: cfg.dataRoots, stateDir: cfg.stateDir || null,
    receivers: cfg.role === 'control' ? new ReceiverRegistry() : undefined, devices: simulatedDevices(cfg.sampleSeed), catalogue,
    logbook: openLogbook(cfg.stateDir || null, jobs.identities) });
  // --store redis://…: every scan is also published in Redis in blissdata's model, and scans others publish there join the store (store/redis/)
  const redis = cfg.store === 'memory' ? null : await attachRedisStore(service.store, cfg.store, { log, onFailure: (key, reason) => service.storeFault(key, reason), onRedisTrim: (r) => service.redisTrimmed(r) });
  const running = await listen(service, {
    host: cfg.host,
    port: cfg.port,
    token: cfg.token,
    allowOrigins: cfg.allowOrigins,
    acceptToken: jobs.identities.mapped ? (t) => jobs.identities.accepts(t) : undefined,
    userOf: (t) => jobs.identities.userOf(t),
    jupyterSecret: cfg.jupyterSecret ?? null,
  });
  let lima2: Lima2Running[];
  try {
    lima2 = await startLima2(service, cfg);
  } catch (err) {
    service.shutdown();
    await running.close();
    throw err;
  }
  return {
    ...running,
    service,
    redis,
    lima2,
    close: async () => {
      await Promise.all(lima2.map((l) => l.close()));
      service.shutdown();
      await redis?.close();
      await running.close();
    },
  };
}
