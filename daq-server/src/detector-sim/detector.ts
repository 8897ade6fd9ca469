/**
 * The simulated detector behind the SIMPLON API: parameters of every
 * subsystem, the state machine and the acquisition clock.
 *
 * States: na → (initialize) idle → (arm) ready → acquire → ... → idle.
 * ints: each trigger command acquires nimages images (the command answers
 * when they are acquired); inte: each trigger acquires one image exposed
 * for the trigger's value in seconds. exts/exte: the simulator is its own
 * external trigger source: the first trigger arrives trigger_start_delay
 * after arm, each next one when the previous trigger's images are done.
 * After the last of ntrigger triggers the series ends (end message, idle).
 * disarm and cancel end the series after the image being acquired; abort
 * ends it at once and drops the images not yet sent.
 *
 * Image k of a series is frame k of the model's simulator. Images are
 * emitted no faster than frame_time; frame encoding runs on the event loop
 * between timer ticks, so HTTP requests are answered between images.
 */
import { randomUUID } from 'node:crypto';
import { countingGapMask } from '../detectors/sim/specs.js';
import { energyToWavelength } from '../detectors/geometry/pyfai-geometry.js';
import { COMPRESSIONS, type Compression, type FrameSource } from './frames.js';
import type { DetectorModel } from './models.js';
import { Params, SimplonError } from './params.js';
import type { StreamEmitter } from './emitter.js';
import type { SeriesImage, SeriesInfo } from './series.js';
import * as stream1 from './stream1.js';
import * as stream2 from './stream2.js';

export const API_VERSION = '1.8.0';
export const SUBSYSTEMS = ['detector', 'stream', 'monitor', 'filewriter', 'system'] as const;
export type Subsystem = (typeof SUBSYSTEMS)[number];
export const TRIGGER_MODES = ['ints', 'inte', 'exts', 'exte'] as const;
export const STATES = ['na', 'ready', 'initialize', 'configure', 'acquire', 'idle', 'test', 'error'] as const;
export type State = (typeof STATES)[number];

/** h·c in eV·Å: wavelength (Å) = HC_EV_A / energy (eV). */
const HC_EV_A = energyToWavelength(1) * 1e10 * 1000;
const MAX_COUNT = 2 ** 31 - 1;

export interface Sections {
  config: Params;
  status: Params;
  /** command names */
  commands: string[];
}

export class SimDetector {
  readonly sections: Record<Subsystem, Sections>;
  private sequenceId = 0;
  private series: Series | null = null;

  constructor(
    readonly model: DetectorModel,
    readonly frames: FrameSource,
    readonly emitter: StreamEmitter,
  ) {
    this.sections = buildSections(model, frames);
  }

  get state(): State {
    return this.sections.detector.status.get<State>('state');
  }

  /** Status values that live elsewhere (the stream buffer, the clock), brought up to date before a GET. */
  syncStatus(): void {
    const st = this.sections.stream.status;
    st.set('dropped', this.emitter.dropped);
    st.set('buffer_fill_level', this.emitter.fillLevel());
    this.sections.detector.status.set('time', new Date().toISOString());
  }

  private setState(s: State): void {
    this.sections.detector.status.set('state', s);
  }

  // ------------------------------------------------------------------ configuration

  /** PUT config: check, apply, and return every parameter that changed (dependent ones included). */
  putConfig(sub: Subsystem, name: string, value: unknown): string[] {
    const p = this.sections[sub].config;
    const v = p.check(name, value);
    if (sub === 'detector' && (this.state === 'ready' || this.state === 'acquire')) {
      throw new SimplonError(400, `detector/${name}: the detector is ${this.state}; disarm before changing its configuration`);
    }
    if (sub === 'filewriter' && name === 'mode' && v === 'enabled') {
      throw new SimplonError(400, 'filewriter/mode: this simulator writes no files; read the stream');
    }
    const changed: string[] = [];
    const set = (n: string, x: unknown): void => {
      if (p.set(n, x) || n === name) changed.push(n);
    };
    set(name, v);
    if (sub === 'detector') this.dependents(name, v as number, set);
    return changed;
  }

