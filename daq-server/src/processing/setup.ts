/**
 * From a `processing` section to a running sink: validate the parameters
 * against the pipeline's schema, lay out the step chain, gather the shared
 * maps, start the receivers (receiver 0 first: a chain that cannot be built
 * fails prepare with its field errors), then create the scan's streams.
 */
import { DaqError, type Counters, type FieldError, type TypedArray } from '../protocol/index.js';
import type { DetectorPlugin, DetectorRun } from '../detectors/plugin.js';
import type { ArrayStream, Scan } from '../store/types.js';
import { validate } from '../control/validate.js';
import { pipeline, pipelineSchema, stepSpecs, type PipelineDef, type StepSpec, type Topology } from './pipelines.js';
import type { StepRegistry } from './registry.js';
import type { ImageSpec, StepEnvironment, StreamDecl } from './types.js';
import { DirectSink, type FrameSink } from './sink.js';
import { InitError, ReceiverPool, type FramePool, type ReadyInfo } from './receivers/pool.js';
import { PipelineSink } from './pipeline-sink.js';
import type { FrameTap } from '../saving/saver.js';

export interface ProcessingPlan {
  pipeline: PipelineDef;
  params: Record<string, unknown>;
  specs: StepSpec[];
  topology: Topology;
  nbReceivers: number;
}

/** Validate a processing section (defaults filled in); every problem is a field error under `processing.`. */
export function planProcessing(section: Record<string, unknown>, input: ImageSpec, registry: StepRegistry): { plan: ProcessingPlan | null; errors: FieldError[] } {
  const name = String(section.pipeline ?? 'none');
  let p: PipelineDef;
  try {
    p = pipeline(name);
  } catch (err) {
    return { plan: null, errors: [{ field: 'processing.pipeline', message: (err as Error).message }] };
  }
  let params: Record<string, unknown>;
  try {
    params = validate(pipelineSchema(p, registry), section, 'processing');
  } catch (err) {
    const fields = err instanceof DaqError && err.fields ? err.fields : [{ field: '', message: String(err) }];
    return { plan: null, errors: fields.map((f) => ({ field: f.field ? `processing.${f.field}` : 'processing', message: f.message })) };
  }
  const errors: FieldError[] = [];
  const nbReceivers = params.nb_receivers as number;
  let topology = (params.topology as Topology | undefined) ?? (nbReceivers === 1 ? 'single' : 'round_robin');
  if (topology === 'single' && nbReceivers !== 1) {
    errors.push({ field: 'processing.topology', message: `single needs nb_receivers = 1, got ${nbReceivers}` });
  }
  if (p.ordered && nbReceivers !== 1) {
    errors.push({ field: 'processing.nb_receivers', message: `pipeline ${p.name} needs frames in order: it runs on 1 receiver, got ${nbReceivers}` });
  }
  if (nbReceivers === 1) topology = 'single';
  const { specs, errors: stepErrors } = stepSpecs(p, params, input, registry);
  errors.push(...stepErrors);
  if (topology === 'partial' && specs[0]?.name !== 'jungfrau_correction') {
    errors.push({
      field: 'processing.topology',
      message: 'partial-frame dispatch splits a raw multi-module frame among receivers: it needs a multi-module detector (sim-jungfrau-4m)',
    });
  }
  if (errors.length) return { plan: null, errors };
  return { plan: { pipeline: p, params, specs, topology, nbReceivers }, errors };
}

/** Copy a map into shared memory once, so every receiver reads it without a copy. */
function shared<T extends TypedArray>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const T = a.constructor as { new (b: SharedArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number };
  const out = new T(new SharedArrayBuffer(a.length * T.BYTES_PER_ELEMENT), 0, a.length);
  out.set(a as never);
  return out;
}

