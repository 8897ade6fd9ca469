/**
 * The control part of one detector: validates complete run descriptions,
 * owns the current acquisition and enforces the state machine. A new run can
 * be prepared as soon as the previous one has stopped acquiring, even while
 * its results are still being drained.
 */
import { EventEmitter } from 'node:events';
import { DaqError, dtypeSize, parameterError, type AcqState, type AcqStatus, type FieldError } from '../protocol/index.js';
import type { DetectorInfo, DetectorPlugin } from '../detectors/plugin.js';
import type { ScanStore } from '../store/types.js';
import { Acquisition, type PrepareParams } from './acquisition.js';
import { prepareSchema } from './schema.js';
import { queueProblems, type QueueParams } from './bounds.js';
import { assertAllowed } from './state-machine.js';
import { precompile, validate } from './validate.js';
import { VERSION } from '../version.js';
import type { StepRegistry } from '../processing/registry.js';
import { PIPELINES, pipelineSchema } from '../processing/pipelines.js';
import { planProcessing, stepEnvironment, startReceivers, directSink, pipelineSink, type ProcessingPlan } from '../processing/setup.js';
import { TruthRecorder } from '../processing/sink.js';
import type { ImageSpec } from '../processing/types.js';
import { checkSavingTarget, defaultPrefix, type SavingParams } from '../saving/params.js';
import { ScanSaver } from '../saving/saver.js';
import { loadClientFiles, mapBytesFor, type ClientFiles, type KnownKeys } from '../files/index.js';
import { log } from '../log.js';
import { randomUUID } from 'node:crypto';
import type { ReceiverRegistry } from '../processing/receivers/remote/registry.js';
import { placeReceivers, type Placement } from '../processing/receivers/remote/placement.js';
import { RemotePool } from '../processing/receivers/remote/remote-pool.js';
import { RemoteRun } from '../processing/receivers/remote/remote-run.js';
import type { FramePool, ReadyInfo } from '../processing/receivers/pool.js';
import type { DetectorRun, PushedSource } from '../detectors/plugin.js';
import type { StepEnvironment } from '../processing/types.js';

/** Finished acquisitions kept for status queries. */
const HISTORY = 64;

export interface ControllerEvents {
  state: [AcqStatus | { detector: string; uuid: null; state: AcqState; reason: string | null }];
  counters: [AcqStatus];
}

/** The client behind a command: who it is, whether it forces, and who is connected now. */
export interface Actor {
  id: string;
  force: boolean;
  present: (id: string) => boolean;
}

export class DetectorController extends EventEmitter<ControllerEvents> {
  private current: Acquisition | null = null;
  private readonly history = new Map<string, Acquisition>();
  /** who prepared each acquisition (the identity of the client's connection) */
  private readonly owners = new WeakMap<Acquisition, string>();
  private faultReason: string | null = null;
  private preparing: Promise<unknown> = Promise.resolve();
  readonly schema: Record<string, unknown>;
  /** a control server's receiver hosts (processing.receiver_hosts places receivers there); null: none */
  receiverHosts: ReceiverRegistry | null = null;

  constructor(
    readonly plugin: DetectorPlugin,
    private readonly store: ScanStore,
    readonly registry: StepRegistry,
    /** folders clients may name files in (files/roots.ts) */
    readonly dataRoots: readonly string[] = [process.cwd()],
  ) {
    super();
    this.schema = prepareSchema(plugin, registry);
    // compiled here, at server start: compiling at the first prepare stalled the event loop 300-560 ms
    precompile(this.schema);
    for (const p of PIPELINES) precompile(pipelineSchema(p, registry));
    plugin.warmUp?.();
  }

  get name(): string {
    return this.plugin.name;
  }

  info(): DetectorInfo {
    return this.plugin.info();
  }

  get state(): AcqState {
    if (this.faultReason !== null) return 'FAULT';
    return this.current?.state ?? 'IDLE';
  }

  describeState(): { detector: string; state: AcqState; uuid: string | null; reason: string | null; owner: string | null } {
    return {
      detector: this.name,
      state: this.state,
      uuid: this.current?.uuid ?? null,
      reason: this.faultReason ?? this.current?.reason ?? null,
      owner: this.current ? this.ownerOf(this.current) : null,
    };
  }

  /** Who prepared `acq` (null when not recorded). */
  ownerOf(acq: Acquisition): string | null {
    return this.owners.get(acq) ?? null;
  }