  /** What DECTRIS detectors change along with a parameter. */
  private dependents(name: string, v: number, set: (n: string, x: unknown) => void): void {
    const c = this.sections.detector.config;
    const dead = this.model.readoutTime;
    switch (name) {
      case 'count_time':
        if (c.get<number>('frame_time') < v + dead) set('frame_time', v + dead);
        break;
      case 'frame_time':
        if (c.get<number>('count_time') > v - dead) set('count_time', v - dead);
        break;
      case 'incident_energy':
      case 'photon_energy':
        set(name === 'incident_energy' ? 'photon_energy' : 'incident_energy', v);
        set('wavelength', HC_EV_A / v);
        set('threshold/1/energy', v / 2);
        set('threshold_energy', v / 2);
        break;
      case 'wavelength':
        set('incident_energy', HC_EV_A / v);
        set('photon_energy', HC_EV_A / v);
        set('threshold/1/energy', HC_EV_A / v / 2);
        set('threshold_energy', HC_EV_A / v / 2);
        break;
      case 'threshold_energy':
        set('threshold/1/energy', v);
        break;
      case 'threshold/1/energy':
        set('threshold_energy', v);
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------------------ commands

  async command(sub: Subsystem, name: string, value: unknown): Promise<unknown> {
    if (!this.sections[sub].commands.includes(name)) throw new SimplonError(404, `${sub}/command/${name}: no such command`);
    if (sub === 'stream' && name === 'initialize') {
      this.emitter.dropped = 0;
      return null;
    }
    if (sub === 'system' && name === 'restart') {
      await this.abortSeries();
      this.setState('na');
      return null;
    }
    if (sub !== 'detector') return null;
    switch (name) {
      case 'initialize':
        await this.abortSeries();
        this.setState('initialize');
        this.sections.detector.status.set('error', []);
        this.setState('idle');
        return null;
      case 'arm':
        return this.arm();
      case 'trigger':
        return this.trigger(value);
      case 'disarm':
      case 'cancel':
        await this.series?.stop(false);
        return { 'sequence id': this.sequenceId };
      case 'abort':
        await this.abortSeries();
        if (this.state !== 'na') this.setState('idle');
        return { 'sequence id': this.sequenceId };
      case 'status_update':
        this.sections.detector.status.set('time', new Date().toISOString());
        return null;
      default:
        return null;
    }
  }

  private async abortSeries(): Promise<void> {
    if (this.series) {
      this.emitter.discardImages();
      await this.series.stop(true);
    }
  }

  private arm(): { 'sequence id': number } {
    if (this.state !== 'idle') throw new SimplonError(400, `detector/command/arm: the detector is ${this.state}, not idle${this.state === 'na' ? ' (initialize it first)' : ''}`);
    const c = this.sections.detector.config;
    const mode = c.get<string>('trigger_mode');
    const ntrigger = c.get<number>('ntrigger');
    const perTrigger = mode === 'inte' || mode === 'exte' ? 1 : c.get<number>('nimages');
    const total = perTrigger * ntrigger;
    if (!Number.isSafeInteger(total) || total > MAX_COUNT) {
      throw new SimplonError(400, `detector/command/arm: nimages × ntrigger = ${total} images exceeds ${MAX_COUNT}`);
    }
    this.sequenceId++;
    const s = this.sections.stream.config;
    const enabled = s.get<string>('mode') === 'enabled';
    const format = s.get<'cbor' | 'legacy'>('format');
    const rows = this.frames.shape[0];
    const cols = this.frames.shape[1];
    const headerDetail = s.get<'all' | 'basic' | 'none'>('header_detail');
    // the per-pixel maps travel with header_detail all only: not allocated otherwise (35 MB for a 4M)
    const all = headerDetail === 'all' && enabled;
    const mask = new Uint32Array(all ? rows * cols : 0);
    const gaps = all ? countingGapMask(this.frames.run.spec) : null;
    if (gaps) for (let k = 0; k < mask.length; k++) mask[k] = gaps[k];
    const info: SeriesInfo = {
      seriesId: this.sequenceId,
      uniqueId: randomUUID(),
      armDate: new Date().toISOString(),
      numberOfImages: total,
      shape: [rows, cols],
      dtype: this.frames.dtype,
      config: c.values(),
      headerDetail,
      headerAppendix: s.get('header_appendix'),
      imageAppendix: s.get('image_appendix'),
      pixelMask: mask,
      flatfield: new Float32Array(all ? rows * cols : 0).fill(1),
      saturationValue: c.get<number>('countrate_correction_count_cutoff'),
      description: this.model.description,
      serialNumber: this.model.serialNumber,
    };
    c.set('data_collection_date', info.armDate);
    const emit = (parts: Uint8Array[], image: boolean): void => {
      if (enabled) this.emitter.push({ parts, image });
    };
    const sink: SeriesSink = {
      start: () => emit(format === 'cbor' ? [stream2.startMessage(info)] : stream1.headerParts(info), false),
      image: (img) => emit(format === 'cbor' ? [stream2.imageMessage(info, img)] : stream1.imageParts(info, img), true),
      end: () => emit(format === 'cbor' ? [stream2.endMessage(info)] : stream1.endParts(info), false),
    };
    const series = new Series(info, this.frames, sink, {
      mode,
      perTrigger,
      ntrigger,
      countTime: c.get('count_time'),
      frameTime: c.get('frame_time'),
      startDelay: c.get('trigger_start_delay'),
      compression: c.get<Compression>('compression'),
      onState: (st) => this.setState(st),
      onError: (msg) => this.sections.detector.status.set('error', [msg]),
    });
    this.series = series;
    series.done.then(() => {
      if (this.series === series) this.series = null;
    });
    sink.start();
    this.setState('ready');
    if (mode === 'exts' || mode === 'exte') series.runExternal();
    return { 'sequence id': this.sequenceId };
  }

  private async trigger(value: unknown): Promise<null> {
    const mode = this.sections.detector.config.get<string>('trigger_mode');
    if (!this.series || this.state !== 'ready') throw new SimplonError(400, `detector/command/trigger: the detector is ${this.state}, not ready (arm it first)`);
    if (mode !== 'ints' && mode !== 'inte') throw new SimplonError(400, `detector/command/trigger: trigger_mode is ${mode}; the trigger command is for ints and inte`);
    let countTime: number | undefined;
    if (mode === 'inte') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 3600) {
        throw new SimplonError(400, `detector/command/trigger: inte needs the exposure time in seconds as value (0 < value <= 3600, got ${JSON.stringify(value)})`);
      }
      countTime = value;
    }
    await this.series.runTrigger(countTime);
    return null;
  }

