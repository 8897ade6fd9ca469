/**
 * One daqlab detector seen as a LIMA2 system: what the conductor's routes answer
 * (lima2/conductor/webservice/*.py), computed from the detector's controller and the scans
 * its acquisitions fill. An acquisition prepared here is an ordinary daqlab acquisition with
 * an ordinary scan (listed, streamed and saved like any other); this class only remembers
 * which ones came through LIMA2 and with which parameters.
 */
import type { Acquisition } from '../../control/acquisition.js';
import type { DetectorController } from '../../control/controller.js';
import { validate } from '../../control/validate.js';
import type { JsonSchema } from '../../detectors/plugin.js';
import { DaqError, type FieldError } from '../../protocol/index.js';
import type { DaqService } from '../../service.js';
import type { ArrayStream, EventStream, Scan, Stream } from '../../store/types.js';
import { VERSION } from '../../version.js';
import { CLASSES, classDef, type ClassDef } from './classes.js';
import { Lima2Error, paramError } from './errors.js';
import { faiFileClash, faiPlace, writeFaiFiles } from './fai-files.js';
import { confine, makeFolder } from '../../files/index.js';
import { log } from '../../log.js';
import type { Lima2ScanInfo } from '../../store/redis/lima2.js';
import { acquisitionParamsSchema, defaultsOf, fromLima2, lima2Field, processingSchema, subschema, WHERE, type Mapped, type SchemaContext } from './params.js';

/** lima2/common/state.py RunState (IntFlag, auto() from 1): IDLE 1, RUNNING 2, FAULT = ACQ_EXCEPTION 16 | PROC_EXCEPTION 32. */
const RUN_STATE = { IDLE: 1, RUNNING: 2, FAULT: 48 } as const;

/** The conductor version announced to clients: the API level implemented (the 4.3 client needs major 4, minor ≥ 3). */
export const CONDUCTOR_API_VERSION = '4.3.2';

/**
 * Versions in LIMA2's `prefix-MAJOR.MINOR.PATCH` form, which BLISS parses and checks against what
 * its plugins allow (bliss/controllers/lima2/device.py is_compatible): the legacy class answers the
 * parameter layout of LIMA2's core legacy pipeline that BLISS's legacy plugin drives (core-1.0.0).
 */
export const PLUGIN_VERSION = `daqlab-${VERSION}`;
export const CLASS_VERSIONS: Record<string, string> = {
  LimaProcessingLegacy: 'core-1.0.0',
  LimaProcessingSmx: `daqlab-${VERSION}`,
  LimaProcessingFai: `daqlab-${VERSION}`,
  LimaProcessingXpcs: `daqlab-${VERSION}`,
};

/** LIMA2-driven acquisitions kept for /pipeline/{uuid} queries. */
const KEEP = 32;

interface Run {
  uuid: string;
  acq: Acquisition;
  mapped: Mapped;
  started: boolean;
  /** saving_fai: curves written once the scan closed (undefined: not yet), or why not */
  faiWritten?: number;
  faiError?: string;
  /** reset after its FAULT: no longer reported as the current state */
  cleared?: boolean;
}

/** lima2/common/progress_counter.py ProgressCounter.asdict */
function progressCounter(name: string, values: { source: string; value: number }[]): Record<string, unknown> {
  const sum = values.reduce((a, v) => a + v.value, 0);
  return {
    name,
    sum,
    avg: values.length ? sum / values.length : 0,
    min: Math.min(...values.map((v) => v.value)),
    max: Math.max(...values.map((v) => v.value)),
    counters: values.map((v) => ({ name, value: v.value, source: v.source })),
  };
}