  /**
   * Refuse a command on another client's acquisition unless forced; a forced one is logged.
   * `by` null: an internal caller (no client), always allowed. An owner no longer connected
   * (its kernel ended) does not hold its acquisition: the command is allowed, and logged.
   */
  private checkOwner(acq: Acquisition, command: string, by: Actor | null): void {
    const owner = this.ownerOf(acq);
    if (by === null || owner === null || owner === by.id) return;
    if (!by.present(owner)) {
      log('info', `${command} of an acquisition whose owner is gone`, { detector: this.name, uuid: acq.uuid, owner, by: by.id });
      return;
    }
    if (!by.force) {
      throw new DaqError(
        'StateError',
        `cannot ${command} acquisition ${acq.uuid} on ${this.name}: it was prepared by ${owner}, not by this client (${by.id}); pass force=True to ${command} it anyway`,
        undefined,
        { state: acq.state, owner, command },
      );
    }
    log('warn', `forced ${command} of another client's acquisition`, { detector: this.name, uuid: acq.uuid, owner, by: by.id, state: acq.state });
  }

  acquisition(uuid: unknown): Acquisition {
    const acq = typeof uuid === 'string' ? this.history.get(uuid) : undefined;
    if (!acq) throw new DaqError('NotFoundError', `no acquisition with uuid ${JSON.stringify(uuid)} on ${this.name}`);
    return acq;
  }

  /** Validate everything, then configure the detector and create the scan. Serialised per detector. */
  prepare(params: unknown, by: Actor | null = null): Promise<Acquisition> {
    const next = this.preparing.then(() => this.doPrepare(params, by));
    this.preparing = next.catch(() => undefined);
    return next;
  }

  private async doPrepare(raw: unknown, by: Actor | null): Promise<Acquisition> {
    assertAllowed('prepare', this.state, `detector ${this.name}`);
    // a prepared acquisition not started yet is replaced by a new prepare: only its owner may
    if (this.current && this.current.state === 'PREPARED') this.checkOwner(this.current, 'replace', by);
    const { params, plan, prefix, folder, files, placement } = await this.validateAll(raw);
    // receivers on other hosts: the detector opens no socket on its stream here (the hosts pull it)
    const processing = placement ? { ...params.processing, receiver_hosts: placement.names } : params.processing;
    let run: DetectorRun = await this.plugin.open(params.detector, files, { acquisition: params.acquisition, processing });
    let started: { pool: FramePool; info: ReadyInfo } | null = null;
    try {
      await run.prefill?.();
      if (plan && placement) {
        const remote = await this.startRemote(plan, placement, run, await stepEnvironment(plan, this.plugin, run, files), params.acquisition.nb_frames);
        started = remote;
        run = new RemoteRun(run as DetectorRun & { pushed: PushedSource }, remote.pool);
      } else if (plan) started = await startReceivers(plan, this.inputSpec(run), await stepEnvironment(plan, this.plugin, run, files), this.registry);
      // the state may have changed while the detector was being configured
      assertAllowed('prepare', this.state, `detector ${this.name}`);
    } catch (err) {
      started?.pool.terminate();
      run.close();
      throw err;
    }
    const { info: userInfo, ...identity } = params.scan as Record<string, unknown> & { info?: Record<string, unknown> };
    const scan = this.store.createScan(identity, {
      ...(userInfo ?? {}),
      detector: this.info(),
      detector_config: run.config,
      detector_description: run.describe(),
      acquisition: params.acquisition,
      processing: plan ? { ...plan.params, steps: plan.specs, topology: plan.topology } : params.processing,
      saving: params.saving,
      software: { name: 'daqlab', version: VERSION },
    });
    const counters = Acquisition.counters(plan?.nbReceivers ?? 1);
    const { sink, frames } = plan && started ? pipelineSink(plan, started, scan, counters) : directSink(scan, run, this.name, counters);
    const saving = params.saving as unknown as SavingParams;
    const saver = saving.enabled
      ? new ScanSaver({ params: { ...saving, base_path: folder! }, prefix: prefix!, scan, frames, nbReceivers: plan?.nbReceivers ?? 1, counters })
      : null;
    sink.tap = saver;
    const truth = new TruthRecorder(scan, Boolean(run.describe().ground_truth));
    const acq = new Acquisition(this.name, params, run, scan, counters, sink, truth, saver);
    scan.updateInfo({ acquisition_uuid: acq.uuid });
    this.current?.discard(`replaced by acquisition ${acq.uuid}`);
    this.current = acq;
    if (by !== null) this.owners.set(acq, by.id);
    this.remember(acq);
    acq.on('state', (status) => {
      if (status.state === 'FAULT' && this.current === acq) this.faultReason = status.reason;
      this.emit('state', status);
    });
    acq.on('counters', (status) => this.emit('counters', status));
    this.emit('state', acq.status());
    return acq;
  }