  async close(): Promise<void> {
    await this.series?.stop(true);
  }
}

// ------------------------------------------------------------------ one series

interface SeriesSink {
  start(): void;
  image(img: SeriesImage): void;
  end(): void;
}

interface SeriesPlan {
  mode: string;
  perTrigger: number;
  ntrigger: number;
  countTime: number;
  frameTime: number;
  startDelay: number;
  compression: Compression;
  onState(s: State): void;
  onError(message: string): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nowNs = (): number => Number(process.hrtime.bigint());

class Series {
  private next = 0;
  private triggers = 0;
  private stopping = false;
  private ended = false;
  private running: Promise<void> | null = null;
  private readonly t0 = nowNs();
  private resolveDone!: () => void;
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(
    readonly info: SeriesInfo,
    readonly frames: FrameSource,
    readonly sink: SeriesSink,
    readonly plan: SeriesPlan,
  ) {}

  /** One trigger's images; resolves when they are acquired (or the series was stopped). */
  runTrigger(countTime?: number): Promise<void> {
    if (this.running) throw new SimplonError(400, 'detector/command/trigger: the previous trigger is still acquiring');
    this.running = this.acquire(countTime ?? this.plan.countTime).finally(() => (this.running = null));
    return this.running;
  }

  /** exts/exte: the simulator's own trigger source. */
  runExternal(): void {
    void (async () => {
      await sleep(this.plan.startDelay * 1000);
      while (!this.ended && !this.stopping) await this.runTrigger();
    })();
  }