/** numpy dtype.descr of one reduced data record, as the conductor sends it (webservice/pipeline.py) and the client rebuilds it. */
export const REDUCED_DTYPES: Record<string, [string, string][]> = {
  // processing/reduced_data.py ROI_STATS_DTYPE, channel_keys avg, std, min, max, sum
  roi_stats: [
    ['avg', '<f4'],
    ['std', '<f4'],
    ['min', '<f4'],
    ['max', '<f4'],
    ['sum', '<f8'],
  ],
  // common/types.py PEAK_COUNTER_DTYPE, channel_keys nb_peaks
  nb_peaks: [['nb_peaks', '<i4']],
  // common/types.py FILL_FACTOR_DTYPE, channel_keys fill_factor: here the number of non-zero ring pixels
  // (daqlab's fill_factor is their fraction: times the rings' pixel count, from the `q` stream's info)
  fill_factor: [['fill_factor', '<i4']],
};
export const RECORD_BYTES: Record<string, number> = { roi_stats: 24, roi_profile: 24, nb_peaks: 4, fill_factor: 4 };
/** the daqlab stream each reduced data channel is read from */
const REDUCED_SOURCE: Record<string, string> = { roi_stats: 'roi_stats', roi_profile: 'roi_line_stats', nb_peaks: 'peak_counter', fill_factor: 'fill_factor' };

export class Lima2Conductor {
  readonly ctl: DetectorController;
  private readonly runs = new Map<string, Run>();
  private current: Run | null = null;
  /** the conductor's user_lock: one command at a time (webservice/acquisition.py) */
  private busy = false;
  readonly ctx: SchemaContext;
  /** where clients reach this conductor (set once it listens), recorded in the scans it prepares */
  endpoint: { hostname: string; port: number } | null = null;

  constructor(
    readonly service: DaqService,
    readonly detector: string,
  ) {
    this.ctl = service.detector(detector);
    this.ctx = { detectorSchema: this.ctl.plugin.configSchema(), registry: this.ctl.registry, dataRoot: service.dataRoots[0] ?? process.cwd() };
    service.store.onScanState((scan) => {
      if (scan.state !== 'CLOSED') return;
      for (const run of this.runs.values()) if (run.acq.scan.key === scan.key && run.mapped.fai) void this.saveFai(run);
    });
  }

  private async saveFai(run: Run): Promise<void> {
    try {
      run.faiWritten = await writeFaiFiles(run.acq.scan, run.mapped.fai!);
    } catch (err) {
      run.faiError = `saving_fai: ${(err as Error).message}`;
      log('warn', 'LIMA2 saving_fai failed', { uuid: run.uuid, error: run.faiError });
    }
  }

  /** saving_fai's folder: inside the data roots, created when missing; its first file must not be in the way */
  private async checkFai(mapped: Mapped): Promise<void> {
    const fai = mapped.fai;
    if (!fai) return;
    const schema = processingSchema(mapped.cls, this.ctx);
    try {
      fai.base_path = await confine(fai.base_path, this.service.dataRoots);
      await makeFolder(fai.base_path);
    } catch (err) {
      throw paramError((err as Error).message, WHERE.processing, '$.saving_fai.base_path', subschema(schema, '$.saving_fai.base_path'));
    }
    let clash: string | null;
    try {
      clash = await faiFileClash(fai);
    } catch (err) {
      throw paramError((err as Error).message, WHERE.processing, '$.saving_fai.base_path', subschema(schema, '$.saving_fai.base_path'));
    }
    if (clash) throw paramError(`${clash} exists (choose another filename_prefix or file_exists_policy "overwrite")`, WHERE.processing, '$.saving_fai.file_exists_policy', subschema(schema, '$.saving_fai.file_exists_policy'));
  }

  private validate = (schema: JsonSchema, value: unknown): FieldError[] => {
    try {
      validate(schema, value, 'lima2 params');
      return [];
    } catch (err) {
      if (err instanceof DaqError && err.fields) return err.fields;
      throw err;
    }
  };