  /** Prepare the run on its receiver hosts (each pulls its frames from the detector's stream itself). */
  private async startRemote(plan: ProcessingPlan, placement: Placement, run: DetectorRun, env: StepEnvironment, nbFrames: number): Promise<{ pool: RemotePool; info: ReadyInfo }> {
    const stream = this.plugin.remoteStream?.();
    if (!stream || !run.pushed) throw new DaqError('ParameterError', `processing.receiver_hosts: ${this.name} does not stream its frames over the network`);
    if (Object.keys(env.maps).length) {
      const message = 'calibration maps (Jungfrau) do not travel to receiver hosts yet: run this pipeline on the control host';
      throw new DaqError('ParameterError', `processing.receiver_hosts: ${message}`, [{ field: 'processing.receiver_hosts', message }]);
    }
    // the processed frames stay on the hosts: only results cross the network
    plan.params.keep_frames = false;
    const files = Object.fromEntries(Object.entries(env.files ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    const base = { stream: stream.address, format: stream.format, specs: plan.specs, input: this.inputSpec(run), detector: env.detector, files, maxPending: plan.params.max_pending as number };
    // the chain built once here, for the streams' shapes and static items (the hosts build their own)
    const local = await startReceivers({ ...plan, nbReceivers: 1, topology: 'single' }, this.inputSpec(run), env, this.registry);
    local.pool.terminate();
    try {
      return { pool: await RemotePool.start(placement.channels, placement.counts, base, randomUUID(), nbFrames, local.info), info: local.info };
    } catch (err) {
      throw new DaqError('FaultError', `prepare ${this.name}: the receiver hosts could not start the run: ${(err as Error).message}`);
    }
  }

  /** The image the detector hands to processing. */
  private inputSpec(run: { dtype: ImageSpec['dtype']; shape: number[] }): ImageSpec {
    const info = this.info();
    return { dtype: run.dtype, shape: run.shape, pixelSize: info.pixel_size, dummy: info.dummy };
  }

  /**
   * Validate the whole run description and report every problem at once: the
   * schema, the pipeline's own parameters, and checks that depend on the detector
   * or on the file system (files the client names: confined, read once, bounded).
   */
  private async validateAll(
    raw: unknown,
  ): Promise<{ params: PrepareParams; plan: ProcessingPlan | null; prefix: string | null; folder: string | null; files: ClientFiles; placement: Placement | null }> {
    const det = this.info();
    const pixels = Math.max(det.shape.reduce((a, b) => a * b, 1), (det.image_shape ?? []).reduce((a, b) => a * b, 1));
    const { files, errors } = await loadClientFiles(raw, this.dataRoots, mapBytesFor(pixels), this.fileKeys());
    let params: PrepareParams | null = null;
    try {
      params = validate<PrepareParams>(this.schema, raw ?? {}, `prepare ${this.name}: invalid parameters`);
    } catch (err) {
      if (!(err instanceof DaqError && err.fields)) throw err;
      errors.push(...err.fields);
    }
    const section = ((raw as Record<string, unknown> | null)?.processing ?? {}) as Record<string, unknown>;
    let plan: ProcessingPlan | null = null;
    if (typeof section === 'object' && section !== null && !Array.isArray(section) && !errors.some((e) => e.field.startsWith('processing'))) {
      const info = this.info();
      const planned = planProcessing(section, { dtype: info.dtype, shape: info.shape, pixelSize: info.pixel_size, dummy: info.dummy }, this.registry);
      errors.push(...planned.errors);
      if (planned.plan && planned.plan.pipeline.name !== 'none') plan = planned.plan;
      if (params && planned.plan) params.processing = planned.plan.params;
    }
    let placement: Placement | null = null;
    const hosts = (section as Record<string, unknown>)?.receiver_hosts;
    if (hosts !== undefined && !errors.some((e) => e.field.startsWith('processing'))) {
      const placed = plan ? placeReceivers(hosts, plan.nbReceivers, this.receiverHosts) : { placement: null, errors: [{ field: 'processing.receiver_hosts', message: 'receiver hosts run a pipeline: name one (processing.pipeline)' }] };
      errors.push(...placed.errors);
      placement = placed.placement;
      if (placement && !this.plugin.remoteStream) errors.push({ field: 'processing.receiver_hosts', message: `${this.name} does not stream its frames over the network: receiver hosts need a --dectris detector` });
      if (placement && plan?.topology === 'partial') errors.push({ field: 'processing.topology', message: 'partial-frame dispatch runs on one host' });
    }
    if (params) errors.push(...this.crossCheck(params));
    // the frames a queue holds are the detector's (saved frames after processing are rarely larger)
    if (params) errors.push(...queueProblems(params as unknown as QueueParams, pixels * dtypeSize(det.dtype)));
    let prefix: string | null = null;
    let folder: string | null = null;
    if (params && !errors.length) {
      const saving = params.saving as unknown as SavingParams;
      if (saving.enabled) {
        const { info: _info, ...identity } = params.scan as Record<string, unknown>;
        prefix = saving.prefix ?? defaultPrefix(identity.name as string | undefined, this.store.nextNumber(identity));
        const target = await checkSavingTarget(saving, prefix, saving.nb_writers ?? plan?.nbReceivers ?? 1, this.dataRoots);
        errors.push(...target.errors);
        folder = target.folder;
      }
    }
    if (errors.length || !params) throw parameterError(errors, `prepare ${this.name}: invalid parameters`);
    return { params, plan, prefix, folder, files, placement };
  }

  /** Parameters that may name files: those the detector's and the steps' schemas accept (no others are read). */
  private fileKeys(): KnownKeys {
    const keys = (schema: { properties?: unknown }): Set<string> => new Set(Object.keys((schema.properties ?? {}) as object));
    const processing = new Set<string>();
    for (const name of this.registry.names()) for (const k of keys(this.registry.get(name).schema)) processing.add(k);
    return { detector: keys(this.plugin.configSchema()), processing };
  }

  /** Checks a schema cannot express: they depend on the detector's capabilities. */
  private crossCheck(params: PrepareParams): FieldError[] {
    const info = this.info();
    const acq = params.acquisition;
    const errors: FieldError[] = [];
    if (!info.trigger_modes.includes(acq.trigger_mode)) {
      errors.push({
        field: 'acquisition.trigger_mode',
        message: `${this.name} supports ${info.trigger_modes.join(', ')}; got ${acq.trigger_mode}`,
      });
    }
    const period = acq.expo_time + acq.latency_time;
    const minPeriod = 1 / info.max_frame_rate;
    if (period < minPeriod * (1 - 1e-9)) {
      errors.push({
        field: 'acquisition.expo_time',
        message: `expo_time + latency_time = ${period} s is shorter than the fastest period of ${this.name} (${minPeriod} s, ${info.max_frame_rate} Hz)`,
      });
    }
    return errors;
  }

  private remember(acq: Acquisition): void {
    this.history.set(acq.uuid, acq);
    while (this.history.size > HISTORY) {
      const oldest = this.history.keys().next().value as string;
      if (this.history.get(oldest) === this.current) break;
      this.history.delete(oldest);
    }
  }

  /** The acquisition named by `uuid`, which must be the detector's current one for commands. */
  private currentOf(uuid: unknown, command: string): Acquisition {
    const acq = this.acquisition(uuid);
    if (acq !== this.current) {
      throw new DaqError(
        'StateError',
        `cannot ${command} acquisition ${acq.uuid}: it is not the current acquisition of ${this.name} (it ended in state ${acq.state})`,
        undefined,
        { state: acq.state },
      );
    }
    return acq;
  }

  start(uuid: unknown): Acquisition {
    const acq = this.currentOf(uuid, 'start');
    acq.start();
    return acq;
  }

  trigger(uuid: unknown): Acquisition {
    const acq = this.currentOf(uuid, 'trigger');
    acq.trigger();
    return acq;
  }

  stop(uuid: unknown, by: Actor | null = null): Acquisition {
    const acq = this.currentOf(uuid, 'stop');
    this.checkOwner(acq, 'stop', by);
    acq.stop();
    return acq;
  }

  abort(uuid: unknown, by: Actor | null = null): Acquisition {
    const acq = this.currentOf(uuid, 'abort');
    this.checkOwner(acq, 'abort', by);
    const wasPrepared = acq.state === 'PREPARED';
    acq.abort();
    if (wasPrepared) this.current = null;
    return acq;
  }

  /** Leave FAULT (or clear a finished run) and return to IDLE. */
  reset(): void {
    assertAllowed('reset', this.state, `detector ${this.name}`);
    this.faultReason = null;
    this.current = null;
    this.emit('state', { detector: this.name, uuid: null, state: 'IDLE', reason: 'reset' });
  }

  /** The store failed for scan `key`: its acquisition, when it is the current one, FAULTs with `reason`. */
  storeFault(key: string, reason: string): void {
    if (this.current?.scan.key === key) this.current.storeFault(reason);
  }

  shutdown(): void {
    this.current?.discard('server shutdown');
  }
}
