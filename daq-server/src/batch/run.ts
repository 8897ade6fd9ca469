/**
 * One batch job: a saved scan replayed through the online acquisition,
 * processing and saving code, in this process, as fast as it goes. The result
 * is a derived scan — a normal master file that records its source — and a
 * manifest beside it for the jobs service.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { DaqError, type AcqStatus, type FieldError } from '../protocol/index.js';
import { DetectorController } from '../control/controller.js';
import { ReplayPlugin, SavedMaster } from '../detectors/replay/index.js';
import { pipeline as findPipeline } from '../processing/pipelines.js';
import { StepRegistry } from '../processing/registry.js';
import { createStore } from '../store/index.js';
import { UsageError, type BatchArgs } from './args.js';
import { findTemplate, templateNames, type BatchTemplate } from './templates.js';

export { SavedMaster } from '../detectors/replay/index.js';
export { parseBatchArgs } from './args.js';

/** What `<prefix>.derived.json` holds. */
export interface DerivedManifest {
  /** absolute path of the source master */
  source: string;
  source_key: string | null;
  template: string;
  pipeline: string;
  /** the job's parameters as given */
  params: Record<string, unknown>;
  /** the processing parameters the pipeline ran with (defaults filled in) */
  processing: Record<string, unknown>;
  /** absolute path of the derived master */
  master: string;
  files: string[];
  created: string;
  /** [start, stop) of the source's saved frames */
  frames: [number, number];
  streams: string[];
  nb_frames: number;
  end_reason: string | null;
  /** acquired, processed, saved, dropped (always 0: a replay waits for processing), invalid */
  counters: AcqStatus['counters'];
}

export interface BatchHooks {
  progress?(done: number, total: number): void;
}

/** A job that ran but failed (processing or saving): exit code 1. */
export class JobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobError';
  }
}