  private async locked<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.busy) throw new Lima2Error('Lima2Conflict', 'Another command is in progress.');
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }

  // ---- /acquisition ----------------------------------------------------------------

  prepare(body: Record<string, unknown>): Promise<string> {
    return this.locked(async () => {
      if (this.current && this.isRunning(this.current)) {
        throw new Lima2Error('Lima2BadCommand', 'Cannot prepare for acquisition in running state.');
      }
      const mapped = fromLima2(body, this.ctx, this.validate);
      await this.checkFai(mapped);
      const meta = body.masterfile_metadata ?? {};
      if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new Lima2Error('Lima2ValueError', 'masterfile_metadata must be a JSON object');
      const prepare = structuredClone(mapped.prepare);
      (prepare.scan as Record<string, unknown>).info = { lima2: { class_name: mapped.cls.name, masterfile_metadata: meta } };
      let acq: Acquisition;
      try {
        acq = await this.ctl.prepare(prepare);
      } catch (err) {
        if (err instanceof DaqError && err.type === 'ParameterError' && err.fields?.length) {
          const f = err.fields[0];
          if (f.field.startsWith('scan')) throw paramError(f.message, 'masterfile_metadata', '$', {});
          const [where, path] = lima2Field(f.field, mapped);
          const schema = where === WHERE.processing ? processingSchema(mapped.cls, this.ctx) : acquisitionParamsSchema(this.ctx);
          const more = err.fields.length > 1 ? ` (and ${err.fields.length - 1} more: ${err.fields.slice(1, 4).map((e) => lima2Field(e.field, mapped).join(' ') + ': ' + e.message).join('; ')})` : '';
          throw paramError(`${f.message}${more}`, where, path, subschema(schema, path));
        }
        throw err;
      }
      const run: Run = { uuid: acq.uuid, acq, mapped, started: false };
      this.runs.set(run.uuid, run);
      while (this.runs.size > KEEP) this.runs.delete(this.runs.keys().next().value as string);
      this.current = run;
      this.describeForReaders(run, meta);
      return run.uuid;
    });
  }

  /**
   * What readers of the scan elsewhere need to reach this acquisition as LIMA2 (the Redis store
   * publishes it in blissdata-lima2's model from this: store/redis/lima2.ts): its uuid, this
   * conductor, the master file of each frame source.
   */
  private describeForReaders(run: Run, meta: object): void {
    const lima2: Lima2ScanInfo = { class_name: run.mapped.cls.name, masterfile_metadata: meta, acq_uuid: run.uuid, detector: this.detector, master_files: this.masterFiles(run) };
    if (this.endpoint) lima2.conductor = { ...this.endpoint };
    run.acq.scan.updateInfo({ lima2 });
  }

  private prepared(): Run {
    const run = this.current;
    if (!run || run.acq.state !== 'PREPARED') throw new Lima2Error('Lima2BadCommand', this.current && this.isRunning(this.current) ? 'An acquisition is already running.' : 'No acquisition is prepared.');
    return run;
  }

  start(): Promise<void> {
    return this.locked(() => {
      const run = this.prepared();
      this.ctl.start(run.uuid);
      run.started = true;
    });
  }

  stop(): Promise<void> {
    return this.locked(() => {
      const run = this.current;
      if (!run || run.acq.state !== 'RUNNING') throw new Lima2Error('Lima2BadCommand', `Cannot stop acquisition in ${run ? run.acq.state.toLowerCase() : 'idle'} state.`);
      this.ctl.stop(run.uuid);
    });
  }

  trigger(): void {
    const run = this.current;
    if (!run || run.acq.state !== 'RUNNING') throw new Lima2Error('Lima2BadCommand', 'Cannot trigger: no acquisition is running.');
    this.ctl.trigger(run.uuid);
  }

  reset(): Promise<void> {
    return this.locked(() => {
      if (this.current && this.isRunning(this.current)) throw new Lima2Error('Lima2BadCommand', 'Cannot reset while acquisition is running.');
      if (this.ctl.state === 'FAULT' || this.ctl.state === 'STOPPED' || this.ctl.state === 'IDLE') this.ctl.reset();
      if (this.current) this.current.cleared = true;
    });
  }

  /** running as LIMA2 means it: started, and acquisition or processing not done yet */
  private isRunning(run: Run): boolean {
    if (!run.started || run.acq.state === 'FAULT') return false;
    // like LIMA2's, processing includes writing the files of the saving channels
    return !run.acq.finished || (run.mapped.fai !== null && run.faiWritten === undefined && run.faiError === undefined);
  }

  /** webservice/acquisition.py state: IDLE, RUNNING or FAULT as {name, value} */
  runState(): { name: string; value: number } {
    const run = this.current;
    if (run?.acq.state === 'FAULT' && !run.cleared) return { name: 'FAULT', value: RUN_STATE.FAULT };
    if (run && this.isRunning(run)) return { name: 'RUNNING', value: RUN_STATE.RUNNING };
    return { name: 'IDLE', value: RUN_STATE.IDLE };
  }

  /** webservice/acquisition.py result */
  result(): Record<string, unknown> {
    const run = this.current;
    if (!run || !run.started || run.cleared || this.isRunning(run)) return { type: 'unknown' };
    if (run.acq.state === 'FAULT') {
      return { type: 'failure', errors: { acquisition: [run.acq.reason ?? 'fault'], processing: [] }, warnings: [] };
    }
    return { type: 'success', warnings: run.faiError ? [run.faiError] : [] };
  }

  errors(): string[] {
    const run = this.current;
    return run && run.acq.state === 'FAULT' && !run.cleared ? [run.acq.reason ?? 'fault'] : [];
  }

  nbFramesAcquired(): Record<string, unknown> {
    // common/progress_counter.py SingleCounter.asdict
    return { name: 'nb_frames_acquired', value: this.current?.acq.counters.nb_frames_acquired ?? 0, source: 'control' };
  }

  nbFramesXferred(): Record<string, unknown> {
    const per = this.current?.acq.counters.nb_frames_transferred ?? [0];
    return progressCounter('nb_frames_xferred', per.map((value, k) => ({ source: `receiver${k}`, value })));
  }

  defaultParams(): Record<string, unknown> {
    const schema = acquisitionParamsSchema(this.ctx);
    return { control: defaultsOf(schema), receiver: defaultsOf(schema) };
  }

  paramsSchema(): Record<string, unknown> {
    const schema = acquisitionParamsSchema(this.ctx);
    return { control: schema, receiver: schema };
  }

  /** /state: the global State, the conductor's local state, each device's DeviceState (common/state.py) */
  systemState(): Record<string, unknown> {
    const s = this.ctl.state;
    const global = s === 'FAULT' ? 'FAULT' : s === 'RUNNING' ? 'RUNNING' : s === 'PREPARED' ? 'PREPARED' : 'IDLE';
    const local = s === 'RUNNING' ? 'RUNNING' : s === 'PREPARED' ? 'READY' : 'IDLE';
    return { state: global, conductor: local, devices: { [`${this.detector}/control`]: s, [`${this.detector}/receiver0`]: s } };
  }

  // ---- /detector -------------------------------------------------------------------

  detInfo(): Record<string, unknown> {
    const i = this.ctl.info();
    const [rows, cols] = i.image_shape ?? (i.shape.slice(-2) as [number, number]);
    return {
      plugin: 'daqlab',
      model: i.model,
      sn: i.name,
      pixel_size: { x: i.pixel_size[1], y: i.pixel_size[0] },
      dimensions: { x: cols, y: rows },
      pixel_type: i.dtype,
      daqlab: i,
    };
  }

  detStatus(): Record<string, unknown> {
    return { state: this.ctl.state, detector: this.detector };
  }

  detCapabilities(): Record<string, unknown> {
    const i = this.ctl.info();
    // expo_time_range / latency_time_range in ns: what BLISS's lima2 controller checks times against (bliss/controllers/lima2/device.py)
    return { trigger_modes: i.trigger_modes, expo_time_range: [1000, 3.6e12], latency_time_range: [0, 3.6e12], max_frame_rate: i.max_frame_rate, pixel_types: [i.dtype] };
  }

  readAttribute(name: string): unknown {
    const attrs: Record<string, unknown> = { state: this.ctl.state, nb_frames_acquired: this.current?.acq.counters.nb_frames_acquired ?? 0, version: VERSION, ...this.detInfo() };
    if (!(name in attrs)) throw new Lima2Error('Lima2NotFound', `No attribute ${JSON.stringify(name)}; daqlab has ${Object.keys(attrs).join(', ')} (read only).`);
    return attrs[name];
  }

  // ---- /pipeline -------------------------------------------------------------------

  classInfo(name: string): ClassDef {
    const cls = classDef(name);
    if (!cls) throw new Lima2Error('Lima2NotFound', `No such pipeline class: '${name}'.\nTry one of ${JSON.stringify(CLASSES.map((c) => c.name))}.`);
    return cls;
  }

  classDescription(name: string): Record<string, unknown> {
    const cls = this.classInfo(name);
    const schema = processingSchema(cls, this.ctx);
    return { tango_class: cls.name, frame_sources: Object.keys(cls.frameSources), reduced_data_sources: cls.reducedData, params_schema: schema, default_params: defaultsOf(schema) };
  }

  classSchema(name: string): JsonSchema {
    return processingSchema(this.classInfo(name), this.ctx);
  }

  uuids(): string[] {
    return [...this.runs.keys()];
  }

  run(uuid: string): Run {
    if (uuid === 'current') {
      if (!this.current) throw new Lima2Error('Lima2NotFound', 'No current pipeline: call prepare first.');
      return this.current;
    }
    if (!/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(uuid)) throw new Lima2Error('Lima2ValueError', `badly formed UUID string ${JSON.stringify(uuid.slice(0, 100))}`);
    const run = this.runs.get(uuid.toLowerCase());
    if (!run) throw new Lima2Error('Lima2NotFound', `Pipeline ${uuid} not found in existing pipelines: ${JSON.stringify(this.uuids())}.`);
    return run;
  }

  scanOf(run: Run): Scan {
    return run.acq.scan;
  }

  /** progress counters by name (one source: daqlab's processing; input/source count the frames received) */
  progressCounters(run: Run): Record<string, Record<string, unknown>> {
    const c = run.acq.counters;
    const received = c.nb_frames_transferred.reduce((a, b) => a + b, 0);
    const processed = c.nb_frames_processed;
    const out: Record<string, Record<string, unknown>> = {};
    const add = (name: string, value: number): void => {
      out[name] = progressCounter(name, [{ source: `${this.detector}/receiver0`, value }]);
    };
    add('nb_frames_source', received);
    add('nb_frames_processed', processed);
    for (const src of Object.values(run.mapped.cls.frameSources)) {
      if (src.label && !out[`nb_frames_${src.label}`]) add(`nb_frames_${src.label}`, src.label === 'input' && run.mapped.cls.pipeline !== 'smx' ? received : processed);
    }
    return out;
  }

  /** processing/pipeline.py channel_progress */
  channelProgress(run: Run, channel: string): number {
    const cls = run.mapped.cls;
    if (channel === 'raw_frame') return (this.progressCounters(run).nb_frames_source.sum as number) ?? 0;
    const src = cls.frameSources[channel];
    if (!src) throw new Lima2Error('Lima2NotFound', `No frame channel named '${channel}'.\nTry one of ${JSON.stringify(['raw_frame', ...Object.keys(cls.frameSources)])}.`);
    const name = src.label ? `nb_frames_${src.label}` : cls.progressIndicator;
    return this.progressCounters(run)[name].sum as number;
  }

  indicator(run: Run): number {
    return this.progressCounters(run)[run.mapped.cls.progressIndicator].sum as number;
  }

  /** reduced data channels: name → per channel {dtype (numpy descr), shape} */
  reducedChannels(run: Run): Record<string, { dtype: [string, string][]; shape: number[] }[]> {
    const out: Record<string, { dtype: [string, string][]; shape: number[] }[]> = {};
    if (run.mapped.rois.length) out.roi_stats = run.mapped.rois.map(() => ({ dtype: REDUCED_DTYPES.roi_stats, shape: [] }));
    // reduced_data.py: roi_profile, a VectorDataSource of ROI_STATS_DTYPE records, one vector per profile and frame
    if (run.mapped.profiles.length) out.roi_profile = run.mapped.profiles.map((length) => ({ dtype: REDUCED_DTYPES.roi_stats, shape: [length] }));
    for (const name of run.mapped.cls.reducedData) out[name] = [{ dtype: REDUCED_DTYPES[name], shape: [] }];
    return out;
  }

  /** the daqlab stream a reduced data channel comes from, once the scan has it */
  reducedSource(run: Run, name: string, index: number): string {
    const channels = this.reducedChannels(run)[name];
    if (!channels) throw new Lima2Error('Lima2NotFound', `No reduced data channel named '${name}'. Have ${JSON.stringify(Object.keys(this.reducedChannels(run)))}.`);
    if (!Number.isInteger(index) || index < 0 || index >= channels.length) {
      throw new Lima2Error('Lima2NotFound', `Reduced data channel '${name}' has no channel with index ${index} (number of channels is ${channels.length}).`);
    }
    return REDUCED_SOURCE[name];
  }

  /** frame channels: source → {num_channels, width, height, pixel_type} */
  frameChannels(run: Run): Record<string, Record<string, unknown>> {
    const scan = run.acq.scan;
    const info = this.ctl.info();
    const frame = scan.streams.get('frame') as ArrayStream | undefined;
    const [h, w] = frame ? frame.shape.slice(-2) : (info.image_shape ?? info.shape.slice(-2));
    const dtype = frame?.dtype ?? info.dtype;
    const out: Record<string, Record<string, unknown>> = {};
    for (const [name] of Object.entries(run.mapped.cls.frameSources)) {
      if (name === 'fai_averint') {
        const intensity = scan.streams.get('intensity') as ArrayStream | undefined;
        out[name] = { num_channels: 1, width: intensity?.shape[0] ?? 0, height: 1, pixel_type: 'float32' };
      } else if (name === 'input_frame') {
        out[name] = { num_channels: 1, width: info.shape[info.shape.length - 1], height: info.shape[info.shape.length - 2], pixel_type: info.dtype };
      } else out[name] = { num_channels: 1, width: w, height: h, pixel_type: dtype };
    }
    return out;
  }

  /** webservice/pipeline.py master_files: source → [master file, dataset path] */
  masterFiles(run: Run): Record<string, [string, string]> {
    const saving = run.acq.scan.info.saving as { master?: string; enabled?: boolean } | undefined;
    const p = run.mapped.prepare.saving as { enabled: boolean; save_frames: boolean; nx_entry_name: string; nx_instrument_name: string; nx_detector_name: string };
    if (!p.enabled || !p.save_frames || !saving?.master) return {};
    return { frame: [saving.master, `${p.nx_entry_name}/${p.nx_instrument_name}/${p.nx_detector_name}/data`] };
  }

  /**
   * The newest frame a reader can open: LIMA2 answers the last frame from a receiver's memory (Tango),
   * daqlab from the files, where the newest frames are not flushed yet. Looks back at most LOOK_BACK frames.
   */
  private newestReadable(run: Run, source: string, n: number): number {
    const LOOK_BACK = 4096;
    const frames = run.acq.scan.streams.get('frame') as ArrayStream | undefined;
    const p = run.mapped.prepare.saving as { enabled: boolean; save_frames: boolean };
    if (source !== 'frame' || !frames || !p.enabled || !p.save_frames) return n - 1;
    for (let i = n - 1; i >= Math.max(0, n - LOOK_BACK); i--) {
      const at = frames.savedLocation(i);
      if (at && at.flushed !== false) return i;
    }
    return n - 1;
  }

  /** webservice/pipeline.py pipeline_frame_lookup: where frame `idx` of `source` can be read */
  lookup(run: Run, source: string, idx: number): Record<string, unknown> {
    const cls = run.mapped.cls;
    if (!cls.frameSources[source]) throw new Lima2Error('Lima2ValueError', `No such frame channel '${source}'.\nTry one of ${JSON.stringify(Object.keys(cls.frameSources))}.`);
    if (!Number.isInteger(idx) || idx < -1) throw new Lima2Error('Lima2ValueError', `Cannot lookup frame ${idx}: must be >= -1`);
    const streamName = source === 'fai_averint' ? 'intensity' : 'frame';
    const stream = run.acq.scan.streams.get(streamName) as Stream | undefined;
    const n = stream?.length ?? 0;
    if (idx === -1) {
      if (n === 0) throw new Lima2Error('Lima2LookupError', 'Cannot lookup last frame: no frames processed yet.');
      idx = this.newestReadable(run, source, n);
    }
    if (idx >= n) {
      const done = run.acq.finished;
      throw new Lima2Error('Lima2LookupError', `Frame ${idx} of '${source}' ${done ? 'does not exist' : 'is not there yet'}: ${n} frame(s) ${done ? 'in this acquisition' : 'so far'}.`);
    }
    let hdf5: Record<string, unknown> | null = null;
    const p = run.mapped.prepare.saving as { enabled: boolean; save_frames: boolean; nx_entry_name: string; nx_instrument_name: string; nx_detector_name: string };
    if (source === 'frame' && p.enabled && p.save_frames && stream?.kind === 'array') {
      const a = stream as ArrayStream;
      const at = a.savedLocation(idx);
      // only once flushed: before that a reader of the file may not see the frame (the client then reports no location, and asks again)
      if (at && at.index !== undefined && at.flushed !== false) {
        hdf5 = {
          url: `file://${at.path}:${p.nx_entry_name}/${p.nx_instrument_name}/${p.nx_detector_name}`,
          idx: at.index,
          frame_type: 'DENSE',
          shape: [1, ...a.shape.slice(-2)],
        };
      }
    }
    if (source === 'fai_averint' && run.mapped.fai && run.faiWritten !== undefined && idx < run.faiWritten && stream?.kind === 'array') {
      const f = run.mapped.fai;
      const at = faiPlace(f, idx);
      hdf5 = { url: `file://${at.path}:${f.nx_entry_name}/${f.nx_instrument_name}/${f.nx_detector_name}`, idx: at.index, frame_type: 'VECTOR', shape: [1, 1, (stream as ArrayStream).shape[0]] };
    }
    // no Tango buffers here: frames are read from the files (or through daqlab's own API)
    return { tango: null, hdf5 };
  }

  /** one reduced data record per item, as the conductor streams them (fields in channel_keys order, little endian) */
  static encode(name: string, channel: number, items: unknown[], ringPixels = 0, profiles: number[] = []): Buffer {
    if (name === 'roi_profile') return Lima2Conductor.encodeProfile(channel, items as Float64Array[], profiles);
    const size = RECORD_BYTES[name];
    const buf = Buffer.alloc(items.length * size);
    items.forEach((item, k) => {
      const o = k * size;
      if (name === 'roi_stats') {
        // daqlab's roi_stats row per ROI: sum, mean, std, min, max (processing/steps/roi.ts)
        const row = (item as Float64Array).subarray(channel * 5, channel * 5 + 5);
        buf.writeFloatLE(row[1], o);
        buf.writeFloatLE(row[2], o + 4);
        buf.writeFloatLE(row[3], o + 8);
        buf.writeFloatLE(row[4], o + 12);
        buf.writeDoubleLE(row[0], o + 16);
      } else if (name === 'fill_factor') {
        buf.writeInt32LE(Math.round(Number((item as { fill_factor?: number }).fill_factor ?? 0) * ringPixels), o);
      } else {
        buf.writeInt32LE(Number((item as { nb_peaks?: number }).nb_peaks ?? 0), o);
      }
    });
    return buf;
  }

  /** roi_profile channel `channel`: its lines of each frame's roi_line_stats (rows of sum, mean, std, min, max) as avg, std, min, max, sum records */
  private static encodeProfile(channel: number, items: Float64Array[], profiles: number[]): Buffer {
    const length = profiles[channel] ?? 0;
    const offset = profiles.slice(0, channel).reduce((a, b) => a + b, 0);
    const buf = Buffer.alloc(items.length * length * 24);
    let o = 0;
    for (const item of items) {
      for (let l = 0; l < length; l++, o += 24) {
        const row = item.subarray((offset + l) * 5, (offset + l) * 5 + 5);
        buf.writeFloatLE(row[1], o);
        buf.writeFloatLE(row[2], o + 4);
        buf.writeFloatLE(row[3], o + 8);
        buf.writeFloatLE(row[4], o + 12);
        buf.writeDoubleLE(row[0], o + 16);
      }
    }
    return buf;
  }

  /** pixels in the XPCS q rings (the `q` stream's info), which turn daqlab's fill fraction into LIMA2's count */
  static ringPixels(scan: Scan): number {
    const pixels = (scan.streams.get('q')?.info as { pixels?: unknown } | undefined)?.pixels;
    return Array.isArray(pixels) ? pixels.reduce((a: number, b) => a + Number(b), 0) : 0;
  }

  /** events of `peak_counter` or items of `roi_stats` from index `from` */
  static items(stream: Stream, from: number, to: number): unknown[] {
    if (stream.kind === 'array') return (stream as ArrayStream).slice(from, to).items;
    return (stream as EventStream).slice(from, to).items;
  }

  pipelineInfo(run: Run): Record<string, unknown> {
    return {
      uuid: run.uuid,
      type: run.mapped.cls.name,
      running: this.isRunning(run),
      progress_counters: this.progressCounters(run),
      reduced_data: this.reducedChannels(run),
      scan: run.acq.scan.key,
    };
  }

  runningOf(run: Run): boolean {
    return this.isRunning(run);
  }

  pipelineErrors(run: Run): string[] {
    return run.acq.state === 'FAULT' ? [run.acq.reason ?? 'fault'] : [];
  }
}