  private async acquire(countTime: number): Promise<void> {
    const p = this.plan;
    this.plan.onState('acquire');
    const frameTime = Math.max(p.frameTime, countTime);
    const first = this.next;
    const tStart = nowNs();
    for (let j = 0; j < p.perTrigger && !this.stopping; j++) {
      const due = tStart + j * frameTime * 1e9;
      const wait = (due - nowNs()) / 1e6;
      // never faster than frame_time; a timer tick between images lets HTTP requests in
      await (wait >= 1 ? sleep(Math.ceil(wait)) : new Promise<void>((r) => setImmediate(r)));
      if (this.stopping) break;
      const index = first + j;
      try {
        const frame = this.frames.encoded(index, p.compression);
        const startNs = Math.max(0, Math.round(due - this.t0));
        const realNs = Math.round(countTime * 1e9);
        this.sink.image({ index, startNs, stopNs: startNs + realNs, realNs, frame });
      } catch (err) {
        p.onError(`image ${index}: ${(err as Error).message}`);
        this.finish('error');
        return;
      }
      this.next = index + 1;
    }
    this.triggers++;
    if (this.stopping) return;
    if (this.triggers >= p.ntrigger) this.finish('idle');
    else this.plan.onState('ready');
  }

  private finish(state: State): void {
    if (this.ended) return;
    this.ended = true;
    this.sink.end();
    this.plan.onState(state);
    this.resolveDone();
  }