export async function runBatch(args: BatchArgs, hooks: BatchHooks = {}): Promise<DerivedManifest> {
  const template = findTemplate(args.template);
  if (!template) throw new UsageError(`--template: unknown template ${JSON.stringify(args.template)}; known: ${templateNames().join(', ')}`);
  try {
    findPipeline(template.pipeline);
  } catch {
    throw new UsageError(`--template ${template.name}: pipeline ${JSON.stringify(template.pipeline)} is not available in this version of daqlab; templates: ${templateNames().join(', ')}`);
  }
  const { saving: savingParams, ...processingParams } = args.params;
  if (savingParams !== undefined && (typeof savingParams !== 'object' || savingParams === null || Array.isArray(savingParams))) {
    throw new UsageError('--params: saving must be an object of saving parameters');
  }
  if (processingParams.pipeline !== undefined && processingParams.pipeline !== template.pipeline) {
    throw new UsageError(`--params: pipeline is ${JSON.stringify(processingParams.pipeline)} but template ${template.name} runs ${template.pipeline}`);
  }

  const master = await SavedMaster.open(args.source);
  try {
    const [start, stop] = [args.frames[0] ?? 0, args.frames[1] ?? master.nbFrames];
    if (stop > master.nbFrames || start >= stop) {
      throw new UsageError(`--frames: ${start}:${stop} is outside the ${master.nbFrames} frames of ${args.source}`);
    }
    const plugin = new ReplayPlugin(master, { start, stop, readers: args.readers });
    const registry = new StepRegistry();
    for (const p of args.plugins) await registry.load(p);
    const store = createStore({ memoryBudget: args.memoryBudget });
    // a batch run is its user's own process: the files it names are theirs to name
    const controller = new DetectorController(plugin, store, registry, ['/']);
    const sourceParams = master.parameters as { saving?: Record<string, unknown>; scan?: Record<string, unknown>; processing?: Record<string, unknown> };
    const processing = { ...template.defaults, nb_receivers: defaultReceivers(template), ...inherited(template, sourceParams.processing), ...processingParams, pipeline: template.pipeline };
    const saving = {
      ...(typeof sourceParams.saving?.compression === 'string' ? { compression: sourceParams.saving.compression } : {}),
      ...((savingParams as Record<string, unknown> | undefined) ?? {}),
      enabled: true,
      base_path: args.outputDir,
      prefix: args.prefix,
      ...(args.overwrite ? { file_exists_policy: 'overwrite' } : {}),
    };
    const sourceScan = { master: args.source, key: master.key, entry: master.entryPath, template: template.name, pipeline: template.pipeline, frames: [start, stop], params: args.params };
    const identity = Object.fromEntries(['proposal', 'sample', 'session', 'dataset'].filter((k) => typeof sourceParams.scan?.[k] === 'string').map((k) => [k, sourceParams.scan![k]]));

    let acq;
    try {
      acq = await controller.prepare({
        // the source's timing: it is metadata here (a replay is unpaced) that results use (XPCS delays in seconds)
        acquisition: { nb_frames: stop - start, ...sourceTiming(master.parameters.acquisition) },
        detector: { paced: false },
        processing,
        saving,
        scan: { name: args.prefix, ...identity, info: { source_scan: sourceScan } },
      });
    } catch (err) {
      throw asParamsError(err, args.paramsFile);
    }
    const total = stop - start;
    const status = await new Promise<AcqStatus>((resolve) => {
      let last = -1;
      const report = (s: AcqStatus): void => {
        const done = s.counters.nb_frames_processed;
        if (done !== last) hooks.progress?.(done, total);
        last = done;
      };
      acq.on('counters', report);
      acq.on('state', (s) => {
        report(s);
        if (s.finished) resolve(s);
      });
      acq.start();
    });
    if (status.state === 'FAULT' || status.reason !== 'completed') throw new JobError(`the job failed: ${status.reason}`);
    const info = acq.scan.info as { saving?: { master?: string; files?: string[]; error?: string | null }; processing?: Record<string, unknown> };
    if (info.saving?.error) throw new JobError(`saving failed: ${info.saving.error}`);
    const masterPath = info.saving?.master ?? join(args.outputDir, `${args.prefix}_master.h5`);
    const { steps: _steps, topology: _topology, ...effective } = info.processing ?? {};
    const manifest: DerivedManifest = {
      source: args.source,
      source_key: master.key,
      template: template.name,
      pipeline: template.pipeline,
      params: args.params,
      processing: effective,
      master: masterPath,
      files: [masterPath, ...(info.saving?.files ?? [])],
      created: new Date().toISOString(),
      frames: [start, stop],
      streams: [...acq.scan.streams.keys()],
      nb_frames: total,
      end_reason: status.reason,
      counters: status.counters,
    };
    writeFileSync(join(args.outputDir, `${args.prefix}.derived.json`), `${JSON.stringify(manifest, null, 1)}\n`);
    return manifest;
  } finally {
    master.close();
  }
}

/** The template's `inherit` parameters of the source's processing, when it ran the template's pipeline. */
function inherited(t: BatchTemplate, source: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!source || source.pipeline !== t.pipeline) return {};
  return Object.fromEntries((t.inherit ?? []).filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}

function sourceTiming(acq: unknown): { expo_time: number; latency_time: number } {
  const a = (acq ?? {}) as { expo_time?: unknown; latency_time?: unknown };
  const expo = typeof a.expo_time === 'number' && a.expo_time > 0 && a.expo_time <= 3600 ? a.expo_time : 1e-3;
  const latency = typeof a.latency_time === 'number' && a.latency_time >= 0 ? a.latency_time : 0;
  return { expo_time: expo, latency_time: latency };
}

/** Receivers: one per spare core (pipelines that need frames in order: one). */
function defaultReceivers(t: BatchTemplate): number {
  if (findPipeline(t.pipeline).ordered) return 1;
  return Math.max(1, Math.min(8, availableParallelism() - 1));
}

/** Prepare's field errors, named as the params file names them (`npt`, `saving.compression`). */
function asParamsError(err: unknown, paramsFile: string): Error {
  if (!(err instanceof DaqError) || err.type !== 'ParameterError') return err as Error;
  const fields: FieldError[] = (err.fields ?? []).map((f) => ({ ...f, field: f.field.replace(/^processing\.?/, '') || 'params' }));
  if (!fields.length) return new UsageError(err.message);
  return new UsageError(`invalid params (${paramsFile}): ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`);
}