/** The environment the steps see: the detector description, shared calibration maps, the files the client named. */
export async function stepEnvironment(plan: ProcessingPlan, plugin: DetectorPlugin, run: DetectorRun, files: Readonly<Record<string, Uint8Array>> = {}): Promise<StepEnvironment> {
  const env: StepEnvironment = { detector: { ...run.describe(), info: plugin.info() }, maps: {}, files };
  const needsCalibration = plan.specs.some((s) => s.name.startsWith('jungfrau_correction'));
  if (needsCalibration && plugin.calibration) {
    const maps = await plugin.calibration(run.config);
    for (const [name, m] of Object.entries(maps)) env.maps[name] = { ...m, data: shared(m.data) };
  }
  // the detector's own maps (a DECTRIS pixel mask): the pipelines' `mask` step takes `mask` unless a mask_file is named
  for (const [name, m] of Object.entries(run.detectorMaps?.() ?? {})) env.maps[name] ??= { ...m, data: shared(m.data) };
  return env;
}

export interface Sinks {
  sink: FrameSink & { tap: FrameTap | null };
  /** the stream of dense frames (null when the pipeline keeps none) */
  frames: ArrayStream | null;
  receivers: number;
}

/** Pipeline `none`: raw frames go to the `frame` stream. */
export function directSink(scan: Scan, run: DetectorRun, detector: string, counters: Counters): Sinks {
  const frames = scan.createArrayStream('frame', run.dtype, run.shape, { description: 'detector frames as received', detector });
  return { sink: new DirectSink(frames, counters), frames, receivers: 1 };
}

/** Start the receivers; on failure nothing is left running and the error names the fields. */
export async function startReceivers(plan: ProcessingPlan, input: ImageSpec, env: StepEnvironment, registry: StepRegistry): Promise<{ pool: ReceiverPool; info: ReadyInfo }> {
  let started: { pool: ReceiverPool; info: ReadyInfo };
  try {
    started = await ReceiverPool.start(
      { specs: plan.specs, input, env, plugins: registry.pluginPaths, keepFrames: plan.params.keep_frames !== false },
      plan.topology,
      plan.nbReceivers,
      plan.params.max_pending as number,
    );
  } catch (err) {
    if (err instanceof InitError && err.fields.length) {
      throw new DaqError('ParameterError', `prepare: invalid processing parameters: ${err.fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, err.fields);
    }
    throw new DaqError('FaultError', `the processing receivers could not start: ${(err as Error).message}`);
  }
  if (plan.topology === 'partial' && !started.info.partial) {
    started.pool.terminate();
    const message = 'partial-frame dispatch needs the Jungfrau correction to assemble the full detector (assemble: true, no modules)';
    throw new DaqError('ParameterError', `processing.topology: ${message}`, [{ field: 'processing.topology', message }]);
  }
  return started;
}

/** Create the result streams in the scan and the sink that fills them. */
export function pipelineSink(plan: ProcessingPlan, started: { pool: FramePool; info: ReadyInfo }, scan: Scan, counters: Counters): Sinks {
  const { pool, info } = started;
  const keep = plan.params.keep_frames as boolean;
  const frames = keep
    ? scan.createArrayStream('frame', info.output.dtype, info.output.shape, { description: `frames after the ${plan.pipeline.name} pipeline` })
    : null;
  for (const d of info.streams as StreamDecl[]) {
    const meta = { ...(d.info ?? {}), cadence: d.cadence, ...(d.combine ? { combine: d.combine } : {}) };
    if (d.kind === 'array') scan.createArrayStream(d.name, d.dtype!, d.shape!, meta);
    else scan.createEventStream(d.name, meta);
  }
  for (const [name, item] of Object.entries(info.statics)) {
    const s = scan.stream(name);
    if (s.kind === 'array') s.append([item as TypedArray]);
    else s.append([item]);
  }
  counters.nb_frames_transferred = new Array(plan.nbReceivers).fill(0);
  const sink = new PipelineSink(pool, scan, info.streams as StreamDecl[], frames, counters, {
    keepFrames: keep,
    publishEvery: plan.params.publish_every as number,
  });
  return { sink, frames, receivers: plan.nbReceivers };
}