  /** disarm/cancel (after the current image) or abort (now): end the series. */
  async stop(abort: boolean): Promise<void> {
    if (this.ended) return;
    this.stopping = true;
    if (this.running && !abort) await this.running;
    this.finish('idle');
  }
}

// ------------------------------------------------------------------ parameters

function buildSections(model: DetectorModel, frames: FrameSource): Record<Subsystem, Sections> {
  const g = frames.run.geometry;
  const spec = frames.run.spec;
  const [rows, cols] = frames.shape;
  const energy = g.energyKeV * 1000;
  const minFrame = 1 / model.maxFrameRate;
  const float = (value: number, unit: string, min?: number, max?: number) => ({ type: 'float' as const, value, unit, min, max });
  const ro = <T>(type: 'float' | 'uint' | 'string' | 'bool' | 'list', value: T, unit?: string) => ({ type, value, access: 'r' as const, unit });
  const gonio: Record<string, ReturnType<typeof float>> = {};
  for (const a of ['chi', 'kappa', 'omega', 'phi', 'two_theta']) {
    gonio[`${a}_start`] = float(0, 'degree', -1e6, 1e6);
    gonio[`${a}_increment`] = float(0, 'degree', -1e6, 1e6);
  }
  const dtypeMax = frames.dtype === 'uint32' ? 2 ** 32 - 1 : 2 ** 16 - 1;
  const detectorConfig = new Params('detector/config', {
    count_time: float(minFrame - model.readoutTime, 's', minFrame - model.readoutTime, 3600),
    frame_time: float(minFrame, 's', minFrame, 3600),
    nimages: { type: 'uint', value: 1, min: 1, max: MAX_COUNT },
    ntrigger: { type: 'uint', value: 1, min: 1, max: MAX_COUNT },
    trigger_mode: { type: 'string', value: 'ints', allowed: TRIGGER_MODES },
    trigger_start_delay: float(0, 's', 0, 10),
    incident_energy: float(energy, 'eV', 1000, 200000),
    photon_energy: float(energy, 'eV', 1000, 200000),
    wavelength: float(HC_EV_A / energy, 'Å', HC_EV_A / 200000, HC_EV_A / 1000),
    threshold_energy: float(energy / 2, 'eV', 500, 100000),
    'threshold/1/energy': float(energy / 2, 'eV', 500, 100000),
    'threshold/1/mode': ro('string', 'enabled'),
    'threshold/2/energy': float(energy, 'eV', 500, 100000),
    'threshold/2/mode': { type: 'string', value: 'disabled', allowed: ['disabled'] },
    'threshold/difference/mode': { type: 'string', value: 'disabled', allowed: ['disabled'] },
    beam_center_x: float(g.poni.poni2 / spec.pixel[1], 'pixel', -1e5, 1e5),
    beam_center_y: float(g.poni.poni1 / spec.pixel[0], 'pixel', -1e5, 1e5),
    detector_distance: float(g.poni.dist, 'm', 0, 100),
    ...gonio,
    x_pixel_size: ro('float', spec.pixel[1], 'm'),
    y_pixel_size: ro('float', spec.pixel[0], 'm'),
    x_pixels_in_detector: ro('uint', cols),
    y_pixels_in_detector: ro('uint', rows),
    description: ro('string', model.description),
    detector_number: ro('string', model.serialNumber),
    sensor_material: ro('string', model.sensorMaterial),
    sensor_thickness: ro('float', model.sensorThickness, 'm'),
    detector_readout_time: ro('float', model.readoutTime, 's'),
    bit_depth_image: ro('uint', frames.dtype === 'uint32' ? 32 : 16),
    bit_depth_readout: ro('uint', frames.dtype === 'uint32' ? 32 : 16),
    countrate_correction_count_cutoff: ro('uint', dtypeMax - 1),
    number_of_excluded_pixels: ro('uint', countingGapMask(spec)?.reduce((a, b) => a + b, 0) ?? 0),
    compression: { type: 'string', value: 'bslz4', allowed: COMPRESSIONS },
    countrate_correction_applied: { type: 'bool', value: false },
    flatfield_correction_applied: { type: 'bool', value: false },
    pixel_mask_applied: { type: 'bool', value: false },
    virtual_pixel_correction_applied: { type: 'bool', value: false },
    auto_summation: { type: 'bool', value: true },
    roi_mode: { type: 'string', value: 'disabled', allowed: ['disabled'] },
    data_collection_date: ro('string', ''),
  });
  const detectorStatus = new Params('detector/status', {
    state: { type: 'string', value: 'na', access: 'r', allowed: STATES },
    error: ro('list', []),
    time: { type: 'date', value: new Date().toISOString(), access: 'r' },
    humidity: ro('float', 0.2, '%'),
    temperature: ro('float', 24.5, '°C'),
    'high_voltage/state': ro('string', 'READY'),
  });
  const none = (section: string) => new Params(section, {});
  return {
    detector: {
      config: detectorConfig,
      status: detectorStatus,
      commands: ['initialize', 'arm', 'trigger', 'disarm', 'cancel', 'abort', 'status_update'],
    },
    stream: {
      config: new Params('stream/config', {
        mode: { type: 'string', value: 'disabled', allowed: ['enabled', 'disabled'] },
        format: { type: 'string', value: 'legacy', allowed: ['legacy', 'cbor'] },
        header_detail: { type: 'string', value: 'basic', allowed: ['all', 'basic', 'none'] },
        header_appendix: { type: 'any', value: '' },
        image_appendix: { type: 'any', value: '' },
      }),
      status: new Params('stream/status', {
        state: ro('string', 'ready'),
        error: ro('list', []),
        dropped: ro('uint', 0),
        buffer_fill_level: ro('float', 0),
      }),
      commands: ['initialize'],
    },
    monitor: {
      config: new Params('monitor/config', {
        mode: { type: 'string', value: 'disabled', allowed: ['disabled'] },
        buffer_size: { type: 'uint', value: 1, min: 1, max: 1000 },
        discard_new: { type: 'bool', value: false },
      }),
      status: new Params('monitor/status', { state: ro('string', 'disabled'), error: ro('list', []), dropped: ro('uint', 0), buffer_fill_level: ro('float', 0) }),
      commands: ['clear', 'initialize'],
    },
    filewriter: {
      config: new Params('filewriter/config', {
        mode: { type: 'string', value: 'disabled', allowed: ['enabled', 'disabled'] },
        name_pattern: { type: 'string', value: 'series_$id' },
        nimages_per_file: { type: 'uint', value: 1000, min: 0, max: MAX_COUNT },
        compression_enabled: { type: 'bool', value: true },
      }),
      status: new Params('filewriter/status', { state: ro('string', 'disabled'), error: ro('list', []), files: ro('list', []) }),
      commands: ['clear', 'initialize'],
    },
    system: { config: none('system/config'), status: none('system/status'), commands: ['restart'] },
  };
}
